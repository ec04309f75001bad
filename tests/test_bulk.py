"""Campaign.send_many: every row ends in one result; memory bounded by concurrency."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from postman_async import (
    Campaign,
    PostmanClient,
    RetryPolicy,
    SendResult,
    ServerError,
    ValidationError,
)
from postman_async.testing import MockTransport, Request, Response

from .conftest import Replies, reply

KEY = "key_live_abc"
URL = "https://postman.gov.sg/api/v2/campaigns/c1/messages"


def created(request: Request) -> Response:
    assert request.json is not None
    otp = json.loads(request.json)["values"]["otp"]
    return reply({"id": f"m-{otp}", "latestStatus": "created"}, 201)


@pytest.fixture
def replies() -> Replies:
    return Replies()


@pytest.fixture
async def campaign(replies: Replies) -> AsyncIterator[Campaign]:
    async with PostmanClient(
        retry_policy=RetryPolicy.no_backoff(1), transport=MockTransport(replies)
    ) as client:
        yield client.campaign("c1", api_key=KEY, tps=None)


async def test_each_row_ends_in_exactly_one_result(campaign: Campaign, replies: Replies) -> None:
    rows: list[object] = [
        {"recipient": "6591234567", "otp": "1"},
        {"recipient": "not a number", "otp": "2"},
        "not a mapping",
        {"recipient": "6591234568", "otp": "3", "language": "malay"},
        {"recipient": "6591234569", "otp": "4"},
    ]
    replies.on("POST", URL, created, reply({"message": "down"}, 503), repeat=created)
    results = [r async for r in campaign.send_many(rows, concurrency=1)]  # type: ignore[arg-type]
    posts = len(replies.to("POST", URL))

    assert sorted(r.index for r in results) == [0, 1, 2, 3, 4]
    by_index = {r.index: r for r in results}
    assert by_index[0].ok and by_index[0].message is not None
    assert by_index[0].message.id == "m-1"
    assert isinstance(by_index[1].error, ValidationError)
    assert isinstance(by_index[2].error, ValidationError)
    assert isinstance(by_index[3].error, ServerError) and by_index[3].error.message_may_exist
    assert by_index[4].ok
    assert all(r.row is rows[r.index] for r in results)
    assert all((r.message is None) != (r.error is None) for r in results)
    assert posts == 3  # bad rows spent nothing


async def test_input_is_pulled_lazily_and_memory_is_bounded(
    campaign: Campaign, replies: Replies
) -> None:
    pulled = 0
    concurrency = 4

    def rows() -> Iterator[dict[str, str]]:
        nonlocal pulled
        for i in range(2000):
            pulled += 1
            yield {"recipient": f"65912{i:05d}", "otp": str(i)}

    seen = 0
    worst = 0
    replies.on("POST", URL, repeat=created)
    async for _ in campaign.send_many(rows(), concurrency=concurrency):
        seen += 1
        worst = max(worst, pulled - seen)
    assert seen == 2000
    assert len(replies.requests) == 2000
    # Rows in flight: one per worker, plus a queue of at most `concurrency` results.
    assert worst <= 2 * concurrency + 1


async def test_async_iterables_are_accepted(campaign: Campaign, replies: Replies) -> None:
    async def rows() -> AsyncIterator[dict[str, str]]:
        for i in range(10):
            yield {"recipient": f"659123456{i}", "otp": str(i)}

    replies.on("POST", URL, repeat=created)
    results = [r async for r in campaign.send_many(rows(), concurrency=3)]
    assert sorted(r.index for r in results) == list(range(10))
    assert all(isinstance(r, SendResult) and r.ok for r in results)
    assert {r.message.id for r in results if r.message} == {f"m-{i}" for i in range(10)}


async def test_leaving_early_cancels_the_workers(campaign: Campaign, replies: Replies) -> None:
    before = len(asyncio.all_tasks())
    replies.on("POST", URL, repeat=created)
    stream = campaign.send_many(
        ({"recipient": "6591234567", "otp": "1"} for _ in range(10**6)), concurrency=8
    )
    async for _ in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
async def test_concurrency_must_be_positive(campaign: Campaign, bad: Any) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        async for _ in campaign.send_many([], concurrency=bad):
            pass


def test_send_result_repr_hides_the_row() -> None:
    from postman_async import Message, MessageStatus

    ok = SendResult(
        index=3,
        row={"recipient": "6591234567", "otp": "918273"},
        message=Message(id="m1", latest_status=MessageStatus.CREATED, recipient="6591234567"),
    )
    bad = SendResult(index=4, row={"recipient": "6591234567"}, error=ValidationError("x"))
    assert repr(ok) == "SendResult(index=3, message='m1')"
    assert repr(bad) == "SendResult(index=4, error=ValidationError)"
