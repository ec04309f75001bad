"""The real client against the mock server over loopback: every endpoint, limits, faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from postman_async import (
    AuthenticationError,
    BadRequestError,
    Message,
    MessageStatus,
    NotFoundError,
    PostmanClient,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TrackingPolicy,
)
from postman_async.testing import FaultConfig, MockPostman, MockServer, serve_mock

from .conftest import mock_process

pytestmark = pytest.mark.slow

FAST_TRACKING = TrackingPolicy(min_interval=0.05, max_interval=0.2, jitter=0.0)
QUICK_RETRY = RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.1)


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    state = MockPostman(speed=0)  # lifecycle moves only when the test advances it
    async with serve_mock(state, tps=50, variables=("otp",)) as running:
        yield running


@pytest.fixture
async def client(server: MockServer) -> AsyncIterator[PostmanClient]:
    async with PostmanClient(
        base_url=server.base_url, retry_policy=QUICK_RETRY, tracking=FAST_TRACKING, timeout=20
    ) as running:
        yield running


async def test_send_get_retry_through_the_lifecycle(
    server: MockServer, client: PostmanClient
) -> None:
    otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=50)
    ok = await otp.send("+65 9123 4567", {"otp": "123456"})
    bad = await otp.send("6511112222", {"otp": "654321"})  # test number: recipient_unavailable
    assert ok.latest_status is MessageStatus.CREATED
    assert ok.recipient == "6591234567"

    server.state.advance(60)
    ok, bad = await otp.get_message(ok.id), await otp.get_message(bad.id)
    assert ok.latest_status is MessageStatus.SUCCESS
    assert bad.latest_status is MessageStatus.FAILURE
    assert (bad.error_type, bad.error_code) == ("delivery_error", "recipient_unavailable")

    retried = await otp.retry(bad.id)
    assert retried.id == bad.id
    assert retried.latest_status is MessageStatus.CREATED
    server.state.advance(60)
    again = await otp.get_message(bad.id)
    assert again.latest_status is MessageStatus.FAILURE
    assert len(again.attempts) == 2

    with pytest.raises(BadRequestError) as info:
        await otp.retry(ok.id)
    assert info.value.code == "message_not_found_or_retry_message_not_in_failure_status"
    with pytest.raises(NotFoundError):
        await otp.get_message("message_does_not_exist")


async def test_listing_pages_both_ways_and_searches(
    server: MockServer, client: PostmanClient
) -> None:
    otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=50)
    sent = [await otp.send(f"659000{i:04d}", {"otp": str(i)}) for i in range(25)]

    listed = [m.id async for m in otp.list_messages(limit=7)]
    assert listed == [m.id for m in reversed(sent)]  # newest first, across 4 pages

    first = await otp.list_messages(limit=10)
    second = await otp.list_messages(limit=10, after=first.page_info.end_cursor)
    back = await otp.list_messages(limit=10, before=second.page_info.start_cursor)
    assert [m.id for m in back.messages] == [m.id for m in first.messages]

    found = [m.recipient async for m in otp.list_messages(search="0012")]
    assert found == ["6590000012"]


async def test_batch_of_twenty_rows_to_final_statuses(
    server: MockServer, client: PostmanClient
) -> None:
    otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=50)
    rows = [{"recipient": f"659100{i:04d}", "otp": f'a, "b"\nc{i}'} for i in range(19)]
    rows.append({"recipient": "6511111111", "otp": "x"})  # recipient_invalid
    receipt = await otp.send_batch(rows)
    assert receipt.batch_id and receipt.num_rows == 20

    server.state.speed = 50.0  # let the lifecycle run while we wait
    final = await otp.wait_for_batch(receipt, timeout=15)
    assert len(final) == 20
    statuses = sorted(m.latest_status.value for m in final.values())
    assert statuses == ["failure"] + ["success"] * 19
    failed = next(m for m in final.values() if m.latest_status is MessageStatus.FAILURE)
    assert failed.error_code == "recipient_invalid"
    values = {m.values["otp"] async for m in otp.list_batch_messages(receipt.batch_id)}
    assert 'a, "b"\nc3' in values  # quoting and a real newline survived the CSV

    await otp.retry_batch(receipt.batch_id)
    server.state.advance(60)
    listed = [m async for m in otp.list_batch_messages(receipt.batch_id)]
    retried = next(m for m in listed if m.id == failed.id)
    assert retried.num_attempts == 2


async def test_wait_for_follows_many_messages_for_few_calls(
    server: MockServer, client: PostmanClient
) -> None:
    otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=50)
    sent = await asyncio.gather(*(otp.send(f"659200{i:04d}", {"otp": "1"}) for i in range(200)))
    server.state.speed = 50.0
    final = await otp.wait_for(sent, timeout=15)
    assert {m.latest_status for m in final.values()} == {MessageStatus.SUCCESS}
    reads = server.campaign.stats.requests
    assert reads["get_message"] + reads["list_messages"] <= 20  # vs 200+ for per-message polling


async def test_wrong_key_is_401(server: MockServer, client: PostmanClient) -> None:
    otp = client.campaign(server.campaign_id, api_key="key_test_wrong", tps=50)
    with pytest.raises(AuthenticationError) as info:
        await otp.send("6591234567", {"otp": "1"})
    assert info.value.message == "Unauthorized"


async def test_fan_out_never_exceeds_the_limit_in_any_second() -> None:
    # The server runs in its own process, as Postman would: its clock sees real arrivals.
    with mock_process("--tps", "25", "--rate-limit", "sliding", "--speed", "0") as server:
        async with PostmanClient(base_url=server.base_url) as client:
            otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=25)
            sent = await asyncio.gather(
                *(otp.send(f"659300{i:04d}", {"otp": "1"}) for i in range(250))
            )
        stats = await server.stats()
    assert len({m.id for m in sent}) == 250
    assert stats["rate_limited"] == 0
    assert stats["max_received_in_window"] <= 25
    assert stats["messages_created"] == 250


async def test_mock_tighter_than_client_earns_429s_that_are_retried() -> None:
    state = MockPostman(speed=0)
    async with serve_mock(state, tps=5, rate_limit="fixed", variables=("otp",)) as server:
        async with PostmanClient(base_url=server.base_url, retry_policy=QUICK_RETRY) as client:
            otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=20)
            results = await asyncio.gather(
                *(otp.send(f"659400{i:04d}", {"otp": "1"}) for i in range(20)),
                return_exceptions=True,
            )
        stats = server.campaign.stats
    assert stats.rate_limited > 0  # the server pushed back...
    created = [r for r in results if isinstance(r, Message)]
    limited = [r for r in results if isinstance(r, RateLimitError)]
    assert len(created) + len(limited) == 20  # ...every call ended in a result or a typed error
    assert stats.messages_created == len(created)  # and a 429 never created a message
    assert not any(e.message_may_exist for e in limited)


async def test_5xx_storm_reads_recover_sends_report_ambiguity() -> None:
    state = MockPostman(speed=0)
    async with (
        serve_mock(state, tps=None, variables=("otp",)) as server,
        PostmanClient(base_url=server.base_url, retry_policy=QUICK_RETRY) as client,
    ):
        otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=None)
        msg = await otp.send("6591234567", {"otp": "1"})
        state.faults = FaultConfig(server_error_rate=0.3, html_error_rate=0.2, seed=3)
        reads = await asyncio.gather(*(otp.get_message(msg.id) for _ in range(50)))
        sends = await asyncio.gather(
            *(otp.send(f"659500{i:04d}", {"otp": "1"}) for i in range(50)),
            return_exceptions=True,
        )
    assert {m.id for m in reads} == {msg.id}  # every read got through the storm
    errors = [s for s in sends if isinstance(s, BaseException)]
    assert errors, "a 50% storm should fail some sends"
    assert all(isinstance(e, ServerError) and e.message_may_exist for e in errors)
    created_ids = {m.id for m in sends if isinstance(m, Message)}
    assert created_ids <= set(state.messages)


async def test_a_borrowed_session_carries_the_calls_and_is_left_open(server: MockServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with PostmanClient(base_url=server.base_url, session=session) as client:
            otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=50)
            msg = await otp.send("6591234567", {"otp": "1"})
            assert (await otp.get_message(msg.id)).id == msg.id
        assert not session.closed  # the caller's session: the caller closes it
        url = f"{server.base_url}/campaigns/{server.campaign_id}/messages/{msg.id}"
        headers = {"Authorization": f"Bearer {server.api_key}"}
        async with session.get(url, headers=headers) as response:  # still usable
            assert response.status == 200
    assert server.campaign.stats.requests["get_message"] == 2
