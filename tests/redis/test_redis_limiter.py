"""The fleet limiter against a real server, driven directly: acquire, sent, release.

Most tests use a one-minute period: what is granted comes at once, and what
would need the window to move cannot come during the test, so the assertions
are about which requests got a slot, never about how fast.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio

from postman_async import ClientClosedError, PostmanError, Priority
from postman_async._redis_store import campaign_keys
from postman_async.redis import (
    LimiterUnavailableError,
    RedisGrant,
    RedisLimiter,
    RedisLimiterFactory,
)

from .server import RedisServer

MINUTE = 60.0


@pytest.fixture
def factory(redis_client: redis.asyncio.Redis) -> RedisLimiterFactory:
    """A factory on the module's server with a one-minute window."""
    return RedisLimiterFactory(redis_client, period=MINUTE, restart_wait=False)


async def granted_now(
    limiter: object, n: int, priority: Priority = Priority.SEND
) -> list[RedisGrant]:
    """Acquire ``n`` grants that must come without the window moving."""
    grants: list[RedisGrant] = []
    for _ in range(n):
        grant = await limiter.acquire(priority, timeout=MINUTE / 2)  # type: ignore[attr-defined]
        assert grant is not None, f"only {len(grants)} of {n} grants came"
        grants.append(grant)
    return grants


async def test_the_budget_is_shared_between_handles(factory: RedisLimiterFactory) -> None:
    one, two = factory("c1", 10), factory("c1", 10)
    for grant in await granted_now(one, 6):
        grant.sent()
    for grant in await granted_now(two, 4):
        grant.sent()
    assert await one.acquire(Priority.SEND, timeout=0.5) is None
    assert await two.acquire(Priority.SEND, timeout=0.5) is None
    await one.aclose()
    await two.aclose()


async def test_campaigns_have_their_own_budgets(factory: RedisLimiterFactory) -> None:
    one, two = factory("c1", 2), factory("c2", 2)
    await granted_now(one, 2)
    await granted_now(two, 2)
    assert await one.acquire(Priority.SEND, timeout=0.3) is None
    await one.aclose()
    await two.aclose()


async def test_release_gives_the_slot_back_to_the_fleet(factory: RedisLimiterFactory) -> None:
    one, two = factory("c1", 3), factory("c1", 3)
    grants = await granted_now(one, 3)
    waiter = asyncio.ensure_future(two.acquire(Priority.SEND))
    done, _ = await asyncio.wait([waiter], timeout=0.5)
    assert not done
    grants[0].release()
    grant = await asyncio.wait_for(waiter, MINUTE / 2)
    assert grant is not None
    await one.aclose()
    await two.aclose()


async def test_an_unsent_grant_counts_until_it_is_sent(redis_client: redis.asyncio.Redis) -> None:
    # A short window, which moves on several times while the grant is held.
    factory = RedisLimiterFactory(redis_client, period=0.2, margin=0.0)
    limiter = factory("c1", 1)
    (held,) = await granted_now(limiter, 1)
    waiter = asyncio.ensure_future(limiter.acquire(Priority.SEND))
    done, _ = await asyncio.wait([waiter], timeout=1.0)
    assert not done
    held.sent()
    assert await asyncio.wait_for(waiter, MINUTE) is not None
    await limiter.aclose()


async def test_sends_keep_a_reserve_that_reads_cannot_take(factory: RedisLimiterFactory) -> None:
    reader, sender = factory("c1", 10), factory("c1", 10)
    await granted_now(reader, 8, Priority.READ)  # 10 less the fifth kept for sends
    assert await reader.acquire(Priority.POLL, timeout=0.3) is None
    assert await reader.acquire(Priority.READ, timeout=0.3) is None
    await granted_now(sender, 2, Priority.SEND)
    assert await sender.acquire(Priority.SEND, timeout=0.3) is None
    await reader.aclose()
    await sender.aclose()


async def test_local_waiters_are_served_by_priority(redis_client: redis.asyncio.Redis) -> None:
    factory = RedisLimiterFactory(redis_client, period=0.5, margin=0.0)
    limiter = factory("c1", 1)
    (first,) = await granted_now(limiter, 1)
    order: list[str] = []

    async def one(name: str, priority: Priority) -> None:
        grant = await limiter.acquire(priority)
        assert grant is not None
        order.append(name)
        grant.sent()

    polls = [asyncio.ensure_future(one(f"poll{i}", Priority.POLL)) for i in range(2)]
    await asyncio.sleep(0)
    send = asyncio.ensure_future(one("send", Priority.SEND))
    first.sent()
    await asyncio.gather(*polls, send)
    assert order.index("send") <= 1, order
    await limiter.aclose()


