"""Scripted faults: the next requests to an endpoint get what the test says."""

from __future__ import annotations

import aiohttp
import pytest

from postman_async.testing import FaultConfig, MockPostman, MockServer, ScriptedFault
from postman_async.testing._script import UNREADABLE_BODY
from tests.testing.conftest import Api

#: A valid send's body.
ONE_SEND = {"recipient": "6591234567", "language": "english", "values": {"otp": "1"}}


async def test_next_two_sends_answer_502_then_normal(api: Api, state: MockPostman) -> None:
    state.script.answer(
        502,
        endpoint="send",
        times=2,
        body="<html>bad gateway</html>",
        content_type="text/html",
        headers={"X-Edge": "1"},
    )
    async with api.opened("POST", "/messages", json=ONE_SEND) as response:
        assert response.status == 502
        assert response.headers["X-Edge"] == "1"
        assert await response.text() == "<html>bad gateway</html>"
    assert (await api.call("GET", "/messages", params={"limit": "1"}))[0] == 200  # other endpoint
    assert (await api.send())[0] == 502
    assert (await api.send())[0] == 201
    assert len(state.messages) == 1
    assert state.stats.server_errors == 2
    assert state.script.pending == []


async def test_scripted_default_bodies(api: Api, state: MockPostman) -> None:
    state.script.answer(503)
    status, body = await api.get("message_x")
    assert status == 503
    assert body["error"]["type"] == "server_error"
    state.script.answer(429, headers={"Retry-After": "3"})
    status, body = await api.send()
    assert status == 429
    assert body["statusCode"] == 429
    assert state.stats.rate_limited == 1


async def test_after_create_fails_a_batch_upload_that_created_its_messages(
    api: Api, state: MockPostman
) -> None:
    state.script.after_create(500, endpoint="batch_send")
    assert (await api.send())[0] == 201
    status, _ = await api.batch("recipient,language,otp\n6591234567,english,1\n")
    assert status == 500
    assert len(state.batches) == 1
    assert len(state.messages) == 2


async def test_after_create_spares_refused_requests(api: Api, state: MockPostman) -> None:
    state.script.after_create()
    status, _ = await api.send(recipient="91234567")
    assert status == 400  # nothing was created, so nothing to hide
    assert state.script.pending == []


async def test_unreadable_body_after_the_message_was_created(api: Api, state: MockPostman) -> None:
    state.script.unreadable_body()
    async with api.opened("POST", "/messages", json=ONE_SEND) as response:
        assert response.status == 201
        assert await response.read() == UNREADABLE_BODY
        with pytest.raises(ValueError):
            await response.json()
    assert len(state.messages) == 1


async def test_ip_not_whitelisted_and_forbidden_1010(api: Api, state: MockPostman) -> None:
    state.script.ip_not_whitelisted(endpoint="list_messages")
    state.script.forbidden_1010()
    status, body = await api.call("GET", "/messages", params={"limit": "1"})
    assert status == 400
    assert body["error"]["code"] == "invalid_ip_address_used"
    status, body = await api.send()
    assert status == 403
    assert body == "error code: 1010"


async def test_drop_closes_the_connection(api: Api, state: MockPostman) -> None:
    state.script.drop(endpoint="send")
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as fresh:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await Api(fresh, api.server).send()
    assert state.stats.dropped == 1
    assert not state.messages


async def test_scripted_faults_come_before_random_ones(api: Api, state: MockPostman) -> None:
    state.faults = FaultConfig(server_error_rate=1.0)
    state.script.answer(418, times=1)
    assert (await api.send())[0] == 418
    assert (await api.send())[0] == 500


async def test_random_faults_can_be_limited_to_endpoints(api: Api, state: MockPostman) -> None:
    state.faults = FaultConfig(server_error_rate=1.0, endpoints=("batch_send",))
    assert (await api.send())[0] == 201
    assert (await api.batch("recipient,language,otp\n6591234567,english,1\n"))[0] == 500


async def test_random_unreadable_bodies(api: Api, state: MockPostman) -> None:
    state.faults = FaultConfig(unreadable_body_rate=1.0, seed=1)
    async with api.opened("GET", "/messages?limit=1") as response:
        assert response.status == 200
        assert await response.read() == UNREADABLE_BODY


def test_scripted_faults_are_checked() -> None:
    with pytest.raises(ValueError, match="endpoint must be one of"):
        ScriptedFault("answer", endpoint="sned")
    with pytest.raises(ValueError, match="times must be at least 1"):
        ScriptedFault("answer", times=0)
    with pytest.raises(ValueError, match="kind must be one of"):
        ScriptedFault("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown endpoints"):
        FaultConfig(endpoints=("sned",))
    with pytest.raises(ValueError, match="whole number of seconds"):
        FaultConfig(retry_after=1.5)  # type: ignore[arg-type]
    assert FaultConfig(retry_after=2.0).retry_after == 2  # type: ignore[arg-type]


async def test_script_over_the_admin_endpoint(
    api: Api, session: aiohttp.ClientSession, server: MockServer, state: MockPostman
) -> None:
    fault = {"kind": "answer", "endpoint": "send", "status": 504, "times": 2}
    async with session.post(f"{server.url}/_mock/script", json=fault) as response:
        assert response.status == 200
        assert (await response.json())[0]["times"] == 2
    assert (await api.send())[0] == 504
    async with session.get(f"{server.url}/_mock/script") as response:
        assert [f["times"] for f in await response.json()] == [1]
    async with session.delete(f"{server.url}/_mock/script") as response:
        assert response.status == 200
    assert state.script.pending == []
    async with session.post(f"{server.url}/_mock/script", json={"kind": "nope"}) as response:
        assert response.status == 400
        assert "kind must be one of" in (await response.json())["error"]
