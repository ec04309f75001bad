"""The real client's email handle against the mock's v1 API over loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import pathlib
from collections.abc import AsyncIterator

import pytest

from postman_async import (
    AmbiguousSendPolicy,
    AuthenticationError,
    BadRequestError,
    EmailAccount,
    EmailClassification,
    EmailMessage,
    EmailPage,
    EmailStatus,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PostmanClient,
    RateLimiter,
    RateLimitError,
    RetryPolicy,
    ServerError,
    SlidingWindowLimiter,
    TrackingTimeoutError,
    ValidationError,
    _email_validate,
)
from postman_async.testing import MockPostman, MockServer, serve_mock

pytestmark = pytest.mark.slow

QUICK_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)
OWN_SENDER = "Ops <ops@agency.gov.sg>"
PDF = b"%PDF-1.4\n" + b"0" * 2000


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    state = MockPostman(speed=0)  # the lifecycle moves only when a test advances it
    async with serve_mock(state, tps=None) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[PostmanClient]:
    async with PostmanClient(retry_policy=QUICK_RETRY, timeout=20) as running:
        yield running


@pytest.fixture
def mail(server: MockServer, client: PostmanClient) -> EmailAccount:
    return client.email(api_key=server.email_api_key, base_url=server.email_base_url)


# --------------------------------------------------------------------------- send


async def test_send_get_and_follow_to_opened(mail: EmailAccount, server: MockServer) -> None:
    msg = await mail.send(
        recipient="Tan@Example.com",
        subject="Your appointment",
        body="<p>Confirmed for 3 pm.</p>",
        cc=["clinic@example.gov.sg"],
        classification="FOR_ACTION",
        tag="appt",
    )
    assert msg.status is EmailStatus.ACCEPTED
    assert msg.recipient == "tan@example.com"
    assert msg.classification is EmailClassification.FOR_ACTION
    assert msg.cc == ("clinic@example.gov.sg",)
    assert msg.id.isdigit()
    assert msg.created_at is not None
    assert msg.created_at.tzinfo is not None
    server.state.advance(60)
    again = await mail.get(msg.id)
    assert again.status is EmailStatus.OPENED
    assert again.opened_at is not None
    assert again.params is not None
    assert again.params.subject == "Your appointment"


async def test_send_with_attachments_streams_files(
    mail: EmailAccount, server: MockServer, tmp_path: pathlib.Path
) -> None:
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(PDF)
    big = tmp_path / "scan.png"
    big_data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16_000  # about 4 MB
    big.write_bytes(big_data)
    msg = await mail.send(
        "tan@example.com",
        "Your letter",
        "<p>Attached.</p>",
        sender=OWN_SENDER,
        attachments=[letter, str(big), ("notes.txt", b"plain")],
    )
    assert msg.sender == OWN_SENDER
    assert msg.attachments is not None
    assert [(a.file_name, a.file_size, a.hash) for a in msg.attachments] == [
        ("letter.pdf", len(PDF), hashlib.md5(PDF).hexdigest()),
        ("scan.png", len(big_data), hashlib.md5(big_data).hexdigest()),
        ("notes.txt", 5, hashlib.md5(b"plain").hexdigest()),
    ]


async def test_largest_body_and_large_in_memory_attachment(
    mail: EmailAccount, server: MockServer
) -> None:
    body = "é" * (512 * 1024)  # exactly 1 MiB of UTF-8: the JSON body is over 1 MiB
    msg = await mail.send("tan@example.com", "s", body)
    assert msg.params is not None
    assert msg.params.body == body
    data = b"%PDF-" + b"x" * (6 * 1024 * 1024)
    msg = await mail.send(
        "tan@example.com", "s", "b", sender=OWN_SENDER, attachments=[("a.pdf", data)]
    )
    assert msg.attachments is not None
    assert msg.attachments[0].hash == hashlib.md5(data).hexdigest()


async def test_multipart_keeps_every_field(mail: EmailAccount) -> None:
    msg = await mail.send(
        "tan@example.com",
        "Subject",
        "<p>Body</p>",
        sender=OWN_SENDER,
        reply_to="reply@agency.gov.sg",
        cc=["a@example.com", "b@example.com"],
        bcc=["c@example.com"],
        classification=EmailClassification.URGENT,
        tag="t1",
        disable_tracking=True,
        attachments=[("a.pdf", PDF)],
    )
    assert msg.cc == ("a@example.com", "b@example.com")
    assert msg.bcc == ("c@example.com",)
    assert msg.classification is EmailClassification.URGENT
    assert msg.tag == "t1"
    assert msg.params is not None
    assert msg.params.reply_to == "reply@agency.gov.sg"


async def test_validation_spends_nothing(mail: EmailAccount, server: MockServer) -> None:
    cases: list[dict[str, object]] = [
        {"recipient": "not-an-address"},
        {"subject": ""},
        {"body": "x" * (1024 * 1024 + 1)},
        {"cc": ["a@example.com", "a@example.com"]},
        {"cc": [f"c{i}@example.com" for i in range(50)]},
        {"classification": "SECRET"},
        {"tag": "x" * 256},
        {"attachments": [("a.pdf", PDF)]},  # default sender
        {"attachments": [("a.exe", b"MZ")], "sender": OWN_SENDER},
        {"attachments": "letter.pdf", "sender": OWN_SENDER},
        {"attachments": ["/nonexistent/letter.pdf"], "sender": OWN_SENDER},
    ]
    for changes in cases:
        fields: dict[str, object] = {
            "recipient": "tan@example.com",
            "subject": "s",
            "body": "b",
            **changes,
        }
        with pytest.raises(ValidationError):
            await mail.send(**fields)  # type: ignore[arg-type]
    assert server.state.email.stats.requests["email_send"] == 0
    assert mail.limiter.snapshot().grants_in_window == 0  # type: ignore[attr-defined]


async def test_unknown_option_is_refused_before_sending(
    mail: EmailAccount, server: MockServer
) -> None:
    with pytest.raises(TypeError):
        await mail.send("tan@example.com", "s", "b", colour="red")  # type: ignore[call-arg]
    assert server.state.email.stats.requests["email_send"] == 0


async def test_attachment_too_big_is_refused_locally(
    mail: EmailAccount, server: MockServer, tmp_path: pathlib.Path
) -> None:
    big = tmp_path / "big.pdf"
    with big.open("wb") as f:
        f.truncate(10 * 1024 * 1024)
    with pytest.raises(ValidationError, match="smaller than"):
        await mail.send("tan@example.com", "s", "b", sender=OWN_SENDER, attachments=[big])
    assert server.state.email.stats.requests["email_send"] == 0


# --------------------------------------------------------------------------- errors


async def test_server_errors_map_into_the_tree(
    client: PostmanClient, mail: EmailAccount, server: MockServer
) -> None:
    email = server.state.email
    email.blacklist.add("gone@example.com")
    with pytest.raises(BadRequestError) as info:
        await mail.send("gone@example.com", "s", "b")
    assert info.value.code == "invalid_template"
    assert info.value.status == 400
    assert not info.value.message_may_exist

    with pytest.raises(BadRequestError) as info:
        await mail.send("tan@example.com", "s", "b", sender="Me <me@elsewhere.example.com>")
    assert info.value.code == "invalid_from_address"

    with pytest.raises(BadRequestError) as info:
        await mail.send("tan@example.com", "<b></b>", "b")
    assert info.value.code == "invalid_template"

    with pytest.raises(NotFoundError) as not_found:
        await mail.get("999999")
    assert not_found.value.code == "not_found"
    assert "999999" in not_found.value.message

    email.expire_key(server.email_api_key)
    with pytest.raises(AuthenticationError) as auth:
        await mail.get("1")
    assert auth.value.code == "unauthenticated"
    assert server.email_api_key not in str(auth.value)


async def test_attachment_errors_from_the_server(
    mail: EmailAccount, server: MockServer, tmp_path: pathlib.Path
) -> None:
    # The server judges content, not just the name: a PDF that is an executable.
    with pytest.raises(BadRequestError) as info:
        await mail.send(
            "tan@example.com", "s", "b", sender=OWN_SENDER, attachments=[("a.pdf", b"MZ\x90")]
        )
    assert info.value.code == "invalid_template"
    assert server.state.email.stats.requests["email_send"] == 1
    # With the local checks out of the way, the server's own refusals map too.
    with pytest.raises(PermissionDeniedError) as denied:
        await _raw_send_with_default_sender(mail)
    assert denied.value.code == "unauthorized"
    with pytest.raises(PayloadTooLargeError) as too_big:
        await _raw_send_too_big(mail, tmp_path)
    assert too_big.value.code == "attachment_limit"


async def _raw_send_with_default_sender(mail: EmailAccount) -> EmailMessage:
    """Bypass the local check to see the server's 403 mapped."""
    real = _email_validate.DEFAULT_SENDER_ADDRESSES
    try:
        _email_validate.DEFAULT_SENDER_ADDRESSES = frozenset()  # type: ignore[misc]
        return await mail.send(
            "tan@example.com",
            "s",
            "b",
            sender="Me <info@mail.postman.gov.sg>",
            attachments=[("a.pdf", PDF)],
        )
    finally:
        _email_validate.DEFAULT_SENDER_ADDRESSES = real  # type: ignore[misc]