async def test_slow_down_shrinks_the_budget_of_every_process(factory: RedisLimiterFactory) -> None:
    one, two = factory("c1", 10), factory("c1", 10)
    await granted_now(one, 1)
    one.slow_down(None)
    await one.aclose()  # the 429 reaches Redis at the latest when the handle closes
    await granted_now(two, 4)  # half of 10, less the one already out
    assert await two.acquire(Priority.SEND, timeout=0.5) is None
    await two.aclose()


async def test_retry_after_holds_every_process(factory: RedisLimiterFactory) -> None:
    one, two = factory("c1", 10), factory("c1", 10)
    await granted_now(one, 1)
    one.slow_down(MINUTE)
    await one.aclose()
    assert await two.acquire(Priority.SEND, timeout=0.5) is None
    await two.aclose()


async def test_a_timed_out_waiter_leaves_nothing_counted(
    factory: RedisLimiterFactory, redis_client: redis.asyncio.Redis
) -> None:
    limiter = factory("c1", 2)
    for grant in await granted_now(limiter, 2):
        grant.sent()
    assert await limiter.acquire(Priority.SEND, timeout=0.3) is None
    await limiter.aclose()
    log, held, _, _ = await _keys(redis_client)
    assert await redis_client.zcard(log) == 2
    assert await redis_client.zcard(held) == 0


async def test_cancelling_a_waiter_gives_its_place_back(
    factory: RedisLimiterFactory, redis_client: redis.asyncio.Redis
) -> None:
    one, two = factory("c1", 2), factory("c1", 2)
    (grant,) = await granted_now(one, 1)
    grant.sent()
    (kept,) = await granted_now(one, 1)
    waiter = asyncio.ensure_future(two.acquire(Priority.SEND))
    done, _ = await asyncio.wait([waiter], timeout=0.3)
    assert not done
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    kept.release()
    # The cancelled waiter's reservation (a minute ahead) is given back, so the
    # released slot is free now for anyone.
    await granted_now(one, 1)
    await one.aclose()
    await two.aclose()
    _, held, _, _ = await _keys(redis_client)
    assert await redis_client.zcard(held) == 1


