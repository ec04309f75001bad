"""Secrets stay secret; transport security is enforced, not assumed.

* A whole run at DEBUG (sends, 5xx and retries, 429s, reconciliation, errors,
  batches, tracking with retries) never puts the API key, a full phone number
  or an OTP value in a log record, a repr or an exception's text (chained
  causes included).
* Plain ``http`` to a non-loopback host is refused before any connection or
  DNS lookup.
* HTTPS works end to end against the mock served with a ``trustme``
  certificate; a certificate the client does not trust is refused with
  ``APIConnectionError`` after a single connection, not ignored or retried.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import traceback
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

from postman_async import (
    AmbiguousSendPolicy,
    APIConnectionError,
    Message,
    PostmanClient,
    PostmanError,
    RetryPolicy,
    TrackingPolicy,
    ValidationError,
)
from postman_async.testing import FaultConfig, MockPostman, make_app, serve_mock

from .conftest import CAMPAIGN, KEY, Exchange, logging_to, raw_server, settle

pytestmark = pytest.mark.slow

SECRET_KEY = "key_test_SUPERSECRETdo_not_log_4f9a1c"
#: Distinct numbers (one is a documented test number that fails delivery) and OTPs that
#: cannot occur by chance inside an ID, a timestamp or a hex trace id.
PHONES = [f"65{80000000 + i * 7919:08d}" for i in range(16)]  # valid Singapore mobiles
FAILING = "6511112222"  # the documented test number that fails with recipient_unavailable
OTPS = {phone: f"Zq{i:04d}Wx" for i, phone in enumerate([*PHONES, FAILING])}


class Capture(logging.Handler):
    """Keeps every record, formatted the way a production log would show it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        # The in-process mock's own server logs are the server's, not the client's.
        if record.name.startswith(("aiohttp.server", "aiohttp.access", "aiohttp.web")):
            return
        self.names.add(record.name)
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[Capture]:
    handler = Capture()
    with logging_to(handler, level=logging.DEBUG):
        yield handler


def exception_texts(error: BaseException) -> list[str]:
    """What a person or a log could see of an exception, causes included."""
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        texts += [str(link), repr(link)]
        link = link.__cause__ or link.__context__
    return texts


def assert_no_secret(texts: list[str], *, key: str, phones: list[str], otps: list[str]) -> None:
    for text in texts:
        assert key not in text, text
        for phone in phones:
            assert phone not in text, (phone, text)
        for otp in otps:
            assert otp not in text, (otp, text)


