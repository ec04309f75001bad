"""The status tracker, on a virtual clock against an in-memory status source.

The last tests run the tracker through a real :class:`Campaign` and
:class:`MockTransport`: what it reads, and at which priority.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Any

import msgspec
import pytest

from postman_async import (
    Attempt,
    AuthenticationError,
    BatchReceipt,
    Message,
    MessageStatus,
    NotFoundError,
    Page,
    PageInfo,
    PostmanClient,
    Priority,
    RateLimiter,
    RetryPolicy,
    ServerError,
    SlidingWindowLimiter,
)
from postman_async._tracking import Tracker, TrackingPolicy, is_final
from postman_async.testing import MockTransport

from .conftest import RecordingLimiter, Replies, reply, run_virtual

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
FAST = TrackingPolicy(min_interval=1.0, max_interval=8.0, backoff=2.0, jitter=0.0)


class FakeCampaign:
    """A StatusSource serving messages from a dict; statuses change when the test says so."""

    id = "c1"

    def __init__(self, count: int = 0, *, page_size: int = 1000) -> None:
        self.messages: dict[str, Message] = {}
        self.batches: dict[str, list[str]] = {}
        self.page_size = page_size
        self.calls: list[tuple[str, Any]] = []
        self.get_times: list[float] = []
        self.fail_with: BaseException | None = None
        for i in range(count):
            self.add(f"m{i:05d}", T0 + dt.timedelta(seconds=i))

    def add(self, mid: str, created: dt.datetime, recipient: str = "6591234567") -> Message:
        msg = Message(
            id=mid,
            latest_status=MessageStatus.CREATED,
            recipient=recipient,
            created_at=created,
            updated_at=created,
        )
        self.messages[mid] = msg
        return msg

    def set(self, mid: str, status: str, **extra: Any) -> None:
        self.messages[mid] = msgspec.structs.replace(
            self.messages[mid], latest_status=MessageStatus(status), **extra
        )

    def set_all(self, status: str) -> None:
        for mid in self.messages:
            self.set(mid, status)

    def _check(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    async def fetch_message(self, mid: str) -> Message:
        self.calls.append(("get", mid))
        self.get_times.append(asyncio.get_running_loop().time())
        self._check()
        if mid not in self.messages:
            raise NotFoundError("no such message", status=404)
        return self.messages[mid]

    async def fetch_page(self, batch_id: str | None, after: str | None) -> Page:
        self.calls.append(("batch" if batch_id else "list", after))
        self._check()
        if batch_id is None:
            ordered = sorted(self.messages.values(), key=lambda m: m.created_at or T0, reverse=True)
        else:
            ordered = [self.messages[mid] for mid in reversed(self.batches[batch_id])]
        start = int(after or 0)
        chunk = ordered[start : start + self.page_size]
        more = start + self.page_size < len(ordered)
        return Page(
            tuple(chunk),
            PageInfo(has_next_page=more, end_cursor=str(start + self.page_size)),
        )

    async def retry(self, mid: str) -> Message:
        self.calls.append(("retry", mid))
        msg = self.messages[mid]
        self.messages[mid] = msgspec.structs.replace(
            msg,
            latest_status=MessageStatus.CREATED,
            num_attempts=(msg.num_attempts or 1) + 1,
        )
        return self.messages[mid]

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.calls if k == kind)


def tracker(fake: FakeCampaign, policy: TrackingPolicy = FAST, now: dt.datetime = T0) -> Tracker:
    return Tracker(fake, policy, wall_clock=lambda: now, rand=lambda: 0.5)


async def collect(stream: Any) -> list[Message]:
    return [m async for m in stream]


def test_many_messages_cost_one_list_page_per_round() -> None:
    fake = FakeCampaign(3000)
    trk = tracker(fake)
    sent = list(fake.messages.values())

    async def main() -> list[Message]:
        async def progress() -> None:
            await asyncio.sleep(1.5)  # rounds at t=1 (quiet), then t=3
            fake.set_all("sent")
            await asyncio.sleep(2.0)  # seen at t=3; the interval drops to 1: t=4
            fake.set_all("success")

        task = asyncio.create_task(progress())
        updates = await collect(trk.follow(sent, (), ()))
        await task
        return updates

    updates = run_virtual(main)
    assert len(updates) == 6000  # each message: sent, then success
    assert {m.latest_status for m in updates[-3000:]} == {MessageStatus.SUCCESS}
    # Three rounds of three pages each: 9 calls for 3,000 messages.
    assert fake.count("get") == 0
    assert fake.count("list") == 9
    assert trk.calls == fake.count("list")
    assert trk.calls / len(sent) < 0.01


def test_scan_stops_past_the_oldest_tracked_message() -> None:
    fake = FakeCampaign(5000)  # newest first: m04999 .. m00000
    tracked = [fake.messages[f"m{i:05d}"] for i in range(4990, 5000)] + [fake.messages["m04000"]]

    async def main() -> None:
        trk = tracker(fake)
        stream = trk.follow(tracked, (), ())
        waiter = asyncio.create_task(collect(stream))
        await asyncio.sleep(1.5)
        fake.set_all("success")
        await waiter

    run_virtual(main)
    # m04000 is on page 2 of 5; no round needed pages 3-5.
    assert max(int(after or 0) for kind, after in fake.calls if kind == "list") <= 1000


def test_few_messages_use_single_gets() -> None:
    fake = FakeCampaign(1000)
    one = fake.messages["m00007"]

    async def main() -> dict[str, Message]:
        trk = tracker(fake)
        stream = trk.follow([one], (), ())
        task = asyncio.create_task(collect(stream))
        await asyncio.sleep(2.5)
        fake.set("m00007", "failure")
        updates = await task
        return {m.id: m for m in updates}

    final = run_virtual(main)
    assert final["m00007"].latest_status is MessageStatus.FAILURE
    assert fake.count("list") == 0
    assert fake.count("get") >= 2


def test_two_waiters_on_one_id_share_one_poll() -> None:
    fake = FakeCampaign(1)
    msg = fake.messages["m00000"]

    async def main() -> None:
        trk = tracker(fake)
        a = asyncio.create_task(collect(trk.follow([msg], (), ())))
        b = asyncio.create_task(collect(trk.follow(["m00000"], (), ())))
        await asyncio.sleep(1.5)  # one round at t=1
        assert fake.count("get") == 1
        fake.set("m00000", "success")
        got_a, got_b = await asyncio.gather(a, b)
        assert [m.latest_status for m in got_a] == [MessageStatus.SUCCESS]
        # b passed a bare ID: it also sees the first observation.
        assert got_b[-1].latest_status is MessageStatus.SUCCESS

    run_virtual(main)
    assert fake.count("get") == 2


def test_interval_backs_off_while_quiet_and_tightens_on_change() -> None:
    fake = FakeCampaign(1)
    times = fake.get_times

    async def main() -> None:
        trk = tracker(fake)
        task = asyncio.create_task(collect(trk.follow(["m00000"], (), ())))
        await asyncio.sleep(16.5)
        fake.set("m00000", "sent")
        await asyncio.sleep(8.0)  # t=24.5: after the poll at t=24 saw "sent"
        fake.set("m00000", "success")
        await task

    run_virtual(main)
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    # t=1: first sight of a bare ID counts as a change; then quiet: 2, 4, 8, 8 (the cap);
    # "sent" seen at t=24 -> back to 1 s.
    assert times[0] == pytest.approx(1.0)
    assert gaps == [1.0, 2.0, 4.0, 8.0, 8.0, 1.0]


def test_cancelled_waiter_stops_polling() -> None:
    fake = FakeCampaign(1)

    async def main() -> None:
        trk = tracker(fake)
        task = asyncio.create_task(collect(trk.follow(["m00000"], (), ())))
        await asyncio.sleep(3.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        before = len(fake.calls)
        await asyncio.sleep(60)
        assert len(fake.calls) <= before + 1  # at most the round already under way
        assert asyncio.all_tasks() == {asyncio.current_task()}  # the polling loop ended

    run_virtual(main)


def test_sent_to_telco_is_final_after_48h_or_at_once_abroad() -> None:
    policy = TrackingPolicy(foreign_final=True)
    local = Message(
        id="a",
        latest_status=MessageStatus.SENT_TO_TELCO,
        recipient="6591234567",
        updated_at=T0,
    )
    foreign = msgspec.structs.replace(local, recipient="60123456789")
    assert not is_final(local, policy, T0 + dt.timedelta(hours=47))
    assert is_final(local, policy, T0 + dt.timedelta(hours=48))
    assert is_final(foreign, policy, T0)
    assert not is_final(foreign, TrackingPolicy(), T0)
    unknown = msgspec.structs.replace(local, latest_status=MessageStatus("queued_somewhere"))
    assert not is_final(unknown, policy, T0 + dt.timedelta(days=30))


def test_batch_tracking_waits_for_every_row() -> None:
    fake = FakeCampaign(0)
    ids = [f"b{i}" for i in range(5)]
    for i, mid in enumerate(ids):
        fake.add(mid, T0 + dt.timedelta(milliseconds=i))
    fake.batches["batch_1"] = ids[:3]  # only 3 of 5 rows listed so far
    receipt = BatchReceipt(is_valid=True, batch_id="batch_1", num_rows=5)

    async def main() -> list[Message]:
        trk = tracker(fake)
        task = asyncio.create_task(collect(trk.follow((), [receipt], ())))
        await asyncio.sleep(1.5)
        fake.set_all("success")
        await asyncio.sleep(2.0)
        assert not task.done()  # 3 final rows of 5 is not the whole batch
        fake.batches["batch_1"] = ids
        return await task

    updates = run_virtual(main)
    assert {m.id for m in updates if m.latest_status is MessageStatus.SUCCESS} == set(ids)
    assert fake.count("get") == 0


def test_retry_failed_retries_retryable_errors_within_three_attempts() -> None:
    fake = FakeCampaign(2)
    unavailable = Attempt(status=MessageStatus.FAILURE, error_code="recipient_unavailable")
    invalid = Attempt(status=MessageStatus.FAILURE, error_code="recipient_invalid")

    async def main() -> list[Message]:
        trk = tracker(fake)
        task = asyncio.create_task(
            collect(trk.follow(list(fake.messages.values()), (), {"recipient_unavailable"}))
        )
        await asyncio.sleep(1.5)
        fake.set("m00000", "failure", attempts=(unavailable,), num_attempts=1)
        fake.set("m00001", "failure", attempts=(invalid,), num_attempts=1)
        await asyncio.sleep(2.0)  # the round at t=3 retries m00000
        fake.set("m00000", "failure", attempts=(unavailable,) * 3, num_attempts=3)
        return await task

    updates = run_virtual(main)
    assert [mid for kind, mid in fake.calls if kind == "retry"] == ["m00000"]
    final = {m.id: m for m in updates}
    assert final["m00000"].latest_status is MessageStatus.FAILURE
    assert final["m00001"].error_code == "recipient_invalid"


def test_transient_errors_back_off_and_fatal_errors_reach_the_caller() -> None:
    fake = FakeCampaign(1)

    async def main() -> None:
        trk = tracker(fake)
        task = asyncio.create_task(collect(trk.follow(["m00000"], (), ())))
        fake.fail_with = ServerError("down", status=503)
        await asyncio.sleep(5)
        assert not task.done()
        fake.fail_with = AuthenticationError("Unauthorized", status=401)
        with pytest.raises(AuthenticationError):
            await task

    run_virtual(main)


def test_an_unexpected_error_in_a_poll_does_not_strand_the_waiters() -> None:
    """A bug below the tracker fails one round; polling goes on and the waiter gets its answer."""
    fake = FakeCampaign(1)
    fake.fail_with = RuntimeError("a bug below the tracker")

    async def main() -> list[Message]:
        trk = tracker(fake)
        waiter = asyncio.create_task(collect(trk.follow(["m00000"], (), ())))
        await asyncio.sleep(5)  # a few failed rounds
        assert not waiter.done()
        fake.fail_with = None
        fake.set("m00000", "success")
        done, _ = await asyncio.wait({waiter}, timeout=120)  # virtual seconds
        assert done, "the waiter was stranded"
        return waiter.result()

    updates = run_virtual(main)
    assert [m.latest_status.value for m in updates] == ["success"]


def test_unknown_id_raises_not_found_for_its_waiter() -> None:
    fake = FakeCampaign(1)

    async def main() -> None:
        trk = tracker(fake)
        with pytest.raises(NotFoundError):
            await collect(trk.follow(["nope"], (), ()))

    run_virtual(main)


def test_already_final_messages_end_at_once_without_calls() -> None:
    fake = FakeCampaign(1)
    fake.set("m00000", "success")

    async def main() -> list[Message]:
        return await collect(tracker(fake).follow([fake.messages["m00000"]], (), ()))

    assert run_virtual(main) == []
    assert fake.calls == []


def test_a_new_waiter_is_polled_within_min_interval_not_at_once() -> None:
    fake = FakeCampaign(2)
    times = fake.get_times

    async def main() -> None:
        trk = tracker(fake)
        first = asyncio.create_task(collect(trk.follow([fake.messages["m00000"]], (), ())))
        await asyncio.sleep(3.5)  # polls at t=1 and t=3; the next would be t=7
        second = asyncio.create_task(collect(trk.follow([fake.messages["m00001"]], (), ())))
        await asyncio.sleep(0)
        assert times[-1] == pytest.approx(3.0)  # registering did not poll at once
        await asyncio.sleep(1.5)
        fake.set_all("success")
        await asyncio.gather(first, second)

    run_virtual(main)
    assert sorted(set(times))[:3] == [pytest.approx(1.0), pytest.approx(3.0), pytest.approx(4.5)]


def test_many_single_message_waiters_share_each_round() -> None:
    fake = FakeCampaign(2000)

    async def main() -> None:
        trk = tracker(fake)
        waiters = [
            asyncio.create_task(collect(trk.follow([m], (), ()))) for m in fake.messages.values()
        ]
        await asyncio.sleep(1.5)
        fake.set_all("success")
        await asyncio.gather(*waiters)

    run_virtual(main)
    assert fake.count("get") == 0
    assert fake.count("list") == 4  # rounds at t=1 and t=3, two pages of 1,000 each


# ----------------------------------------------------------------------------- through a Campaign

BASE = "https://postman.gov.sg/api/v2"
MESSAGES = f"{BASE}/campaigns/c1/messages"
KEY = "key_live_0123456789abcdef"


def wire(mid: str, status: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": mid,
        "latestStatus": status,
        "recipient": "6591234567",
        "createdAt": "2026-01-01T08:00:00.000+08:00",
        "updatedAt": "2026-01-01T08:00:00.000+08:00",
    }
    body.update(extra)
    return body


def listing(*items: dict[str, Any]) -> dict[str, Any]:
    return {"data": list(items), "pageData": {"hasNextPage": False, "endCursor": "end"}}


def real_client(replies: Replies, limiters: list[RecordingLimiter]) -> PostmanClient:
    def factory(campaign_id: str, tps: int) -> RateLimiter:
        limiter = RecordingLimiter(SlidingWindowLimiter(tps))
        limiters.append(limiter)
        return limiter

    return PostmanClient(
        transport=MockTransport(replies),
        limiter_factory=factory,
        tracking=TrackingPolicy(min_interval=1.0, max_interval=8.0, jitter=0.0),
        retry_policy=RetryPolicy.no_backoff(1),
    )


def test_a_campaign_polls_single_messages_at_the_lowest_priority() -> None:
    replies = Replies()
    replies.on("POST", MESSAGES, reply(wire("m1", "created"), 201))
    replies.on(
        "GET", f"{MESSAGES}/m1", reply(wire("m1", "sent")), repeat=reply(wire("m1", "success"))
    )
    limiters: list[RecordingLimiter] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with real_client(replies, limiters) as client:
            otp = client.campaign("c1", api_key=KEY)
            msg = await otp.send("6591234567", {"otp": "1"})
            final = await otp.wait_for([msg], timeout=60)
            assert final["m1"].latest_status is MessageStatus.SUCCESS
            assert otp.status_reads == 2
            assert client.campaign("c1", api_key=KEY).status_reads == 2  # one per campaign
            assert loop.time() == pytest.approx(2.0)  # polls at t=1 (sent), t=2 (success)

    run_virtual(main)
    (limiter,) = limiters
    assert limiter.priorities == [Priority.SEND, Priority.POLL, Priority.POLL]
    assert len(replies.to("GET", f"{MESSAGES}/m1")) == 2


def test_a_campaign_polls_many_messages_by_list_page_at_the_lowest_priority() -> None:
    replies = Replies()
    sends = iter(range(3))
    replies.on("POST", MESSAGES, repeat=lambda r: reply(wire(f"m{next(sends)}", "created"), 201))
    replies.on("GET", MESSAGES, reply(listing(*(wire(f"m{i}", "success") for i in (2, 1, 0)))))
    limiters: list[RecordingLimiter] = []

    async def main() -> None:
        async with real_client(replies, limiters) as client:
            otp = client.campaign("c1", api_key=KEY)
            sent = [await otp.send("6591234567", {"otp": str(i)}) for i in range(3)]
            final = await otp.wait_for(sent, timeout=60)
            assert {m.latest_status for m in final.values()} == {MessageStatus.SUCCESS}
            assert otp.status_reads == 1

    run_virtual(main)
    (limiter,) = limiters
    assert limiter.priorities == [Priority.SEND] * 3 + [Priority.POLL]
    (page_read,) = replies.to("GET", MESSAGES)
    assert page_read.params == {"limit": "1000"}


def test_a_campaign_tracks_a_batch_and_retries_its_failures_at_retry_priority() -> None:
    replies = Replies()
    batch_messages = f"{BASE}/campaigns/c1/batch/batch_1/messages"
    unavailable = {"status": "failure", "errorCode": "recipient_unavailable"}
    replies.on(
        "GET",
        batch_messages,
        reply(listing(wire("b1", "failure", attempts=[unavailable], numAttempts=1))),
        repeat=reply(listing(wire("b1", "success", numAttempts=2))),
    )
    replies.on("POST", f"{MESSAGES}/b1/retry", reply(wire("b1", "created", numAttempts=2), 201))
    limiters: list[RecordingLimiter] = []
    receipt = BatchReceipt(is_valid=True, batch_id="batch_1", num_rows=1)

    async def main() -> None:
        async with real_client(replies, limiters) as client:
            otp = client.campaign("c1", api_key=KEY)
            final = await otp.wait_for_batch(receipt, timeout=60, retry_failed=True)
            assert final["b1"].latest_status is MessageStatus.SUCCESS

    run_virtual(main)
    (limiter,) = limiters
    assert limiter.priorities == [Priority.POLL, Priority.RETRY, Priority.POLL]
    assert [r.params for r in replies.to("GET", batch_messages)] == [{"limit": "1000"}] * 2
    assert len(replies.to("POST", f"{MESSAGES}/b1/retry")) == 1
