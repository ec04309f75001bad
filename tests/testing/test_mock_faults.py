"""Fault injection."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from postman_async.testing import FaultConfig, MockPostman, serve_mock
from postman_async.testing._faults import NO_FAULT, FaultInjector
from tests.testing.conftest import Api


def test_injector_without_faults_draws_nothing() -> None:
    injector = FaultInjector(FaultConfig())
    assert injector.plan("send") is NO_FAULT


def test_injector_is_repeatable_with_a_seed() -> None:
    config = FaultConfig(server_error_rate=0.3, html_error_rate=0.2, seed=42)
    a, b = FaultInjector(config), FaultInjector(config)
    assert [a.plan("send") for _ in range(200)] == [b.plan("send") for _ in range(200)]


def test_injector_shares_roughly_match_the_rates() -> None:
    injector = FaultInjector(FaultConfig(server_error_rate=0.25, drop_rate=0.1, seed=1))
    plans = [injector.plan("get_message") for _ in range(4000)]
    drops = sum(p.drop for p in plans) / len(plans)
    errors = sum(p.error == "json" for p in plans) / len(plans)
    assert 0.08 < drops < 0.12
    assert 0.20 < errors < 0.25  # 0.25 of the 0.9 not dropped


def test_after_commit_only_on_sends_and_latency_range() -> None:
    injector = FaultInjector(
        FaultConfig(error_after_commit_rate=1.0, latency=0.5, latency_jitter=0.25, seed=3)
    )
    assert injector.plan("send").after_commit
    assert injector.plan("batch_send").after_commit
    assert not injector.plan("retry").after_commit
    delays = [injector.plan("get_message").delay for _ in range(100)]
    assert all(0.5 <= d <= 0.75 for d in delays)


def test_fault_config_validation() -> None:
    with pytest.raises(ValueError, match="server_error_rate"):
        FaultConfig(server_error_rate=1.5)
    with pytest.raises(ValueError, match="latency"):
        FaultConfig(latency=-1)
    with pytest.raises(ValueError, match="5xx"):
        FaultConfig(server_error_status=404)
    with pytest.raises(TypeError):
        FaultConfig().replace(nonsense=1)
    assert FaultConfig().replace(drop_rate=0.5).drop_rate == 0.5


async def run_gets(api: Api, count: Any) -> Any:
    _, created = await api.send()
    return [await api.get(created["id"]) for _ in range(count)]


async def test_server_error_share_is_seeded(api: Api, state: MockPostman) -> None:
    state.faults = FaultConfig(server_error_rate=0.3, seed=7)
    first = [status for status, _ in await run_gets(api, 100)]
    state.faults = FaultConfig(server_error_rate=0.3, seed=7)
    second = [status for status, _ in await run_gets(api, 100)]
    assert first == second
    errors = first.count(500)
    assert 15 <= errors <= 45
    assert set(first) == {200, 500}
    assert state.stats.server_errors == first.count(500) + second.count(500)


async def test_server_error_body_is_an_envelope(api: Api, state: MockPostman) -> None:
    state.faults = FaultConfig(server_error_rate=1.0, server_error_status=503)
    status, body = await api.send()
    assert status == 503
    assert body["error"]["code"] == "service_unavailable"
    assert not state.messages


async def test_html_502(api: Api, state: MockPostman) -> None:
    state.faults = FaultConfig(html_error_rate=1.0)
    async with api.opened("GET", "/messages") as response:
        assert response.status == 502
        assert response.content_type == "text/html"
        assert "<title>502 Bad Gateway</title>" in await response.text()
    assert state.stats.server_errors == 1


async def test_dropped_connection_is_a_client_disconnect(api: Api, state: MockPostman) -> None:
    state.faults = FaultConfig(drop_rate=1.0)
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as fresh:
        other = Api(fresh, api.server)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await other.send()
    assert state.stats.dropped == 1
    assert not state.messages
    state.faults = FaultConfig()
    assert (await api.send())[0] == 201  # the server is fine afterwards


async def test_error_after_commit_creates_the_message(api: Api, state: MockPostman) -> None:
    state.faults = FaultConfig(error_after_commit_rate=1.0)
    status, body = await api.send(recipient="6598765432")
    assert status == 500
    assert body["error"]["code"] == "internal_server_error"
    assert len(state.messages) == 1
    message = next(iter(state.messages.values()))
    assert message.recipient == "6598765432"
    state.faults = FaultConfig()
    _, listed = await api.call("GET", "/messages", params={"search": "6598765432", "limit": "10"})
    assert [m["id"] for m in listed["data"]] == [message.id]


async def test_error_after_commit_spares_failed_validation(api: Api, state: MockPostman) -> None:
    state.faults = FaultConfig(error_after_commit_rate=1.0)
    status, _ = await api.send(recipient="+65")
    assert status == 400
    assert state.stats.server_errors == 0


async def test_slow_body_trickles(api: Api, state: MockPostman) -> None:
    _, created = await api.send()
    state.faults = FaultConfig(slow_body_rate=1.0, slow_body_seconds=0.3)
    started = time.monotonic()
    async with api.opened("GET", f"/messages/{created['id']}") as response:
        assert response.status == 200
        headers_after = time.monotonic() - started
        body = await response.json()
    total = time.monotonic() - started
    assert body["id"] == created["id"]
    # The headers come first and the body trickles in after them (lower bounds only: a
    # loaded machine can make anything slower, never faster).
    assert total - headers_after >= 0.25


async def test_slow_body_can_trip_a_read_timeout(api: Api, state: MockPostman) -> None:
    _, created = await api.send()
    state.faults = FaultConfig(slow_body_rate=1.0, slow_body_seconds=2.0)
    timeout = aiohttp.ClientTimeout(sock_read=0.05)
    with pytest.raises(asyncio.TimeoutError):
        async with api.opened("GET", f"/messages/{created['id']}", timeout=timeout) as response:
            await response.read()


async def test_latency_delays_the_answer(api: Api, state: MockPostman) -> None:
    state.faults = FaultConfig(latency=0.2)
    started = time.monotonic()
    assert (await api.call("GET", "/messages", params={"limit": "10"}))[0] == 200
    assert time.monotonic() - started >= 0.19


async def test_faults_do_not_touch_401_or_429(session: aiohttp.ClientSession) -> None:
    state = MockPostman(speed=0)
    state.faults = FaultConfig(server_error_rate=1.0)
    async with serve_mock(state, tps=1) as server:
        api = Api(session, server)
        assert (await api.send(key="key_test_wrong"))[0] == 401
        assert (await api.send())[0] == 500
        assert (await api.send())[0] == 429
