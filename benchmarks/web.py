"""Figures for web services: longest loop stall during a 40 MB batch; time to fail a hopeless call.

Run: ``python -m benchmarks.web [--rows 900000] [--calls 400]``.

The mock runs in a child process (``python -m postman_async.testing``), so its
own parsing of the CSV cannot stall the client's loop.  A monitor task wakes
every millisecond and records the longest gap between its wake-ups.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import pathlib
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator

from postman_async import LimiterTimeoutError, PostmanClient
from postman_async._batch import check_csv


class StallMonitor:
    """Records the longest gap between ticks of a task that asks to wake every ``tick`` s."""

    def __init__(self, tick: float = 0.001) -> None:
        self.tick = tick
        self.longest = 0.0
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.tick)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - self.tick)
            self.ticks += 1
            last = now

    async def __aenter__(self) -> StallMonitor:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.contextmanager
def mock_process(*args: str) -> Iterator[dict[str, str]]:
    """A mock server in a child process; yields its JSON announcement."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "postman_async.testing", "--port", "0", "--json", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def write_csv(path: pathlib.Path, rows: int) -> int:
    """A batch CSV of ``rows`` rows; returns its size in bytes."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("recipient,language,name\r\n")
        for i in range(rows):
            out.write(f"659{i % 10_000_000:07d},english,Resident number {i:07d}\r\n")
    return path.stat().st_size


@contextlib.asynccontextmanager
async def _client(info: dict[str, str]) -> AsyncIterator[PostmanClient]:
    async with PostmanClient(base_url=info["base_url"], timeout=120) as client:
        yield client


async def big_batch(path: pathlib.Path) -> dict[str, float]:
    """Check and upload ``path`` to the mock; the loop's longest stall meanwhile."""
    with mock_process("--environment", "production", "--variables", "name", "--tps", "0") as info:
        async with _client(info) as client:
            campaign = client.campaign(info["campaign_id"], api_key=info["api_key"], tps=None)
            async with StallMonitor() as monitor:
                started = time.perf_counter()
                receipt = await campaign.send_batch(path)
                took = time.perf_counter() - started
            assert receipt.batch_id
    return {"seconds": took, "longest_stall_ms": monitor.longest * 1000, "ticks": monitor.ticks}


async def check_on_loop(path: pathlib.Path) -> float:
    """For comparison: read and check the same file on the loop (what a naive client does)."""
    async with StallMonitor() as monitor:
        await asyncio.sleep(0.01)
        check_csv(path.read_bytes())  # noqa: ASYNC240 - the point of the comparison
        await asyncio.sleep(0.01)
    return monitor.longest * 1000


async def hopeless(calls: int) -> dict[str, float]:
    """``calls`` OTP sends at once at tps 10 with the default 30 s deadline."""
    with mock_process("--environment", "production", "--variables", "otp", "--tps", "10") as info:
        async with PostmanClient(base_url=info["base_url"]) as client:
            otp = client.campaign(info["campaign_id"], api_key=info["api_key"], tps=10)
            started = time.perf_counter()
            failed: list[float] = []
            ok: list[float] = []

            async def one() -> None:
                try:
                    await otp.send("6591234567", {"otp": "123456"})
                except LimiterTimeoutError:
                    failed.append(time.perf_counter() - started)
                else:
                    ok.append(time.perf_counter() - started)

            await asyncio.gather(*(one() for _ in range(calls)))
    return {
        "succeeded": len(ok),
        "failed": len(failed),
        "slowest_failure_s": max(failed, default=0.0),
        "slowest_success_s": max(ok, default=0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=900_000)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--skip-hopeless", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "batch.csv"
        size = write_csv(path, args.rows)
        print(f"CSV: {args.rows} rows, {size / 1e6:.1f} MB")
        print("send_batch(path):", asyncio.run(big_batch(path)))
        print(f"check on the loop instead: longest stall {asyncio.run(check_on_loop(path)):.0f} ms")
    if not args.skip_hopeless:
        print(f"{args.calls} OTPs at tps 10, 30 s deadline:", asyncio.run(hopeless(args.calls)))


if __name__ == "__main__":
    main()
