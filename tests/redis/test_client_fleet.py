"""End to end: worker processes with ``PostmanClient`` and one Redis budget, against the mock.

The mock enforces a strict sliding window of 10 requests per second; three
workers each start 10 sends at once.  Without a shared budget they would
draw 429s (the ``fleet`` benchmark measures how many).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import redis.asyncio

from postman_async.testing import serve_mock

from .server import RedisServer, child_env

ROOT = Path(__file__).resolve().parents[2]


async def test_workers_share_one_budget_at_the_server(redis_server: RedisServer) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushall()
    async with serve_mock(tps=10) as server:
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.redis.client_worker",
                server.base_url,
                server.campaign_id,
                server.api_key,
                redis_server.url,
                "10",
                str(index),
                cwd=ROOT,
                env=child_env(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            for index in range(3)
        ]
        try:
            for proc in procs:
                assert proc.stdout is not None
                assert (await proc.stdout.readline()).strip() == b"ready"
            outs = await asyncio.gather(*(proc.communicate(b"go\n") for proc in procs))
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        results: list[dict[str, Any]] = [
            json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outs
        ]
        stats = server.campaign.stats
        assert [r["errors"] for r in results] == [[], [], []]
        assert sum(r["ok"] for r in results) == 30
        assert stats.rate_limited == 0
        assert stats.max_received_in_window <= 10
    # Redis holds neither the API key nor the campaign ID, in keys or in values.
    stored: list[str] = []
    for key in await client.keys("*"):
        stored.append(str(key))
        kind = await client.type(key)
        if kind == "zset":
            stored += [str(member) for member in await client.zrange(key, 0, -1)]
        elif kind == "hash":
            for field, value in (await client.hgetall(key)).items():
                stored += [str(field), str(value)]
    await client.aclose()
    assert stored
    assert not [text for text in stored if server.api_key in text or server.campaign_id in text]
