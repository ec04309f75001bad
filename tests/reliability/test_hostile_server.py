"""The README's Guarantees against hostile servers: raw bytes, no framework in between.

Every case runs the real client (aiohttp transport, limiter, request loop)
against :mod:`tests.reliability.hostile` and checks the written promise it
touches: the call ends with its result or a typed ``PostmanError``; a send
whose outcome is unknown says ``message_may_exist``; no text or traceback (with
frame locals) holds the key, the number or the OTP; memory stays bounded.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import tracemalloc
from collections.abc import Awaitable, Iterator
from typing import Any

import aiohttp
import pytest

from postman_async import (
    AmbiguousSendPolicy,
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    Message,
    PostmanClient,
    PostmanError,
    RepeatedPageError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    TrackingPolicy,
)

from ..leaks import leaks, package_frames
from .hostile import HOLD, Seen, gzip_bomb, hostile_server, json_page, raw_response

KEY = "key_test_HOSTILEkey_0123456789abcdef"
NUMBER = "6587654321"
OTP = "Kq5150Vz"
SECRETS = (KEY, NUMBER, OTP)
CAMPAIGN = "campaign_hostile"


def message(mid: str = "message_1", status: str = "created") -> dict[str, Any]:
    return {
        "id": mid,
        "latestStatus": status,
        "recipient": NUMBER,
        "values": {"otp": OTP},
        "createdAt": "2026-01-01T00:00:00.000Z",
    }


CREATED = raw_response(201, json.dumps(message()).encode())


def client_for(url: str, **kwargs: Any) -> PostmanClient:
    kwargs.setdefault("retry_policy", RetryPolicy.no_backoff(2))
    kwargs.setdefault("timeout", 5.0)
    return PostmanClient(base_url=url, **kwargs)


async def outcome(call: Awaitable[Any]) -> Any:
    """The call's result or its exception; anything but a PostmanError fails the test."""
    try:
        return await call
    except PostmanError as exc:
        error = exc
    found = leaks(error, SECRETS)
    assert not found, found
    return error


async def send_to(script: Any, **kwargs: Any) -> tuple[Any, list[Seen]]:
    async with hostile_server(script) as server, client_for(server.base_url, **kwargs) as client:
        otp = client.campaign(CAMPAIGN, api_key=KEY)
        return await outcome(otp.send(NUMBER, {"otp": OTP})), server.seen


async def get_from(script: Any, **kwargs: Any) -> tuple[Any, list[Seen]]:
    async with hostile_server(script) as server, client_for(server.base_url, **kwargs) as client:
        otp = client.campaign(CAMPAIGN, api_key=KEY)
        return await outcome(otp.get_message("message_1")), server.seen


# ----------------------------------------------------------------------------- encodings


async def test_a_5xx_to_a_send_with_a_body_that_is_not_utf8_is_typed_and_may_exist() -> None:
    result, seen = await send_to(raw_response(502, b'{"message": "gate\xffway", "code": "x"}'))
    assert isinstance(result, ServerError)
    assert result.message_may_exist
    assert "gate\ufffdway" in str(result)
    assert len(seen) == 1  # RAISE: one send, never a second


async def test_a_429_with_a_body_that_is_not_utf8_is_retried() -> None:
    script = [
        raw_response(429, b'{"message": "\xfe\xff"}', headers=[("Retry-After", "0")]),
        CREATED,
    ]
    result, seen = await send_to(script)
    assert isinstance(result, Message)
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"id": "message_1", "latestStatus": "cre\xffated"}', "application/json"),
        ('{"id": "message_1"}'.encode("utf-16"), "application/json; charset=utf-16"),
        (b"\xef\xbb\xbf" + json.dumps(message()).encode(), "application/json"),
        (b"", "application/json"),
        (b"null", "application/json"),
        (b'{"id": ' + b"[" * 100_000, "application/json"),
    ],
    ids=["bad-utf8", "utf16", "bom", "empty", "null", "deep"],
)
async def test_a_2xx_to_a_send_that_cannot_be_decoded_may_exist(
    body: bytes, content_type: str
) -> None:
    result, _ = await send_to(raw_response(201, body, content_type=content_type))
    assert isinstance(result, ResponseDecodeError)
    assert result.message_may_exist


async def test_an_error_body_in_latin1_is_read() -> None:
    body = '{"code": "parameter_invalid", "message": "caf\xe9"}'.encode("latin-1")
    result, _ = await get_from(
        raw_response(400, body, content_type="application/json; charset=latin-1")
    )
    assert isinstance(result, BadRequestError)
    assert result.code == "parameter_invalid"


@pytest.mark.parametrize(
    "body",
    [
        b'{"message": [1e999, {"a": [null]}, "x"], "code": 12345678901234567890123}',
        b'{"message": ' + b"9" * 5000 + b"}",
        b'{"error": "not an object", "message": {"nested": true}}',
        b"\x00\x01\x02",
        b"<html><title>\xff\xfe</title></html>",
    ],
    ids=["odd-types", "huge-int", "odd-shapes", "binary", "html-bad-bytes"],
)
async def test_odd_error_bodies_are_typed(body: bytes) -> None:
    result, _ = await get_from(raw_response(400, body))
    assert isinstance(result, BadRequestError)