async def _raw_send_too_big(mail: EmailAccount, tmp_path: pathlib.Path) -> EmailMessage:
    parts = []
    for name in ("a.pdf", "b.pdf"):
        path = tmp_path / name
        with path.open("wb") as f:
            f.write(b"%PDF-")
            f.truncate(6 * 1024 * 1024)
        parts.append(path)
    real = _email_validate.MAX_TOTAL_ATTACHMENT_BYTES
    try:
        _email_validate.MAX_TOTAL_ATTACHMENT_BYTES = 100 * 1024 * 1024  # type: ignore[misc]
        return await mail.send("tan@example.com", "s", "b", sender=OWN_SENDER, attachments=parts)
    finally:
        _email_validate.MAX_TOTAL_ATTACHMENT_BYTES = real  # type: ignore[misc]


async def test_provider_failure_is_ambiguous_and_not_resent(
    mail: EmailAccount, server: MockServer
) -> None:
    server.state.email.provider_failures = 1
    with pytest.raises(ServerError) as info:
        await mail.send("tan@example.com", "s", "b")
    assert info.value.code == "internal_server"
    assert info.value.message_may_exist
    assert "may have been created" in str(info.value)
    assert server.state.email.stats.requests["email_send"] == 1


async def test_dropped_answer_is_ambiguous(mail: EmailAccount, server: MockServer) -> None:
    server.state.email.drops_after_commit = 1
    with pytest.raises(Exception) as info:
        await mail.send("tan@example.com", "s", "b")
    assert getattr(info.value, "message_may_exist", False)
    assert server.state.email.stats.requests["email_send"] == 1


