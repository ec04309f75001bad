"""Several OS processes on one campaign: the budget holds fleet-wide, whatever happens to Redis.

Each worker (``tests/redis/worker.py``) takes slots through its own
``RedisLimiterFactory`` and notes the wall-clock time at which each request
would leave; the test counts departures in every one-second window.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis.asyncio

from postman_async import Priority
from postman_async.redis import RedisLimiterFactory

from ..conftest import max_in_window
from .server import RedisServer, StallingProxy, child_env

ROOT = Path(__file__).resolve().parents[2]
TPS = 10


async def run_fleet(
    url: str,
    processes: int,
    per_process: int,
    during: Callable[[], Awaitable[None]] | None = None,
) -> list[dict[str, Any]]:
    """Start ``processes`` workers at once; run ``during`` once they are all sending."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.redis.worker",
            url,
            "campaign_fleet",
            str(TPS),
            str(per_process),
            cwd=ROOT,
            env=child_env(),
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert (await proc.stdout.readline()).strip() == b"ready"
        if during is not None:
            await during()
        outputs = [await proc.communicate() for proc in procs]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert all(proc.returncode == 0 for proc in procs)
    return [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]


def departures(results: list[dict[str, Any]]) -> list[float]:
    times: list[float] = []
    for result in results:
        times += result["departures"]
    return times


async def test_four_processes_share_one_budget(redis_server: RedisServer) -> None:
    results = await run_fleet(redis_server.url, processes=4, per_process=8)
    times = departures(results)
    assert len(times) == 32
    assert max_in_window(times) <= TPS
    # Every process got its turn early: none was starved by the others.
    first = min(times)
    assert all(min(r["departures"]) - first < 1.5 for r in results)


async def test_script_flush_mid_run(redis_server: RedisServer) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url)

    async def flush() -> None:
        await asyncio.sleep(0.5)
        await client.script_flush()

    try:
        results = await run_fleet(redis_server.url, processes=3, per_process=8, during=flush)
    finally:
        await client.aclose()
    times = departures(results)
    assert len(times) == 24
    assert max_in_window(times) <= TPS


async def test_server_killed_and_restarted_mid_run(own_server: RedisServer) -> None:
    async def outage() -> None:
        await asyncio.sleep(0.2)  # the first window's burst has left
        own_server.kill()
        await asyncio.sleep(0.2)
        own_server.start()

    results = await run_fleet(own_server.url, processes=3, per_process=8, during=outage)
    times = departures(results)
    assert len(times) == 24
    # The restarted server knew nothing of the last window, and still none overflowed.
    assert max_in_window(times) <= TPS


async def test_a_500_ms_network_stall_delays_but_never_breaks_the_budget(
    redis_server: RedisServer,
) -> None:
    proxy = StallingProxy(redis_server.port)
    await proxy.start()
    factory = RedisLimiterFactory(proxy.url)  # the default 1 s timeout outlasts the stall
    direct = RedisLimiterFactory(redis_server.url)
    stalled, other = factory("campaign_stall", TPS), direct("campaign_stall", TPS)
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def one(limiter: object) -> None:
        grant = await limiter.acquire(Priority.SEND)  # type: ignore[attr-defined]
        assert grant is not None
        times.append(loop.time())
        grant.sent()

    try:
        await asyncio.gather(*(one(stalled) for _ in range(5)))
        proxy.stall(0.5)
        stalled_at = loop.time()
        await asyncio.gather(*(one(stalled) for _ in range(10)), *(one(other) for _ in range(10)))
    finally:
        await stalled.aclose()
        await other.aclose()
        await proxy.close()
    assert len(times) == 25
    assert max_in_window(times) <= TPS
    # The stalled process's grants came only after the stall: nothing was granted blind.
    assert sum(1 for t in times if t >= stalled_at + 0.5) >= 10