async def test_a_10_mb_error_message_is_cut_short() -> None:
    body = json.dumps({"message": "A" * 10_000_000}).encode()
    result, _ = await get_from(raw_response(400, body))
    assert isinstance(result, BadRequestError)
    assert len(str(result)) < 1000


# ----------------------------------------------------------------------------- compression


async def test_a_gzip_bomb_is_refused_after_the_cap_without_inflating_it_whole() -> None:
    """256 MB of zeros in about 256 KB: the client stops at its 32 MB decoded cap."""
    bomb = gzip_bomb(256 << 20)
    response = raw_response(200, bomb, headers=[("Content-Encoding", "gzip")])
    tracemalloc.start()
    try:
        result, _ = await get_from(response)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(result, ResponseDecodeError)
    assert peak < 128 << 20, f"peak {peak >> 20} MB while reading a bomb"


async def test_a_gzip_bomb_as_a_5xx_to_a_send_is_typed_and_may_exist() -> None:
    bomb = gzip_bomb(64 << 20)
    result, _ = await send_to(raw_response(500, bomb, headers=[("Content-Encoding", "gzip")]))
    assert isinstance(result, PostmanError)
    assert result.message_may_exist


async def test_a_gzipped_answer_is_read() -> None:
    body = gzip.compress(json.dumps(message()).encode())
    result, _ = await send_to(raw_response(201, body, headers=[("Content-Encoding", "gzip")]))
    assert isinstance(result, Message)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "x-unknown"])
async def test_garbage_under_any_content_encoding_is_typed(encoding: str) -> None:
    response = raw_response(201, b"\x1f\x8b\x08garbage", headers=[("Content-Encoding", encoding)])
    result, _ = await send_to(response)
    assert isinstance(result, PostmanError)
    assert result.message_may_exist


# ----------------------------------------------------------------------------- framing


@pytest.mark.parametrize(
    "answer",
    [
        raw_response(201, b'{"id": "mess', content_length=500),  # closes mid-body
        raw_response(201, CREATED, headers=[("Content-Length", "3")]),  # two lengths
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
        b"HTTP/1.1 2O1 Created\r\nContent-Length: 2\r\n\r\n{}",
        b"SMTP ready\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello
        b"HTTP/1.1 201 Created\r\nContent-Length: -5\r\n\r\n{}",
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n folded: header\r\n\r\n{}",
        None,  # read the request, close without a word
    ],
    ids=[
        "short-body",
        "two-lengths",
        "bad-chunk",
        "bad-status",
        "not-http",
        "tls-bytes",
        "negative-length",
        "obs-fold",
        "silent-close",
    ],
)
async def test_broken_framing_after_a_send_is_typed_and_may_exist(answer: bytes | None) -> None:
    result, seen = await send_to(lambda seen: answer)
    assert isinstance(result, PostmanError)
    assert result.message_may_exist
    assert len(seen) == 1  # RAISE: the ambiguous send is not repeated


@pytest.mark.parametrize(
    "answer",
    [
        CREATED.replace(b"\r\n", b"\n"),  # bare LF line endings
        CREATED + b"trailing garbage after the body",
        raw_response(201, json.dumps(message()).encode(), content_length=False),  # read to EOF
    ],
    ids=["bare-lf", "trailing-bytes", "no-length"],
)
async def test_lenient_framing_gives_the_message_or_a_typed_error(answer: bytes) -> None:
    result, _ = await send_to(answer)
    assert isinstance(result, (Message, PostmanError))


# ----------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    "headers",
    [
        [("X-Long", "a" * 100_000)],
        [(f"X-H{i}", "v") for i in range(10_000)],
        [("X-Bytes", b"\xff\xfe\x00\x01")],
        [("Retry-After", "Fri, 31 Dec 99999 23:59:59 GMT")],
        [("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT")],
        [("Retry-After", "1e999"), ("Retry-After", "-1"), ("Retry-After", "nan")],
        [("Content-Type", "application/json; charset=no-such-charset")],
    ],
    ids=[
        "100kb-line",
        "10k-headers",
        "binary-value",
        "year-99999",
        "year-9999",
        "odd-retry",
        "charset",
    ],
)
async def test_extreme_headers_on_a_201_give_the_message_or_a_typed_error(
    headers: list[tuple[str, str | bytes]],
) -> None:
    result, _ = await send_to(raw_response(201, json.dumps(message()).encode(), headers=headers))
    assert isinstance(result, (Message, PostmanError))
    if isinstance(result, PostmanError):
        assert result.message_may_exist


async def test_a_retry_after_of_days_does_not_hold_the_call_past_its_deadline() -> None:
    script = raw_response(429, b"{}", headers=[("Retry-After", "999999")])
    result, seen = await send_to(script, timeout=1.0)
    assert isinstance(result, PostmanError)
    assert len(seen) == 1  # the 60 s cap is beyond a 1 s deadline: no second attempt


