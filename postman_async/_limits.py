"""Per-campaign rate limiting with priority lanes.

Postman allows each campaign ``tps`` requests per second across every endpoint
and drops the excess with a 429.  The server's window model is undocumented,
so the client keeps the strictest promise: **no window of one second ever sees
more than ``tps`` requests leave the client**.  It does so with a sliding log
of the last grants: a request may leave at time ``t`` only if fewer than
``tps`` grants happened in ``(t - period - margin, t]``.  Bursts are allowed
(an OTP leaves at once when budget is free), and a steady stream runs at
``tps / (period + margin)``.

A leaky bucket such as ``aiolimiter.AsyncLimiter(10, 1)`` cannot keep that
promise: it starts full, lets ``tps`` through at once and then drips at
``tps`` per second, so the first second sees up to ``2 * tps - 1`` requests.

Waiting requests are served by priority (:class:`Priority`), then in arrival
order, so a send never waits behind a status read.  Cancelling a waiter gives
its place back, including a slot it was granted but had not used yet.

:class:`RateLimiter` is the small interface the client needs; a cross-process
implementation (Redis, say) can replace :class:`SlidingWindowLimiter`.
"""

from __future__ import annotations

__all__ = ["NoLimiter", "Priority", "RateLimiter", "SlidingWindowLimiter"]

import asyncio
import bisect
import enum
import heapq
import itertools
import math
from typing import Protocol, runtime_checkable

from ._errors import ClientClosedError


class Priority(enum.IntEnum):
    """Which waiting request gets the next free slot: lower values first."""

    #: Single and batch sends: OTPs are urgent.
    SEND = 0
    #: Single and batch retries.
    RETRY = 1
    #: Reads and list calls made by the caller.
    READ = 2
    #: Background status polling: only spare capacity.
    POLL = 3


@runtime_checkable
class RateLimiter(Protocol):
    """What the client needs from a rate limiter (one instance per campaign)."""

    async def acquire(self, priority: Priority, *, timeout: float | None = None) -> float | None:
        """Wait until one request of ``priority`` may leave now, and count it.

        Returns the time the slot was granted (on the event loop's clock), or
        ``None`` (without counting) if no slot came within ``timeout`` seconds.
        Cancelling the wait must give the place (and any slot already granted)
        back.  Raises :class:`~postman_async.ClientClosedError` once closed.
        """
        ...

    def sent(self, granted_at: float, sent_at: float) -> None:
        """Note that the request granted at ``granted_at`` actually left at ``sent_at``.

        Opening a connection (a TLS handshake) can hold a request back after
        its grant, while later requests reuse a warm connection; counting the
        real departure keeps the server's one-second windows honest.  A
        limiter that cannot use this may ignore it.
        """
        ...

    def slow_down(self, retry_after: float | None) -> None:
        """Note that Postman answered 429: someone else may share the budget."""
        ...

    def close(self) -> None:
        """Fail every waiter and every later acquire with ClientClosedError."""
        ...


class _Expired(Exception):
    """Internal: a waiter's timeout passed before it got a slot."""


def _expire(fut: asyncio.Future[float]) -> None:
    if not fut.done():
        fut.set_exception(_Expired())


class NoLimiter:
    """A limiter that never waits (``tps=None``)."""

    __slots__ = ("_closed",)

    def __init__(self) -> None:
        self._closed = False

    async def acquire(self, priority: Priority, *, timeout: float | None = None) -> float | None:
        """Return the loop's time at once, unless closed."""
        if self._closed:
            raise ClientClosedError("the client is closed")
        return asyncio.get_running_loop().time()

    def sent(self, granted_at: float, sent_at: float) -> None:
        """Do nothing: nothing is counted."""

    def slow_down(self, retry_after: float | None) -> None:
        """Do nothing: there is no budget to shrink."""

    def close(self) -> None:
        """Refuse later acquires."""
        self._closed = True


