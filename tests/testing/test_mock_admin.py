"""Counters and the /_mock admin endpoints."""

from __future__ import annotations

from typing import Any

import aiohttp

from postman_async.testing import ENDPOINTS, FaultConfig, MockPostman, MockServer
from postman_async.testing._rate_windows import SlidingWindow
from postman_async.testing._refusals import INVENTED
from tests.testing.conftest import Api


async def admin(
    session: aiohttp.ClientSession, server: MockServer, method: Any, path: Any, **kwargs: Any
) -> Any:
    async with session.request(method, f"{server.url}/_mock{path}", **kwargs) as response:
        return response.status, await response.json()


async def test_counters_per_endpoint_and_campaign(api: Api, state: MockPostman) -> None:
    other = state.add_campaign(tps=None)
    _, created = await api.send()
    await api.get(created["id"])
    await api.call("GET", "/messages", params={"limit": "10"})
    await api.send(key=other.api_key, campaign_id=other.id)
    await api.send(key="key_test_wrong")
    mine = state.campaigns[api.campaign_id].stats
    assert mine.requests == dict.fromkeys(ENDPOINTS, 0) | {
        "send": 2,
        "get_message": 1,
        "list_messages": 1,
    }
    assert mine.unauthorized == 1
    assert mine.messages_created == 1
    assert mine.total_requests == 4
    assert other.stats.requests["send"] == 1
    assert state.stats.requests["send"] == 3
    assert state.stats.messages_created == 2
    assert state.stats.max_received_in_window == 4
    assert mine.max_accepted_in_window == 3
    state.reset_stats()
    assert state.stats.total_requests == 0
    assert mine.total_requests == 0
    assert mine.max_received_in_window == 0
    assert len(state.messages) == 2


async def test_admin_stats(api: Api, session: aiohttp.ClientSession, server: MockServer) -> None:
    await api.send()
    status, body = await admin(session, server, "GET", "/stats")
    assert status == 200
    assert body["total"]["requests"]["send"] == 1
    assert body["total"]["messages_created"] == 1
    assert body["campaigns"][api.campaign_id]["requests"]["send"] == 1
    assert set(body["total"]) == {
        "requests",
        "total_requests",
        "rate_limited",
        "server_errors",
        "dropped",
        "unauthorized",
        "messages_created",
        "max_received_in_window",
        "max_accepted_in_window",
    }


async def test_admin_campaigns(session: aiohttp.ClientSession, server: MockServer) -> None:
    status, body = await admin(session, server, "GET", "/campaigns")
    assert status == 200
    assert body[0]["campaign_id"] == server.campaign_id
    assert body[0]["api_keys"] == [server.api_key]


async def test_admin_faults(
    api: Api, session: aiohttp.ClientSession, server: MockServer, state: MockPostman
) -> None:
    status, body = await admin(
        session, server, "POST", "/faults", json={"server_error_rate": 1.0, "seed": 3}
    )
    assert status == 200
    assert body["server_error_rate"] == 1.0
    assert state.faults == FaultConfig(server_error_rate=1.0, seed=3)
    assert (await api.send())[0] == 500
    # Admin endpoints are exempt from faults.
    status, body = await admin(session, server, "GET", "/faults")
    assert (status, body["seed"]) == (200, 3)
    status, body = await admin(session, server, "POST", "/faults", json={"bogus": 1})
    assert status == 400
    status, body = await admin(session, server, "POST", "/faults", json={"drop_rate": 2})
    assert status == 400
    assert "drop_rate" in body["error"]
    status, body = await admin(session, server, "POST", "/faults", json=[1])
    assert status == 400
    await admin(session, server, "POST", "/faults", json={"server_error_rate": 0})
    assert (await api.send())[0] == 201


async def test_admin_advance_and_reset(
    api: Api, session: aiohttp.ClientSession, server: MockServer, state: MockPostman
) -> None:
    _, created = await api.send()
    status, body = await admin(session, server, "POST", "/advance", params={"seconds": "10"})
    assert status == 200
    assert body["now"] >= 10
    assert (await api.get(created["id"]))[1]["latestStatus"] == "success"
    status, _ = await admin(session, server, "POST", "/advance", params={"seconds": "-1"})
    assert status == 400
    status, _ = await admin(session, server, "POST", "/advance")
    assert status == 400

    status, _ = await admin(session, server, "POST", "/reset", params={"stats_only": "1"})
    assert status == 200
    assert state.stats.total_requests == 0
    assert len(state.messages) == 1
    status, _ = await admin(session, server, "POST", "/reset")
    assert status == 200
    assert not state.messages
    assert server.campaign.messages == []
    assert (await api.get(created["id"]))[0] == 404
    assert (await api.send())[0] == 201  # campaigns and keys survive


async def test_admin_is_exempt_from_auth_and_limits(
    session: aiohttp.ClientSession, server: MockServer, state: MockPostman
) -> None:
    server.campaign.rate_window = SlidingWindow(1)
    state.faults = FaultConfig(drop_rate=1.0)
    for _ in range(5):
        status, _ = await admin(session, server, "GET", "/stats")
        assert status == 200
    assert state.stats.total_requests == 0


async def test_unknown_route_is_404(
    api: Api, session: aiohttp.ClientSession, server: MockServer
) -> None:
    async with session.get(f"{server.url}/api/v2/nothing") as response:
        assert response.status == 404
        assert await response.json() == {
            "message": "Cannot GET /api/v2/nothing" + INVENTED,
            "error": "Not Found",
            "statusCode": 404,
        }


async def test_leniency_over_the_admin_endpoint(
    api: Api, session: aiohttp.ClientSession, server: MockServer, state: MockPostman
) -> None:
    assert (await api.call("GET", "/messages"))[0] == 400
    async with session.post(f"{server.url}/_mock/leniency", json={"limit_optional": True}) as r:
        assert r.status == 200
        assert (await r.json())["limit_optional"] is True
    assert state.leniency.limit_optional
    assert (await api.call("GET", "/messages"))[0] == 200
    async with session.post(f"{server.url}/_mock/leniency", json={"nonsense": True}) as r:
        assert r.status == 400
    async with session.get(f"{server.url}/_mock/leniency") as r:
        assert await r.json() == {
            "limit_optional": True,
            "any_content_type": False,
            "unsupported_characters": False,
            "invalid_csv_as_400": False,
        }
