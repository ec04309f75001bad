"""The aiohttp transport: the exception table, departures, and the body cap, over real sockets."""

from __future__ import annotations

import asyncio
import gzip
import inspect
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from postman_async import APIConnectionError, ClientClosedError, ResponseDecodeError
from postman_async._exchange import Request, TransportError, Upload
from postman_async._transport import EXCEPTION_MAP, MAX_BODY_BYTES, AiohttpTransport, classify
from postman_async._validate import Secret

KEY = "key_test_transport-secret-0123456789"
#: Built, not written out: tracebacks quote source lines, which must not hold it either.
NUMBER = "65" + "91234567"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RecordingGrant:
    """A grant that counts what the transport reported."""

    def __init__(self) -> None:
        self.sent_count = 0
        self.released = 0

    def sent(self) -> None:
        self.sent_count += 1

    def release(self) -> None:
        self.released += 1


def _request(url: str, grant: RecordingGrant, **kwargs: object) -> Request:
    return Request(
        method="GET",
        url=url,
        api_key=Secret(KEY),
        timeout=5.0,
        grant=grant,
        **kwargs,  # type: ignore[arg-type]
    )


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


async def _failure(request: Request) -> TransportError:
    """The :class:`TransportError` a fresh transport raises for ``request`` (it must raise)."""
    transport = AiohttpTransport()
    try:
        with pytest.raises(TransportError) as info:
            await transport.handle(request)
    finally:
        await transport.aclose()
    return info.value


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/api/v2/campaigns/c1/messages"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def test_every_exception_aiohttp_exports_is_in_the_table() -> None:
    mapped = {cls for cls, _ in EXCEPTION_MAP}
    exported = {
        obj
        for name in aiohttp.__all__
        if inspect.isclass(obj := getattr(aiohttp, name)) and issubclass(obj, BaseException)
    }
    assert exported, "aiohttp exports no exceptions: the check would prove nothing"
    assert exported - mapped == set()


def test_the_table_lists_subclasses_before_their_bases() -> None:
    classes = [cls for cls, _ in EXCEPTION_MAP]
    for i, cls in enumerate(classes):
        for later in classes[i + 1 :]:
            assert not issubclass(later, cls) or later is cls, f"{later} is shadowed by {cls}"


def test_unknown_exceptions_are_not_transport_failures() -> None:
    assert classify(KeyError("x")) is None
    assert classify(aiohttp.ServerDisconnectedError()) is not None


async def test_an_answer_reports_the_departure_once(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _read_request(reader))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nRetry-After: 3\r\n\r\n{}")
        await writer.drain()
        writer.close()

    url = await serve(handler)
    transport = AiohttpTransport()
    grant = RecordingGrant()
    try:
        response = await transport.handle(_request(url, grant, params={"limit": "5"}))
    finally:
        await transport.aclose()
    assert (response.status, response.body, response.headers["retry-after"]) == (200, b"{}", "3")
    assert (grant.sent_count >= 1, grant.released) == (True, 0)
    assert b"Authorization: Bearer " + KEY.encode() in seen[0]
    assert b"limit=5" in seen[0]


