"""Bad responses, through the real client and a real socket: typed or parsed, never raw.

A raw server answers with exactly the bytes a test chooses (HTML, empty,
truncated, wrongly typed, huge, unknown fields and statuses, the three error
envelopes).  Whatever it sends, a call returns a parsed object or raises a
``PostmanError`` subclass; no aiohttp, msgspec, KeyError or other exception
reaches the caller.  A hypothesis property drives arbitrary statuses, bodies
and framings through every endpoint.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postman_async import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    BatchReceipt,
    Campaign,
    Message,
    MessageStatus,
    NotFoundError,
    Page,
    PostmanClient,
    PostmanError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
)

from .conftest import CAMPAIGN, KEY, Exchange, answer, http_response, raw_server, settle

pytestmark = pytest.mark.slow

MESSAGE = {
    "id": "message_1",
    "latestStatus": "created",
    "recipient": "6591234567",
    "language": "english",
    "values": {"otp": "123456"},
    "campaignId": CAMPAIGN,
    "createdAt": "2025-03-03T09:15:02.118+08:00",
}
NO_RETRY = RetryPolicy(max_attempts=1)


async def call_once(
    response: bytes,
    operation: Callable[[Campaign], Awaitable[object]],
    *,
    retry: RetryPolicy = NO_RETRY,
) -> object:
    """Serve ``response`` to every request; run ``operation``; return its result or error."""
    async with (
        raw_server(answer(response)) as server,
        PostmanClient(base_url=server.base_url, retry_policy=retry, timeout=5) as client,
    ):
        return await settle(operation(client.campaign(CAMPAIGN, api_key=KEY)))


def send(c: Campaign) -> Awaitable[Message]:
    return c.send("6591234567", {"otp": "123456"})


def get(c: Campaign) -> Awaitable[Message]:
    return c.get_message("message_1")


def page(c: Campaign) -> Awaitable[Page]:
    return c.list_messages(limit=10)


def batch(c: Campaign) -> Awaitable[BatchReceipt]:
    return c.send_batch([{"recipient": "6591234567", "otp": "1"}])


def body(data: object) -> bytes:
    return json.dumps(data).encode()


# ----------------------------------------------------------------------------- 2xx bodies

UNREADABLE_2XX = {
    "html": (b"<html><body>OK</body></html>", "text/html"),
    "empty": (b"", None),
    "truncated": (b'{"id": "message_1", "latestStat', "application/json"),
    "not-json": (b"\xff\xfe\x00garbage", "application/octet-stream"),
    "json-null": (b"null", "application/json"),
    "json-list": (b"[]", "application/json"),
    "json-string": (b'"message_1"', "application/json"),
    "id-wrong-type": (body({**MESSAGE, "id": 5}), "application/json"),
    "no-id": (body({k: v for k, v in MESSAGE.items() if k != "id"}), "application/json"),
    "status-wrong-type": (body({**MESSAGE, "latestStatus": 5}), "application/json"),
    "values-wrong-type": (body({**MESSAGE, "values": ["123456"]}), "application/json"),
    "bad-timestamp": (body({**MESSAGE, "createdAt": "yesterday"}), "application/json"),
    "attempts-wrong-type": (body({**MESSAGE, "attempts": {"status": "x"}}), "application/json"),
    "deeply-nested": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
}


@pytest.mark.parametrize("status", [200, 201])
@pytest.mark.parametrize("kind", list(UNREADABLE_2XX))
async def test_unreadable_2xx_bodies_are_decode_errors(kind: str, status: int) -> None:
    data, content_type = UNREADABLE_2XX[kind]
    response = http_response(status, data, content_type=content_type)

    read = await call_once(response, get)
    assert isinstance(read, ResponseDecodeError), read
    assert read.status == status
    assert not read.message_may_exist

    sent = await call_once(response, send)
    assert isinstance(sent, ResponseDecodeError), sent
    # A 2xx to a send means Postman took it: the SMS may well exist.
    assert sent.message_may_exist

    for operation in (page, batch):
        result = await call_once(response, operation)
        assert isinstance(result, ResponseDecodeError), (operation.__name__, result)


async def test_unknown_fields_and_statuses_are_kept_not_fatal() -> None:
    data = {
        **MESSAGE,
        "latestStatus": "queued_for_telco",
        "brandNewField": {"nested": [1, 2, 3]},
        "attempts": [{"status": "rerouted", "createdAt": MESSAGE["createdAt"], "extra": True}],
    }
    result = await call_once(http_response(200, body(data)), get)
    assert isinstance(result, Message), result
    assert result.latest_status == "queued_for_telco"
    assert not result.latest_status.is_known
    assert not result.is_final
    assert result.attempts[0].status == MessageStatus("rerouted")

    listing = {"data": [data, MESSAGE], "pageData": {"hasNextPage": False, "future": 1}}
    got_page = await call_once(http_response(200, body(listing)), page)
    assert isinstance(got_page, Page), got_page
    assert [m.id for m in got_page.messages] == ["message_1", "message_1"]


@pytest.mark.parametrize("framing", ["content-length", "chunked", "until-close"])
async def test_a_body_over_the_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch, framing: str
) -> None:
    monkeypatch.setattr("postman_async._transport.MAX_BODY_BYTES", 1000)
    huge = body({**MESSAGE, "fullMessage": "x" * 5000})
    head = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nConnection: close\r\n"
    if framing == "content-length":
        response = f"{head}Content-Length: {len(huge)}\r\n\r\n".encode() + huge
    elif framing == "chunked":
        chunks = b"".join(
            b"%x\r\n%s\r\n" % (len(huge[i : i + 500]), huge[i : i + 500])
            for i in range(0, len(huge), 500)
        )
        response = f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + chunks + b"0\r\n\r\n"
    else:
        response = f"{head}\r\n".encode() + huge

    for operation in (get, send):
        result = await call_once(response, operation, retry=RetryPolicy())
        assert isinstance(result, ResponseDecodeError), result
        assert "over 1000 bytes" in str(result)
        assert result.message_may_exist == (operation is send)


# ----------------------------------------------------------------------------- non-2xx bodies

ENVELOPES = {
    "nested": {
        "error": {
            "code": "parameter_invalid",
            "message": "bad thing",
            "type": "domain_error",
            "id": "trace-1",
        }
    },
    "flat": {
        "message": "bad thing",
        "statusCode": 400,
        "id": "trace-1",
        "code": "parameter_invalid",
    },
    "code-message": {"code": "parameter_invalid", "message": "bad thing", "traceId": "trace-1"},
}


@pytest.mark.parametrize("shape", list(ENVELOPES))
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (404, NotFoundError),
        (409, APIError),
        (429, RateLimitError),
        (503, ServerError),
    ],
)
async def test_the_three_error_envelopes_are_read(
    shape: str, status: int, cls: type[APIError]
) -> None:
    result = await call_once(http_response(status, body(ENVELOPES[shape])), get)
    assert type(result) is cls, result
    assert result.status == status
    assert result.code == "parameter_invalid"
    assert result.message == "bad thing"
    assert result.trace_id == "trace-1"
    assert not result.message_may_exist


@pytest.mark.parametrize(
    ("status", "data", "content_type", "message"),
    [
        (
            502,
            b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "text/html",
            "502 Bad Gateway",
        ),
        (500, b"", None, "HTTP 500 with no message"),
        (503, b"Service Unavailable", "text/plain", "Service Unavailable"),
        (400, b"\xff\xfe\x00\x01", "application/octet-stream", None),
        (404, b'{"error": "nope"}', "application/json", None),
        (400, b'{"error": {"code": 5, "message": ["a", "b"]}}', "application/json", "a; b"),
        (418, b"[1, 2, 3]", "application/json", None),
        (599, b"{", "application/json", None),
    ],
)
async def test_odd_error_bodies_still_make_typed_errors(
    status: int, data: bytes, content_type: str | None, message: str | None
) -> None:
    for operation in (get, send):
        result = await call_once(http_response(status, data, content_type=content_type), operation)
        assert isinstance(result, APIError), result
        assert result.status == status
        assert result.body == data
        if message is not None:
            assert result.message == message
        assert result.message_may_exist == (operation is send and status >= 500)


async def test_a_redirect_is_not_followed() -> None:
    """A 3xx could carry the key elsewhere: it is an error, and nothing else is asked."""
    async with raw_server(answer(http_response(200, body(MESSAGE)))) as elsewhere:
        location = f"{elsewhere.base_url}/campaigns/{CAMPAIGN}/messages/message_1"
        redirect = http_response(302, b"", headers={"Location": location})
        for status in (301, 302, 307, 308):
            result = await call_once(redirect.replace(b" 302 ", f" {status} ".encode()), get)
            assert isinstance(result, APIError) and result.status == status
    assert elsewhere.connections == 0


async def test_a_response_cut_short_is_a_connection_error() -> None:
    """Content-Length promises more than arrives: for a send, the SMS may exist."""
    cut = http_response(201, body(MESSAGE), content_length=10_000)
    for operation in (get, send):
        result = await call_once(cut, operation)
        assert isinstance(result, APIConnectionError), result
        assert result.message_may_exist == (operation is send)


async def test_garbage_instead_of_http_is_a_connection_error() -> None:
    for garbage in (
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"\x16\x03\x01\x02\x00",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
    ):
        for operation in (get, send):
            result = await call_once(garbage, operation)
            assert isinstance(result, APIConnectionError), (garbage, result)
            assert result.message_may_exist == (operation is send)


# ----------------------------------------------------------------------------- the property

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
message_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=12), st.integers(), st.none()),
        "latestStatus": st.one_of(
            st.sampled_from(["created", "failure", "success", "queued"]), st.integers(), st.none()
        ),
        "recipient": st.one_of(
            st.text(max_size=12),
            st.integers(),
            st.dictionaries(st.text(max_size=5), json_values, max_size=2),
        ),
        "values": json_values,
        "createdAt": st.one_of(
            st.just("2025-03-03T09:15:02.118+08:00"), st.text(max_size=30), st.integers()
        ),
        "attempts": json_values,
        "messageAttempts": json_values,
        "numAttempts": json_values,
        "language": st.one_of(st.sampled_from(["english", "TAMIL", "klingon"]), st.integers()),
        "data": st.one_of(st.lists(json_values, max_size=3), json_values),
        "pageData": json_values,
        "isValid": json_values,
        "batchId": json_values,
        "error": json_values,
        "message": json_values,
        "code": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    message_like.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"", b"<html>502</html>", b"{", b'{"id":', b"null"]),
)
statuses = st.one_of(
    st.sampled_from(
        [200, 201, 202, 204, 301, 304, 400, 401, 403, 404, 410, 413, 429, 500, 502, 503]
    ),
    st.integers(min_value=200, max_value=999),
)
framings = st.sampled_from(["length", "short-length", "chunked", "close"])
retry_after = st.one_of(
    st.none(),
    st.sampled_from(["0", "1", "-1", "nan", "inf", "soon", "Wed, 21 Oct 2015 07:28:00 GMT"]),
)


def raw_response(status: int, data: bytes, framing: str, retry_after: str | None) -> bytes:
    head = f"HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\nConnection: close\r\n"
    if retry_after is not None:
        head += f"Retry-After: {retry_after}\r\n"
    if framing == "length":
        return f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data
    if framing == "short-length":
        return f"{head}Content-Length: {len(data) + 7}\r\n\r\n".encode() + data
    if framing == "chunked":
        chunk = b"%x\r\n%s\r\n" % (len(data), data) if data else b""
        return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + chunk + b"0\r\n\r\n"
    return f"{head}\r\n".encode() + data


OPERATIONS: dict[str, Callable[[Campaign], Awaitable[object]]] = {
    "send": send,
    "get": get,
    "retry": lambda c: c.retry("message_1"),
    "page": page,
    "batch": batch,
    "retry_batch": lambda c: c.retry_batch("batch_1"),
}
EXPECTED: dict[str, type] = {
    "send": Message,
    "get": Message,
    "retry": Message,
    "page": Page,
    "batch": BatchReceipt,
    "retry_batch": type(None),
}


async def _exercise(response: bytes) -> dict[str, object]:
    async def respond(exchange: Exchange) -> None:
        await exchange.write(response)

    results: dict[str, object] = {}
    async with raw_server(respond) as server:
        retry = RetryPolicy(max_attempts=2, base_delay=0, max_delay=0)
        # A one-second deadline: a 429 whose Retry-After reaches it fails at once, not later.
        async with PostmanClient(base_url=server.base_url, retry_policy=retry, timeout=1) as client:
            otp = client.campaign(CAMPAIGN, api_key=KEY, tps=None)
            for name, operation in OPERATIONS.items():
                results[name] = await settle(operation(otp))
    return results


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(status=statuses, data=bodies, framing=framings, retry_after=retry_after)
def test_property_any_answer_gives_a_parsed_object_or_a_typed_error(
    status: int, data: bytes, framing: str, retry_after: str | None
) -> None:
    results = asyncio.run(_exercise(raw_response(status, data, framing, retry_after)))
    for name, result in results.items():
        if not isinstance(result, PostmanError):
            assert isinstance(result, EXPECTED[name]), (name, status, result)
            assert 200 <= status < 300, (name, status, result)
            continue
        creates = name in {"send", "batch"}
        if isinstance(result, APIError):
            assert result.status == status
            assert not 200 <= status < 300
            assert result.message_may_exist == (creates and status >= 500)
        elif isinstance(result, ResponseDecodeError):
            assert 200 <= status < 300
            assert result.message_may_exist == creates
        elif isinstance(result, APIConnectionError):
            assert result.message_may_exist == creates  # the request had left
        else:  # a batch Postman refused (isValid: false) is the only other outcome
            assert name == "batch" and type(result).__name__ == "BatchRejectedError", result
