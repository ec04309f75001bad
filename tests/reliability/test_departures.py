"""The limit holds at the socket: requests stuck after their grant never leave in a burst.

A keep-alive server records when each request arrives; the busiest one-second window it
sees must never exceed the campaign's ``tps``, however the pool stalls or the loop is busy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from postman_async import LimiterTimeoutError, PostmanClient, PostmanError, RetryPolicy
from postman_async._transport import AiohttpTransport

from ..conftest import max_in_window

pytestmark = pytest.mark.slow

KEY = "key_test_departures0123456789abcdef"
MESSAGE = b'{"id": "message_1", "latestStatus": "created"}'


class RecordingServer:
    """Keep-alive HTTP/1.1: records arrival times; holds the first ``hold_count`` answers."""

    def __init__(self, *, hold_count: int = 0, hold_for: float = 0.0) -> None:
        self.arrivals: list[float] = []
        self.hold_count = hold_count
        self.hold_for = hold_for
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.arrivals.append(loop.time())
                index = len(self.arrivals)
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":")[1]))
                if index <= self.hold_count:
                    await asyncio.sleep(self.hold_for)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(MESSAGE)}\r\n\r\n".encode()
                    + MESSAGE
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def recording_server(server: RecordingServer) -> AsyncIterator[str]:
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/api/v2"
    finally:
        srv.close()
        await srv.wait_closed()


async def test_a_stalled_pool_does_not_release_a_burst_over_the_limit() -> None:
    """Five connections, held for 2 s: the granted requests behind them wait, then leave
    within the limit (before, 100 left in one second at tps 20)."""
    tps = 20
    server = RecordingServer(hold_count=5, hold_for=2.0)
    async with recording_server(server) as base_url:
        client = PostmanClient(
            base_url=base_url,
            transport=AiohttpTransport(max_connections=5),
            retry_policy=RetryPolicy(max_attempts=1),
            timeout=60,
        )
        async with client:
            campaign = client.campaign("campaign_dep", api_key=KEY, tps=tps)
            calls = [campaign.get_message(f"message_{i}") for i in range(80)]
            results = await asyncio.gather(*calls, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len(server.arrivals) == 80
    assert max_in_window(server.arrivals) <= tps


async def test_a_huge_burst_of_tasks_keeps_the_limit_at_the_socket() -> None:
    """Thousands of calls started at once keep the loop busy; departures still keep the limit."""
    tps = 50
    server = RecordingServer()
    async with recording_server(server) as base_url:
        client = PostmanClient(
            base_url=base_url, retry_policy=RetryPolicy(max_attempts=1), timeout=2.5
        )
        async with client:
            campaign = client.campaign("campaign_dep", api_key=KEY, tps=tps)
            calls = [campaign.send(f"659{i % 10_000_000:07d}", {"otp": "1"}) for i in range(5_000)]
            results = await asyncio.gather(*calls, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(f, LimiterTimeoutError) for f in failures), {
        type(f).__name__ for f in failures
    }
    assert all(isinstance(f, PostmanError) for f in failures)
    assert len(server.arrivals) == len(results) - len(failures) > tps
    assert max_in_window(server.arrivals) <= tps
