"""A big batch against the mock (in its own process) while a monitor task measures the loop.

The figure for a 40 MB file comes from ``python -m benchmarks.web``; here the
assertions are structural (no wall-clock bounds): the loop kept running while
the CSV was being checked, the check ran on another thread, and the file was
streamed from disk rather than read into one buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import pathlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import postman_async._batch as batch_module
from postman_async import PostmanClient

ROWS = 100_000


@contextlib.contextmanager
def _mock_process() -> Iterator[dict[str, str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "postman_async.testing",
            "--port",
            "0",
            "--json",
            "--environment",
            "production",
            "--variables",
            "name",
            "--tps",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_the_loop_runs_while_a_big_batch_is_checked_and_uploaded(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Any,
) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("recipient,language,name\r\n")
        for i in range(ROWS):
            out.write(f"659{i:07d},english,Resident number {i:07d}\r\n")

    checks: list[tuple[int, float, float]] = []  # (thread, start, end) of each file check
    real_check = batch_module.check_csv_file

    def timed_check(*args: Any, **kwargs: Any) -> int:
        start = time.perf_counter()
        try:
            return real_check(*args, **kwargs)
        finally:
            checks.append((threading.get_ident(), start, time.perf_counter()))

    monkeypatch.setattr(batch_module, "check_csv_file", timed_check)
    monkeypatch.setattr(batch_module, "check_csv", None)  # reading the whole file would fail
    ticks: list[float] = []

    async def monitor() -> None:
        while True:
            await asyncio.sleep(0.001)
            ticks.append(time.perf_counter())

    async def main(info: dict[str, str]) -> int:
        async with PostmanClient(base_url=info["base_url"], timeout=300) as client:
            campaign = client.campaign(info["campaign_id"], api_key=info["api_key"], tps=None)
            task = asyncio.create_task(monitor())
            await asyncio.sleep(0)
            try:
                receipt = await campaign.send_batch(path)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            assert receipt.batch_id
            assert receipt.num_rows == ROWS
        return threading.get_ident()

    with _mock_process() as info:
        loop_thread = asyncio.run(main(info))

    ((thread, start, end),) = checks
    assert thread != loop_thread
    during = [t for t in ticks if start < t < end]
    assert len(during) >= 10  # the loop kept ticking while the CSV was being checked
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    record_property("longest_loop_stall_ms", round(max(gaps) * 1000, 1))