# ----------------------------------------------------------------------------- cursors


async def test_a_listing_that_repeats_its_cursor_ends_with_a_typed_error() -> None:
    page = json_page([message("message_a")], hasNextPage=True, endCursor="again")
    async with (
        hostile_server(raw_response(200, page)) as server,
        client_for(server.base_url) as client,
    ):
        otp = client.campaign(CAMPAIGN, api_key=KEY)
        seen: list[Message] = []

        async def walk() -> None:
            seen.extend([item async for item in otp.list_messages()])

        result = await outcome(walk())
    assert isinstance(result, RepeatedPageError)
    # The repeated page is yielded once more before the walk sees the cursor come back.
    assert len(seen) <= 2


async def test_a_listing_that_repeats_its_page_ends_the_scan_not_the_tracking() -> None:
    def script(seen: Seen) -> bytes:
        if seen.target.startswith("/api/v2/campaigns/campaign_hostile/messages?"):
            page = json_page([message("message_a", "success")], hasNextPage=True, endCursor="c")
            return raw_response(200, page)
        mid = seen.target.rsplit("/", 1)[1]
        return raw_response(200, json.dumps(message(mid, "success")).encode())

    tracking = TrackingPolicy(min_interval=0.01, max_interval=0.05, get_threshold=0)
    async with (
        hostile_server(script) as server,
        client_for(server.base_url, tracking=tracking) as client,
    ):
        otp = client.campaign(CAMPAIGN, api_key=KEY)
        final = await outcome(otp.wait_for(["message_a", "message_b"], timeout=30))
    assert isinstance(final, dict)
    assert {m.latest_status for m in final.values()} == {"success"}


async def test_a_listing_with_a_huge_cursor_or_none_ends() -> None:
    pages = [
        raw_response(200, json_page([message("m1")], hasNextPage=True, endCursor="c" * 1_000_000)),
        raw_response(200, json_page([message("m2")], hasNextPage=True, endCursor=None)),
    ]
    async with hostile_server(pages) as server, client_for(server.base_url) as client:
        otp = client.campaign(CAMPAIGN, api_key=KEY)
        items = [m.id async for m in otp.list_messages()]
    assert items == ["m1", "m2"]


# ----------------------------------------------------------------------------- secrets


@pytest.fixture
def refusing_url() -> str:
    """A loopback port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v2"


@pytest.fixture
def stalled_connect_url() -> Iterator[str]:
    """A listener whose accept queue is full: a new connection hangs in its handshake."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield f"http://127.0.0.1:{port}/api/v2"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def _search(url: str) -> Any:
    async with client_for(url, connect_timeout=0.5, timeout=2.0) as client:
        otp = client.campaign(CAMPAIGN, api_key=KEY)
        return await outcome(otp.list_messages(search=NUMBER))


async def test_a_refused_connection_on_a_search_hides_the_number(refusing_url: str) -> None:
    assert isinstance(await _search(refusing_url), APIConnectionError)


async def test_a_connect_timeout_on_a_search_hides_the_number(stalled_connect_url: str) -> None:
    assert isinstance(await _search(stalled_connect_url), APITimeoutError)


async def test_a_read_timeout_on_a_search_hides_the_number() -> None:
    async with hostile_server(lambda seen: HOLD) as server:
        result = await _search(server.base_url)
    assert isinstance(result, APITimeoutError)


async def test_reconcile_lookup_failing_hides_the_number() -> None:
    """RECONCILE's own lookup searches by the number; its failure must not show it."""

    def script(seen: Seen) -> bytes | None:
        if seen.method == "POST":
            return raw_response(502, b"<html><title>502 Bad Gateway</title></html>")
        return None  # the lookup: closed without an answer

    policy = RetryPolicy(max_attempts=1, ambiguous_sends=AmbiguousSendPolicy.RECONCILE)
    result, seen = await send_to(script, retry_policy=policy)
    assert isinstance(result, PostmanError)
    assert result.message_may_exist
    assert any(s.method == "GET" for s in seen)


async def test_the_frames_of_a_send_under_way_hold_no_key_number_or_otp() -> None:
    """aiohttp's own hook, run inside the request, walks our frames outward and reprs them."""
    seen_frames: list[str] = []
    names: list[str] = []

    async def on_start(session: Any, context: Any, params: Any) -> None:
        for name, local_text in package_frames():
            names.append(name)
            seen_frames.append(local_text)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with (
        hostile_server(CREATED) as server,
        aiohttp.ClientSession(trace_configs=[trace]) as session,
        client_for(server.base_url, session=session) as client,
    ):
        otp = client.campaign(CAMPAIGN, api_key=KEY)
        assert isinstance(await otp.send(NUMBER, {"otp": OTP}), Message)
    assert {"send", "request", "handle", "_send"} <= set(names)  # the stack was walked
    text = "".join(seen_frames)
    assert not [secret for secret in SECRETS if secret in text], [
        (n, t[:300]) for n, t in zip(names, seen_frames, strict=True) if NUMBER in t or OTP in t
    ]