@pytest.fixture
async def reconciling_mail(server: MockServer) -> AsyncIterator[EmailAccount]:
    """The mock's email account, through a client that reconciles ambiguous sends."""
    policy = RetryPolicy(
        max_attempts=3, base_delay=0.0, max_delay=0.0, ambiguous_sends=AmbiguousSendPolicy.RECONCILE
    )
    async with PostmanClient(retry_policy=policy) as client:
        yield client.email(api_key=server.email_api_key, base_url=server.email_base_url)


async def test_reconcile_finds_the_email_a_dropped_send_created(
    reconciling_mail: EmailAccount, server: MockServer
) -> None:
    server.state.email.drops_after_commit = 1
    msg = await reconciling_mail.send("tan@example.com", "Reconciled", "<p>once</p>", tag="r")
    assert msg.params is not None
    assert msg.params.subject == "Reconciled"
    assert len(server.state.email.messages) == 1
    assert server.state.email.stats.requests["email_send"] == 1


async def test_reconcile_resends_when_the_provider_refused(
    reconciling_mail: EmailAccount, server: MockServer
) -> None:
    server.state.email.provider_failures = 1
    msg = await reconciling_mail.send("tan@example.com", "Again", "<p>b</p>")
    assert msg.status is EmailStatus.ACCEPTED
    # The refused row stays UNSENT; the second send made a new one.
    statuses = sorted(m.status_at(server.state.now()) for m in server.state.email.messages.values())
    assert statuses == ["ACCEPTED", "UNSENT"]


# --------------------------------------------------------------------------- rate limit


async def test_sends_keep_to_the_account_limit(server: MockServer) -> None:
    email = server.state.email
    next(iter(email.accounts.values())).rate_limit = 5
    async with PostmanClient(retry_policy=RetryPolicy(max_attempts=1)) as client:
        mail = client.email(api_key=server.email_api_key, base_url=server.email_base_url, tps=5)
        results = await asyncio.gather(
            *(mail.send(f"r{i}@example.com", "s", "b") for i in range(12))
        )
    assert len(results) == 12
    assert email.stats.rate_limited == 0
    assert email.stats.max_sends_in_window <= 5


async def test_all_keys_of_an_account_share_one_limiter(
    client: PostmanClient, server: MockServer
) -> None:
    account = next(iter(server.state.email.accounts.values()))
    account.api_keys.append(f"{account.name}_v1_c2Vjb25kS2V5")
    one = client.email(api_key=account.api_keys[0], base_url=server.email_base_url)
    two = client.email(api_key=account.api_keys[1], base_url=server.email_base_url)
    assert one.limiter is two.limiter
    assert client.limiter(f"email:{account.name}") is one.limiter
    other = server.state.email.add_account("other@agency.gov.sg")
    three = client.email(api_key=other.api_keys[0], base_url=server.email_base_url)
    assert three.limiter is not one.limiter
    with pytest.raises(ValidationError, match="tps"):
        client.email(api_key=account.api_keys[0], base_url=server.email_base_url, tps=3)


