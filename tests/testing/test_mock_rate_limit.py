"""The per-campaign rate limit over HTTP."""

from __future__ import annotations

import asyncio

import aiohttp

from postman_async.testing import FaultConfig, MockPostman, serve_mock
from postman_async.testing._refusals import INVENTED
from tests.testing.conftest import Api


async def test_fifteen_concurrent_sends_at_ten_tps(session: aiohttp.ClientSession) -> None:
    state = MockPostman(speed=0)
    async with serve_mock(state, tps=10, rate_limit="sliding") as server:
        api = Api(session, server)
        results = await asyncio.gather(*(api.send() for _ in range(15)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] * 10 + [429] * 5
    throttled = [body for status, body in results if status == 429]
    assert throttled[0] == {"message": "Too Many Requests" + INVENTED, "statusCode": 429}
    assert len(state.messages) == 10
    stats = server.campaign.stats
    assert stats.rate_limited == 5
    assert stats.messages_created == 10
    assert stats.requests["send"] == 15
    assert stats.max_received_in_window == 15
    assert stats.max_accepted_in_window == 10
    assert state.stats.rate_limited == 5


async def test_limit_is_shared_across_endpoints_and_keys(session: aiohttp.ClientSession) -> None:
    state = MockPostman(speed=0)
    async with serve_mock(state, tps=3, api_keys=["key_test_a", "key_test_b"]) as server:
        api = Api(session, server)
        assert (await api.send(key="key_test_a"))[0] == 201
        assert (await api.call("GET", "/messages", key="key_test_b", params={"limit": "1"}))[
            0
        ] == 200
        assert (await api.call("GET", "/batch/batch_x/messages"))[0] == 404
        assert (await api.send(key="key_test_b"))[0] == 429
        other = state.add_campaign(tps=3)
        assert (await api.send(key=other.api_key, campaign_id=other.id))[0] == 201


async def test_retry_after_header_when_configured(session: aiohttp.ClientSession) -> None:
    state = MockPostman(speed=0)
    state.faults = FaultConfig(retry_after=2)
    async with serve_mock(state, tps=1) as server:
        api = Api(session, server)
        await api.send()
        async with api.opened("GET", "/messages") as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "2"


async def test_no_retry_after_by_default(session: aiohttp.ClientSession) -> None:
    async with serve_mock(MockPostman(speed=0), tps=1) as server:
        api = Api(session, server)
        await api.send()
        async with api.opened("GET", "/messages") as response:
            assert response.status == 429
            assert "Retry-After" not in response.headers


async def test_unauthorized_requests_do_not_use_the_budget(session: aiohttp.ClientSession) -> None:
    async with serve_mock(MockPostman(speed=0), tps=2) as server:
        api = Api(session, server)
        for _ in range(5):
            assert (await api.send(key="key_test_wrong"))[0] == 401
        assert [(await api.send())[0] for _ in range(3)] == [201, 201, 429]


async def test_clock_injection_lets_a_window_pass(session: aiohttp.ClientSession) -> None:
    now = [100.0]
    state = MockPostman(speed=0)
    state.monotonic = lambda: now[0]
    async with serve_mock(state, tps=2, rate_limit="fixed") as server:
        api = Api(session, server)
        assert [(await api.send())[0] for _ in range(3)] == [201, 201, 429]
        now[0] = 101.0
        assert [(await api.send())[0] for _ in range(3)] == [201, 201, 429]
