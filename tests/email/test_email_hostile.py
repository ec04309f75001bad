"""The email handle against a scripted transport: odd and hostile answers, what is sent."""

from __future__ import annotations

import asyncio
import json
import logging
import pathlib
from collections.abc import Callable

import pytest

from postman_async import (
    APIConnectionError,
    BadRequestError,
    EmailStatus,
    PostmanClient,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
)
from postman_async._exchange import Request, Response, TransportError
from postman_async._paging import RepeatedPageError

from ..conftest import run_virtual

KEY = "ops_v1_c2VjcmV0S2V5VmFsdWU="
URL = "https://api.postman.gov.sg/v1"
MESSAGE = {"id": "7", "status": "ACCEPTED", "recipient": "tan@example.com"}


class Scripted:
    """A transport answering from a script; it records every request."""

    def __init__(self, answer: Callable[[Request], Response | Exception]) -> None:
        self.answer = answer
        self.requests: list[Request] = []

    async def handle(self, request: Request) -> Response:
        self.requests.append(request)
        request.grant.sent()
        result = self.answer(request)
        if isinstance(result, Exception):
            raise result
        return result

    async def aclose(self) -> None:
        return None


def _json(status: int, body: object, **headers: str) -> Response:
    return Response(status=status, body=json.dumps(body).encode(), headers=headers)


def _run(
    answer: Callable[[Request], Response | Exception],
    action: Callable[..., object],
    retry: RetryPolicy | None = None,
) -> tuple[Scripted, object]:
    transport = Scripted(answer)

    async def main() -> object:
        async with PostmanClient(
            transport=transport, retry_policy=retry or RetryPolicy.no_backoff(3)
        ) as client:
            mail = client.email(api_key=KEY)
            return await action(mail)  # type: ignore[misc]

    return transport, run_virtual(main)


async def _send(mail: object) -> object:
    return await mail.send("tan@example.com", "s", "<p>b</p>")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "body",
    [b"<html>ok</html>", b"", b'{"id": ""}', b'{"status": "SENT"}', b"[" * 50_000, b"null"],
)
def test_unreadable_201_to_a_send_may_mean_it_was_sent(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        _run(lambda _: Response(status=201, body=body), _send)
    assert info.value.message_may_exist


def test_unreadable_200_to_a_read_is_a_plain_decode_error() -> None:
    async def get(mail: object) -> object:
        return await mail.get("7")  # type: ignore[attr-defined]

    with pytest.raises(ResponseDecodeError) as info:
        _run(lambda _: Response(status=200, body=b"<html>"), get)
    assert not info.value.message_may_exist


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'{"code":"api_validation","message":"\\"x\\" is not allowed"}', "api_validation", '"x"'),
        (b'{"code": 5, "message": ["a", "b"]}', "5", "a; b"),
        (b"<html><title>400 Bad Request</title></html>", None, "400 Bad Request"),
        (b"\xff\xfe garbage", None, "garbage"),
    ],
)
def test_odd_error_bodies_still_map(body: bytes, code: str | None, message: str) -> None:
    with pytest.raises(BadRequestError) as info:
        _run(lambda _: Response(status=400, body=body), _send)
    assert info.value.code == code
    assert message in info.value.message
    assert not info.value.message_may_exist


def test_5xx_to_a_send_is_ambiguous_and_not_repeated() -> None:
    with pytest.raises(ServerError) as info:
        _run(lambda _: Response(status=502, body=b"<html>Bad Gateway</html>"), _send)
    assert info.value.message_may_exist


def test_5xx_send_is_attempted_once() -> None:
    transport = Scripted(lambda _: _json(500, {"code": "internal_server", "message": "x"}))

    async def main() -> None:
        async with PostmanClient(transport=transport, retry_policy=RetryPolicy.no_backoff(5)) as c:
            with pytest.raises(ServerError):
                await c.email(api_key=KEY).send("tan@example.com", "s", "b")

    run_virtual(main)
    assert len(transport.requests) == 1


def test_dropped_connection_after_sending_is_ambiguous() -> None:
    def drop(_: Request) -> Exception:
        return TransportError(APIConnectionError("reset"), sent=True)

    with pytest.raises(APIConnectionError) as info:
        _run(drop, _send)
    assert info.value.message_may_exist


