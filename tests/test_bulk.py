"""Campaign.send_many: every row ends in one result; memory bounded by concurrency."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aioresponses import CallbackResult, aioresponses

from postman_async import PostmanClient, RetryPolicy, SendResult, ServerError, ValidationError

KEY = "key_live_abc"
URL = re.compile(r"^https://postman\.gov\.sg/api/v2/campaigns/c1/messages$")


def created(url: Any, **kwargs: Any) -> CallbackResult:
    return CallbackResult(
        status=201, payload={"id": f"m-{len(kwargs['data'])}", "latestStatus": "created"}
    )


@pytest.fixture
async def campaign() -> AsyncIterator[Any]:
    async with PostmanClient(retry_policy=RetryPolicy.no_backoff(1)) as client:
        yield client.campaign("c1", api_key=KEY, tps=None)


async def test_each_row_ends_in_exactly_one_result(campaign: Any) -> None:
    rows: list[object] = [
        {"recipient": "6591234567", "otp": "1"},
        {"recipient": "not a number", "otp": "2"},
        "not a mapping",
        {"recipient": "6591234568", "otp": "3", "language": "malay"},
        {"recipient": "6591234569", "otp": "4"},
    ]
    with aioresponses() as mocked:
        mocked.post(URL, callback=created)
        mocked.post(URL, status=503, payload={"message": "down"})
        mocked.post(URL, callback=created, repeat=True)
        results = [r async for r in campaign.send_many(rows, concurrency=1)]
        posts = sum(len(v) for (m, _), v in mocked.requests.items() if m == "POST")

    assert sorted(r.index for r in results) == [0, 1, 2, 3, 4]
    by_index = {r.index: r for r in results}
    assert by_index[0].ok and by_index[0].message is not None
    assert isinstance(by_index[1].error, ValidationError)
    assert isinstance(by_index[2].error, ValidationError)
    assert isinstance(by_index[3].error, ServerError) and by_index[3].error.message_may_exist
    assert by_index[4].ok
    assert all(r.row is rows[r.index] for r in results)
    assert all((r.message is None) != (r.error is None) for r in results)
    assert posts == 3  # bad rows spent nothing


async def test_input_is_pulled_lazily_and_memory_is_bounded(campaign: Any) -> None:
    pulled = 0
    concurrency = 4

    def rows() -> Iterator[dict[str, str]]:
        nonlocal pulled
        for i in range(2000):
            pulled += 1
            yield {"recipient": f"65912{i:05d}", "otp": str(i)}

    seen = 0
    worst = 0
    with aioresponses() as mocked:
        mocked.post(URL, callback=created, repeat=True)
        async for _ in campaign.send_many(rows(), concurrency=concurrency):
            seen += 1
            worst = max(worst, pulled - seen)
    assert seen == 2000
    # Rows in flight: one per worker, plus a queue of at most `concurrency` results.
    assert worst <= 2 * concurrency + 1


async def test_async_iterables_are_accepted(campaign: Any) -> None:
    async def rows() -> AsyncIterator[dict[str, str]]:
        for i in range(10):
            yield {"recipient": f"659123456{i}", "otp": str(i)}

    with aioresponses() as mocked:
        mocked.post(URL, callback=created, repeat=True)
        results = [r async for r in campaign.send_many(rows(), concurrency=3)]
    assert sorted(r.index for r in results) == list(range(10))
    assert all(isinstance(r, SendResult) and r.ok for r in results)


async def test_leaving_early_cancels_the_workers(campaign: Any) -> None:
    before = len(asyncio.all_tasks())
    with aioresponses() as mocked:
        mocked.post(URL, callback=created, repeat=True)
        stream = campaign.send_many(
            ({"recipient": "6591234567", "otp": "1"} for _ in range(10**6)), concurrency=8
        )
        async for _ in stream:
            break
        await stream.aclose()
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
async def test_concurrency_must_be_positive(campaign: Any, bad: Any) -> None:
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
