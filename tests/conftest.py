"""Shared fixtures and helpers."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import inspect
import json
import pathlib
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import looptime
import pytest

from postman_async import Grant, PostmanError, Priority, SlidingWindowLimiter
from postman_async.testing import Request, Response, TransportError

T = TypeVar("T")

#: The mock's own tests (``tests/testing``) that use one of these fixtures, or whose
#: body calls one of ``_SOCKET_CALLS``, open sockets or processes: they are ``slow``.
#: (``tests/e2e`` and ``tests/reliability`` mark whole modules themselves.)
_SOCKET_FIXTURES = frozenset(
    {"server", "api", "session", "postman_mock", "postman_mock_factory", "pytester"}
)
_SOCKET_CALLS = (
    "serve_mock(",
    "subprocess",
    "run_pytest(",
    "cli_mock(",
    "start_server(",
    "ClientSession(",
)
_MOCK_TESTS = pathlib.Path(__file__).parent / "testing"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the mock's tests that open sockets or processes as ``slow`` (see above)."""
    for item in items:
        if not isinstance(item, pytest.Function) or not item.path.is_relative_to(_MOCK_TESTS):
            continue
        source = inspect.getsource(item.function)
        if _SOCKET_FIXTURES & set(item.fixturenames) or any(c in source for c in _SOCKET_CALLS):
            item.add_marker(pytest.mark.slow)


#: What a :class:`Replies` route answers with: a response, or a function of the request
#: that returns one (or raises :class:`TransportError`).
Answer = Response | Callable[[Request], Response]


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main`` on an event loop whose clock starts at 0 and jumps when idle.

    ``asyncio.sleep(10)`` returns at once in real time while ``loop.time()``
    advances by exactly 10: timing logic is tested without sleeping.
    """
    loop = looptime.new_event_loop(start=0.0)
    # Our own executor, joined in real time: on Python 3.12+ asyncio.Runner joins the
    # default executor with a 300 s timeout, which a virtual clock runs out at once.
    executor = concurrent.futures.ThreadPoolExecutor()
    loop.set_default_executor(executor)
    try:
        return loop.run_until_complete(main())
    finally:
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            executor.shutdown(wait=True)
            loop.close()


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Most events in any half-open window ``[t, t + window)``.

    Times are compared to the virtual clock's resolution (1 microsecond), so
    float rounding in ``t + 1.0`` does not count as a shorter gap.
    """
    times = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window - 1e-7:
            start += 1
        best = max(best, end - start + 1)
    return best


def reply(
    body: object = b"", status: int = 200, *, headers: Mapping[str, str] | None = None
) -> Response:
    """A response: ``body`` as given if bytes or str, else encoded as JSON."""
    if isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = json.dumps(body).encode()
    return Response(status=status, body=data, headers=dict(headers or {}))


def fail(error: Callable[[], PostmanError], *, sent: bool, retryable: bool = True) -> Answer:
    """An answer that acts out a failed attempt: a fresh ``error()`` each time."""

    def answer(request: Request) -> Response:
        raise TransportError(error(), sent=sent, retryable=retryable)

    return answer


class Replies:
    """A :class:`~postman_async.testing.MockTransport` handler scripted by method and URL.

    Each route answers with its queued answers in order, then with its
    ``repeat`` answer (if any) for ever; a request nothing was scripted for
    fails the test.  Every request is kept in :attr:`requests`.
    """

    def __init__(self) -> None:
        self._queued: dict[tuple[str, str], collections.deque[Answer]] = collections.defaultdict(
            collections.deque
        )
        self._repeat: dict[tuple[str, str], Answer] = {}
        self.requests: list[Request] = []

    def on(self, method: str, url: str, *answers: Answer, repeat: Answer | None = None) -> None:
        """Script the answers to ``method url`` (``url`` without its query)."""
        self._queued[method, url].extend(answers)
        if repeat is not None:
            self._repeat[method, url] = repeat

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        key = (request.method, request.url)
        queue = self._queued.get(key)
        if queue:
            answer = queue.popleft()
        elif key in self._repeat:
            answer = self._repeat[key]
        else:
            raise AssertionError(f"nothing scripted for {request!r}")
        return answer if isinstance(answer, Response) else answer(request)

    def to(self, method: str, url: str) -> list[Request]:
        """The requests made to ``method url``, in order."""
        return [r for r in self.requests if (r.method, r.url) == (method, url)]


class RecordingGrant:
    """A grant that passes its report on, noting the departure time (loop time)."""

    def __init__(self, inner: Grant, record: RecordingLimiter) -> None:
        self._inner = inner
        self._record = record
        self._done = False

    def sent(self) -> None:
        first = not self._done
        self._done = True
        self._inner.sent()
        if first:
            self._record.departed(asyncio.get_running_loop().time())

    def release(self) -> None:
        if not self._done:
            self._done = True
            self._record.released += 1
        self._inner.release()


class RecordingLimiter:
    """A :class:`~postman_async.RateLimiter` that wraps another and records what it sees.

    Attributes:
        priorities: the priority of every ``acquire``, in order.
        departures: the loop time of every grant's ``sent()``.
        released: grants given back unsent.
        slowdowns: the ``retry_after`` of every ``slow_down``.
    """

    def __init__(self, inner: SlidingWindowLimiter) -> None:
        self.inner = inner
        self.priorities: list[Priority] = []
        self.departures: list[float] = []
        self.released = 0
        self.slowdowns: list[float | None] = []

    async def acquire(self, priority: Priority, *, timeout: float | None = None) -> Grant | None:
        self.priorities.append(priority)
        grant = await self.inner.acquire(priority, timeout=timeout)
        return None if grant is None else RecordingGrant(grant, self)

    def slow_down(self, retry_after: float | None) -> None:
        self.slowdowns.append(retry_after)
        self.inner.slow_down(retry_after)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def departed(self, at: float) -> None:
        """A grant reported its request's departure at loop time ``at``."""
        self.departures.append(at)