class SlidingWindowLimiter:
    """At most ``rate`` grants in any window of ``period`` seconds, by priority.

    Args:
        rate: requests allowed per ``period`` (Postman's TPS for the campaign).
        period: the window length in seconds.
        margin: seconds added to ``period`` so that scheduling jitter between
            leaving the client and reaching Postman cannot squeeze two windows'
            worth into one second on the server's clock.
        slowdown: after a 429, the share of ``rate`` allowed during ``cooldown``.
        cooldown: seconds that the reduced rate lasts after the latest 429.
        poll_reserve: share of each window that background status polls
            (:attr:`Priority.POLL`) leave free for sends; at least one slot is
            always open to polls.
    """

    __slots__ = (
        "_closed",
        "_cooldown_until",
        "_heap",
        "_log",
        "_loop",
        "_not_before",
        "_seq",
        "_timer",
        "cooldown",
        "granted",
        "margin",
        "period",
        "poll_reserve",
        "rate",
        "slowdown",
    )

    #: Requests allowed per window.
    rate: int
    #: Window length, seconds.
    period: float
    #: Safety margin added to the window, seconds.
    margin: float
    #: Share of ``rate`` allowed while cooling down after a 429.
    slowdown: float
    #: How long the reduced rate lasts after the latest 429, seconds.
    cooldown: float
    #: Share of each window that status polls leave free for sends.
    poll_reserve: float
    #: Total slots handed out (and not given back).
    granted: int

    def __init__(
        self,
        rate: int,
        *,
        period: float = 1.0,
        margin: float = 0.02,
        slowdown: float = 0.5,
        cooldown: float = 5.0,
        poll_reserve: float = 0.2,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
            raise ValueError(f"rate must be a whole number of requests >= 1, got {rate!r}")
        if period <= 0 or margin < 0 or not 0 < slowdown <= 1 or cooldown < 0:
            raise ValueError("period must be > 0, margin >= 0, 0 < slowdown <= 1, cooldown >= 0")
        if not 0 <= poll_reserve < 1:
            raise ValueError("poll_reserve must be at least 0 and below 1")
        self.rate = rate
        self.period = period
        self.margin = margin
        self.slowdown = slowdown
        self.cooldown = cooldown
        self.poll_reserve = poll_reserve
        self.granted = 0
        # Grant (or actual send) times within the last window, sorted.
        self._log: list[float] = []
        # Waiters: (priority, arrival order, future resolved with the grant time).
        self._heap: list[tuple[int, int, asyncio.Future[float]]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._not_before = -math.inf
        self._cooldown_until = -math.inf
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.rate} per {self.period:g}s "
            f"waiting={self.waiting} granted={self.granted}>"
        )

    @property
    def waiting(self) -> int:
        """How many callers are waiting for a slot now."""
        return sum(1 for _, _, fut in self._heap if not fut.done())

    # ------------------------------------------------------------------ public

    async def acquire(
        self, priority: Priority = Priority.READ, *, timeout: float | None = None
    ) -> float | None:
        """Wait for a slot for one request of ``priority``, then count it.

        Returns the grant time, or ``None`` if no slot came within ``timeout`` seconds.
        """
        if self._closed:
            raise ClientClosedError("the client is closed")
        loop = self._loop = asyncio.get_running_loop()
        now = loop.time()
        if not self._heap and self._next_free(now, priority) <= now:
            self._grant(now)
            return now
        if timeout is not None and timeout <= 0:
            return None
        fut: asyncio.Future[float] = loop.create_future()
        heapq.heappush(self._heap, (int(priority), next(self._seq), fut))
        self._dispatch()
        # A timer, not asyncio.wait_for: on Python < 3.12 wait_for can swallow a
        # cancellation that races with the result.
        expiry = None if timeout is None else loop.call_later(timeout, _expire, fut)
        try:
            granted_at = await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                # Granted, but the caller went away before using it: give it back.
                self._give_back(fut.result())
            self._forget_cancelled()
            self._dispatch()
            raise
        except _Expired:
            self._forget_cancelled()
            return None
        finally:
            if expiry is not None:
                expiry.cancel()
        return granted_at

    def sent(self, granted_at: float, sent_at: float) -> None:
        """Count the request granted at ``granted_at`` as leaving at ``sent_at`` instead."""
        log = self._log
        index = bisect.bisect_left(log, granted_at)
        if sent_at <= granted_at or index == len(log) or log[index] != granted_at:
            return
        del log[index]
        bisect.insort(log, sent_at)

    def slow_down(self, retry_after: float | None) -> None:
        """Shrink the budget for ``cooldown`` seconds after a 429.

        When Postman says ``Retry-After``, nothing leaves before it has passed.
        """
        if self._loop is None:
            return
        now = self._loop.time()
        self._cooldown_until = now + self.cooldown
        if retry_after is not None and retry_after > 0:
            self._not_before = max(self._not_before, now + retry_after)
        self._dispatch()

    def close(self) -> None:
        """Fail every waiter with :class:`ClientClosedError`; refuse later acquires."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        heap, self._heap = self._heap, []
        for _, _, fut in heap:
            if not fut.done():
                fut.set_exception(ClientClosedError("the client was closed while waiting"))

    # ------------------------------------------------------------------ internals

    def _capacity(self, now: float, priority: int = Priority.SEND) -> int:
        capacity = self.rate
        if now < self._cooldown_until:
            capacity = max(1, math.floor(self.rate * self.slowdown))
        if priority >= Priority.POLL:
            # Background polls leave part of every window free, so that a send arriving
            # just after a poll need not wait for the window to move.
            capacity -= min(capacity - 1, math.ceil(capacity * self.poll_reserve))
        return capacity

    def _next_free(self, now: float, priority: int = Priority.SEND) -> float:
        """The earliest time a request of ``priority`` may leave, given the grants so far."""
        window = self.period + self.margin
        log = self._log
        stale = bisect.bisect_right(log, now - window)
        if stale:
            del log[:stale]
        capacity = self._capacity(now, priority)
        earliest = max(now, self._not_before)
        if len(log) < capacity:
            return earliest
        # The slot frees when the capacity-th most recent grant leaves the window.
        return max(earliest, log[len(log) - capacity] + window)

    def _grant(self, now: float) -> None:
        bisect.insort(self._log, now)  # usually an append; `sent` may have moved some later
        self.granted += 1

    def _give_back(self, granted_at: float) -> None:
        try:
            self._log.remove(granted_at)
        except ValueError:  # already out of the window: nothing to return
            return
        self.granted -= 1

    def _forget_cancelled(self) -> None:
        live = [entry for entry in self._heap if not entry[2].done()]
        if len(live) != len(self._heap):
            heapq.heapify(live)
            self._heap = live

    def _dispatch(self) -> None:
        """Hand free slots to waiters in priority order; arm a timer for the rest."""
        if self._closed or self._loop is None:
            return
        loop = self._loop
        heap = self._heap
        while heap:
            fut = heap[0][2]
            if fut.done():  # cancelled while waiting
                heapq.heappop(heap)
                continue
            now = loop.time()
            at = self._next_free(now, heap[0][0])
            if at > now:
                self._arm(at)
                return
            heapq.heappop(heap)
            self._grant(now)
            fut.set_result(now)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, at: float) -> None:
        timer = self._timer
        if timer is not None:
            if timer.when() <= at:
                return
            timer.cancel()
        assert self._loop is not None
        self._timer = self._loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch()
