"""One worker process of the end-to-end fleet test: a ``PostmanClient`` sharing its budget.

``python -m tests.redis.client_worker BASE_URL CAMPAIGN_ID API_KEY REDIS_URL N INDEX``
waits for a line on stdin (so that every worker starts together), sends ``N``
OTPs at once through ``PostmanClient(limiter_factory=RedisLimiterFactory(...))``
and prints one JSON object: how many sends succeeded and the errors of the rest.
"""

from __future__ import annotations

import asyncio
import json
import sys

from postman_async import PostmanClient, PostmanError
from postman_async.redis import RedisLimiterFactory


async def main(
    base_url: str, campaign_id: str, api_key: str, redis_url: str, n: int, index: int
) -> dict[str, object]:
    """Send ``n`` OTPs at once; return the outcome."""
    errors: list[str] = []
    ok = 0
    factory = RedisLimiterFactory(redis_url)
    async with PostmanClient(base_url=base_url, limiter_factory=factory) as client:
        campaign = client.campaign(campaign_id, api_key=api_key, tps=10)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

        async def one(i: int) -> None:
            nonlocal ok
            try:
                await campaign.send(f"659{index:03d}{i:04d}", {"otp": f"{i:06d}"}, timeout=60)
            except PostmanError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            else:
                ok += 1

        await asyncio.gather(*(one(i) for i in range(n)))
    return {"ok": ok, "errors": errors, "round_trips": factory.round_trips}


if __name__ == "__main__":
    base_url, campaign_id, api_key, redis_url = sys.argv[1:5]
    n, index = int(sys.argv[5]), int(sys.argv[6])
    outcome = asyncio.run(main(base_url, campaign_id, api_key, redis_url, n, index))
    print(json.dumps(outcome), flush=True)
