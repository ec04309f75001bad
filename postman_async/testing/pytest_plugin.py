"""Pytest plugin: the ``postman_mock`` and ``postman_mock_factory`` fixtures.

Installing ``postman-async`` registers it (a ``pytest11`` entry point), so nothing needs to
go in a ``conftest.py``; the older ``pytest_plugins = ["postman_async.testing.pytest_plugin"]``
line still works and registers nothing twice. The fixtures are async and need
``pytest-asyncio``, in its strict mode (mark tests ``@pytest.mark.asyncio``) or auto mode.

* ``postman_mock``: a running ``MockServer`` with one test-environment campaign (10 requests
  per second, template variable ``otp``, fast lifecycle at real speed).
* ``postman_mock_factory``: ``await postman_mock_factory(tps=..., variables=..., ...)``
  returns a new running ``MockServer`` shaped by its arguments; every one stops after the
  test.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import AsyncIterator

import pytest

from ._factory import MockFactory, MockStarter
from ._server import MockServer


async def _serve_factory() -> AsyncIterator[MockFactory]:
    """Start mock Postman servers shaped per call; all stop after the test.

    ``server = await postman_mock_factory(tps=5, variables=("name",), environment="production",
    profile="realistic", faults=FaultConfig(...))``: see ``postman_async.testing.MockFactory``.
    """
    async with contextlib.AsyncExitStack() as stack:
        yield MockStarter(stack)


async def _serve_default(postman_mock_factory: MockFactory) -> MockServer:
    """A mock Postman on a free loopback port for one test (a ``MockServer``).

    One test-environment campaign: ``key_test_`` key, 10 requests per second, template
    variable ``otp``, English, fast lifecycle at real speed. Use ``postman_mock.base_url``,
    ``.campaign_id``, ``.api_key``; drive it with ``postman_mock.state``.
    """
    return await postman_mock_factory()


if importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    postman_mock_factory = pytest_asyncio.fixture(_serve_factory, name="postman_mock_factory")
    postman_mock = pytest_asyncio.fixture(_serve_default, name="postman_mock")
else:  # pragma: no cover - exercised only where pytest-asyncio is missing

    @pytest.fixture(name="postman_mock_factory")
    def _missing_factory() -> None:
        pytest.fail("postman_mock_factory needs pytest-asyncio: pip install pytest-asyncio")

    @pytest.fixture(name="postman_mock")
    def _missing_mock() -> None:
        pytest.fail("postman_mock needs pytest-asyncio: pip install pytest-asyncio")
