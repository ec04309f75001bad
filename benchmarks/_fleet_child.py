"""One worker process of the fleet scenario: ``N`` sends at once through ``PostmanClient``.

``python -m benchmarks._fleet_child --base-url URL --campaign-id ID --api-key KEY
--sends N --tps T --limiter {in-process,split,redis} [--redis-url URL]`` builds the
client, prints ``ready``, waits for a line on stdin (so that every worker starts
together), starts every send at once and prints one JSON line: per-send
latencies (``null`` for a failed send), wall-clock success times and Redis
round trips.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from postman_async import PostmanClient, PostmanError

from ._raw import otp, recipient

#: Seconds a worker may take in all, as a bound (sends normally end far sooner).
DEADLINE = 300.0


def _factory(args: argparse.Namespace) -> tuple[Any, Any]:
    """The client's limiter factory (None: the default) and what counts Redis trips."""
    if args.limiter != "redis":
        return None, None
    from postman_async.redis import RedisLimiterFactory

    factory = RedisLimiterFactory(args.redis_url)
    return factory, factory


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Send ``args.sends`` OTPs at once; return what happened."""
    factory, counter = _factory(args)
    kwargs = {} if factory is None else {"limiter_factory": factory}
    latencies: list[float | None] = []
    successes: list[float] = []
    offset = args.index * args.sends
    async with PostmanClient(base_url=args.base_url, timeout=DEADLINE, **kwargs) as client:
        campaign = client.campaign(args.campaign_id, api_key=args.api_key, tps=args.tps)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

        async def one(i: int) -> None:
            started = time.perf_counter()
            try:
                await campaign.send(recipient(offset + i), {"otp": otp(offset + i)})
            except PostmanError:
                latencies.append(None)
                return
            latencies.append(time.perf_counter() - started)
            successes.append(time.time())

        await asyncio.gather(*(one(i) for i in range(args.sends)))
    return {
        "latencies": latencies,
        "successes": successes,
        "redis_round_trips": None if counter is None else counter.round_trips,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run, print the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._fleet_child")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--campaign-id", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--sends", type=int, required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--tps", type=int, required=True)
    parser.add_argument("--limiter", choices=("in-process", "split", "redis"), required=True)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args(argv)
    logging.getLogger("postman_async").setLevel(logging.ERROR)
    print(json.dumps(asyncio.run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
