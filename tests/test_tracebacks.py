"""No error from a request shows the key, the number or the values, rendered any way.

Error trackers render tracebacks *with the local variables of every frame*
(Sentry, structlog's dict tracebacks, rich's ``show_locals``), and walk every
cause and context.  This property drives every error path a request can meet
(each HTTP error status and body shape, transport failures before and after
sending, 2xx answers that echo the send but cannot be decoded, RECONCILE's
lookup, tracking, batches) with random secrets, renders the error every way
(:mod:`tests.leaks`) and searches the text for them.

Validation errors are outside this property: they are raised before any
request exists, from frames that hold the arguments the caller passed (the
caller's own frame holds the same values).
"""

from __future__ import annotations

import json
import string
from collections.abc import Awaitable, Callable
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from postman_async import (
    AmbiguousSendPolicy,
    APIConnectionError,
    APITimeoutError,
    Message,
    PostmanClient,
    PostmanError,
    RetryPolicy,
    TrackingPolicy,
)
from postman_async.testing import MockTransport, Request, Response, TransportError

from .conftest import run_virtual
from .leaks import leaks, package_frames, renderings

Answer = Callable[[Request, "Secrets"], Response]


class Secrets:
    """One example's key, number and OTP."""

    def __init__(self, key: str, number: str, otp: str) -> None:
        self.key = key
        self.number = number
        self.otp = otp

    def all(self) -> tuple[str, str, str]:
        return (self.key, self.number, self.otp)

    def echo(self, **extra: object) -> dict[str, object]:
        """A message object echoing the send, as Postman's 201 does."""
        return {
            "id": "message_1",
            "latestStatus": "created",
            "recipient": self.number,
            "values": {"otp": self.otp},
            **extra,
        }


def _status(status: int, body: bytes, headers: dict[str, str] | None = None) -> Answer:
    return lambda request, secrets: Response(status=status, body=body, headers=headers or {})


def _failure(error: PostmanError, *, sent: bool) -> Answer:
    def answer(request: Request, secrets: Secrets) -> Response:
        raise TransportError(error, sent=sent)

    return answer


def _echo(transform: Callable[[bytes], bytes], **extra: object) -> Answer:
    def answer(request: Request, secrets: Secrets) -> Response:
        return Response(status=201, body=transform(json.dumps(secrets.echo(**extra)).encode()))

    return answer


#: Every way one attempt can fail, as the client's error paths see it.
FAILURES: dict[str, Answer] = {
    **{
        f"http-{status}": _status(status, b'{"code": "some_code", "message": "refused"}')
        for status in (400, 401, 403, 404, 410, 413, 418, 429, 500, 502, 503)
    },
    "429-retry-after": _status(429, b"{}", {"Retry-After": "Fri, 31 Dec 99999 23:59:59 GMT"}),
    "html-502": _status(502, b"<html><title>502 Bad Gateway</title></html>"),
    "not-utf8-500": _status(500, b'{"message": "\xff\xfe"}'),
    "empty-503": _status(503, b""),
    "huge-message": _status(400, json.dumps({"message": "m" * 100_000}).encode()),
    "reset-before": _failure(APIConnectionError("connection refused"), sent=False),
    "reset-after": _failure(APIConnectionError("connection reset"), sent=True),
    "timeout": _failure(APITimeoutError("no answer in time"), sent=True),
    "echo-empty-id": _echo(lambda b: b, id=""),
    "echo-wrong-type": _echo(lambda b: b, id=12345),
    "echo-not-utf8": _echo(lambda b: b.replace(b'"created"', b'"cre\xffated"')),
    "echo-truncated": _echo(lambda b: b[:-5]),
    "echo-bad-date": _echo(lambda b: b, createdAt="yesterday"),
}


def _listing_then(answer: Answer) -> Answer:
    """RECONCILE: the send fails with ``answer``; the lookup finds nothing."""

    def both(request: Request, secrets: Secrets) -> Response:
        if request.method == "GET":
            return Response(status=200, body=b'{"data": [], "pageData": {}}')
        return answer(request, secrets)

    return both


