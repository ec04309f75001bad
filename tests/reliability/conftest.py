"""Helpers for the reliability suite: raw socket servers, call ledgers, loop hygiene.

The raw servers are deliberately not aiohttp: each one misbehaves in one precise
way (never answers, trickles bytes, closes mid-body, stalls after the headers)
that a well-behaved framework would not let us produce.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import types
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from postman_async import Message, PostmanError
from postman_async.testing import Request, Response

from .loopback import LoopbackServer

#: A campaign ID and key for clients pointed at the raw servers.
CAMPAIGN = "campaign_rel"
KEY = "key_test_reliability0123456789abcdef"


def phone(i: int) -> str:
    """A distinct, valid Singapore mobile number per index (10 digits, ``658...``)."""
    return str(6580000000 + i)


# ----------------------------------------------------------------------------- raw servers

Respond = Callable[["Exchange"], Awaitable[None]]


@dataclass
class Exchange:
    """One accepted connection of a :class:`RawServer`, after its request was read."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    stop: asyncio.Event
    request: bytes

    async def pause(self, seconds: float) -> bool:
        """Wait ``seconds`` (or until the server stops); return True if it is stopping."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)
        return self.stop.is_set()

    async def write(self, data: bytes) -> bool:
        """Write and flush; return False once the peer has gone."""
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            return False
        return True


@dataclass
class RawServer(LoopbackServer):
    """A loopback TCP server whose ``respond`` decides what each connection gets."""

    respond: Respond
    read_request: bool = True
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with self.handling(writer, (ConnectionError, asyncio.IncompleteReadError)):
            self.connections += 1
            request = b""
            if self.read_request:
                request = await _read_request(reader)
                self.requests.append(request)
            await self.respond(Exchange(reader, writer, self.stop, request))


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    body = await reader.readexactly(int(match.group(1))) if match else b""
    return head + body


@contextlib.asynccontextmanager
async def raw_server(respond: Respond, *, read_request: bool = True) -> AsyncIterator[RawServer]:
    """Serve ``respond`` on 127.0.0.1 for the block; every handler ends before it exits.

    Handlers wait on ``stop`` instead of sleeping, so shutting down never has to
    cancel them (no "Task was destroyed" and no cancelled handler to log).
    """
    server = RawServer(respond, read_request=read_request)
    async with server.listening(server.handle):
        yield server


def http_response(
    status: int,
    body: bytes = b"",
    *,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
    content_length: int | None = None,
    reason: str = "Whatever",
) -> bytes:
    """Bytes of an HTTP/1.1 response that closes its connection afterwards."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    length = len(body) if content_length is None else content_length
    lines.append(f"Content-Length: {length}")
    lines.append("Connection: close")
    lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def answer(response: bytes) -> Respond:
    """A ``respond`` that writes ``response`` and closes."""

    async def respond(exchange: Exchange) -> None:
        await exchange.write(response)

    return respond


# ----------------------------------------------------------------------------- instant transport


class InstantTransport:
    """A transport whose every attempt is a 201 at once (a ``Transport``, like MockTransport).

    For load and cancellation tests on the virtual clock (``run_virtual``), where
    real sockets would tie the loop to real time.  It records when each request
    left (loop time) and nothing else, so it adds no memory per request beyond
    one float.
    """

    BODY = b'{"id": "message_1", "latestStatus": "created", "recipient": "6580000000"}'

    def __init__(self) -> None:
        self.times: list[float] = []
        self.closed = False

    async def handle(self, request: Request) -> Response:
        request.grant.sent()
        self.times.append(asyncio.get_running_loop().time())
        return Response(status=201, body=self.BODY)

    async def aclose(self) -> None:
        self.closed = True


# ----------------------------------------------------------------------------- attempt log