async def test_a_slot_granted_to_a_cancelled_waiter_is_released(
    factory: RedisLimiterFactory, redis_client: redis.asyncio.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = factory("c1", 5)
    fire = RedisLimiter._fire

    def fire_then_cancel(self: RedisLimiter, reservation: Any) -> None:
        fire(self, reservation)
        task.cancel()  # before the waiter could run with its grant

    monkeypatch.setattr(RedisLimiter, "_fire", fire_then_cancel)
    task = asyncio.ensure_future(limiter.acquire(Priority.SEND))
    with pytest.raises(asyncio.CancelledError):
        await task
    await limiter.aclose()
    _, held, _, _ = await _keys(redis_client)
    assert await redis_client.zcard(held) == 0


async def test_close_fails_waiters_and_later_acquires(factory: RedisLimiterFactory) -> None:
    limiter = factory("c1", 1)
    await granted_now(limiter, 1)
    waiter = asyncio.ensure_future(limiter.acquire(Priority.SEND))
    await asyncio.sleep(0.05)
    await limiter.aclose()
    with pytest.raises(ClientClosedError):
        await waiter
    with pytest.raises(ClientClosedError):
        await limiter.acquire(Priority.SEND)


async def test_a_silent_process_holds_its_slots_only_for_the_lease(
    redis_client: redis.asyncio.Redis,
) -> None:
    factory = RedisLimiterFactory(redis_client, period=MINUTE, lease=0.5, restart_wait=False)
    crashed, alive = factory("c1", 2), factory("c1", 2)
    await granted_now(crashed, 2)  # never sent, never released, never closed
    assert await granted_now(alive, 2)  # after the lease


async def test_keys_hold_no_campaign_id_and_expire(
    factory: RedisLimiterFactory, redis_client: redis.asyncio.Redis
) -> None:
    limiter = factory("campaign_abc123", 3)
    for grant in await granted_now(limiter, 2):
        grant.sent()
    await limiter.aclose()
    keys = sorted(k.decode() if isinstance(k, bytes) else k for k in await redis_client.keys("*"))
    assert keys, "nothing was stored"
    for key in keys:
        assert key.startswith("postman_async:{")
        assert "campaign_abc123" not in key
        assert await redis_client.pttl(key) > 0
    # One hash slot for all of a campaign's keys.
    assert len({key.split("}")[0] for key in keys}) == 1


async def test_the_script_is_reloaded_after_script_flush(
    factory: RedisLimiterFactory, redis_client: redis.asyncio.Redis
) -> None:
    limiter = factory("c1", 10)
    await granted_now(limiter, 1)
    before = limiter.round_trips
    await redis_client.script_flush()
    await granted_now(limiter, 1)
    # NOSCRIPT, SCRIPT LOAD and the call again.
    assert limiter.round_trips - before == 3
    await granted_now(limiter, 1)
    assert limiter.round_trips - before == 4
    await limiter.aclose()


async def test_unreachable_redis_is_a_typed_error(own_server: RedisServer) -> None:
    factory = RedisLimiterFactory(own_server.url, timeout=2.0)
    own_server.kill()
    limiter = factory("c1", 10)
    with pytest.raises(LimiterUnavailableError) as caught:
        await limiter.acquire(Priority.SEND)
    assert isinstance(caught.value, PostmanError)
    assert "unreachable" in str(caught.value)
    await limiter.aclose()


async def test_a_restarted_server_serves_again(own_server: RedisServer) -> None:
    factory = RedisLimiterFactory(own_server.url, period=MINUTE, restart_wait=False)
    limiter = factory("c1", 3)
    (grant,) = await granted_now(limiter, 1)
    grant.sent()
    own_server.kill()
    with pytest.raises(LimiterUnavailableError):
        await limiter.acquire(Priority.SEND)
    own_server.start()
    # The restarted server has lost the log; the handle tells it what it sent lately.
    await granted_now(limiter, 2)
    assert await limiter.acquire(Priority.SEND, timeout=0.3) is None
    await limiter.aclose()


async def _keys(client: redis.asyncio.Redis) -> tuple[str, str, str, str]:
    return campaign_keys("postman_async", "c1")


async def test_a_server_up_for_less_than_a_window_waits_for_what_it_forgot(
    own_server: RedisServer,
) -> None:
    # Just started, no keys: it may have lost the log of the last minute in a restart.
    limiter = RedisLimiterFactory(own_server.url, period=MINUTE)("c1", 3)
    assert await limiter.acquire(Priority.SEND, timeout=0.5) is None
    await limiter.aclose()
    # The same server, told it was never restarted while clients sent, grants at once.
    limiter = RedisLimiterFactory(own_server.url, period=MINUTE, restart_wait=False)("c2", 3)
    assert await limiter.acquire(Priority.SEND, timeout=MINUTE / 2) is not None
    await limiter.aclose()


def connection(factory: RedisLimiterFactory) -> object:
    """The factory's connection (its store), or None when it holds none."""
    return factory._shared


async def test_a_connection_made_by_the_factory_closes_with_its_last_limiter(
    redis_server: RedisServer,
) -> None:
    factory = RedisLimiterFactory(redis_server.url, restart_wait=False)
    one, two = factory("c1", 5), factory("c2", 5)
    await granted_now(one, 1)
    await granted_now(two, 1)
    store = connection(factory)
    assert store is not None
    await one.aclose()
    assert connection(factory) is store
    await two.aclose()
    assert connection(factory) is None
    # A later client of the same factory opens a new connection.
    three = factory("c1", 5)
    await granted_now(three, 1)
    await three.aclose()
    assert factory.round_trips >= 3


async def test_a_connection_given_to_the_factory_stays_open(
    factory: RedisLimiterFactory, redis_client: redis.asyncio.Redis
) -> None:
    limiter = factory("c1", 5)
    await granted_now(limiter, 1)
    await limiter.aclose()
    assert await redis_client.ping()


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="URL"):
        RedisLimiterFactory("localhost:6379")
    with pytest.raises(ValueError, match="prefix"):
        RedisLimiterFactory("redis://localhost", prefix="a{b}")
    with pytest.raises(ValueError, match="tps"):
        RedisLimiterFactory("redis://localhost")("c1", 0)
