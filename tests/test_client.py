"""The client's calls, error mapping, retries and security, through MockTransport.

Everything above the HTTP seam runs for real: validation, the campaign's
limiter, the request loop's retries and deadline, decoding.  How aiohttp
builds and sends the request is tested in ``test_transport.py`` and, over
loopback against the mock server, in ``tests/e2e``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from yarl import URL

from postman_async import (
    AmbiguousSendPolicy,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchRejectedError,
    ClientClosedError,
    GoneError,
    LimiterTimeoutError,
    MessageStatus,
    NoLimiter,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PostmanClient,
    PostmanError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    SlidingWindowLimiter,
    ValidationError,
)
from postman_async.testing import MockTransport, Request, Response

from .conftest import Replies, fail, reply, run_virtual

BASE = "https://postman.gov.sg/api/v2"
KEY = "key_live_0123456789abcdef"
MESSAGES = f"{BASE}/campaigns/c1/messages"


def message(mid: str = "message_1", status: str = "created", **extra: Any) -> dict[str, Any]:
    body = {
        "id": mid,
        "latestStatus": status,
        "recipient": "6591234567",
        "language": "english",
        "values": {"otp": "123456"},
        "campaignId": "c1",
        "createdAt": "2025-03-03T09:15:02.118+08:00",
        "updatedAt": "2025-03-03T09:15:02.118+08:00",
    }
    body.update(extra)
    return body


def page(items: list[dict[str, Any]], *, next_cursor: str | None = None) -> dict[str, Any]:
    return {
        "data": items,
        "pageData": {
            "hasNextPage": next_cursor is not None,
            "hasPreviousPage": False,
            "startCursor": "start",
            "endCursor": next_cursor or "end",
        },
    }


@pytest.fixture
def replies() -> Replies:
    return Replies()


@pytest.fixture
def transport(replies: Replies) -> MockTransport:
    return MockTransport(replies)


@pytest.fixture
async def client(transport: MockTransport) -> AsyncIterator[PostmanClient]:
    async with PostmanClient(
        retry_policy=RetryPolicy.no_backoff(max_attempts=3), transport=transport
    ) as c:
        yield c


def client_with(replies: Replies, **kwargs: Any) -> PostmanClient:
    return PostmanClient(transport=MockTransport(replies), **kwargs)


# ----------------------------------------------------------------------------- happy paths


async def test_send_normalises_input_and_returns_typed_message(
    client: PostmanClient, replies: Replies
) -> None:
    replies.on("POST", MESSAGES, reply(message(), 201))
    otp = client.campaign("c1", api_key=KEY)
    msg = await otp.send("+65 9123-4567", {"otp": "123456"}, language="English")

    assert msg.id == "message_1"
    assert msg.latest_status is MessageStatus.CREATED
    assert msg.created_at is not None and msg.created_at.utcoffset() is not None
    (request,) = replies.to("POST", MESSAGES)
    assert request.json is not None
    assert json.loads(request.json) == {
        "recipient": "6591234567",
        "language": "english",
        "values": {"otp": "123456"},
    }
    assert request.params is None
    assert request.api_key.reveal() == KEY
    assert not request.uploads and not request.fields


async def test_get_retry_and_list_pages_follow_cursors(
    client: PostmanClient, replies: Replies
) -> None:
    otp = client.campaign("c1", api_key=KEY)
    replies.on("GET", f"{MESSAGES}/message_1", reply(message(status="failure")))
    replies.on("POST", f"{MESSAGES}/message_1/retry", reply(message(), 201))
    first = reply(page([message("m1"), message("m2")], next_cursor="c2"))
    replies.on("GET", MESSAGES, first, first, reply(page([message("m3")])))

    assert (await otp.get_message("message_1")).latest_status is MessageStatus.FAILURE
    assert (await otp.retry("message_1")).latest_status is MessageStatus.CREATED
    one = await otp.list_messages(search="9123", limit=2)
    assert [m.id for m in one.messages] == ["m1", "m2"]
    assert one.page_info.end_cursor == "c2"
    ids = [m.id async for m in otp.list_messages(search="9123", limit=2)]
    assert ids == ["m1", "m2", "m3"]

    retry_request = replies.to("POST", f"{MESSAGES}/message_1/retry")[0]
    assert retry_request.json is None and not retry_request.has_body
    assert [r.params for r in replies.to("GET", MESSAGES)] == [
        {"limit": "2", "search": "9123"},
        {"limit": "2", "search": "9123"},
        {"limit": "2", "search": "9123", "after": "c2"},
    ]


async def test_batch_rows_upload_as_quoted_csv(client: PostmanClient, replies: Replies) -> None:
    batch_url = f"{BASE}/campaigns/c1/batch/messages"
    replies.on("POST", batch_url, reply({"isValid": True, "batchId": "batch_1"}, 201))
    otp = client.campaign("c1", api_key=KEY)
    receipt = await otp.send_batch(
        [
            {"recipient": "6591234567", "name": "Tan, Ah Kow", "note": 'say "hi"\nline 2'},
            {"recipient": "+65 9876 5432", "language": "malay", "name": "Siti", "note": "ok"},
        ]
    )
    assert receipt.batch_id == "batch_1"
    assert receipt.num_rows == 2  # Postman does not echo it; the client keeps its own count
    (request,) = replies.to("POST", batch_url)
    (upload,) = request.uploads
    assert (upload.field, upload.filename, upload.content_type) == ("file", "batch.csv", "text/csv")
    assert request.json is None
    assert isinstance(upload.source, bytes)
    rows = list(csv.reader(io.StringIO(upload.source.decode(), newline="")))
    assert rows == [
        ["recipient", "language", "name", "note"],
        ["6591234567", "english", "Tan, Ah Kow", 'say "hi"\nline 2'],
        ["6598765432", "malay", "Siti", "ok"],
    ]


async def test_batch_refused_by_postman_raises_with_receipt(
    client: PostmanClient, replies: Replies
) -> None:
    replies.on(
        "POST",
        f"{BASE}/campaigns/c1/batch/messages",
        reply(
            {"isValid": False, "reportURL": "https://files/x", "numRows": 3, "numErrors": 1},
            201,
        ),
    )
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(BatchRejectedError, match="1 of 3 rows") as info:
        await otp.send_batch(b"recipient,language,otp\r\n6591234567,english,1\r\n")
    assert info.value.receipt.report_url == "https://files/x"


async def test_batch_on_test_environment_caps_rows_locally(replies: Replies) -> None:
    async with client_with(replies, base_url=PostmanClient.TEST_URL) as client:
        otp = client.campaign("c1", api_key="key_test_abc")
        rows = [{"recipient": "6591234567", "otp": str(i)} for i in range(21)]
        with pytest.raises(ValidationError, match="more than 20 rows"):
            await otp.send_batch(rows)
        limiter = otp.limiter
        assert isinstance(limiter, SlidingWindowLimiter)
        assert limiter.granted == 0
    assert replies.requests == []


async def test_retry_batch_accepts_empty_201(client: PostmanClient, replies: Replies) -> None:
    url = f"{BASE}/campaigns/c1/batch/b%2F1/retry"
    replies.on("POST", url, reply(b"", 201))
    otp = client.campaign("c1", api_key=KEY)
    await otp.retry_batch("b/1")  # returns nothing; an empty body is not a decode error
    assert len(replies.to("POST", url)) == 1


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "trace", "text"),
    [
        (
            400,
            {
                "error": {
                    "code": "parameter_invalid",
                    "message": "Invalid recipient",
                    "type": "domain_error",
                    "id": "t-1",
                }
            },
            BadRequestError,
            "parameter_invalid",
            "t-1",
            "Invalid recipient",
        ),
        (
            401,
            {"message": "Unauthorized", "statusCode": 401},
            AuthenticationError,
            None,
            None,
            "Unauthorized",
        ),
        (
            403,
            {"code": "1010", "message": "blocked"},
            PermissionDeniedError,
            "1010",
            None,
            "blocked",
        ),
        (
            404,
            {"error": {"code": "not_found", "message": "no such message"}},
            NotFoundError,
            "not_found",
            None,
            "no such",
        ),
        (410, {"message": "gone"}, GoneError, None, None, "gone"),
        (
            413,
            "<html><title>413 Request Entity Too Large</title></html>",
            PayloadTooLargeError,
            None,
            None,
            "413 Request Entity Too Large",
        ),
        (418, {"message": "teapot"}, APIError, None, None, "teapot"),
    ],
)
async def test_error_bodies_map_to_typed_errors(
    client: PostmanClient,
    replies: Replies,
    status: int,
    body: Any,
    cls: type[APIError],
    code: str | None,
    trace: str | None,
    text: str,
) -> None:
    replies.on("GET", f"{MESSAGES}/m1", reply(body, status))
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(cls) as info:
        await otp.get_message("m1")
    err = info.value
    assert type(err) is cls
    assert (err.status, err.code, err.trace_id) == (status, code, trace)
    assert text in err.message
    assert err.request == "GET /api/v2/campaigns/c1/messages/m1"
    assert "GET /api/v2/campaigns/c1/messages/m1" in str(err)
    assert len(replies.to("GET", f"{MESSAGES}/m1")) == 1  # 4xx is never retried


async def test_reads_retry_5xx_then_succeed(client: PostmanClient, replies: Replies) -> None:
    url = f"{MESSAGES}/m1"
    replies.on(
        "GET",
        url,
        reply("<html><title>502 Bad Gateway</title></html>", 502),
        reply({"message": "down", "statusCode": 503}, 503),
        reply(message("m1", "success")),
    )
    otp = client.campaign("c1", api_key=KEY)
    assert (await otp.get_message("m1")).latest_status is MessageStatus.SUCCESS
    assert len(replies.to("GET", url)) == 3


async def test_persistent_5xx_ends_in_server_error(client: PostmanClient, replies: Replies) -> None:
    replies.on(
        "GET", f"{MESSAGES}/m1", repeat=reply("<html><title>502 Bad Gateway</title></html>", 500)
    )
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(ServerError, match="502 Bad Gateway") as info:
        await otp.get_message("m1")
    assert not info.value.message_may_exist
    assert len(replies.to("GET", f"{MESSAGES}/m1")) == 3


async def test_persistent_429_ends_in_rate_limit_error_and_slows_limiter(
    client: PostmanClient, replies: Replies
) -> None:
    replies.on("GET", f"{MESSAGES}/m1", repeat=reply({"message": "Too Many Requests"}, 429))
    otp = client.campaign("c1", api_key=KEY)
    limiter = otp.limiter
    assert isinstance(limiter, SlidingWindowLimiter)
    assert limiter.snapshot().capacity == 10
    with pytest.raises(RateLimitError):
        await otp.get_message("m1")
    assert len(replies.to("GET", f"{MESSAGES}/m1")) == 3  # a 429 was dropped: retried
    assert limiter.snapshot().capacity == 5  # half the rate while cooling down


async def test_send_429_is_retried_because_postman_dropped_it(
    client: PostmanClient, replies: Replies
) -> None:
    replies.on(
        "POST", MESSAGES, reply({"message": "Too Many Requests"}, 429), reply(message(), 201)
    )
    otp = client.campaign("c1", api_key=KEY)
    msg = await otp.send("6591234567", {"otp": "1"})
    assert msg.id == "message_1"
    assert len(replies.to("POST", MESSAGES)) == 2


async def test_send_5xx_is_not_resent_by_default(client: PostmanClient, replies: Replies) -> None:
    replies.on(
        "POST", MESSAGES, repeat=reply({"error": {"code": "internal", "message": "boom"}}, 500)
    )
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(ServerError) as info:
        await otp.send("6591234567", {"otp": "1"})
    assert info.value.message_may_exist
    assert "may have been created" in str(info.value)
    assert len(replies.to("POST", MESSAGES)) == 1


async def test_send_connect_failure_is_retried_safely(
    client: PostmanClient, replies: Replies
) -> None:
    replies.on(
        "POST",
        MESSAGES,
        fail(lambda: APIConnectionError("connection refused"), sent=False),
        reply(message(), 201),
    )
    otp = client.campaign("c1", api_key=KEY)
    assert (await otp.send("6591234567", {"otp": "1"})).id == "message_1"
    assert len(replies.to("POST", MESSAGES)) == 2


@pytest.mark.parametrize(
    ("error", "sent", "attempts"),
    [
        # A timeout after the body left is ambiguous: not re-sent, and the message may exist.
        pytest.param(APITimeoutError, True, 1, id="timeout-after-sending-is-ambiguous"),
        # A connection that never opened sent nothing: retried, and no message exists.
        pytest.param(APIConnectionError, False, 3, id="connect-failure-says-no-message-exists"),
    ],
)
async def test_send_transport_failure_every_time(
    client: PostmanClient,
    replies: Replies,
    error: type[APITimeoutError | APIConnectionError],
    sent: bool,
    attempts: int,
) -> None:
    replies.on("POST", MESSAGES, repeat=fail(lambda: error("no answer"), sent=sent))
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(error) as info:
        await otp.send("6591234567", {"otp": "1"})
    assert info.value.message_may_exist is sent
    assert len(replies.to("POST", MESSAGES)) == attempts


async def test_send_2xx_with_unreadable_body_says_message_may_exist(
    client: PostmanClient, replies: Replies
) -> None:
    replies.on("POST", MESSAGES, reply(b"<html>ok</html>", 201))
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(ResponseDecodeError) as info:
        await otp.send("6591234567", {"otp": "1"})
    assert info.value.message_may_exist
    assert info.value.status == 201


async def test_resend_policy_retries_ambiguous_sends_and_keeps_the_flag(
    replies: Replies,
) -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=0, ambiguous_sends=AmbiguousSendPolicy.RESEND)
    replies.on("POST", MESSAGES, reply({}, 500), reply(message(), 201))
    async with client_with(replies, retry_policy=policy) as client:
        otp = client.campaign("c1", api_key=KEY)
        assert (await otp.send("6591234567", {"otp": "1"})).id == "message_1"
    assert len(replies.to("POST", MESSAGES)) == 2


async def test_resend_policy_error_after_an_ambiguous_attempt_keeps_may_exist(
    replies: Replies,
) -> None:
    policy = RetryPolicy(max_attempts=2, base_delay=0, ambiguous_sends=AmbiguousSendPolicy.RESEND)
    replies.on("POST", MESSAGES, reply({}, 500), reply({"message": "bad"}, 400))
    async with client_with(replies, retry_policy=policy) as client:
        otp = client.campaign("c1", api_key=KEY)
        with pytest.raises(BadRequestError) as info:
            await otp.send("6591234567", {"otp": "1"})
    assert info.value.message_may_exist  # the first attempt's outcome is still unknown


async def test_reconcile_policy_finds_the_created_message_instead_of_resending(
    replies: Replies,
) -> None:
    policy = RetryPolicy(
        max_attempts=3, base_delay=0, ambiguous_sends=AmbiguousSendPolicy.RECONCILE
    )
    replies.on("POST", MESSAGES, reply(b"gateway timeout", 504))
    replies.on(
        "GET",
        MESSAGES,
        reply(page([message("message_9", createdAt="2099-01-01T00:00:00.000+08:00")])),
    )
    async with client_with(replies, retry_policy=policy) as client:
        otp = client.campaign("c1", api_key=KEY)
        msg = await otp.send("6591234567", {"otp": "123456"})
    assert msg.id == "message_9"
    assert len(replies.to("POST", MESSAGES)) == 1
    (search,) = replies.to("GET", MESSAGES)
    assert search.params is not None and search.params["search"] == "6591234567"


async def test_reconcile_policy_resends_when_nothing_matches(replies: Replies) -> None:
    policy = RetryPolicy(max_attempts=1, ambiguous_sends=AmbiguousSendPolicy.RECONCILE)
    replies.on("POST", MESSAGES, reply({}, 500), reply(message("message_2"), 201))
    replies.on("GET", MESSAGES, reply(page([message("other", values={"otp": "999999"})])))
    async with client_with(replies, retry_policy=policy) as client:
        otp = client.campaign("c1", api_key=KEY)
        assert (await otp.send("6591234567", {"otp": "123456"})).id == "message_2"
    assert len(replies.to("POST", MESSAGES)) == 2


@pytest.mark.parametrize(
    ("error", "sent", "retryable", "attempts"),
    [
        (lambda: APIConnectionError("reset by peer"), True, True, 3),
        (lambda: APIConnectionError("connection refused"), False, True, 3),
        (lambda: APITimeoutError("read timeout"), True, True, 3),
        (lambda: APITimeoutError("connect timeout"), False, True, 3),
        (lambda: APIConnectionError("bad certificate"), False, False, 1),
        (lambda: ResponseDecodeError("not HTTP", status=0, body=b""), True, False, 1),
    ],
    ids=["dropped", "refused", "read-timeout", "connect-timeout", "certificate", "garbage"],
)
async def test_transport_failures_reach_the_caller_typed_and_retried_as_told(
    client: PostmanClient,
    replies: Replies,
    error: Callable[[], PostmanError],
    sent: bool,
    retryable: bool,
    attempts: int,
) -> None:
    replies.on("GET", f"{MESSAGES}/m1", repeat=fail(error, sent=sent, retryable=retryable))
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(PostmanError) as info:
        await otp.get_message("m1")
    assert type(info.value) is type(error())
    assert not info.value.message_may_exist  # a read creates nothing
    assert len(replies.to("GET", f"{MESSAGES}/m1")) == attempts
    limiter = otp.limiter
    assert isinstance(limiter, SlidingWindowLimiter)
    assert limiter.granted == attempts  # each attempt that reached the transport spent budget


# ----------------------------------------------------------------------------- deadline and limiter


def test_deadline_covers_waiting_for_the_limiter() -> None:
    replies = Replies()
    replies.on("GET", f"{MESSAGES}/m1", repeat=reply(message("m1")))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with client_with(replies, timeout=0.2) as client:
            otp = client.campaign("c1", api_key=KEY, tps=1)
            await otp.get_message("m1")
            started = loop.time()
            with pytest.raises(LimiterTimeoutError, match="rate budget") as info:
                await otp.get_message("m1")
            # The next slot comes in 1.02 s, after its 0.2 s deadline: refused at once.
            assert loop.time() - started == 0.0
            assert info.value.expected_wait == pytest.approx(1.02)
            limiter = otp.limiter
            assert isinstance(limiter, SlidingWindowLimiter)
            assert limiter.waiting == 0
            assert limiter.granted == 1

    run_virtual(main)
    assert len(replies.requests) == 1


async def test_handles_of_one_campaign_share_one_limiter(client: PostmanClient) -> None:
    a = client.campaign("c1", api_key=KEY)
    b = client.campaign("c1", api_key="key_live_other", tps=10)
    c = client.campaign("c2", api_key=KEY, tps=None)
    assert a.limiter is b.limiter is client.limiter("c1")
    assert isinstance(c.limiter, NoLimiter)
    with pytest.raises(ValidationError, match="already has a limiter at tps=10"):
        client.campaign("c1", api_key=KEY, tps=5)


# ----------------------------------------------------------------------------- validation before budget


@pytest.mark.parametrize(
    ("recipient", "values", "language", "match"),
    [
        ("abc", {"otp": "1"}, "english", "digits"),
        ("91234567", {"otp": "1"}, "english", "country code"),
        ("6591234567", {"otp": ""}, "english", "empty"),
        ("6591234567", {"OTP": "1"}, "english", "invalid"),
        ("6591234567", {"otp": 1}, "english", "string"),
        ("6591234567", {"otp": "1"}, "klingon", "language"),
    ],
)
async def test_bad_input_is_refused_before_any_request(
    client: PostmanClient,
    replies: Replies,
    recipient: str,
    values: Any,
    language: str,
    match: str,
) -> None:
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(ValidationError, match=match):
        await otp.send(recipient, values, language=language)
    assert replies.requests == []
    limiter = otp.limiter
    assert isinstance(limiter, SlidingWindowLimiter)
    assert limiter.granted == 0


@pytest.mark.parametrize("bad", ["", " ", "a b", "..", ".", "x\n"])
async def test_bad_ids_are_refused(client: PostmanClient, replies: Replies, bad: str) -> None:
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(ValidationError):
        await otp.get_message(bad)
    assert replies.requests == []


@pytest.mark.parametrize("evil", ["../../c2/messages/x", "m?x=1", "m#frag", "%2e%2e"])
async def test_ids_cannot_change_the_path(
    client: PostmanClient, transport: MockTransport, evil: str
) -> None:
    transport.handler = lambda request: reply(message("m1"))
    otp = client.campaign("c1", api_key=KEY)
    await otp.get_message(evil)
    (request,) = transport.requests
    assert request.params is None
    url = URL(request.url, encoded=True)
    assert url.host == "postman.gov.sg"
    assert url.path.startswith("/api/v2/campaigns/c1/messages/")
    assert url.raw_path.count("/") == 6  # /api/v2/campaigns/c1/messages/<one segment>
    assert not url.query_string and not url.fragment
    assert urllib.parse.unquote(url.raw_path.rpartition("/")[2]) == evil  # all of it, one segment


# ----------------------------------------------------------------------------- security and lifecycle


@pytest.mark.parametrize(
    "url", ["http://postman.gov.sg/api/v2", "http://10.0.0.1/api/v2", "ftp://x/y"]
)
def test_plain_http_refused_except_loopback(url: str) -> None:
    with pytest.raises(ValidationError):
        PostmanClient(base_url=url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/api/v2", "http://localhost/api/v2", "http://[::1]:1/api/v2"]
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert PostmanClient(base_url=url).base_url == url


def test_environment_key_mismatch_is_refused() -> None:
    with pytest.raises(ValidationError, match="test-environment key"):
        PostmanClient().campaign("c1", api_key="key_test_123")
    with pytest.raises(ValidationError, match="production key"):
        PostmanClient(base_url=PostmanClient.TEST_URL).campaign("c1", api_key="key_live_123")


async def test_transport_and_session_together_are_refused() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValidationError, match="transport= or session="):
            PostmanClient(transport=MockTransport(Replies()), session=session)


async def test_key_never_appears_in_reprs_errors_or_logs(
    client: PostmanClient, replies: Replies, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="postman_async")
    replies.on(
        "POST",
        MESSAGES,
        reply({"message": "slow down"}, 429),
        reply({"message": "Unauthorized", "statusCode": 401}, 401),
    )
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(AuthenticationError) as info:
        await otp.send("6591234567", {"otp": "123456"})
    texts = [
        repr(client),
        repr(otp),
        str(info.value),
        repr(info.value),
        *(repr(r) for r in replies.requests),
        *(repr(r.api_key) for r in replies.requests),
        *(r.getMessage() for r in caplog.records),
    ]
    assert caplog.records, "expected DEBUG/WARNING records"
    assert len(replies.requests) == 2
    for text in texts:
        assert KEY not in text
        assert "6591234567" not in text
        assert "123456" not in text


async def test_closed_client_refuses_calls_and_fails_waiters(
    replies: Replies, transport: MockTransport
) -> None:
    replies.on("GET", f"{MESSAGES}/m1", repeat=reply(message("m1")))
    client = PostmanClient(transport=transport)
    otp = client.campaign("c1", api_key=KEY, tps=1)
    await otp.get_message("m1")
    waiter = asyncio.create_task(otp.get_message("m1"))
    limiter = otp.limiter
    assert isinstance(limiter, SlidingWindowLimiter)
    for _ in range(5):  # let the second call reach the limiter's queue
        await asyncio.sleep(0)
    assert limiter.waiting == 1  # the 1-per-second budget is spent until t + 1 s
    await client.close()
    with pytest.raises(ClientClosedError):
        await waiter
    with pytest.raises(ClientClosedError):
        await otp.get_message("m1")
    with pytest.raises(ClientClosedError):
        client.campaign("c1", api_key=KEY)
    assert transport.closed
    assert len(replies.requests) == 1
    await client.close()  # twice is fine


def test_close_during_an_attempt_ends_the_call_without_its_backoff() -> None:
    """The attempt is under way when the client closes, then answers 500: no 5 s wait follows."""
    gate = asyncio.Event()

    async def handler(request: Request) -> Response:
        await gate.wait()
        return reply({"error": {"code": "internal", "message": "boom"}}, 500)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        policy = RetryPolicy(
            base_delay=5.0, max_delay=5.0, ambiguous_sends=AmbiguousSendPolicy.RESEND
        )
        client = PostmanClient(transport=MockTransport(handler), retry_policy=policy)
        otp = client.campaign("c1", api_key=KEY, tps=None)
        call = asyncio.create_task(otp.send("6591234567", {"otp": "1"}))
        for _ in range(5):  # let the attempt reach the handler
            await asyncio.sleep(0)
        await client.close()
        gate.set()
        closed_at = loop.time()
        with pytest.raises(ClientClosedError) as info:
            await call
        assert info.value.message_may_exist  # the 500 came after the body left
        assert loop.time() == closed_at  # ended at once, not after the backoff

    run_virtual(main)
