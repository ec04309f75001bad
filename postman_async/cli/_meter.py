"""How much of the campaign's rate budget is in use: grants of the limiter in the last second."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Any, cast

from .._limits import RateLimiter, SlidingWindowLimiter


class RateMeter:
    """Counts the requests the campaign's limiter let through, over a sliding second.

    Pass :meth:`factory` as the client's ``limiter_factory``: every limiter it
    makes is the usual in-process one, wrapped to record each grant.

    Args:
        clock: seconds, monotonic (tests pass their own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._times: collections.deque[float] = collections.deque()
        #: Requests per second the campaign allows (set by the limiter made last).
        self.tps = 0
        #: Every grant so far.
        self.total = 0

    def record(self) -> None:
        """Count one request let through now."""
        self._times.append(self._clock())
        self.total += 1

    def in_last_second(self) -> int:
        """Requests let through within the last second."""
        now = self._clock()
        while self._times and self._times[0] <= now - 1.0:
            self._times.popleft()
        return len(self._times)

    def describe(self) -> str:
        """``"rate budget 7/10 requests in the last second"``."""
        limit = f"/{self.tps}" if self.tps else ""
        return f"rate budget {self.in_last_second()}{limit} requests in the last second"

    def factory(self, campaign_id: str, tps: int) -> RateLimiter:
        """A ``limiter_factory`` for :class:`~postman_async.PostmanClient`."""
        self.tps = tps
        return cast(RateLimiter, _MeteredLimiter(SlidingWindowLimiter(tps), self))


class _MeteredLimiter:
    """A limiter that reports each grant to a meter and otherwise behaves as the one it wraps."""

    def __init__(self, inner: RateLimiter, meter: RateMeter) -> None:
        self._inner = inner
        self._meter = meter

    async def acquire(self, *args: Any, **kwargs: Any) -> Any:
        grant = await self._inner.acquire(*args, **kwargs)
        if grant is not None:
            self._meter.record()
        return grant

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