class AttemptLog:
    """Records every HTTP attempt of a session, keyed by the send's recipient.

    Attach :attr:`trace` to an ``aiohttp.ClientSession`` given to the client.
    An attempt is *ambiguous* when its body left and no 2xx came back (a 5xx or a
    transport failure): only such an attempt can have created an SMS its caller
    did not learn about.
    """

    def __init__(self) -> None:
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_chunk_sent.append(self._on_chunk)
        self.trace.on_request_end.append(self._on_end)
        self.trace.on_request_exception.append(self._on_exception)
        self.outcomes: dict[str, list[str]] = defaultdict(list)

    async def _on_chunk(
        self, _: aiohttp.ClientSession, ctx: types.SimpleNamespace, params: Any
    ) -> None:
        found = re.search(rb'"recipient":"(\d+)"', params.chunk)
        if found:
            ctx.recipient = found.group(1).decode()

    async def _on_end(
        self, _: aiohttp.ClientSession, ctx: types.SimpleNamespace, params: Any
    ) -> None:
        recipient = getattr(ctx, "recipient", None)
        if recipient is not None:
            self.outcomes[recipient].append(str(params.response.status))

    async def _on_exception(
        self, _: aiohttp.ClientSession, ctx: types.SimpleNamespace, params: Any
    ) -> None:
        recipient = getattr(ctx, "recipient", None)
        if recipient is not None:
            self.outcomes[recipient].append(type(params.exception).__name__)

    def ambiguous(self, recipient: str) -> int:
        """Attempts for ``recipient`` whose body left without a 2xx coming back."""
        return sum(1 for o in self.outcomes[recipient] if not o.startswith("2"))

    def attempts(self) -> int:
        return sum(len(v) for v in self.outcomes.values())


# ----------------------------------------------------------------------------- ledgers


async def settle(awaitable: Awaitable[object]) -> object:
    """Await; return the result or the exception (callers assert which kinds are fine)."""
    try:
        return await awaitable
    except Exception as exc:
        return exc


def outcome_kinds(outcomes: Iterable[object]) -> Counter[str]:
    """``Message`` or the error's class name (with ``+may_exist``), per outcome."""
    kinds: Counter[str] = Counter()
    for outcome in outcomes:
        if isinstance(outcome, Message):
            kinds["Message"] += 1
        elif isinstance(outcome, PostmanError):
            suffix = "+may_exist" if outcome.message_may_exist else ""
            kinds[type(outcome).__name__ + suffix] += 1
        else:
            kinds["FOREIGN " + type(outcome).__name__] += 1
    return kinds


# ----------------------------------------------------------------------------- loop hygiene


class LoopProblems:
    """Everything the event loop's exception handler was told (unclosed sessions, lost tasks)."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.contexts.append(context)

    def messages(self) -> list[str]:
        return [str(c.get("message")) for c in self.contexts]


@pytest.fixture
async def loop_problems() -> AsyncIterator[LoopProblems]:
    """Route the running loop's exception handler into a list the test can assert on."""
    loop = asyncio.get_running_loop()
    problems = LoopProblems()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(problems)
    try:
        yield problems
    finally:
        loop.set_exception_handler(previous)


@contextlib.contextmanager
def logging_to(
    handler: logging.Handler, logger: str | None = None, level: int | None = None
) -> Iterator[None]:
    """Attach ``handler`` to ``logger`` (root: ``None``) for the block, at ``level`` if given."""
    target = logging.getLogger(logger)
    previous = target.level
    target.addHandler(handler)
    if level is not None:
        target.setLevel(level)
    try:
        yield
    finally:
        target.removeHandler(handler)
        target.setLevel(previous)


class _Complaints(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def no_loop_complaints() -> Iterator[None]:
    """Fail any test after which asyncio complains: unclosed sessions or transports,
    destroyed pending tasks, exceptions nobody retrieved.  Collected garbage included:
    those complaints come from ``__del__``, so the check runs after ``gc.collect()``.
    """
    handler = _Complaints()
    with logging_to(handler, "asyncio"):
        yield
        gc.collect()
    assert not handler.messages, handler.messages


@pytest.fixture(autouse=True)
async def no_task_left_behind() -> AsyncIterator[None]:
    """Fail any test that leaves a task running on its loop (pytest-asyncio would
    otherwise cancel it quietly at teardown, hiding the leak)."""
    before = asyncio.all_tasks()
    yield
    for _ in range(3):  # let tasks that are finishing finish
        await asyncio.sleep(0)
    left = asyncio.all_tasks() - before - {asyncio.current_task()}
    assert not left, left