async def test_the_key_never_reaches_the_limiter_factory(server: MockServer) -> None:
    names: list[str] = []

    def factory(name: str, tps: int) -> RateLimiter:
        names.append(name)
        return SlidingWindowLimiter(tps)

    async with PostmanClient(limiter_factory=factory) as client:
        client.email(api_key=server.email_api_key, base_url=server.email_base_url)
    assert names == ["email:ops"]
    assert server.email_api_key.split("_")[-1] not in names[0]


async def test_429_is_retried_after_retry_after(server: MockServer) -> None:
    email = server.state.email
    next(iter(email.accounts.values())).rate_limit = 1
    async with PostmanClient(retry_policy=QUICK_RETRY, timeout=20) as client:
        # tps=None: the client does not limit, so the server's 429 does the work.
        mail = client.email(api_key=server.email_api_key, base_url=server.email_base_url, tps=None)
        first, second = await asyncio.gather(
            mail.send("a@example.com", "s", "b"), mail.send("b@example.com", "s", "b")
        )
    assert {first.status, second.status} == {EmailStatus.ACCEPTED}
    assert email.stats.rate_limited >= 1


async def test_429_without_retries_is_rate_limit_error(server: MockServer) -> None:
    email = server.state.email
    next(iter(email.accounts.values())).rate_limit = 1
    async with PostmanClient(retry_policy=RetryPolicy(max_attempts=1)) as client:
        mail = client.email(api_key=server.email_api_key, base_url=server.email_base_url, tps=None)
        await mail.send("a@example.com", "s", "b")
        with pytest.raises(RateLimitError) as info:
            await mail.send("b@example.com", "s", "b")
    assert info.value.code == "rate_limit"
    assert info.value.retry_after == 1.0
    assert not info.value.message_may_exist


async def test_lower_server_limit_is_reported(
    server: MockServer, caplog: pytest.LogCaptureFixture
) -> None:
    next(iter(server.state.email.accounts.values())).rate_limit = 3
    async with PostmanClient() as client:
        mail = client.email(api_key=server.email_api_key, base_url=server.email_base_url, tps=10)
        with caplog.at_level(logging.WARNING, logger="postman_async"):
            await mail.send("a@example.com", "s", "b")
    assert "allows 3 sends per second" in caplog.text


async def test_reads_spend_no_send_budget(mail: EmailAccount, server: MockServer) -> None:
    msg = await mail.send("tan@example.com", "s", "b")
    for _ in range(30):
        await mail.get(msg.id)
    assert mail.limiter.snapshot().grants_in_window == 1  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- list


async def test_list_follows_offsets_with_filters(mail: EmailAccount, server: MockServer) -> None:
    sent = [await mail.send(f"r{i}@example.com", "s", "b", tag="appt") for i in range(7)]
    bounced = await mail.send("bounce@simulator.amazonses.com", "s", "b", tag="appt")
    await mail.send("x@example.com", "s", "b", tag="other")
    server.state.advance(60)

    everything = [m async for m in mail.list(tag="appt", limit=3)]
    assert [m.id for m in everything] == [bounced.id, *(m.id for m in reversed(sent))]

    page = await mail.list(tag="appt", limit=3)
    assert isinstance(page, EmailPage)
    assert page.has_more
    assert len(page.messages) == 3

    bounces = [m async for m in mail.list(status="BOUNCED", tag="appt")]
    assert [(m.id, m.error_code) for m in bounces] == [(bounced.id, "Hard bounce")]

    oldest_first = [m.id async for m in mail.list(tag="appt", sort_by="+created_at", limit=2)]
    assert oldest_first == [m.id for m in sent] + [bounced.id]

    light = [m async for m in mail.list(include_params=False, limit=1000)]
    assert all(m.params is None for m in light)
    assert len(light) == 9


async def test_list_by_creation_time(mail: EmailAccount, server: MockServer) -> None:
    first = await mail.send("a@example.com", "s", "b")
    server.state.advance(10)
    second = await mail.send("b@example.com", "s", "b")
    assert second.created_at is not None
    since = second.created_at
    assert [m.id async for m in mail.list(created_from=since)] == [second.id]
    assert [m.id async for m in mail.list(created_before=since)] == [first.id]
    assert [m.id async for m in mail.list(created_after=since)] == []
    assert {m.id async for m in mail.list(created_until=since)} == {first.id, second.id}


