"""Fixtures of the Redis limiter tests: a real server per test module, a clean database per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio

from .server import RedisServer, ServerNotFoundError, server_binary


@pytest.fixture(scope="session")
def redis_binary() -> str:
    """The server binary; fails (never skips) when there is none."""
    try:
        return server_binary()
    except ServerNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)


def _running(binary: str) -> Iterator[RedisServer]:
    server = RedisServer(binary)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def redis_server(redis_binary: str) -> Iterator[RedisServer]:
    """A server shared by the tests of one module."""
    yield from _running(redis_binary)


@pytest.fixture
def own_server(redis_binary: str) -> Iterator[RedisServer]:
    """A server of the test's own, to kill and restart."""
    yield from _running(redis_binary)


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    """A client of the module's server, on an empty database."""
    client = redis.asyncio.Redis.from_url(redis_server.url)
    await client.flushall()
    try:
        yield client
    finally:
        await client.aclose()
