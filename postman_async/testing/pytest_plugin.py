"""Pytest plugin: the ``postman_mock`` fixture.

Enable it in a ``conftest.py``::

    pytest_plugins = ["postman_async.testing.pytest_plugin"]

then take ``postman_mock`` in an async test to get a running ``MockServer`` with one
campaign (10 requests per second, template variable ``otp``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from ._server import MockServer, serve_mock


@pytest_asyncio.fixture
async def postman_mock() -> AsyncIterator[MockServer]:
    """A mock Postman served on a free loopback port for one test."""
    async with serve_mock(tps=10, variables=("otp",)) as server:
        yield server
