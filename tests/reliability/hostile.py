"""A hostile HTTP server in a few lines: raw asyncio sockets, bytes scripted per request.

Not our mock and not aiohttp's server: a well-behaved framework will not send
a body that is not UTF-8 under ``charset=utf-8``, a gzip bomb, two conflicting
``Content-Length`` headers or a 100 KB header line.  Here each case writes
exactly the bytes it wants::

    async with hostile_server(raw_response(502, b'{"message": "\\xff"}')) as server:
        client = PostmanClient(base_url=server.base_url, ...)

A script is one answer for every request, a list (request ``i`` gets item
``i``, the last one repeats), or a function of the request that returns the
bytes (``None``: close without answering; :data:`HOLD`: keep the connection
open, silent, until the server stops).  The server reads each request whole
(Content-Length or chunked) and closes the connection after answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import re
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from .loopback import LoopbackServer

__all__ = [
    "HOLD",
    "HostileServer",
    "Seen",
    "gzip_bomb",
    "hostile_server",
    "json_page",
    "raw_response",
]


@dataclass(frozen=True)
class Seen:
    """One request as the server read it."""

    method: str
    #: The request target: path and query, as sent.
    target: str
    head: bytes
    body: bytes


class _Hold(enum.Enum):
    HOLD = "hold"


#: A script's answer meaning: say nothing, keep the connection open until the server stops.
HOLD = _Hold.HOLD

Answer = bytes | None | _Hold
Script = bytes | Sequence[bytes] | Callable[[Seen], Answer]


@dataclass
class HostileServer(LoopbackServer):
    """A loopback server answering with scripted bytes; see the module docstring."""

    script: Script
    #: Every request read, in order.
    seen: list[Seen] = field(default_factory=list)

    def _answer(self, seen: Seen) -> Answer:
        script = self.script
        if isinstance(script, bytes):
            return script
        if callable(script):
            return script(seen)
        return script[min(len(self.seen) - 1, len(script) - 1)]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        quiet = (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)
        async with self.handling(writer, quiet):
            seen = await _read_request(reader)
            self.seen.append(seen)
            answer = self._answer(seen)
            if answer is HOLD:
                await self.stop.wait()
            elif answer is not None:
                writer.write(answer)
                await writer.drain()


async def _read_request(reader: asyncio.StreamReader) -> Seen:
    head = await reader.readuntil(b"\r\n\r\n")
    request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    method, target, _ = request_line.split(" ", 2)
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if length:
        body = await reader.readexactly(int(length.group(1)))
    elif re.search(rb"(?im)^transfer-encoding:\s*chunked", head):
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(p[:-2] for p in parts)
    else:
        body = b""
    return Seen(method, target, head, body)


@contextlib.asynccontextmanager
async def hostile_server(script: Script) -> AsyncIterator[HostileServer]:
    """Serve ``script`` on 127.0.0.1 (a free port) for the block."""
    server = HostileServer(script)
    async with server.listening(server._handle, limit=16 << 20):
        yield server


def raw_response(
    status: int,
    body: bytes = b"",
    *,
    headers: Sequence[tuple[str, str | bytes]] = (),
    content_type: str | None = "application/json",
    content_length: int | bool | None = True,
    status_line: bytes | None = None,
) -> bytes:
    """The bytes of one HTTP/1.1 answer, with nothing checked.

    Args:
        headers: extra headers, in order, duplicates allowed; ``bytes`` values
            go out as they are (any byte at all).
        content_length: ``True`` for the body's length, a number to lie,
            ``False`` or ``None`` for no header.
        status_line: replaces ``HTTP/1.1 <status> Whatever`` entirely.
    """
    lines = [status_line or f"HTTP/1.1 {status} Whatever".encode()]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}".encode())
    if content_length is True:
        lines.append(f"Content-Length: {len(body)}".encode())
    elif isinstance(content_length, int) and content_length is not False:
        lines.append(f"Content-Length: {content_length}".encode())
    lines.append(b"Connection: close")
    for name, value in headers:
        raw = value if isinstance(value, bytes) else value.encode("latin-1")
        lines.append(name.encode("latin-1") + b": " + raw)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def gzip_bomb(inflated: int) -> bytes:
    """A gzip stream of ``inflated`` zero bytes (about a thousandth of that on the wire)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip header and trailer
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(inflated >> 20)]
    parts.append(packer.flush())
    return b"".join(parts)


def json_page(messages: Sequence[dict[str, object]], **page_data: object) -> bytes:
    """A ``{data, pageData}`` list page body."""
    return json.dumps({"data": list(messages), "pageData": page_data}).encode()
