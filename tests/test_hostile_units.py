"""Hostile answers through the real request loop, limiter and tracker, on a virtual clock.

Each test is one promise of the README's Guarantees section against one kind of
bad answer (bytes that are not UTF-8, absurd ``Retry-After`` values, listings
that never end, a close() racing with trackers), or against bad options that
must be refused before any rate budget is spent.  The transport is
:class:`~postman_async.testing.MockTransport`; the byte-level cases over real
sockets are in ``tests/reliability/test_hostile_server.py``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import math
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from postman_async import (
    AmbiguousSendPolicy,
    BadRequestError,
    ClientClosedError,
    Grant,
    LimiterTimeoutError,
    Message,
    PostmanClient,
    PostmanError,
    Priority,
    RateLimitError,
    RetryPolicy,
    ServerError,
    SlidingWindowLimiter,
    TrackingPolicy,
    TrackingTimeoutError,
    ValidationError,
)
from postman_async._models import decode_error_body
from postman_async.testing import MockTransport, Request, Response

from .conftest import run_virtual

BASE = "http://127.0.0.1/api/v2"
KEY = "key_test_hostileunits0123456789abcdef"
NUMBER = "6581234567"
OTP = "Qx7731Zp"
#: A Retry-After date whose year is past what datetime can hold.
OVERFLOW_DATE = "Fri, 31 Dec 99999 23:59:59 GMT"


def message_json(
    mid: str,
    status: str = "created",
    *,
    recipient: str = NUMBER,
    values: dict[str, str] | None = None,
    created: dt.datetime | None = None,
) -> dict[str, Any]:
    created = created or dt.datetime.now(dt.UTC)
    return {
        "id": mid,
        "latestStatus": status,
        "recipient": recipient,
        "language": "english",
        "values": values if values is not None else {"otp": OTP},
        "createdAt": created.isoformat(),
        "updatedAt": created.isoformat(),
    }


def ok(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status=status, body=json.dumps(payload).encode(), headers=headers or {})


class CountingLimiter(SlidingWindowLimiter):
    """The real limiter, counting grants asked for and 429 slow-downs."""

    def __init__(self, rate: int) -> None:
        super().__init__(rate)
        self.acquires = 0
        self.slowed: list[float | None] = []

    async def acquire(
        self, priority: Priority = Priority.SEND, *, timeout: float | None = None
    ) -> Grant | None:
        self.acquires += 1
        return await super().acquire(priority, timeout=timeout)

    def slow_down(self, retry_after: float | None) -> None:
        self.slowed.append(retry_after)
        super().slow_down(retry_after)


def make_client(
    handler: Callable[[Request], Any],
    *,
    retry: RetryPolicy | None = None,
    tracking: TrackingPolicy | None = None,
    limiters: list[CountingLimiter] | None = None,
) -> tuple[PostmanClient, MockTransport]:
    transport = MockTransport(handler)

    def factory(campaign_id: str, tps: int) -> CountingLimiter:
        limiter = CountingLimiter(tps)
        if limiters is not None:
            limiters.append(limiter)
        return limiter

    client = PostmanClient(
        base_url=BASE,
        transport=transport,
        retry_policy=retry or RetryPolicy.no_backoff(3),
        tracking=tracking or TrackingPolicy(min_interval=1.0, max_interval=5.0, jitter=0.0),
        limiter_factory=factory,
    )
    return client, transport


# ----------------------------------------------------------------------------- error bodies


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decode_error_body_never_raises_on_any_bytes(body: bytes) -> None:
    details = decode_error_body(body)
    assert details.message is None or isinstance(details.message, str)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSONISH, st.sampled_from([b"", b"\xff", b"\xc3\x28", b"\xed\xa0\x80"]))
def test_decode_error_body_never_raises_on_odd_json(value: object, stray: bytes) -> None:
    for shape in ({"message": value, "code": value}, {"error": {"message": value, "id": value}}):
        body = json.dumps(shape).encode()
        decode_error_body(body)
        decode_error_body(body[:-2] + stray + body[-2:])  # a stray byte inside the JSON


def test_error_body_with_a_byte_that_is_not_utf8_is_read_leniently() -> None:
    details = decode_error_body(b'{"code": "server_error", "message": "d\xe9j\xe0 vu"}')
    assert details.code == "server_error"
    assert details.message == "d\ufffdj\ufffd vu"
    # Integers too long for str() and very deep nesting are summarised, not raised.
    assert decode_error_body(b'{"message": [' + b"9" * 5000 + b"]}").message
    assert decode_error_body(b'{"message": ' + b"[" * 50_000).message


def test_5xx_to_a_send_with_a_non_utf8_body_is_a_server_error_that_may_exist() -> None:
    def handler(request: Request) -> Response:
        return Response(status=502, body=b'{"message": "bad \xff gateway"}')

    async def main() -> PostmanError:
        client, transport = make_client(handler)
        async with client:
            otp = client.campaign("campaign_u", api_key=KEY)
            with pytest.raises(ServerError) as caught:
                await otp.send(NUMBER, {"otp": OTP})
        assert len(transport.requests) == 1  # RAISE: never a second send
        return caught.value

    error = run_virtual(main)
    assert error.message_may_exist
    assert "bad \ufffd gateway" in str(error)


def test_429_with_a_non_utf8_body_is_retried_and_slows_the_limiter() -> None:
    answers = iter(
        [
            Response(
                status=429, body=b'{"message": "slow \xff down"}', headers={"Retry-After": "2"}
            ),
            ok(message_json("message_1"), 201),
        ]
    )
    limiters: list[CountingLimiter] = []

    async def main() -> Message:
        client, _ = make_client(lambda r: next(answers), limiters=limiters)
        async with client:
            otp = client.campaign("campaign_u", api_key=KEY)
            return await otp.send(NUMBER, {"otp": OTP})

    assert run_virtual(main).id == "message_1"
    assert limiters[0].slowed == [2.0]


def test_a_10_mb_error_message_becomes_a_short_error_text() -> None:
    body = json.dumps({"message": "x" * 10_000_000}).encode()

    async def main() -> BadRequestError:
        client, _ = make_client(lambda r: Response(status=400, body=body))
        async with client:
            otp = client.campaign("campaign_u", api_key=KEY)
            with pytest.raises(BadRequestError) as caught:
                await otp.get_message("message_1")
        return caught.value

    error = run_virtual(main)
    assert len(str(error)) < 1000
    assert len(error.body) <= 2048


# ----------------------------------------------------------------------------- Retry-After


@pytest.mark.parametrize("retry_after", [OVERFLOW_DATE, "Fri, 31 Dec 9999 23:59:59 GMT", "1e999"])
def test_retry_after_beyond_any_date_on_a_201_still_returns_the_message(retry_after: str) -> None:
    async def main() -> Message:
        client, _ = make_client(
            lambda r: ok(message_json("message_1"), 201, {"Retry-After": retry_after})
        )
        async with client:
            return await client.campaign("campaign_u", api_key=KEY).send(NUMBER, {"otp": OTP})

    assert run_virtual(main).id == "message_1"


@pytest.mark.parametrize("retry_after", ["999999", OVERFLOW_DATE, "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_one_429_with_an_absurd_retry_after_pauses_the_campaign_at_most_60_s(
    retry_after: str,
) -> None:
    calls = itertools.count()

    def handler(request: Request) -> Response:
        if next(calls) == 0:
            return Response(status=429, headers={"Retry-After": retry_after})
        return ok(message_json("message_2"), 201)

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        client, _ = make_client(handler, retry=RetryPolicy.no_backoff(1))
        async with client:
            otp = client.campaign("campaign_u", api_key=KEY)
            with pytest.raises(RateLimitError):
                await otp.send(NUMBER, {"otp": OTP})
            # A short call never waits past its own deadline (a date past datetime's
            # range reads as no Retry-After at all, so that call may go out at once)...
            start = loop.time()
            try:
                await otp.get_message("message_1", timeout=5)
            except LimiterTimeoutError:
                assert retry_after != OVERFLOW_DATE
            short = loop.time() - start
            # ...and a longer one goes out once the capped pause is over.
            start = loop.time()
            await otp.send(NUMBER, {"otp": OTP}, timeout=600)
            return short, loop.time() - start

    short, waited = run_virtual(main)
    assert short <= 5.0 + 1e-6
    assert waited <= 60.0


# ----------------------------------------------------------------------------- options


def repr_id(value: object) -> str:
    text = repr(value)
    return text if len(text) < 20 else f"{text[:8]}...({len(text)} chars)"


async def _expect_validation_error(make: Callable[[PostmanClient], Any], client: Any) -> None:
    try:
        result = make(client)
        if asyncio.iscoroutine(result):
            await result
    except ValidationError:
        return
    pytest.fail("no ValidationError")


def _refused_before_budget(make: Callable[[PostmanClient], Any]) -> None:
    limiters: list[CountingLimiter] = []

    async def main() -> int:
        client, transport = make_client(lambda r: ok({}), limiters=limiters)
        async with client:
            await _expect_validation_error(make, client)
            return len(transport.requests)

    assert run_virtual(main) == 0
    assert sum(limiter.acquires for limiter in limiters) == 0


HUGE = 10**400


@pytest.mark.parametrize(
    "timeout", [math.inf, -math.inf, math.nan, 0, -1, HUGE, True, "5"], ids=repr_id
)
def test_a_per_call_timeout_that_is_not_a_finite_positive_number_spends_nothing(
    timeout: Any,
) -> None:
    _refused_before_budget(
        lambda c: c.campaign("campaign_u", api_key=KEY).send(NUMBER, {"otp": OTP}, timeout=timeout)
    )
    _refused_before_budget(
        lambda c: c.campaign("campaign_u", api_key=KEY).get_message("m", timeout=timeout)
    )
    _refused_before_budget(
        lambda c: c.campaign("campaign_u", api_key=KEY).wait_for(["m"], timeout=timeout)
    )


@pytest.mark.parametrize("timeout", [math.inf, math.nan, 0, HUGE], ids=repr_id)
def test_a_client_timeout_that_is_not_a_finite_positive_number_is_refused(timeout: Any) -> None:
    with pytest.raises(ValidationError):
        PostmanClient(base_url=BASE, transport=MockTransport(lambda r: ok({})), timeout=timeout)
    with pytest.raises(ValidationError):
        PostmanClient(base_url=BASE, connect_timeout=timeout)


@pytest.mark.parametrize(
    "tps", [HUGE, 10**7, math.inf, math.nan, 0, -5, 2.5, "10", True], ids=repr_id
)
def test_an_absurd_tps_is_refused_when_the_campaign_is_made(tps: Any) -> None:
    _refused_before_budget(lambda c: c.campaign("campaign_u", api_key=KEY, tps=tps))


@pytest.mark.parametrize("name", ["a\r\nb.csv", "a\nb.csv", "a\0b.csv", 42, b"batch.csv", ""])
def test_a_batch_file_name_that_cannot_be_sent_spends_nothing(name: Any) -> None:
    rows = [{"recipient": NUMBER, "otp": OTP}]
    _refused_before_budget(
        lambda c: c.campaign("campaign_u", api_key=KEY).send_batch(rows, filename=name)
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_interval": math.inf, "max_interval": math.inf},
        {"min_interval": math.nan},
        {"max_interval": math.inf},
        {"backoff": math.inf},
        {"backoff": math.nan},
        {"jitter": math.nan},
        {"telco_final_after": math.nan},
        {"telco_final_after": -1.0},
        {"get_threshold": -1},
    ],
)
def test_tracking_policy_refuses_values_that_are_not_finite_or_in_range(
    kwargs: dict[str, Any],
) -> None:
    with pytest.raises(ValueError):  # ValidationError is a ValueError
        TrackingPolicy(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_delay": math.inf},
        {"max_delay": math.nan},
        {"base_delay": math.nan},
        {"max_attempts": HUGE},
        {"max_retry_after": math.inf},
        {"max_retry_after": math.nan},
        {"max_retry_after": -1.0},
    ],
)
def test_retry_policy_refuses_values_that_are_not_finite_or_in_range(
    kwargs: dict[str, Any],
) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


# ----------------------------------------------------------------------------- RECONCILE


@pytest.mark.parametrize(("age", "sends"), [(60.0, 2), (2.0, 1)])
def test_reconcile_matches_only_messages_created_after_the_call_began(
    age: float, sends: int
) -> None:
    """A 502 that created nothing; the listing shows an older twin of the send.

    Created 60 s before the call: not this call's message, so it sends again.
    Created 2 s before: within the clock-skew allowance, so it is taken as the
    message the failed attempt created.
    """
    posts: list[Request] = []

    def handler(request: Request) -> Response:
        if request.method == "POST":
            posts.append(request)
            if len(posts) == 1:
                return Response(status=502, body=b"<html><title>502</title></html>")
            return ok(message_json("message_new"), 201)
        older = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age)
        return ok({"data": [message_json("message_old", created=older)], "pageData": {}})

    async def main() -> Message:
        client, _ = make_client(
            handler, retry=RetryPolicy(ambiguous_sends=AmbiguousSendPolicy.RECONCILE)
        )
        async with client:
            return await client.campaign("campaign_u", api_key=KEY).send(NUMBER, {"otp": OTP})

    result = run_virtual(main)
    assert len(posts) == sends
    assert result.id == ("message_new" if sends == 2 else "message_old")


# ----------------------------------------------------------------------------- tracker


def test_tracking_survives_a_poll_whose_body_is_not_utf8_and_close_is_clean() -> None:
    polls = itertools.count()

    def handler(request: Request) -> Response:
        n = next(polls)
        if n == 0:
            return Response(status=500, body=b'{"message": "\xff"}')
        if n == 1:
            return Response(status=200, body=b'{"id": "message_1", "latestStatus": "\xff"}')
        return ok(message_json("message_1", "success"))

    async def main() -> dict[str, Message]:
        client, transport = make_client(handler)
        otp = client.campaign("campaign_u", api_key=KEY)
        result = await otp.wait_for(["message_1"], timeout=300)
        await client.close()
        assert transport.closed
        return result

    assert run_virtual(main)["message_1"].latest_status == "success"


def test_tracking_survives_any_exception_in_a_round() -> None:
    polls = itertools.count()

    def handler(request: Request) -> Response:
        if next(polls) == 0:
            raise RuntimeError("a bug below the tracker")
        return ok(message_json("message_1", "success"))

    async def main() -> dict[str, Message]:
        client, _ = make_client(handler)
        async with client:
            otp = client.campaign("campaign_u", api_key=KEY)
            return await otp.wait_for(["message_1"], timeout=300)

    assert run_virtual(main)["message_1"].latest_status == "success"


def test_a_repeated_page_ends_the_scan_not_the_tracking() -> None:
    """The campaign listing always sends the same page and cursor; the rest are read by ID."""

    def handler(request: Request) -> Response:
        if request.url.endswith("/messages"):
            page = {
                "data": [message_json("message_a", "success")],
                "pageData": {"hasNextPage": True, "endCursor": "same"},
            }
            return ok(page)
        mid = request.url.rsplit("/", 1)[1]
        return ok(message_json(mid, "success"))

    async def main() -> dict[str, Message]:
        client, _ = make_client(
            handler, tracking=TrackingPolicy(min_interval=1.0, get_threshold=0, jitter=0.0)
        )
        async with client:
            otp = client.campaign("campaign_u", api_key=KEY)
            return await otp.wait_for(["message_a", "message_b"], timeout=300)

    assert set(run_virtual(main)) == {"message_a", "message_b"}


def test_tracking_stops_listing_once_nobody_waits() -> None:
    """A batch listing that says hasNextPage forever, with fresh cursors and IDs."""
    ids = itertools.count()
    pages: list[float] = []

    def handler(request: Request) -> Response:
        pages.append(asyncio.get_running_loop().time())
        n = next(ids)
        page = {
            "data": [message_json(f"message_{n}", "sent")],
            "pageData": {"hasNextPage": True, "endCursor": f"cursor_{n}"},
        }
        return ok(page)

    async def main() -> None:
        client, _ = make_client(handler)
        async with client:
            otp = client.campaign("campaign_u", api_key=KEY)
            with pytest.raises(TrackingTimeoutError):
                await otp.wait_for_batch("batch_1", timeout=5)
            after_timeout = len(pages)
            await asyncio.sleep(600)
            assert len(pages) <= after_timeout + 1  # at most the page already in flight
            tracker = otp._shared.tracker
            assert tracker is not None and tracker._task is not None and tracker._task.done()

    run_virtual(main)


def test_a_refused_delivery_retry_leaves_the_message_failed_and_final() -> None:
    failed = message_json("message_1", "failure")
    failed["attempts"] = [{"status": "failure", "error": {"code": "recipient_unavailable"}}]

    def handler(request: Request) -> Response:
        if request.url.endswith("/retry"):
            return ok({"code": "too_many_message_attempts_error", "message": "no"}, 400)
        return ok(failed)

    async def main() -> dict[str, Message]:
        client, _ = make_client(handler)
        async with client:
            otp = client.campaign("campaign_u", api_key=KEY)
            return await otp.wait_for(["message_1"], timeout=300, retry_failed=True)

    assert run_virtual(main)["message_1"].latest_status == "failure"


def test_close_racing_with_wait_for_on_many_campaigns_ends_every_waiter() -> None:
    def handler(request: Request) -> Response:
        mid = request.url.rsplit("/", 1)[1]
        return ok(message_json(mid, "sent"))

    async def main() -> None:
        client, transport = make_client(handler)
        handles = [client.campaign(f"campaign_{i}", api_key=KEY) for i in range(100)]
        waiters = [
            asyncio.ensure_future(h.wait_for([f"message_{i}"])) for i, h in enumerate(handles[:50])
        ]
        await asyncio.sleep(1.5)  # every tracker has polled once

        async def late(i: int) -> None:  # wait_for started while closing, on every campaign
            await asyncio.sleep(0)
            await handles[i].wait_for([f"message_late_{i}"])

        late_waiters = [asyncio.ensure_future(late(i)) for i in range(100)]
        loop = asyncio.get_running_loop()
        closing = loop.time()
        await client.close()
        results = await asyncio.gather(*waiters, *late_waiters, return_exceptions=True)
        assert all(isinstance(r, ClientClosedError) for r in results), results
        assert loop.time() == closing  # at once: no waiter is left to a later poll's failure
        assert transport.closed
        for handle in handles:
            tracker = handle._shared.tracker
            assert tracker is None or tracker._task is None or tracker._task.done()
        with pytest.raises(ClientClosedError):
            handles[0].track(["message_x"])

    run_virtual(main)


def test_the_retry_after_cap_is_the_retry_policys() -> None:
    calls = itertools.count()

    def handler(request: Request) -> Response:
        if next(calls) == 0:
            return Response(status=429, headers={"Retry-After": "999999"})
        return ok(message_json("message_2"), 201)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        transport = MockTransport(handler)
        policy = RetryPolicy(max_attempts=3, base_delay=0, max_delay=0, max_retry_after=5)
        async with PostmanClient(base_url=BASE, transport=transport, retry_policy=policy) as c:
            start = loop.time()
            await c.campaign("campaign_u", api_key=KEY).send(NUMBER, {"otp": OTP}, timeout=60)
            return loop.time() - start

    waited = run_virtual(main)
    assert 5.0 - 1e-6 <= waited <= 5.5