async def _settle(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except PostmanError as exc:
        return exc


Operation = Callable[[Any, Secrets], Awaitable[Any]]


async def _send(otp: Any, s: Secrets) -> Any:
    return await otp.send(s.number, {"otp": s.otp})


async def _search(otp: Any, s: Secrets) -> Any:
    return await otp.list_messages(search=s.number)


async def _search_all(otp: Any, s: Secrets) -> Any:
    return [m async for m in otp.list_messages(search=s.number[-4:], limit=10)]


async def _get(otp: Any, s: Secrets) -> Any:
    return await otp.get_message("message_1")


async def _retry(otp: Any, s: Secrets) -> Any:
    return await otp.retry("message_1")


async def _batch(otp: Any, s: Secrets) -> Any:
    return await otp.send_batch([{"recipient": s.number, "otp": s.otp}])


async def _wait(otp: Any, s: Secrets) -> Any:
    return await otp.wait_for(["message_1"], timeout=30)


OPERATIONS: dict[str, Operation] = {
    "send": _send,
    "search": _search,
    "search-all": _search_all,
    "get": _get,
    "retry": _retry,
    "batch": _batch,
    "wait_for": _wait,
}

SECRETS = st.builds(
    Secrets,
    key=st.text(string.ascii_letters + string.digits, min_size=24, max_size=40).map(
        lambda s: "key_test_" + s
    ),
    number=st.integers(80_000_000, 99_999_999).map(lambda n: f"65{n}"),
    otp=st.text(string.ascii_letters + string.digits, min_size=6, max_size=10).map(
        lambda s: "Zq" + s
    ),
)


def _run(
    operation: Operation,
    answer: Answer,
    secrets: Secrets,
    policy: AmbiguousSendPolicy,
) -> object:
    async def main() -> object:
        transport = MockTransport(lambda request: answer(request, secrets))
        client = PostmanClient(
            base_url="http://127.0.0.1/api/v2",
            transport=transport,
            retry_policy=RetryPolicy(max_attempts=2, ambiguous_sends=policy),
            tracking=TrackingPolicy(min_interval=1.0, max_interval=2.0),
            timeout=20,
        )
        async with client:
            otp = client.campaign("campaign_tb", api_key=secrets.key)
            return await _settle(operation(otp, secrets))

    return run_virtual(main)


@settings(max_examples=400, deadline=None)
@given(
    operation=st.sampled_from(sorted(OPERATIONS)),
    failure=st.sampled_from(sorted(FAILURES)),
    policy=st.sampled_from(AmbiguousSendPolicy),
    secrets=SECRETS,
)
def test_no_error_path_shows_a_secret_in_a_traceback_with_locals(
    operation: str, failure: str, policy: AmbiguousSendPolicy, secrets: Secrets
) -> None:
    answer = FAILURES[failure]
    if policy is AmbiguousSendPolicy.RECONCILE:
        answer = _listing_then(answer)
    result = _run(OPERATIONS[operation], answer, secrets, policy)
    if isinstance(result, PostmanError):
        assert not leaks(result, secrets.all()), (operation, failure, leaks(result, secrets.all()))
    else:  # some answers are fine for some calls (a 201 listing page, say)
        assert (
            isinstance(result, (Message, list, dict))
            or result is None
            or hasattr(result, "messages")
        ), result


def test_the_rendering_includes_frame_locals() -> None:
    """The check above would prove nothing if locals were not rendered: they are."""

    def holds(secret: str) -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError) as caught:
        holds("Zq-visible-local")
    assert "Zq-visible-local" in renderings(caught.value)


def test_a_request_in_flight_holds_no_plain_header_or_value_in_its_frames() -> None:
    """While a send waits on the server, no frame of ours shows the key, number or OTP."""
    secrets = Secrets("key_test_" + "K" * 30, "6591230000", "ZqInFlight")
    frames_text: list[str] = []
    names: list[str] = []

    async def main() -> None:
        async def answer(request: Request) -> Response:
            for name, local_text in package_frames():
                names.append(name)
                frames_text.append(local_text)
            return Response(status=201, body=json.dumps(secrets.echo()).encode())

        async with PostmanClient(
            base_url="http://127.0.0.1/api/v2", transport=MockTransport(answer)
        ) as client:
            otp = client.campaign("campaign_tb", api_key=secrets.key)
            await otp.send(secrets.number, {"otp": secrets.otp})

    run_virtual(main)
    text = "".join(frames_text)
    assert {"send", "request", "handle"} <= set(names)  # the stack was really walked
    assert not [s for s in secrets.all() if s in text]
