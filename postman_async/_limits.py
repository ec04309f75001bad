"""Per-campaign rate limiting with priority lanes, counted at departure.

Postman allows each campaign ``tps`` requests per second across every endpoint
and drops the excess with a 429.  The server's window model is undocumented,
so the client keeps the strictest promise: **no window of one second (plus a
small margin) ever sees more than ``tps`` requests leave the client**.

The promise is about departures, not grants.  A request granted a slot may
leave late: it waits for a pooled connection, a TLS handshake, or a loop busy
with thousands of tasks.  So a :class:`Grant` that has not reported its
departure counts as occupying *every* window until it does
(:meth:`Grant.sent`), and from then on it counts at its real departure time.
A request that stalls therefore never leaves into a full window: the budget it
holds is the budget it spends.  (Proof sketch: take any window and the last
grant among the requests that left in it; when that grant was made, each
other one had either left inside the window or was still pending, and both
were counted, so the grant was allowed only if fewer than ``tps`` were.)

Waiting requests are served by :class:`Priority`, then in arrival order.
Reads and polls leave a share of every window (``send_reserve``) to sends and
retries, so an OTP never waits for a window full of reads; a status poll that
has waited longer than ``max_poll_wait`` is served next, with a send's share,
so tracking keeps up while sends use most of the budget (the tracker polls one
request at a time, so this lets at most one poll a round go ahead of sends).

:class:`RateLimiter` and :class:`Grant` are the interface the client needs;
:mod:`postman_async.redis` implements it for a whole fleet of processes.
"""

from __future__ import annotations

__all__ = [
    "Admission",
    "Grant",
    "LimiterFactory",
    "LimiterSnapshot",
    "NoLimiter",
    "Priority",
    "RateLimiter",
    "SlidingWindowLimiter",
]

import asyncio
import bisect
import collections
import enum
import heapq
import itertools
import math
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import msgspec

from ._errors import ClientClosedError, LimiterTimeoutError


class Priority(enum.IntEnum):
    """Which waiting request gets the next free slot: lower values first."""

    #: Single and batch sends: OTPs are urgent.
    SEND = 0
    #: Single and batch retries.
    RETRY = 1
    #: Reads and list calls made by the caller.
    READ = 2
    #: Background status polling.
    POLL = 3


@runtime_checkable
class Grant(Protocol):
    """One request's slot in a campaign's budget.

    Exactly one of :meth:`sent` and :meth:`release` takes effect; later calls
    of either do nothing.
    """

    def sent(self) -> None:
        """The request's bytes are leaving now (or may have left): count it from now."""
        ...

    def release(self) -> None:
        """The request never left: give the slot back."""
        ...


class LimiterSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A cheap view of one campaign's limiter, for dashboards and admission control.

    A web endpoint can read it to answer "try again in N s" itself (see
    :meth:`Campaign.limiter_snapshot <postman_async.Campaign.limiter_snapshot>`).

    Attributes:
        waiting: calls waiting for budget now, by priority name (``"SEND"``,
            ``"RETRY"``, ``"READ"``, ``"POLL"``); priorities with none are left out.
        expected_wait: seconds a new send asking now would wait for budget
            (``0`` when a slot is free; an estimate when calls queue ahead of
            it; ``math.inf`` if it cannot be estimated).
        grants_in_window: requests granted in the last window: those that left
            in it, plus those granted that have not left yet.
        capacity: requests one window may hold now (lower while cooling down
            after a 429).
        window: the window's length, seconds.
    """

    waiting: dict[str, int]
    expected_wait: float
    grants_in_window: int
    capacity: int
    window: float


@runtime_checkable
class RateLimiter(Protocol):
    """What the client needs from a rate limiter (one object per campaign per client)."""

    async def acquire(self, priority: Priority, *, timeout: float | None = None) -> Grant | None:
        """Wait until one request of ``priority`` may leave, and reserve its slot.

        Returns the :class:`Grant`, or ``None`` (nothing reserved) if no slot
        came within ``timeout`` seconds.  Cancelling the wait gives the place
        (and a slot already granted) back.  Raises
        :class:`~postman_async.ClientClosedError` once closed.
        """
        ...

    def slow_down(self, retry_after: float | None) -> None:
        """Postman answered 429: shrink the budget for a while.

        Nothing leaves before ``retry_after`` seconds have passed, when given.
        """
        ...

    async def aclose(self) -> None:
        """Fail every waiter and every later acquire with ClientClosedError."""
        ...


@runtime_checkable
class Admission(Protocol):
    """Optional for a :class:`RateLimiter`: refuse at once a call that cannot get budget in time.

    The request loop calls :meth:`admit` just before
    :meth:`RateLimiter.acquire`, when the limiter has it; a limiter without
    it (a third party's) is simply not asked, and its calls wait until their
    deadline as before.
    """

    def admit(self, priority: Priority, timeout: float | None) -> None:
        """Raise LimiterTimeoutError now if a request asking now cannot get a slot in time.

        That is: its expected wait is longer than ``timeout`` seconds, or the
        limiter's cap on waiting calls is reached.  The error carries the
        expected wait in its message and in ``expected_wait``.
        """
        ...


#: ``(campaign_id, tps) -> RateLimiter``.  Each call returns a new limiter that
#: the client owns and closes; to share a budget between clients or processes,
#: share the state behind the objects (as :mod:`postman_async.redis` does).
LimiterFactory = Callable[[str, int], RateLimiter]


class _Expired(Exception):
    """Internal: a waiter's timeout passed before it got a slot."""


def _expire(fut: asyncio.Future[_Slot]) -> None:
    if not fut.done():
        fut.set_exception(_Expired())


class _Done:
    """The grant handed out by :class:`NoLimiter`: nothing to report."""

    __slots__ = ()

    def sent(self) -> None:
        """Do nothing."""

    def release(self) -> None:
        """Do nothing."""


_DONE = _Done()


class NoLimiter:
    """A limiter that never waits (``tps=None``, or calls the server does not limit)."""

    __slots__ = ("_closed",)

    def __init__(self) -> None:
        self._closed = False

    def __repr__(self) -> str:
        return "<NoLimiter>"

    async def acquire(self, priority: Priority, *, timeout: float | None = None) -> Grant | None:
        """Grant at once, unless closed."""
        if self._closed:
            raise ClientClosedError("the client is closed")
        return _DONE

    def slow_down(self, retry_after: float | None) -> None:
        """Do nothing: there is no budget to shrink."""

    def snapshot(self) -> LimiterSnapshot:
        """Nothing waits, nothing is counted."""
        return LimiterSnapshot(
            waiting={}, expected_wait=0.0, grants_in_window=0, capacity=0, window=0.0
        )

    async def aclose(self) -> None:
        """Refuse later acquires."""
        self._closed = True


class _Slot:
    """A :class:`SlidingWindowLimiter` grant: pending until sent or released."""

    __slots__ = ("_limiter", "pending")

    def __init__(self, limiter: SlidingWindowLimiter) -> None:
        self._limiter = limiter
        self.pending = True

    def __repr__(self) -> str:
        return f"<Grant {'pending' if self.pending else 'done'}>"

    def sent(self) -> None:
        """Count the request from now on (it was counted as pending until now)."""
        if self.pending:
            self.pending = False
            self._limiter._depart()

    def release(self) -> None:
        """Give the slot back: the request never left."""
        if self.pending:
            self.pending = False
            self._limiter._give_back()


class _Waiter:
    """One caller waiting for a slot."""

    __slots__ = ("arrived", "fut", "priority", "seq")

    def __init__(self, priority: int, seq: int, arrived: float, fut: asyncio.Future[_Slot]) -> None:
        self.priority = priority
        self.seq = seq
        self.arrived = arrived
        self.fut = fut

    def __lt__(self, other: _Waiter) -> bool:
        return (self.priority, self.seq) < (other.priority, other.seq)


class SlidingWindowLimiter:
    """At most ``rate`` departures in any window of ``period + margin`` seconds, by priority.

    Args:
        rate: requests allowed per ``period`` (Postman's TPS for the campaign).
        period: the window length in seconds.
        margin: seconds added to ``period`` so that jitter between leaving the
            client and reaching Postman cannot squeeze two windows' worth into
            one second on the server's clock.
        slowdown: after a 429, the share of ``rate`` allowed during ``cooldown``.
        cooldown: seconds that the reduced rate lasts after the latest 429.
        send_reserve: share of each window that reads and polls leave free
            for sends and retries (at least one slot stays open to them).
        max_poll_wait: seconds after which a waiting status poll is served
            next, before sends and with their share of the window, so tracking
            keeps up while sends use most of the budget.
        max_retry_after: the longest pause a 429's ``Retry-After`` can impose,
            seconds.
        max_waiting: the most calls that may wait for a slot at once; a call
            beyond it is refused at once by :meth:`admit` (``None``: no cap).
    """

    __slots__ = (
        "_closed",
        "_cooldown_until",
        "_counts",
        "_dead",
        "_lanes",
        "_log",
        "_loop",
        "_not_before",
        "_pending",
        "_polls",
        "_seq",
        "_timer",
        "_urgent",
        "cooldown",
        "granted",
        "margin",
        "max_poll_wait",
        "max_retry_after",
        "max_waiting",
        "period",
        "rate",
        "send_reserve",
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
    #: Share of each window that reads and polls leave free for sends.
    send_reserve: float
    #: Seconds after which a waiting status poll goes first.
    max_poll_wait: float
    #: Longest pause one 429 can impose, seconds.
    max_retry_after: float
    #: Most calls that may wait at once (``None``: no cap).
    max_waiting: int | None
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
        send_reserve: float = 0.2,
        max_poll_wait: float = 1.0,
        max_retry_after: float = 60.0,
        max_waiting: int | None = None,
    ) -> None:
        if max_waiting is not None and (
            isinstance(max_waiting, bool) or not isinstance(max_waiting, int) or max_waiting < 0
        ):
            raise ValueError(
                f"max_waiting must be a whole number >= 0 or None, got {max_waiting!r}"
            )
        if isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= 1_000_000:
            raise ValueError(f"rate must be a whole number of requests, 1 to 1e6, got {rate!r}")
        for name, value in (
            ("period", period),
            ("margin", margin),
            ("cooldown", cooldown),
            ("max_poll_wait", max_poll_wait),
            ("max_retry_after", max_retry_after),
        ):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if period <= 0:
            raise ValueError("period must be > 0")
        if not (isinstance(slowdown, (int, float)) and 0 < slowdown <= 1):
            raise ValueError("slowdown must be above 0 and at most 1")
        if not (isinstance(send_reserve, (int, float)) and 0 <= send_reserve < 1):
            raise ValueError("send_reserve must be at least 0 and below 1")
        self.rate = rate
        self.period = float(period)
        self.margin = float(margin)
        self.slowdown = float(slowdown)
        self.cooldown = float(cooldown)
        self.send_reserve = float(send_reserve)
        self.max_poll_wait = float(max_poll_wait)
        self.max_retry_after = float(max_retry_after)
        self.max_waiting = max_waiting
        self.granted = 0
        # Callers inside acquire() waiting for a slot, by priority.
        self._counts = [0] * len(Priority)
        # Departure times within the last window, sorted.
        self._log: list[float] = []
        # Granted slots whose requests have not left yet: they occupy every window.
        self._pending = 0
        # Waiting sends and retries (a heap), waiting reads and polls (a heap), and the
        # polls again in arrival order, to find the oldest for ageing.  Entries
        # whose future is done (cancelled, expired) are skipped and counted in _dead.
        self._urgent: list[_Waiter] = []
        self._lanes: list[_Waiter] = []
        self._polls: collections.deque[_Waiter] = collections.deque()
        self._dead = 0
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
        return sum(self._counts)

    @property
    def window(self) -> float:
        """The window the limit applies to, seconds (``period + margin``)."""
        return self.period + self.margin

    # ------------------------------------------------------------------ public

    async def acquire(
        self, priority: Priority = Priority.READ, *, timeout: float | None = None
    ) -> Grant | None:
        """Wait for a slot for one request of ``priority``, and reserve it.

        Returns the grant, or ``None`` if no slot came within ``timeout`` seconds.
        """
        if self._closed:
            raise ClientClosedError("the client is closed")
        loop = self._loop = asyncio.get_running_loop()
        now = loop.time()
        if not self._urgent and not self._lanes and self._next_free(now, priority) <= now:
            return self._grant()
        if timeout is not None and timeout <= 0:
            return None
        fut: asyncio.Future[_Slot] = loop.create_future()
        waiter = _Waiter(int(priority), next(self._seq), now, fut)
        if priority >= Priority.READ:
            heapq.heappush(self._lanes, waiter)
            if priority is Priority.POLL:
                self._polls.append(waiter)
        else:
            heapq.heappush(self._urgent, waiter)
        self._dispatch()
        # A timer, not asyncio.wait_for, so the wait costs no extra task.
        expiry = None if timeout is None else loop.call_later(timeout, _expire, fut)
        self._counts[priority] += 1
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                fut.result().release()  # granted, but the caller went away before using it
            else:
                self._bury()
            self._dispatch()
            raise
        except _Expired:
            self._bury()
            return None
        finally:
            self._counts[priority] -= 1
            if expiry is not None:
                expiry.cancel()

    def slow_down(self, retry_after: float | None) -> None:
        """Shrink the budget for ``cooldown`` seconds after a 429.

        When Postman says ``Retry-After``, nothing leaves before it has passed
        (capped at :attr:`max_retry_after`).
        """
        if self._loop is None:
            return
        now = self._loop.time()
        self._cooldown_until = now + self.cooldown
        if retry_after is not None and retry_after > 0:
            pause = min(retry_after, self.max_retry_after)
            self._not_before = max(self._not_before, now + pause)
        self._dispatch()

    def snapshot(self) -> LimiterSnapshot:
        """The limiter's state now: cheap (a few counters), no I/O."""
        waiting = {p.name: n for p, n in zip(Priority, self._counts, strict=True) if n}
        if self._loop is None:
            return LimiterSnapshot(
                waiting=waiting,
                expected_wait=0.0,
                grants_in_window=0,
                capacity=self.rate,
                window=self.window,
            )
        now = self._loop.time()
        return LimiterSnapshot(
            waiting=waiting,
            expected_wait=self.expected_wait(Priority.SEND),
            grants_in_window=self._count(now),
            capacity=self._capacity(now, Priority.SEND),
            window=self.window,
        )

    def expected_wait(self, priority: Priority) -> float:
        """Seconds a request of ``priority`` asking now would wait, at the current pace.

        Counts the waiters it would queue behind (same or more urgent; for a
        poll, the polls ahead of it once it is ``max_poll_wait`` old) and
        assumes that granted requests leave at once.
        """
        if self._loop is None:
            return 0.0
        now = self._loop.time()
        counts = self._counts
        ahead = sum(counts[: priority + 1])
        if not ahead and self._next_free(now, priority) <= now:
            return 0.0
        wait = max(0.0, self._free_at(now, priority) - now)
        wait += self._windows(now, ahead, priority) * self.window
        if priority == Priority.POLL:
            # A waiting poll goes first once it is max_poll_wait old, after the polls that
            # arrived before it.
            first = max(0.0, self._free_at(now, Priority.SEND) - now)
            polls = counts[Priority.POLL]
            aged = (
                max(first, self.max_poll_wait) + self._windows(now, polls, priority) * self.window
            )
            wait = min(wait, aged)
        return wait

    def _windows(self, now: float, ahead: int, priority: int) -> int:
        """Whole windows the ``ahead`` waiters take to drain (fewer a window while cooling down)."""
        capacity = self._capacity(now, priority)
        full = self._capacity(max(now, self._cooldown_until), priority)
        if capacity >= full:
            return ahead // capacity
        cooling = math.ceil((self._cooldown_until - now) / self.window)
        if ahead < cooling * capacity:
            return ahead // capacity
        return cooling + (ahead - cooling * capacity) // full

    def admit(self, priority: Priority, timeout: float | None) -> None:
        """Refuse at once a call that cannot get a slot within ``timeout`` seconds.

        Raises:
            LimiterTimeoutError: :attr:`max_waiting` calls already wait, or the
                expected wait (:meth:`expected_wait`) is longer than ``timeout``;
                its ``expected_wait`` says how long a call asking now would wait.
        """
        if self._closed:
            return  # acquire() says so
        cap = self.max_waiting
        if cap is not None and sum(self._counts) >= cap:
            wait = self.expected_wait(priority)
            raise LimiterTimeoutError(
                f"{cap} calls already wait for this campaign's rate budget (max_waiting={cap}); "
                f"a call asking now would wait about {_seconds(wait)}: try again later",
                expected_wait=wait,
            )
        if timeout is None:
            return
        wait = self.expected_wait(priority)
        if wait > timeout:
            raise LimiterTimeoutError(
                f"a call asking now would wait about {_seconds(wait)} for this campaign's "
                f"rate budget, more than the {timeout:.3g} s left before its deadline "
                f"({sum(self._counts)} calls wait already); refused at once, nothing was sent: "
                "raise timeout=, send less at once, or try again later",
                expected_wait=wait,
            )

    async def aclose(self) -> None:
        """Fail every waiter with :class:`ClientClosedError`; refuse later acquires."""
        self.close()

    def close(self) -> None:
        """Synchronous form of :meth:`aclose`."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiters = [*self._urgent, *self._lanes]
        self._urgent, self._lanes = [], []
        self._polls.clear()
        for w in waiters:
            if not w.fut.done():
                w.fut.set_exception(ClientClosedError("the client was closed while waiting"))

    # ------------------------------------------------------------------ internals

    def _capacity(self, now: float, priority: int) -> int:
        capacity = self.rate
        if now < self._cooldown_until:
            capacity = max(1, math.floor(self.rate * self.slowdown))
        if priority >= Priority.READ:
            # Reads and polls leave part of every window free, so that a send arriving
            # just after them need not wait for the window to move.
            capacity -= min(capacity - 1, math.ceil(capacity * self.send_reserve))
        return capacity

    def _prune(self, now: float) -> None:
        log = self._log
        stale = bisect.bisect_right(log, now - self.window)
        if stale:
            del log[:stale]

    def _count(self, now: float) -> int:
        self._prune(now)
        return len(self._log) + self._pending

    def _next_free(self, now: float, priority: int) -> float:
        """The earliest time a request of ``priority`` may leave; inf if only a departure helps."""
        self._prune(now)
        capacity = self._capacity(now, priority)
        earliest = max(now, self._not_before)
        log = self._log
        over = len(log) + self._pending - capacity  # how many must leave the window first
        if over < 0:
            return earliest
        if over >= len(log):
            return math.inf  # granted requests that have not left hold the window
        return max(earliest, log[over] + self.window)

    def _free_at(self, now: float, priority: int) -> float:
        """As :meth:`_next_free`, but counting granted requests as leaving now."""
        first = self._next_free(now, priority)
        if not math.isinf(first):
            return first
        # Granted requests that have not left hold the window; once they leave (now,
        # at the earliest) they hold it for one more window.
        return max(now, self._not_before) + self.window

    def _grant(self) -> _Slot:
        self._pending += 1
        self.granted += 1
        return _Slot(self)

    def _depart(self) -> None:
        self._pending -= 1
        if self._loop is not None and not self._closed:
            bisect.insort(self._log, self._loop.time())  # usually an append
            self._dispatch()

    def _give_back(self) -> None:
        self._pending -= 1
        self.granted -= 1
        self._dispatch()

    def _bury(self) -> None:
        """Note one more abandoned waiter; sweep them out once they outnumber the living."""
        self._dead += 1
        if self._dead * 2 > len(self._urgent) + len(self._lanes):
            self._urgent = [w for w in self._urgent if not w.fut.done()]
            self._lanes = [w for w in self._lanes if not w.fut.done()]
            heapq.heapify(self._urgent)
            heapq.heapify(self._lanes)
            self._polls = collections.deque(w for w in self._polls if not w.fut.done())
            self._dead = 0

    def _pop_done(self, heap: list[_Waiter]) -> None:
        while heap and heap[0].fut.done():
            heapq.heappop(heap)

    def _dispatch(self) -> None:
        """Hand free slots to waiters in priority order; arm a timer for the rest."""
        if self._closed or self._loop is None:
            return
        now = self._loop.time()
        urgent, lanes, order = self._urgent, self._lanes, self._polls
        wake = math.inf
        while True:
            self._pop_done(urgent)
            self._pop_done(lanes)
            while order and order[0].fut.done():
                order.popleft()
            if not urgent and not lanes:
                break
            oldest = order[0] if order else None
            aged = oldest is not None and oldest.arrived + self.max_poll_wait <= now
            if aged:
                assert oldest is not None
                waiter, as_priority = oldest, int(Priority.SEND)
            elif urgent:
                waiter, as_priority = urgent[0], urgent[0].priority
            else:
                waiter, as_priority = lanes[0], lanes[0].priority
            at = self._next_free(now, as_priority)
            if at > now:
                wake = at
                if oldest is not None and not aged:
                    wake = min(wake, oldest.arrived + self.max_poll_wait)
                break
            # Granted: the waiter's entry leaves its heap lazily (its future is now done).
            waiter.fut.set_result(self._grant())
        if math.isinf(wake):
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        self._arm(wake)

    def _arm(self, at: float) -> None:
        timer = self._timer
        if timer is not None:
            if timer.when() == at:
                return
            timer.cancel()
        assert self._loop is not None
        self._timer = self._loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch()


def _seconds(wait: float) -> str:
    return "an unknown time" if math.isinf(wait) else f"{wait:.3g} s"
