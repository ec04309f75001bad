"""The client's calls, error mapping, retries and security, against aioresponses."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses
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

BASE = "https://postman.gov.sg/api/v2"
KEY = "key_live_0123456789abcdef"
MESSAGES = f"{BASE}/campaigns/c1/messages"
ANY_MESSAGES = re.compile(r"^https://postman\.gov\.sg/api/v2/campaigns/c1/messages(\?.*)?$")


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
def mocked() -> Any:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client() -> AsyncIterator[PostmanClient]:
    async with PostmanClient(retry_policy=RetryPolicy.no_backoff(max_attempts=3)) as c:
        yield c


def sent(mocked: Any, method: str, url: str) -> list[Any]:
    return [
        call
        for (m, u), calls in mocked.requests.items()
        for call in calls
        if m == method and str(u).startswith(url)
    ]


# ----------------------------------------------------------------------------- happy paths


async def test_send_normalises_input_and_returns_typed_message(
    client: PostmanClient, mocked: Any
) -> None:
    mocked.post(MESSAGES, status=201, payload=message())
    otp = client.campaign("c1", api_key=KEY)
    msg = await otp.send("+65 9123-4567", {"otp": "123456"}, language="English")

    assert msg.id == "message_1"
    assert msg.latest_status is MessageStatus.CREATED
    assert msg.created_at is not None and msg.created_at.utcoffset() is not None
    (call,) = sent(mocked, "POST", MESSAGES)
    assert json.loads(call.kwargs["data"]) == {
        "recipient": "6591234567",
        "language": "english",
        "values": {"otp": "123456"},
    }
    assert call.kwargs["headers"]["Authorization"] == f"Bearer {KEY}"
    assert call.kwargs["headers"]["Content-Type"] == "application/json"


async def test_get_retry_and_list_pages_follow_cursors(client: PostmanClient, mocked: Any) -> None:
    otp = client.campaign("c1", api_key=KEY)
    mocked.get(f"{MESSAGES}/message_1", payload=message(status="failure"))
    mocked.post(f"{MESSAGES}/message_1/retry", status=201, payload=message())
    mocked.get(
        f"{MESSAGES}?limit=2&search=9123",
        payload=page([message("m1"), message("m2")], next_cursor="c2"),
    )
    mocked.get(f"{MESSAGES}?after=c2&limit=2&search=9123", payload=page([message("m3")]))

    assert (await otp.get_message("message_1")).latest_status is MessageStatus.FAILURE
    assert (await otp.retry("message_1")).latest_status is MessageStatus.CREATED
    ids = [m.id async for m in otp.list_messages(search="9123", limit=2)]
    assert ids == ["m1", "m2", "m3"]


async def test_batch_rows_upload_as_quoted_csv(client: PostmanClient, mocked: Any) -> None:
    batch_url = f"{BASE}/campaigns/c1/batch/messages"
    captured: dict[str, bytes] = {}

    async def capture(url: URL, **kwargs: Any) -> CallbackResult:
        form = kwargs["data"]
        assert isinstance(form, aiohttp.FormData)
        writer = form()
        buf = io.BytesIO()

        class Sink:
            async def write(self, data: bytes) -> None:
                buf.write(data)

        await writer.write(Sink())
        captured["body"] = buf.getvalue()
        return CallbackResult(status=201, payload={"isValid": True, "batchId": "batch_1"})

    mocked.post(batch_url, callback=capture)
    otp = client.campaign("c1", api_key=KEY)
    receipt = await otp.send_batch(
        [
            {"recipient": "6591234567", "name": "Tan, Ah Kow", "note": 'say "hi"\nline 2'},
            {"recipient": "+65 9876 5432", "language": "malay", "name": "Siti", "note": "ok"},
        ]
    )
    assert receipt.batch_id == "batch_1"
    body = captured["body"]
    assert b'name="file"; filename="batch.csv"' in body
    csv_text = body.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0].decode()
    rows = list(csv.reader(io.StringIO(csv_text, newline="")))
    assert rows == [
        ["recipient", "language", "name", "note"],
        ["6591234567", "english", "Tan, Ah Kow", 'say "hi"\nline 2'],
        ["6598765432", "malay", "Siti", "ok"],
    ]


async def test_batch_refused_by_postman_raises_with_receipt(
    client: PostmanClient, mocked: Any
) -> None:
    mocked.post(
        f"{BASE}/campaigns/c1/batch/messages",
        status=201,
        payload={"isValid": False, "reportURL": "https://files/x", "numRows": 3, "numErrors": 1},
    )
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(BatchRejectedError, match="1 of 3 rows") as info:
        await otp.send_batch(b"recipient,language,otp\r\n6591234567,english,1\r\n")
    assert info.value.receipt.report_url == "https://files/x"


async def test_batch_on_test_environment_caps_rows_locally(mocked: Any) -> None:
    async with PostmanClient(base_url=PostmanClient.TEST_URL) as client:
        otp = client.campaign("c1", api_key="key_test_abc")
        rows = [{"recipient": "6591234567", "otp": str(i)} for i in range(21)]
        with pytest.raises(ValidationError, match="more than 20 rows"):
            await otp.send_batch(rows)
    assert not mocked.requests


async def test_retry_batch_accepts_empty_201(client: PostmanClient, mocked: Any) -> None:
    mocked.post(f"{BASE}/campaigns/c1/batch/b%2F1/retry", status=201, body=b"")
    otp = client.campaign("c1", api_key=KEY)
    assert await otp.retry_batch("b/1") is None


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
    mocked: Any,
    status: int,
    body: Any,
    cls: type[APIError],
    code: str | None,
    trace: str | None,
    text: str,
) -> None:
    kwargs = {"payload": body} if isinstance(body, dict) else {"body": body}
    mocked.get(f"{MESSAGES}/m1", status=status, **kwargs)
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(cls) as info:
        await otp.get_message("m1")
    err = info.value
    assert type(err) is cls
    assert (err.status, err.code, err.trace_id) == (status, code, trace)
    assert text in err.message
    assert "GET /campaigns/c1/messages/m1" in str(err)
    assert len(sent(mocked, "GET", f"{MESSAGES}/m1")) == 1  # 4xx is never retried


async def test_reads_retry_5xx_then_succeed(client: PostmanClient, mocked: Any) -> None:
    url = f"{MESSAGES}/m1"
    mocked.get(url, status=502, body="<html><title>502 Bad Gateway</title></html>")
    mocked.get(url, status=503, payload={"message": "down", "statusCode": 503})
    mocked.get(url, payload=message("m1", "success"))
    otp = client.campaign("c1", api_key=KEY)
    assert (await otp.get_message("m1")).latest_status is MessageStatus.SUCCESS
    assert len(sent(mocked, "GET", url)) == 3


async def test_persistent_5xx_ends_in_server_error(client: PostmanClient, mocked: Any) -> None:
    mocked.get(
        f"{MESSAGES}/m1",
        status=500,
        body="<html><title>502 Bad Gateway</title></html>",
        repeat=True,
    )
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(ServerError, match="502 Bad Gateway") as info:
        await otp.get_message("m1")
    assert not info.value.message_may_exist
    assert len(sent(mocked, "GET", f"{MESSAGES}/m1")) == 3


async def test_persistent_429_ends_in_rate_limit_error_and_slows_limiter(
    client: PostmanClient, mocked: Any
) -> None:
    mocked.get(f"{MESSAGES}/m1", status=429, payload={"message": "Too Many Requests"}, repeat=True)
    otp = client.campaign("c1", api_key=KEY)
    limiter = otp.limiter
    assert isinstance(limiter, SlidingWindowLimiter)
    with pytest.raises(RateLimitError):
        await otp.get_message("m1")
    assert limiter._capacity(asyncio.get_running_loop().time()) == 5


async def test_send_429_is_retried_because_postman_dropped_it(
    client: PostmanClient, mocked: Any
) -> None:
    mocked.post(MESSAGES, status=429, payload={"message": "Too Many Requests"})
    mocked.post(MESSAGES, status=201, payload=message())
    otp = client.campaign("c1", api_key=KEY)
    msg = await otp.send("6591234567", {"otp": "1"})
    assert msg.id == "message_1"
    assert len(sent(mocked, "POST", MESSAGES)) == 2


async def test_send_5xx_is_not_resent_by_default(client: PostmanClient, mocked: Any) -> None:
    mocked.post(
        MESSAGES,
        status=500,
        payload={"error": {"code": "internal", "message": "boom"}},
        repeat=True,
    )
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(ServerError) as info:
        await otp.send("6591234567", {"otp": "1"})
    assert info.value.message_may_exist
    assert "may have been created" in str(info.value)
    assert len(sent(mocked, "POST", MESSAGES)) == 1


async def test_send_timeout_after_sending_is_ambiguous(client: PostmanClient, mocked: Any) -> None:
    mocked.post(MESSAGES, exception=asyncio.TimeoutError())
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(APITimeoutError) as info:
        await otp.send("6591234567", {"otp": "1"})
    assert info.value.message_may_exist
    assert len(sent(mocked, "POST", MESSAGES)) == 1


async def test_send_connect_failure_is_retried_safely(client: PostmanClient, mocked: Any) -> None:
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("postman.gov.sg", 443, True, True, None, None, None),
        OSError(111, "Connection refused"),
    )
    mocked.post(MESSAGES, exception=refused)
    mocked.post(MESSAGES, status=201, payload=message())
    otp = client.campaign("c1", api_key=KEY)
    assert (await otp.send("6591234567", {"otp": "1"})).id == "message_1"


async def test_send_2xx_with_unreadable_body_says_message_may_exist(
    client: PostmanClient, mocked: Any
) -> None:
    mocked.post(MESSAGES, status=201, body=b"<html>ok</html>")
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(ResponseDecodeError) as info:
        await otp.send("6591234567", {"otp": "1"})
    assert info.value.message_may_exist
    assert info.value.status == 201


async def test_resend_policy_retries_ambiguous_sends_and_keeps_the_flag(mocked: Any) -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=0, ambiguous_sends=AmbiguousSendPolicy.RESEND)
    mocked.post(MESSAGES, status=500, payload={})
    mocked.post(MESSAGES, status=201, payload=message())
    async with PostmanClient(retry_policy=policy) as client:
        otp = client.campaign("c1", api_key=KEY)
        assert (await otp.send("6591234567", {"otp": "1"})).id == "message_1"
    assert len(sent(mocked, "POST", MESSAGES)) == 2


async def test_reconcile_policy_finds_the_created_message_instead_of_resending(mocked: Any) -> None:
    policy = RetryPolicy(
        max_attempts=3, base_delay=0, ambiguous_sends=AmbiguousSendPolicy.RECONCILE
    )
    mocked.post(MESSAGES, status=504, body=b"gateway timeout")
    mocked.get(
        re.compile(rf"^{re.escape(MESSAGES)}\?.*search=6591234567"),
        payload=page([message("message_9", createdAt="2099-01-01T00:00:00.000+08:00")]),
    )
    async with PostmanClient(retry_policy=policy) as client:
        otp = client.campaign("c1", api_key=KEY)
        msg = await otp.send("6591234567", {"otp": "123456"})
    assert msg.id == "message_9"
    assert len(sent(mocked, "POST", MESSAGES)) == 1


async def test_reconcile_policy_resends_when_nothing_matches(mocked: Any) -> None:
    policy = RetryPolicy(max_attempts=1, ambiguous_sends=AmbiguousSendPolicy.RECONCILE)
    mocked.post(MESSAGES, status=500, payload={})
    mocked.get(
        re.compile(rf"^{re.escape(MESSAGES)}\?"),
        payload=page([message("other", values={"otp": "999999"})]),
    )
    mocked.post(MESSAGES, status=201, payload=message("message_2"))
    async with PostmanClient(retry_policy=policy) as client:
        otp = client.campaign("c1", api_key=KEY)
        assert (await otp.send("6591234567", {"otp": "123456"})).id == "message_2"
    assert len(sent(mocked, "POST", MESSAGES)) == 2


@pytest.mark.parametrize(
    ("exc", "cls", "retried"),
    [
        (aiohttp.ServerDisconnectedError(), APIConnectionError, True),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), APIConnectionError, True),
        (aiohttp.ClientPayloadError("truncated"), APIConnectionError, True),
        (aiohttp.ConnectionTimeoutError(), APITimeoutError, True),
        (aiohttp.SocketTimeoutError(), APITimeoutError, True),
        (asyncio.TimeoutError(), APITimeoutError, True),
        (aiohttp.InvalidURL("x"), APIConnectionError, False),
        (aiohttp.ClientError("odd"), APIConnectionError, True),
        (OSError("raw"), APIConnectionError, True),
    ],
)
async def test_no_transport_exception_reaches_the_caller(
    client: PostmanClient, mocked: Any, exc: Exception, cls: type[PostmanError], retried: bool
) -> None:
    mocked.get(f"{MESSAGES}/m1", exception=exc, repeat=True)
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(PostmanError) as info:
        await otp.get_message("m1")
    assert type(info.value) is cls
    assert isinstance(info.value.__cause__, type(exc))
    assert len(sent(mocked, "GET", f"{MESSAGES}/m1")) == (3 if retried else 1)


# ----------------------------------------------------------------------------- deadline and limiter


async def test_deadline_covers_waiting_for_the_limiter(mocked: Any) -> None:
    mocked.get(f"{MESSAGES}/m1", payload=message("m1"), repeat=True)
    async with PostmanClient(timeout=0.2) as client:
        otp = client.campaign("c1", api_key=KEY, tps=1)
        await otp.get_message("m1")
        with pytest.raises(LimiterTimeoutError, match="rate budget"):
            await otp.get_message("m1")
        assert otp.limiter.waiting == 0  # type: ignore[attr-defined]


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
    client: PostmanClient, mocked: Any, recipient: str, values: Any, language: str, match: str
) -> None:
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(ValidationError, match=match):
        await otp.send(recipient, values, language=language)
    assert not mocked.requests
    assert otp.limiter.granted == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", ["", " ", "a b", "..", ".", "x\n"])
async def test_bad_ids_are_refused(client: PostmanClient, bad: str) -> None:
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(ValidationError):
        await otp.get_message(bad)


@pytest.mark.parametrize("evil", ["../../c2/messages/x", "m?x=1", "m#frag", "%2e%2e"])
async def test_ids_cannot_change_the_path(client: PostmanClient, mocked: Any, evil: str) -> None:
    mocked.get(re.compile(r".*"), payload=message("m1"))
    otp = client.campaign("c1", api_key=KEY)
    await otp.get_message(evil)
    ((_, url),) = mocked.requests
    assert url.path.startswith("/api/v2/campaigns/c1/messages/")
    assert url.raw_path.count("/") == 6  # /api/v2/campaigns/c1/messages/<one segment>
    assert not url.query_string and not url.fragment


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


async def test_key_never_appears_in_reprs_errors_or_logs(
    client: PostmanClient, mocked: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="postman_async")
    mocked.post(MESSAGES, status=429, payload={"message": "slow down"})
    mocked.post(MESSAGES, status=401, payload={"message": "Unauthorized", "statusCode": 401})
    otp = client.campaign("c1", api_key=KEY)
    with pytest.raises(AuthenticationError) as info:
        await otp.send("6591234567", {"otp": "123456"})
    texts = [
        repr(client),
        repr(otp),
        str(info.value),
        repr(info.value),
        *(r.getMessage() for r in caplog.records),
    ]
    assert caplog.records, "expected DEBUG/WARNING records"
    for text in texts:
        assert KEY not in text
        assert "6591234567" not in text
        assert "123456" not in text


async def test_closed_client_refuses_calls_and_fails_waiters(mocked: Any) -> None:
    mocked.get(f"{MESSAGES}/m1", payload=message("m1"), repeat=True)
    client = PostmanClient()
    otp = client.campaign("c1", api_key=KEY, tps=1)
    await otp.get_message("m1")
    waiter = asyncio.create_task(otp.get_message("m1"))
    await asyncio.sleep(0)
    await client.close()
    with pytest.raises(ClientClosedError):
        await waiter
    with pytest.raises(ClientClosedError):
        await otp.get_message("m1")
    with pytest.raises(ClientClosedError):
        client.campaign("c1", api_key=KEY)
    await client.close()  # twice is fine


async def test_borrowed_session_is_not_closed(mocked: Any) -> None:
    mocked.get(f"{MESSAGES}/m1", payload=message("m1"))
    async with aiohttp.ClientSession() as session:
        async with PostmanClient(session=session) as client:
            await client.campaign("c1", api_key=KEY).get_message("m1")
        assert not session.closed
