"""One worker process of the fleet tests: take ``n`` slots from the shared budget.

``python -m tests.redis.worker URL CAMPAIGN TPS N`` acquires ``N`` send slots at
once (each retried while Redis is unavailable), marks each sent at once, and
prints one JSON object: the wall-clock departure times and how many acquires
met :class:`LimiterUnavailableError`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from postman_async import Priority
from postman_async.redis import LimiterUnavailableError, RedisLimiterFactory

#: Seconds between tries while Redis is unavailable.
PAUSE = 0.05


async def main(url: str, campaign: str, tps: int, n: int) -> dict[str, object]:
    """Take ``n`` slots; return departure times and failure count."""
    factory = RedisLimiterFactory(url, timeout=2.0)
    limiter = factory(campaign, tps)
    departures: list[float] = []
    unavailable = 0

    async def one() -> None:
        nonlocal unavailable
        while True:
            try:
                grant = await limiter.acquire(Priority.SEND)
            except LimiterUnavailableError:
                unavailable += 1
                await asyncio.sleep(PAUSE)
                continue
            assert grant is not None
            departures.append(time.time())
            grant.sent()
            return

    print("ready", flush=True)
    await asyncio.gather(*(one() for _ in range(n)))
    await limiter.aclose()
    return {"departures": departures, "unavailable": unavailable}


if __name__ == "__main__":
    url, campaign, tps, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(asyncio.run(main(url, campaign, tps, n))), flush=True)
