"""The mock server in its own process: start it, read its counters, always stop it.

``running_mock(*flags)`` starts ``python -m postman_async.testing --port 0 --json
*flags`` on 127.0.0.1, reads the JSON line it prints, yields a :class:`Mock`, and
terminates the process on the way out, whatever happened (errors and Ctrl-C too).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

#: Seconds the mock may take to print its address.
STARTUP_TIMEOUT = 20.0
#: Seconds the mock may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 5.0
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Mock:
    """A running mock server process and the campaign it serves."""

    #: API base, e.g. ``http://127.0.0.1:41234/api/v2``.
    base_url: str
    #: The ready campaign.
    campaign_id: str
    #: Its API key.
    api_key: str
    #: Process ID of the server.
    pid: int

    @property
    def root(self) -> str:
        """Server root, where the admin endpoints live."""
        return self.base_url.removesuffix("/api/v2")

    @property
    def messages_url(self) -> str:
        """URL of the campaign's single-send endpoint."""
        return f"{self.base_url}/campaigns/{self.campaign_id}/messages"

    @property
    def auth_headers(self) -> dict[str, str]:
        """The bearer header of the campaign's key."""
        return {"Authorization": f"Bearer {self.api_key}"}

    async def _admin(self, method: str, path: str) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.root + "/_mock" + path) as resp,
        ):
            resp.raise_for_status()
            return await resp.json()

    async def stats(self) -> dict[str, Any]:
        """The campaign's counters (``GET /_mock/stats``)."""
        data = await self._admin("GET", "/stats")
        return dict(data["campaigns"][self.campaign_id])

    async def reset(self) -> None:
        """Forget messages, counters and rate-limit history (``POST /_mock/reset``)."""
        await self._admin("POST", "/reset")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far."""
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        # After "pid (comm)": state is field 3, utime 14 and stime 15 (1-based).
        return (int(fields[11]) + int(fields[12])) / _TICKS


def reads(stats: dict[str, Any]) -> int:
    """Status-read requests in a stats dict: single GETs and both list endpoints."""
    requests = stats["requests"]
    return int(
        requests["get_message"] + requests["list_messages"] + requests["list_batch_messages"]
    )


@contextlib.asynccontextmanager
async def running_mock(*flags: str) -> AsyncIterator[Mock]:
    """Run the mock CLI with ``flags`` on 127.0.0.1 for the duration of the block."""
    with tempfile.TemporaryFile() as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "postman_async.testing",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--json",
            *flags,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            preexec_fn=_die_with_parent,
        )
        try:
            assert proc.stdout is not None
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), STARTUP_TIMEOUT)
            except TimeoutError:
                line = b""
            if not line:
                stderr.seek(0)
                detail = stderr.read().decode(errors="replace").strip()
                raise RuntimeError(f"the mock server did not start ({' '.join(flags)}): {detail}")
            info = json.loads(line)
            yield Mock(
                base_url=info["base_url"],
                campaign_id=info["campaign_id"],
                api_key=info["api_key"],
                pid=proc.pid,
            )
        finally:
            await _stop(proc)


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the benchmark process dies without stopping us (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
