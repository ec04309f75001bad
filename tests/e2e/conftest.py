"""Helpers for end-to-end tests: the mock server in its own process."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import aiohttp
import msgspec


class MockProcess(msgspec.Struct):
    """A mock server running in a child process, as its CLI reported it."""

    base_url: str
    campaign_id: str
    api_key: str

    async def stats(self) -> dict[str, Any]:
        root = self.base_url.removesuffix("/api/v2")
        async with aiohttp.ClientSession() as session, session.get(f"{root}/_mock/stats") as resp:
            data: dict[str, Any] = await resp.json()
        campaign: dict[str, Any] = data["campaigns"][self.campaign_id]
        return campaign


@contextlib.contextmanager
def mock_process(*flags: str) -> Iterator[MockProcess]:
    """Start ``python -m postman_async.testing --port 0 --json`` and stop it afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "postman_async.testing", "--port", "0", "--json", *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        yield MockProcess(info["base_url"], info["campaign_id"], info["api_key"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
