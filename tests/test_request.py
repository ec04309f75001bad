"""The request loop on a virtual clock, through MockTransport: retries, deadline, budget."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from postman_async import (
    AmbiguousSendPolicy,
    APIConnectionError,
    ClientClosedError,
    LimiterTimeoutError,
    NoLimiter,
    PostmanError,
    Priority,
    RateLimitError,
    RetryPolicy,
    ServerError,
    SlidingWindowLimiter,
)
from postman_async._request import Call, CallKind, RequestLoop
from postman_async._validate import Secret
from postman_async.testing import MockTransport, Request, Response, TransportError

from .conftest import run_virtual

URL = "https://postman.example/api/v2/campaigns/c1/messages"
KEY = Secret("key_live_request-loop-secret")


def _call(limiter: object = None, *, kind: CallKind = CallKind.SAFE, timeout: float = 30) -> Call:
    return Call(
        method="POST" if kind is CallKind.CREATES_MESSAGES else "GET",
        url=URL,
        api_key=KEY,
        limiter=limiter or NoLimiter(),  # type: ignore[arg-type]
        priority=Priority.SEND,
        kind=kind,
        timeout=timeout,
    )


def _loop(
    answers: list[Response | TransportError], policy: RetryPolicy | None = None
) -> tuple[RequestLoop, list[float]]:
    """A loop whose transport gives ``answers`` in turn; also returns the attempt times."""
    times: list[float] = []

    def handler(request: Request) -> Response:
        times.append(asyncio.get_running_loop().time())
        answer = answers.pop(0)
        if isinstance(answer, TransportError):
            raise answer
        return answer

    policy = policy or RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=1.0)
    return RequestLoop(transport=MockTransport(handler), retry=policy, rand=lambda: 1.0), times


def _run(main: Callable[[], object]) -> object:
    async def wrapper() -> object:
        return await main()  # type: ignore[misc]

    return run_virtual(wrapper)


def test_a_read_is_retried_after_a_5xx_with_backoff() -> None:
    loop, times = _loop([Response(status=503), Response(status=200, body=b"{}")])
    response = _run(lambda: loop.request(_call()))
    assert isinstance(response, Response)
    assert response.status == 200
    assert times == [0.0, pytest.approx(1.0)]


def test_a_send_is_not_resent_after_a_5xx_under_raise() -> None:
    loop, times = _loop([Response(status=502, body=b'{"message": "bad gateway"}')])
    with pytest.raises(ServerError) as info:
        _run(lambda: loop.request(_call(kind=CallKind.CREATES_MESSAGES)))
    assert info.value.message_may_exist is True
    assert len(times) == 1


def test_a_send_that_never_left_is_retried() -> None:
    refused = TransportError(APIConnectionError("refused"), sent=False)
    loop, times = _loop([refused, Response(status=201, body=b"{}")])
    response = _run(lambda: loop.request(_call(kind=CallKind.CREATES_MESSAGES)))
    assert isinstance(response, Response)
    assert len(times) == 2


def test_resend_policy_resends_an_ambiguous_send() -> None:
    dropped = TransportError(APIConnectionError("reset"), sent=True)
    policy = RetryPolicy(
        max_attempts=3, base_delay=0, max_delay=0, ambiguous_sends=AmbiguousSendPolicy.RESEND
    )
    loop, times = _loop([dropped, Response(status=201, body=b"{}")], policy)
    _run(lambda: loop.request(_call(kind=CallKind.CREATES_MESSAGES)))
    assert len(times) == 2


def test_retry_after_beyond_the_deadline_fails_at_once_and_is_capped() -> None:
    limiter = SlidingWindowLimiter(10)
    answers: list[Response | TransportError] = [
        Response(status=429, headers={"Retry-After": "999999"}),
        Response(status=200, body=b"{}"),
    ]
    loop, _ = _loop(answers)

    async def main() -> float:
        with pytest.raises(RateLimitError) as info:
            await loop.request(_call(limiter, timeout=30))
        assert info.value.retry_after == 999999
        assert asyncio.get_running_loop().time() == 0.0  # failed at once, no 30 s wait
        await loop.request(_call(limiter, timeout=120))
        return asyncio.get_running_loop().time()

    # The whole campaign paused for the cap (60 s), not for 11 days.
    assert _run(main) == pytest.approx(60.0)


def test_no_budget_before_the_deadline_is_a_limiter_timeout() -> None:
    limiter = SlidingWindowLimiter(1)
    loop, _ = _loop([Response(status=200, body=b"{}")] * 2)

    async def main() -> float:
        await loop.request(_call(limiter))
        with pytest.raises(LimiterTimeoutError, match="rate budget") as info:
            await loop.request(_call(limiter, timeout=0.5))
        assert info.value.expected_wait == pytest.approx(1.02)
        return asyncio.get_running_loop().time()

    # The limiter knows the next slot is 1.02 s away: refused at once, not at the deadline.
    assert _run(main) == 0.0


def test_closing_ends_a_backoff_at_once_and_keeps_what_was_learned() -> None:
    loop, _ = _loop(
        [Response(status=503)],
        RetryPolicy(
            max_attempts=3,
            base_delay=100,
            max_delay=100,
            ambiguous_sends=AmbiguousSendPolicy.RESEND,
        ),
    )

    async def main() -> PostmanError:
        task = asyncio.ensure_future(
            loop.request(_call(kind=CallKind.CREATES_MESSAGES, timeout=1000))
        )
        await asyncio.sleep(1.0)
        await loop.aclose()
        with pytest.raises(ClientClosedError) as info:
            await task
        assert asyncio.get_running_loop().time() == pytest.approx(1.0)
        return info.value

    error = _run(main)
    assert isinstance(error, ClientClosedError)
    assert error.message_may_exist is True


def test_error_messages_are_capped_and_name_the_call_without_its_host() -> None:
    loop, _ = _loop([Response(status=400, body=b'{"message": "' + b"x" * 100_000 + b'"}')])
    with pytest.raises(PostmanError) as info:
        _run(lambda: loop.request(_call()))
    text = str(info.value)
    assert len(text) < 1_000
    assert "GET /api/v2/campaigns/c1/messages" in text
    assert "postman.example" not in text


def test_call_repr_shows_no_query_body_or_key() -> None:
    call = Call(
        method="GET",
        url=URL,
        api_key=KEY,
        limiter=NoLimiter(),
        priority=Priority.READ,
        params={"search": "6591234567"},
        json=b'{"otp": "123456"}',
        timeout=1,
    )
    assert repr(call) == "Call(GET /api/v2/campaigns/c1/messages)"