def test_429_waits_retry_after_then_succeeds() -> None:
    answers = [
        _json(429, {"code": "rate_limit", "message": "Too many"}, **{"Retry-After": "1"}),
        _json(201, MESSAGE),
    ]
    times: list[float] = []

    def answer(_: Request) -> Response:
        times.append(asyncio.get_running_loop().time())
        return answers.pop(0)

    _, msg = _run(answer, _send)
    assert getattr(msg, "status", None) is EmailStatus.ACCEPTED
    assert times[1] - times[0] >= 1.0


def test_429_exhausting_attempts_is_a_rate_limit_error() -> None:
    with pytest.raises(RateLimitError) as info:
        _run(
            lambda _: _json(429, {"code": "rate_limit", "message": "x"}, **{"Retry-After": "1"}),
            _send,
            RetryPolicy.no_backoff(2),
        )
    assert info.value.retry_after == 1.0
    assert not info.value.message_may_exist


def test_listing_that_repeats_a_page_is_stopped() -> None:
    page = {"has_more": True, "data": [MESSAGE]}  # ignores the offset

    async def walk(mail: object) -> object:
        return [m async for m in mail.list()]  # type: ignore[attr-defined]

    with pytest.raises(RepeatedPageError):
        _run(lambda _: _json(200, page), walk)


def test_listing_that_claims_more_but_sends_nothing_ends() -> None:
    async def walk(mail: object) -> object:
        return [m async for m in mail.list()]  # type: ignore[attr-defined]

    _, items = _run(lambda _: _json(200, {"has_more": True, "data": []}), walk)
    assert items == []


# --------------------------------------------------------------------------- what is sent


def test_json_send_request() -> None:
    async def send(mail: object) -> object:
        return await mail.send(  # type: ignore[attr-defined]
            "Tan@Example.com", "Subj", "<p>b</p>", cc=["a@example.com"], tag="t"
        )

    transport, _ = _run(lambda _: _json(201, MESSAGE), send)
    (request,) = transport.requests
    assert request.method == "POST"
    assert request.url == f"{URL}/transactional/email/send"
    assert request.json is not None
    assert json.loads(request.json) == {
        "recipient": "tan@example.com",
        "subject": "Subj",
        "body": "<p>b</p>",
        "cc": ["a@example.com"],
        "tag": "t",
    }
    assert request.uploads == ()
    assert "c2VjcmV0" not in repr(request)


def test_multipart_send_streams_paths(tmp_path: pathlib.Path) -> None:
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(b"%PDF-1.4")

    async def send(mail: object) -> object:
        return await mail.send(  # type: ignore[attr-defined]
            "tan@example.com",
            "s",
            "b",
            sender="Ops <ops@agency.gov.sg>",
            bcc=["x@example.com"],
            attachments=[letter, ("notes.txt", b"hi")],
        )

    transport, _ = _run(lambda _: _json(201, MESSAGE), send)
    (request,) = transport.requests
    assert request.json is None
    assert dict(request.fields) == {
        "recipient": "tan@example.com",
        "subject": "s",
        "body": "b",
        "from": "Ops <ops@agency.gov.sg>",
        "bcc": '["x@example.com"]',
    }
    assert [(u.field, u.filename, u.source, u.content_type) for u in request.uploads] == [
        ("attachments", "letter.pdf", letter, "application/pdf"),
        ("attachments", "notes.txt", b"hi", "text/plain"),
    ]


def test_list_query() -> None:
    async def first(mail: object) -> object:
        return await mail.list(  # type: ignore[attr-defined]
            status="bounced", tag="appt", sort_by="+created_at", include_params=False, limit=50
        )

    transport, _ = _run(lambda _: _json(200, {"has_more": False, "data": []}), first)
    (request,) = transport.requests
    assert request.url == f"{URL}/transactional/email"
    assert dict(request.params or {}) == {
        "limit": "50",
        "offset": "0",
        "status": "BOUNCED",
        "tag": "appt",
        "sort_by": "+created_at",
        "exclude_params": "true",
    }


def test_no_address_or_key_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ServerError):
        _run(lambda _: _json(503, {"code": "internal_server", "message": "down"}), _send)
    assert "tan@example.com" not in caplog.text
    assert "c2VjcmV0" not in caplog.text