async def test_a_whole_debug_run_leaks_no_key_phone_or_otp(captured: Capture) -> None:
    state = MockPostman(speed=0)
    errors: list[BaseException] = []
    async with serve_mock(state, tps=8, variables=("otp",), api_keys=[SECRET_KEY]) as server:
        state.faults = FaultConfig(
            server_error_rate=0.15, error_after_commit_rate=0.15, drop_rate=0.1, seed=7
        )
        retry = RetryPolicy(
            max_attempts=4,
            base_delay=0.01,
            max_delay=0.05,
            ambiguous_sends=AmbiguousSendPolicy.RECONCILE,
        )
        tracking = TrackingPolicy(min_interval=0.05, max_interval=0.1, jitter=0.0)
        async with PostmanClient(
            base_url=server.base_url, retry_policy=retry, tracking=tracking, timeout=30
        ) as client:
            # The client believes 20 TPS; the mock allows 8: a stream of 429s.
            otp = client.campaign(server.campaign_id, api_key=SECRET_KEY, tps=20)
            results = await asyncio.gather(
                *(otp.send(p, {"otp": OTPS[p]}) for p in PHONES), return_exceptions=True
            )
            errors += [r for r in results if isinstance(r, BaseException)]
            sent = [r for r in results if isinstance(r, Message)]
            assert len(sent) >= len(PHONES) // 2
            for bad in (
                otp.get_message("message_missing"),
                otp.retry("message_missing"),
                otp.send(PHONES[0], {"otp": OTPS[PHONES[0]]}, language="tamil"),
                otp.send("91234567", {"otp": OTPS[PHONES[1]]}),
                otp.send(PHONES[2], {"otp": " " + OTPS[PHONES[2]]}),
            ):
                result = await settle(bad)
                assert isinstance(result, PostmanError), result
                errors.append(result)
            reprs = [repr(client), repr(otp), repr(otp.limiter), str(otp.limiter)]
        # Second half at the real rate, with a lifecycle that moves: batches, tracking and
        # delivery retries (6511112222 fails with recipient_unavailable).
        state.faults = FaultConfig()
        state.speed = 200
        server.campaign.rate_window.reset()  # a new client starts with a fresh budget
        async with PostmanClient(
            base_url=server.base_url, retry_policy=retry, tracking=tracking, timeout=30
        ) as client:
            otp = client.campaign(server.campaign_id, api_key=SECRET_KEY, tps=8)
            receipt = await otp.send_batch([{"recipient": p, "otp": OTPS[p]} for p in PHONES[:5]])
            sent.append(await otp.send(FAILING, {"otp": OTPS[FAILING]}))
            final = await otp.wait_for(sent, timeout=20, retry_failed=True)
            assert all(m.is_final for m in final.values())
            await otp.wait_for_batch(receipt, timeout=20)
            listed = [m async for m in otp.list_messages(search="8000")]
            assert listed
            try:
                await otp.wait_for(["message_never_final"], timeout=0.2)
            except PostmanError as exc:
                errors.append(exc)
            reprs += [repr(client), repr(otp), repr(otp.limiter), repr(receipt)]
            reprs += [repr(m) for m in final.values()] + [repr(m) for m in listed]
            assert otp.status_reads > 0
        stats = server.campaign.stats
        assert stats.rate_limited > 0 and stats.server_errors > 0
        assert stats.requests["retry"] > 0  # the tracker retried the failed delivery

    # The request loop's records (429s, retries) and the tracker's (its delivery retry).
    assert {"postman_async", "postman_async._tracking"} <= captured.names
    assert any("HTTP 429" in line for line in captured.lines)
    assert any("retrying in" in line for line in captured.lines)
    assert any("retrying it" in line for line in captured.lines)
    assert len(errors) >= 5
    texts = captured.lines + reprs + [t for e in errors for t in exception_texts(e)]
    assert_no_secret(texts, key=SECRET_KEY, phones=[*PHONES, FAILING], otps=list(OTPS.values()))


async def test_unparseable_responses_do_not_leak_the_query_or_the_key(captured: Capture) -> None:
    """aiohttp's parse errors carry the URL (with ?search=<number>) and the request headers."""
    phone, code = PHONES[3], OTPS[PHONES[3]]

    async def garbage(exchange: Exchange) -> None:
        await exchange.write(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}")

    errors: list[BaseException] = []
    async with raw_server(garbage) as server:
        retry = RetryPolicy(
            max_attempts=2, base_delay=0, ambiguous_sends=AmbiguousSendPolicy.RECONCILE
        )
        async with PostmanClient(base_url=server.base_url, retry_policy=retry) as client:
            otp = client.campaign(CAMPAIGN, api_key=SECRET_KEY)
            for call in (
                otp.list_messages(search=phone),
                otp.send(phone, {"otp": code}),  # then reconciles with ?search=<phone>
                otp.get_message("message_1"),
            ):
                with pytest.raises(APIConnectionError) as info:
                    await call
                errors.append(info.value)
    assert any(b"search=" + phone.encode() in r for r in server.requests)  # it was asked
    texts = captured.lines + [t for e in errors for t in exception_texts(e)]
    assert_no_secret(texts, key=SECRET_KEY, phones=[phone], otps=[code])
    assert "Content-Length" in str(errors[0])  # what the server got wrong is still said


# ----------------------------------------------------------------------------- plain http