async def test_list_is_not_shifted_by_new_sends(mail: EmailAccount, server: MockServer) -> None:
    for i in range(5):
        await mail.send(f"r{i}@example.com", "s", "b")
        server.state.advance(0.01)
    seen = []
    async for message in mail.list(limit=2):
        seen.append(message.id)
        if len(seen) == 1:
            await mail.send("late@example.com", "s", "b")  # would shift every offset
    assert seen == ["5", "4", "3", "2", "1"]


async def test_list_arguments_are_checked_at_once(mail: EmailAccount) -> None:
    for kwargs in (
        {"status": "LOST"},
        {"limit": 0},
        {"offset": -1},
        {"sort_by": "id"},
        {"created_from": dt.datetime(2026, 1, 1)},  # naive
        {"include_params": "no"},
    ):
        with pytest.raises(ValidationError):
            mail.list(**kwargs)


# --------------------------------------------------------------------------- tracking


async def test_wait_for_until_delivered_reads_by_listing(
    mail: EmailAccount, server: MockServer
) -> None:
    sent = [await mail.send(f"r{i}@example.com", "s", "b") for i in range(20)]
    bounced = await mail.send("bounce@simulator.amazonses.com", "s", "b")
    server.state.speed = 100.0  # three lifecycle seconds pass in 30 ms
    reads_before = sum(server.state.email.stats.requests[n] for n in ("email_get", "email_list"))
    final = await mail.wait_for([*sent, bounced], timeout=30, poll_interval=0.02)
    assert set(final) == {m.id for m in [*sent, bounced]}
    assert all(final[m.id].status.rank >= EmailStatus.DELIVERED.rank for m in sent)
    assert final[bounced.id].status is EmailStatus.BOUNCED
    assert server.state.email.stats.requests["email_get"] == 0
    reads = sum(server.state.email.stats.requests[n] for n in ("email_get", "email_list"))
    assert reads - reads_before < 21  # far fewer than one GET per email per round


async def test_track_never_reports_a_status_backwards(
    mail: EmailAccount, server: MockServer
) -> None:
    msg = await mail.send("tan@example.com", "s", "b", disable_tracking=True)
    seen: list[EmailStatus] = []

    async def follow() -> None:
        async for m in mail.track([msg.id], until=EmailStatus.OPENED, poll_interval=0.01):
            seen.append(m.status)  # noqa: PERF401 - read while following

    task = asyncio.ensure_future(follow())
    await _until(lambda: EmailStatus.ACCEPTED in seen)
    server.state.advance(5)
    await _until(lambda: EmailStatus.DELIVERED in seen)
    server.state.email.report(msg.id, "SENT")  # a late event overwrites DELIVERED
    await asyncio.sleep(0.1)
    server.state.email.report(msg.id, "OPENED")
    await asyncio.wait_for(task, 10)
    assert seen == [EmailStatus.ACCEPTED, EmailStatus.DELIVERED, EmailStatus.OPENED]


async def test_wait_for_times_out_with_what_it_knows(
    mail: EmailAccount, server: MockServer
) -> None:
    msg = await mail.send("tan@example.com", "s", "b")
    with pytest.raises(TrackingTimeoutError) as info:
        await mail.wait_for([msg], timeout=0.2, poll_interval=0.02)
    assert info.value.pending == {msg.id}
    assert info.value.messages[msg.id].status is EmailStatus.ACCEPTED


async def _until(condition: object, limit: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline
        await asyncio.sleep(0.005)


# --------------------------------------------------------------------------- client


def test_client_email_defaults_and_checks() -> None:
    assert PostmanClient.EMAIL_PRODUCTION_URL == "https://api.postman.gov.sg/v1"
    assert PostmanClient.EMAIL_STAGING_URL == "https://api-staging.postman.gov.sg/v1"


async def test_client_email_refuses_bad_keys_and_urls() -> None:
    async with PostmanClient() as client:
        mail = client.email(api_key="ops_v1_c2VjcmV0")
        assert "ops" in repr(mail)
        assert "c2VjcmV0" not in repr(mail)
        with pytest.raises(ValidationError, match="v2 campaign key"):
            client.email(api_key="key_live_abcdef")
        with pytest.raises(ValidationError, match="plain http"):
            client.email(api_key="ops_v1_c2VjcmV0", base_url="http://api.postman.gov.sg/v1")
    with pytest.raises(Exception, match="closed"):
        client.email(api_key="ops_v1_c2VjcmV0")