async def test_connection_refused_releases_the_slot(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    url = await serve(handler)
    server_port = url.split(":")[2].split("/")[0]
    # A port nobody listens on: bind one, note it, close it.
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    assert str(port) != server_port
    grant = RecordingGrant()
    error = await _failure(_request(f"http://127.0.0.1:{port}/api/v2/x", grant))
    assert error.sent is False
    assert isinstance(error.error, APIConnectionError)
    assert (grant.sent_count, grant.released) == (0, 1)


async def test_a_dropped_connection_after_sending_counts_as_sent(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.close()  # read it, answer nothing

    url = await serve(handler)
    grant = RecordingGrant()
    error = await _failure(_request(url, grant, json=b'{"recipient": "%s"}' % NUMBER.encode()))
    assert error.sent is True
    assert grant.sent_count >= 1
    assert grant.released == 0
    text = "".join(traceback.format_exception(error.error))
    assert NUMBER not in text
    assert KEY not in text


async def test_a_search_number_never_reaches_the_error_text(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}")  # short body
        await writer.drain()
        writer.close()

    url = await serve(handler)
    params = {"search": NUMBER, "limit": "20"}
    error = await _failure(_request(url, RecordingGrant(), params=params))
    rendered = "".join(traceback.format_exception(error))
    assert NUMBER not in rendered
    assert error.__cause__ is None


async def test_a_compressed_body_is_capped_on_its_decoded_size(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    bomb = gzip.compress(b"0" * (MAX_BODY_BYTES + 1024 * 1024))

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Encoding: gzip\r\n"
            + f"Content-Length: {len(bomb)}\r\n\r\n".encode()
            + bomb
        )
        await writer.drain()
        writer.close()

    url = await serve(handler)
    error = await _failure(_request(url, RecordingGrant()))
    assert len(bomb) < 1024 * 1024  # small on the wire
    assert isinstance(error.error, ResponseDecodeError)
    assert "over" in str(error.error)


async def test_after_close_requests_are_refused_and_slots_released() -> None:
    transport = AiohttpTransport()
    await transport.aclose()
    grant = RecordingGrant()
    with pytest.raises(TransportError) as info:
        await transport.handle(_request("http://127.0.0.1:9/x", grant))
    assert isinstance(info.value.error, ClientClosedError)
    assert grant.released == 1


def test_request_repr_hides_query_body_and_key() -> None:
    request = _request(
        "http://127.0.0.1/api/v2/campaigns/c1/messages",
        RecordingGrant(),
        params={"search": NUMBER},
        json=b'{"values": {"otp": "123456"}}',
    )
    text = repr(request)
    assert NUMBER not in text
    assert "123456" not in text
    assert KEY not in text
    assert "GET" in text


def _answer_after_reading(counts: list[int], grant: RecordingGrant) -> Handler:
    """A server that notes how often the grant heard of the departure once the request is in."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        counts.append(grant.sent_count)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    return handler


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"json": b'{"recipient": "6591234567"}'},
        {"uploads": [Upload(field="file", filename="a.csv", source=b"recipient\n6591234567\n")]},
    ],
    ids=["get", "json", "form"],
)
async def test_our_session_reports_the_departure_before_the_answer(
    serve: Callable[[Handler], Awaitable[str]], body: dict[str, object]
) -> None:
    grant = RecordingGrant()
    counts: list[int] = []
    url = await serve(_answer_after_reading(counts, grant))
    transport = AiohttpTransport()
    try:
        response = await transport.handle(_request(url, grant, **body))
    finally:
        await transport.aclose()
    assert response.status == 200
    assert counts == [1]  # counted by the time the server had the whole request
    assert (grant.sent_count, grant.released) == (1, 0)


@pytest.mark.parametrize(
    ("body", "counted_on_arrival"),
    [
        ({}, 0),  # no hook on a lent session: counted at the answer, late
        ({"json": b'{"recipient": "6591234567"}'}, 1),  # the body reports it
    ],
    ids=["get", "json"],
)
async def test_a_lent_session_reports_departures_never_early(
    serve: Callable[[Handler], Awaitable[str]], body: dict[str, object], counted_on_arrival: int
) -> None:
    grant = RecordingGrant()
    counts: list[int] = []
    url = await serve(_answer_after_reading(counts, grant))
    async with aiohttp.ClientSession() as session:
        transport = AiohttpTransport(session=session)
        response = await transport.handle(_request(url, grant, **body))
        await transport.aclose()
        assert not session.closed  # borrowed, not closed
    assert response.status == 200
    assert counts == [counted_on_arrival]
    assert (grant.sent_count, grant.released) == (1, 0)


async def test_a_body_that_never_left_gives_its_slot_back() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    for lent in (False, True):
        grant = RecordingGrant()
        session = aiohttp.ClientSession() if lent else None
        transport = AiohttpTransport(session=session)
        try:
            with pytest.raises(TransportError) as info:
                await transport.handle(
                    _request(f"http://127.0.0.1:{port}/api/v2/x", grant, json=b"{}")
                )
        finally:
            await transport.aclose()
            if session is not None:
                await session.close()
        assert info.value.sent is False
        assert (grant.sent_count, grant.released) == (0, 1)