@pytest.mark.parametrize(
    "url",
    [
        "http://postman.gov.sg/api/v2",
        "http://example.com",
        "http://10.0.0.1/api/v2",
        "http://192.168.1.10:8080/api/v2",
        "http://[::ffff:8.8.8.8]/api/v2",
        "http://localhost.evil.example/api/v2",
        "http://127.0.0.1.nip.io/api/v2",
        "http://127.1/api/v2",
        "http://2130706433/api/v2",
        "http://0.0.0.0/api/v2",
        "HTTP://postman.gov.sg/api/v2",
        "ftp://postman.gov.sg/api/v2",
        "https://user:pass@postman.gov.sg/api/v2",
        "postman.gov.sg/api/v2",
    ],
)
async def test_plain_http_off_loopback_is_refused_before_any_connection(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network touched for {url}: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(asyncio.get_running_loop(), "create_connection", no_network)
    with pytest.raises(ValidationError):
        PostmanClient(base_url=url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/api/v2", "http://localhost/api/v2", "http://[::1]:80/api/v2"]
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert PostmanClient(base_url=url).base_url.startswith("http://")


# ----------------------------------------------------------------------------- HTTPS


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


class TlsMock:
    def __init__(self, state: MockPostman, port: int) -> None:
        self.state = state
        self.port = port
        self.connections = 0

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/api/v2"


@pytest.fixture
async def tls_mock(ca: trustme.CA) -> AsyncIterator[TlsMock]:
    """The mock's app behind TLS, counting TCP connections (handshakes that fail included)."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
    state = MockPostman(speed=0)
    state.add_campaign(campaign_id=CAMPAIGN, api_keys=[KEY], tps=50, variables=("otp",))
    runner = web.AppRunner(make_app(state), access_log=None, handle_signals=False)
    await runner.setup()
    mock = TlsMock(state, 0)
    protocol_factory = runner.server
    assert protocol_factory is not None

    def counting() -> asyncio.BaseProtocol:
        mock.connections += 1
        return protocol_factory()

    loop = asyncio.get_running_loop()
    listener = await loop.create_server(counting, "127.0.0.1", 0, ssl=server_ctx)
    mock.port = listener.sockets[0].getsockname()[1]
    try:
        yield mock
    finally:
        listener.close()
        await listener.wait_closed()
        await runner.cleanup()


async def test_https_end_to_end_with_a_trusted_certificate(
    ca: trustme.CA, tls_mock: TlsMock
) -> None:
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ctx)) as session,
        PostmanClient(base_url=tls_mock.base_url, session=session) as client,
    ):
        otp = client.campaign(CAMPAIGN, api_key=KEY)
        msg = await otp.send("6591234567", {"otp": "1"})
        assert (await otp.get_message(msg.id)).id == msg.id
        receipt = await otp.send_batch([{"recipient": "6591234568", "otp": "2"}])
        tls_mock.state.advance(600)
        final = await otp.wait_for_batch(receipt, timeout=30)
        assert len(final) == 1
        assert [m.id async for m in otp.list_messages(search="6591234567")] == [msg.id]
    assert tls_mock.state.campaigns[CAMPAIGN].stats.total_requests >= 5


@pytest.mark.parametrize("borrowed", [False, True])
async def test_an_untrusted_certificate_is_refused_once(tls_mock: TlsMock, borrowed: bool) -> None:
    session = aiohttp.ClientSession() if borrowed else None  # system CAs: trustme's CA is unknown
    try:
        async with PostmanClient(base_url=tls_mock.base_url, session=session, timeout=10) as client:
            otp = client.campaign(CAMPAIGN, api_key=KEY)
            for call in (otp.get_message("message_1"), otp.send("6591234567", {"otp": "1"})):
                before = tls_mock.connections
                with pytest.raises(APIConnectionError, match="certificate") as info:
                    await call
                assert tls_mock.connections - before == 1  # refused, not retried
                assert not info.value.message_may_exist  # nothing was sent
    finally:
        if session is not None:
            await session.close()
    assert tls_mock.state.stats.total_requests == 0


async def test_a_certificate_for_another_host_is_refused(ca: trustme.CA) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("postman.example.org").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    async def never(exchange: Exchange) -> None:
        raise AssertionError("a request got through")

    connections = 0

    async def handshake_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    listener = await asyncio.start_server(handshake_then_close, "127.0.0.1", 0, ssl=server_ctx)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ctx)) as session,
            PostmanClient(base_url=f"https://127.0.0.1:{port}/api/v2", session=session) as client,
        ):
            with pytest.raises(APIConnectionError, match="certificate"):
                await client.campaign(CAMPAIGN, api_key=KEY).get_message("message_1")
    finally:
        listener.close()
        await listener.wait_closed()
    assert connections == 0  # the handshake never completed
