"""Server-side rate windows, pure: every method takes the current time ``now`` in seconds.

Three models of "N requests per second", since the real window semantics are not
documented:

* ``sliding``: a request at ``t`` is accepted only if fewer than ``tps`` accepted requests
  arrived in ``(t - 1, t]``. The strictest reading.
* ``fixed``: at most ``tps`` accepted requests per one-second window aligned to whole
  seconds of the clock, so up to ``2 * tps`` can pass around a window boundary.
* ``token_bucket``: a bucket of ``tps`` tokens refilled at ``tps`` per second; a request
  takes one token, so bursts of ``tps`` are followed by a steady ``tps`` per second.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Literal, Protocol

#: The accepted names of the rate-limit models.
RateLimitModel = Literal["sliding", "fixed", "token_bucket"]
RATE_LIMIT_MODELS: tuple[RateLimitModel, ...] = ("sliding", "fixed", "token_bucket")

#: Slack for float arithmetic on token counts.
_EPSILON = 1e-9


class MockRateWindow(Protocol):
    """Decides whether a request arriving at ``now`` is within the limit."""

    def try_acquire(self, now: float) -> bool:
        """Record a request at ``now``; return whether it is accepted."""
        ...

    def reset(self) -> None:
        """Forget all past requests."""
        ...


class Unlimited:
    """Accepts everything (a campaign with ``tps=None``)."""

    __slots__ = ()

    def try_acquire(self, now: float) -> bool:
        """Accept the request."""
        return True

    def reset(self) -> None:
        """Nothing to forget."""


class SlidingWindow:
    """At most ``tps`` accepted requests in any half-open one-second window ``(t - 1, t]``."""

    __slots__ = ("_accepted", "tps")

    def __init__(self, tps: int) -> None:
        _check_tps(tps)
        #: Requests allowed per second.
        self.tps = tps
        self._accepted: deque[float] = deque()

    def try_acquire(self, now: float) -> bool:
        """Accept the request if fewer than ``tps`` were accepted after ``now - 1``."""
        accepted = self._accepted
        horizon = now - 1.0
        while accepted and accepted[0] <= horizon:
            accepted.popleft()
        if len(accepted) >= self.tps:
            return False
        accepted.append(now)
        return True

    def reset(self) -> None:
        """Forget all past requests."""
        self._accepted.clear()


class FixedWindow:
    """At most ``tps`` accepted requests per window ``[k, k + 1)`` for whole seconds ``k``."""

    __slots__ = ("_count", "_window", "tps")

    def __init__(self, tps: int) -> None:
        _check_tps(tps)
        #: Requests allowed per second.
        self.tps = tps
        self._window = -math.inf
        self._count = 0

    def try_acquire(self, now: float) -> bool:
        """Accept the request if its window has room left."""
        window = math.floor(now)
        if window != self._window:
            self._window = window
            self._count = 0
        if self._count >= self.tps:
            return False
        self._count += 1
        return True

    def reset(self) -> None:
        """Forget all past requests."""
        self._window = -math.inf
        self._count = 0


class TokenBucket:
    """A bucket of ``tps`` tokens, refilled continuously at ``tps`` tokens per second."""

    __slots__ = ("_tokens", "_updated", "tps")

    def __init__(self, tps: int) -> None:
        _check_tps(tps)
        #: Bucket capacity and refill rate per second.
        self.tps = tps
        self._tokens = float(tps)
        self._updated: float | None = None

    def try_acquire(self, now: float) -> bool:
        """Accept the request if a whole token is available, and spend it."""
        if self._updated is not None and now > self._updated:
            self._tokens = min(float(self.tps), self._tokens + (now - self._updated) * self.tps)
        if self._updated is None or now > self._updated:
            self._updated = now
        if self._tokens < 1.0 - _EPSILON:
            return False
        self._tokens -= 1.0
        return True

    def reset(self) -> None:
        """Refill the bucket."""
        self._tokens = float(self.tps)
        self._updated = None


def make_rate_window(tps: int | None, model: str) -> MockRateWindow:
    """Build the rate window for ``tps`` requests per second under ``model``.

    Raises:
        ValueError: If ``model`` is unknown or ``tps`` is not positive.
    """
    if model not in RATE_LIMIT_MODELS:
        raise ValueError(f"rate_limit must be one of {', '.join(RATE_LIMIT_MODELS)}, got {model!r}")
    if tps is None:
        return Unlimited()
    if model == "sliding":
        return SlidingWindow(tps)
    if model == "fixed":
        return FixedWindow(tps)
    return TokenBucket(tps)


def _check_tps(tps: int) -> None:
    if tps < 1:
        raise ValueError(f"tps must be at least 1 (or None for no limit), got {tps}")
