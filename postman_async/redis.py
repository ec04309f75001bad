"""One campaign budget for every process and host: the rate limiter kept in Redis.

Install with ``pip install 'postman-async[redis]'`` (redis-py >= 5; Redis >= 6.2
or Valkey)::

    from postman_async import PostmanClient
    from postman_async.redis import RedisLimiterFactory

    factory = RedisLimiterFactory("redis://127.0.0.1:6379/0")
    async with PostmanClient(limiter_factory=factory) as client:
        otp = client.campaign("campaign_...", api_key="...", tps=10)

How it works:

* Every decision is one atomic Lua script on the Redis server, on the
  server's clock (``TIME``).  It keeps a sliding log of departures per
  campaign and, for a caller, reserves the earliest slot that keeps every
  window of ``period + margin + rtt_allowance`` seconds within ``tps``,
  and says how long until it.  The caller sleeps once, exactly that long: no
  polling against Redis.
* A grant counts from its reserved time on, in every window, until its
  process reports that the request left (then it counts from its departure)
  or that it never left (then the slot is free again).  A request that
  stalls after its grant therefore never leaves into a full window.  Reports
  ride on the process's next script call when one comes within
  ``report_delay``; otherwise they go alone.  A grant whose process goes
  silent (crashed) stops counting after ``lease`` seconds.
* Each process keeps its own queue by :class:`~postman_async.Priority` in
  front of Redis; the script keeps a fleet-wide share of every window
  (``send_reserve``) that reads and polls cannot take, so a send never waits
  for a window filled by other processes' reads.
* A 429 seen by any process slows the whole fleet: ``slow_down`` is shared.
* Only a hash of the campaign ID reaches Redis, never the API key.  The keys
  of one campaign share one Redis Cluster hash slot and expire when idle.
* When Redis cannot be reached within ``timeout`` seconds the waiting calls
  fail with :class:`LimiterUnavailableError` (a
  :class:`~postman_async.PostmanError`): sending without the shared budget
  would break it for every process, so the limiter never guesses.
"""

from __future__ import annotations

__all__ = ["LimiterUnavailableError", "RedisLimiter", "RedisLimiterFactory"]

import asyncio
import collections
import contextlib
import heapq
import itertools
import math
import secrets
from dataclasses import dataclass, field

from ._errors import ClientClosedError
from ._limits import Priority

# redis-py comes through _redis_store, which says what to install when it is missing.
from ._redis_store import (
    BUSY,
    LimiterUnavailableError,
    NoBackoff,
    Redis,
    Reply,
    Retry,
    Store,
    campaign_keys,
)

#: Most slots a process holds reserved ahead at once (one more for an urgent waiter).
_AHEAD = 1
#: Seconds reports alone wait before another try after Redis failed.
_QUIET = 0.1


class _Expired(Exception):
    """Internal: a waiter's timeout passed before it got a slot."""


def _expire(fut: asyncio.Future[RedisGrant]) -> None:
    if not fut.done():
        fut.set_exception(_Expired())


class RedisGrant:
    """One request's slot in the campaign's shared budget.

    Exactly one of :meth:`sent` and :meth:`release` counts; later calls do nothing.
    """

    __slots__ = ("_done", "_limiter", "id")

    def __init__(self, limiter: RedisLimiter, grant_id: str) -> None:
        self._limiter = limiter
        self._done = False
        #: The grant's member name in the campaign's Redis log.
        self.id = grant_id

    def __repr__(self) -> str:
        state = "done" if self._done else "held"
        return f"<RedisGrant {self.id} {state}>"

    def sent(self) -> None:
        """The request is leaving now: count it from now on."""
        if not self._done:
            self._done = True
            self._limiter._report_sent(self.id)

    def release(self) -> None:
        """The request never left: give the slot back."""
        if not self._done:
            self._done = True
            self._limiter._report_released(self.id)


@dataclass
class _Reservation:
    id: str
    priority: int
    #: Loop time the slot comes.
    at: float = 0.0
    timer: asyncio.TimerHandle | None = None


@dataclass
class _Outbox:
    """Reports waiting to ride on the next script call."""

    #: (grant id, loop time it left).
    sent: list[tuple[str, float]] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    #: A 429 to share: its Retry-After (0 when none), or None.
    retry_after: float | None = None
    #: Loop time of the oldest report waiting, or inf.
    since: float = math.inf

    def __bool__(self) -> bool:
        return bool(self.sent or self.released or self.retry_after is not None)

    def take(self) -> _Outbox:
        taken = _Outbox(self.sent, self.released, self.retry_after, self.since)
        self.sent, self.released, self.retry_after, self.since = [], [], None, math.inf
        return taken

    def put_back(self, taken: _Outbox) -> None:
        self.sent[:0] = taken.sent
        self.released[:0] = taken.released
        if taken.retry_after is not None:
            self.retry_after = max(self.retry_after or 0.0, taken.retry_after)
        self.since = min(self.since, taken.since)


class RedisLimiter:
    """One client's handle on a campaign's budget in Redis (made by :class:`RedisLimiterFactory`).

    Handles of the same campaign share the budget through Redis, in this
    process and in every other; closing a handle ends only its own waiters.
    """

    __slots__ = (
        "_closed",
        "_factory",
        "_heap",
        "_ids",
        "_keys",
        "_loop",
        "_not_before",
        "_outbox",
        "_quiet_until",
        "_recent",
        "_replay",
        "_reserved",
        "_retry_at",
        "_seq",
        "_task",
        "_wake",
        "campaign_id",
        "round_trips",
        "tps",
    )

    def __init__(self, factory: RedisLimiterFactory, campaign_id: str, tps: int) -> None:
        self._factory = factory
        #: The campaign whose budget this handle shares.
        self.campaign_id = campaign_id
        #: Requests allowed per period, fleet-wide.
        self.tps = tps
        #: Script calls this handle made (NOSCRIPT reloads included).
        self.round_trips = 0
        self._keys = campaign_keys(factory.prefix, campaign_id)
        self._ids = (f"{secrets.token_hex(6)}.{n}" for n in itertools.count())
        self._heap: list[tuple[int, int, asyncio.Future[RedisGrant]]] = []
        self._seq = itertools.count()
        self._reserved: list[_Reservation] = []
        self._outbox = _Outbox()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._not_before = -math.inf
        self._retry_at = -math.inf
        self._quiet_until = -math.inf
        #: This handle's departures within the last window: (grant id, loop time).
        self._recent: collections.deque[tuple[str, float]] = collections.deque()
        self._replay = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<RedisLimiter {self.tps} per {self._factory.period:g}s waiting={self.waiting}>"

    @property
    def waiting(self) -> int:
        """How many callers in this handle wait for a slot now."""
        return sum(1 for _, _, fut in self._heap if not fut.done())

    # ------------------------------------------------------------------ public

    async def acquire(
        self, priority: Priority = Priority.READ, *, timeout: float | None = None
    ) -> RedisGrant | None:
        """Wait for a slot for one request of ``priority``.

        Returns the grant, or ``None`` (nothing counted) if no slot came within
        ``timeout`` seconds.  Raises :class:`LimiterUnavailableError` when
        Redis cannot be reached in time, :class:`~postman_async.ClientClosedError`
        once closed.
        """
        if self._closed:
            raise ClientClosedError("the client is closed")
        if timeout is not None and timeout <= 0:
            return None
        loop = asyncio.get_running_loop()
        self._start(loop)
        fut: asyncio.Future[RedisGrant] = loop.create_future()
        heapq.heappush(self._heap, (int(priority), next(self._seq), fut))
        self._wake.set()
        expiry = None if timeout is None else loop.call_later(timeout, _expire, fut)
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                fut.result().release()  # granted, but the caller went away first
            raise
        except _Expired:
            return None
        finally:
            if expiry is not None:
                expiry.cancel()
            self._forget_done()
            if not self._heap:
                self._give_back_reservations()

    def slow_down(self, retry_after: float | None) -> None:
        """Postman answered 429: slow every process sharing the campaign.

        The budget shrinks to ``slowdown`` of ``tps`` for ``cooldown``
        seconds, fleet-wide; nothing leaves before ``retry_after`` seconds.
        """
        if self._closed or self._loop is None:
            return
        wait = max(0.0, retry_after or 0.0)
        self._not_before = max(self._not_before, self._loop.time() + wait)
        outbox = self._outbox
        outbox.retry_after = max(outbox.retry_after or 0.0, wait)
        outbox.since = min(outbox.since, 0.0)  # send at once
        self._wake.set()

    async def aclose(self) -> None:
        """Fail this handle's waiters with ClientClosedError; report what is left to Redis."""
        if self._closed:
            return
        self._closed = True
        self._give_back_reservations()
        heap, self._heap = self._heap, []
        for _, _, fut in heap:
            if not fut.done():
                fut.set_exception(ClientClosedError("the client was closed while waiting"))
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            if self._outbox:
                await self._call(None, self._outbox.take())
        except LimiterUnavailableError:
            pass  # unreported grants stop counting when their lease ends
        finally:
            await self._factory._closed_one()

    # ------------------------------------------------------------------ grants

    def _report_sent(self, grant_id: str) -> None:
        if self._loop is None:
            return
        now = self._loop.time()
        self._outbox.sent.append((grant_id, now))
        recent = self._recent
        recent.append((grant_id, now))
        while recent[0][1] < now - self._factory.window:
            recent.popleft()
        self._outbox.since = min(self._outbox.since, now)
        self._wake.set()

    def _report_released(self, grant_id: str) -> None:
        self._outbox.released.append(grant_id)
        self._outbox.since = min(self._outbox.since, 0.0)  # a free slot helps at once
        self._wake.set()

    # ------------------------------------------------------------------ the pump

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._task is None:
            self._loop = loop
            self._task = loop.create_task(self._pump(), name=f"redis-limiter:{id(self):x}")

    def _forget_done(self) -> None:
        live = [entry for entry in self._heap if not entry[2].done()]
        if len(live) != len(self._heap):
            heapq.heapify(live)
            self._heap = live

    def _next_ask(self, now: float) -> int | None:
        """The priority to ask Redis a slot for now, or None."""
        self._forget_done()
        if not self._heap or now < self._retry_at:
            return None
        head = self._heap[0][0]
        if not self._reserved:
            return head
        if len(self._reserved) >= len(self._heap) or len(self._reserved) > _AHEAD:
            return None
        if len(self._reserved) < _AHEAD or head < min(r.priority for r in self._reserved):
            return head
        return None

    async def _pump(self) -> None:
        """Ask Redis for slots for the queue's head, one call at a time; carry reports."""
        loop = asyncio.get_running_loop()
        delay = self._factory.report_delay
        while not self._closed:
            now = loop.time()
            ask = self._next_ask(now)
            outbox = self._outbox
            due = math.inf
            if outbox:
                # Reports ride on the next ask when one comes within report_delay.
                due = outbox.since + delay
                if not self._reserved or min(r.at for r in self._reserved) > due:
                    due = outbox.since
                due = max(due, self._quiet_until)
            if ask is None and due > now:
                self._wake.clear()
                wake_at = min(due, self._retry_at if self._heap else math.inf)
                with contextlib.suppress(asyncio.TimeoutError):
                    if math.isinf(wake_at):
                        await self._wake.wait()
                    else:
                        await asyncio.wait_for(self._wake.wait(), max(0.0, wake_at - now))
                continue
            await self._exchange(ask, outbox.take())

    async def _exchange(self, ask: int | None, reports: _Outbox) -> None:
        grant_id = next(self._ids) if ask is not None else ""
        try:
            reply = await self._call((ask, grant_id) if ask is not None else None, reports)
        except asyncio.CancelledError:  # closing: aclose reports what is left
            self._outbox.put_back(reports)
            if ask is not None:
                self._outbox.released.append(grant_id)
            raise
        except LimiterUnavailableError as exc:
            self._outbox.put_back(reports)
            if ask is not None:
                # The script may have run before the answer was lost: give the slot back.
                self._outbox.released.append(grant_id)
            # Redis may come back empty (a restart without persistence): tell it again
            # what left lately.  Reports alone wait a little before the next try.
            self._replay = True
            self._quiet_until = asyncio.get_running_loop().time() + _QUIET
            if ask is not None:  # a lost report alone leaves the waiters' reservations be
                self._fail_waiters(exc)
            return
        self._replay = False
        if ask is None:
            return
        loop = asyncio.get_running_loop()
        if reply.status == BUSY:
            self._retry_at = loop.time() + reply.wait
            return
        self._forget_done()
        if not self._heap:  # the waiter left while Redis answered
            self._report_released(grant_id)
            return
        wait = max(reply.wait, self._not_before - loop.time())
        reservation = _Reservation(grant_id, ask, loop.time() + wait)
        self._reserved.append(reservation)
        if wait <= 0:
            self._fire(reservation)
        else:
            reservation.timer = loop.call_later(wait, self._fire, reservation)

    async def _call(self, ask: tuple[int, str] | None, reports: _Outbox) -> Reply:
        factory = self._factory
        loop = asyncio.get_running_loop()
        now = loop.time()
        args: list[str | int | float] = [
            round(factory.window * 1e6),
            self.tps,
            round(factory.lease * 1e6),
            factory.send_reserve,
            factory.slowdown,
            round(factory.cooldown * 1e6),
            math.ceil((factory.window + factory.lease) * 2000) + 60_000,
            -1 if reports.retry_after is None else round(reports.retry_after * 1e6),
            -1 if ask is None else ask[0],
            "" if ask is None else ask[1],
            1 if factory.restart_wait else 0,
            len(reports.sent),
        ]
        sent = reports.sent
        if self._replay:
            horizon = now - factory.window
            reported = {grant_id for grant_id, _ in sent}
            sent = [
                *((i, at) for i, at in self._recent if at > horizon and i not in reported),
                *sent,
            ]
        args[-1] = len(sent)
        for grant_id, at in sent:
            args += [grant_id, max(0, round((now - at) * 1e6))]
        args.append(len(reports.released))
        args += reports.released
        store = await factory._store()
        before = store.round_trips
        try:
            return await store.run(self._keys, args)
        finally:
            self.round_trips += store.round_trips - before

    def _fire(self, reservation: _Reservation) -> None:
        """A reserved slot has come: hand it to the best waiter, or give it back."""
        if reservation in self._reserved:
            self._reserved.remove(reservation)
        assert self._loop is not None
        late = self._not_before - self._loop.time()
        if late > 0:  # a 429 arrived meanwhile: hold the slot until Retry-After has passed
            reservation.at = self._not_before
            self._reserved.append(reservation)
            reservation.timer = self._loop.call_later(late, self._fire, reservation)
            return
        while self._heap:
            _, _, fut = heapq.heappop(self._heap)
            if not fut.done():
                fut.set_result(RedisGrant(self, reservation.id))
                break
        else:
            self._report_released(reservation.id)
        self._wake.set()

    def _give_back_reservations(self) -> None:
        """Nobody waits any more: free the slots reserved ahead for them."""
        for reservation in self._reserved:
            if reservation.timer is not None:
                reservation.timer.cancel()
            self._report_released(reservation.id)
        self._reserved.clear()

    def _fail_waiters(self, exc: LimiterUnavailableError) -> None:
        heap, self._heap = self._heap, []
        for _, _, fut in heap:
            if not fut.done():
                fut.set_exception(LimiterUnavailableError(str(exc)))


class RedisLimiterFactory:
    """Makes :class:`RedisLimiter` handles that share each campaign's budget through Redis.

    Pass it as ``PostmanClient(limiter_factory=...)`` in every process that
    sends with the same campaigns.

    Args:
        redis: a ``redis://`` URL (the factory then owns the connection and
            closes it when its last limiter closes), or a
            ``redis.asyncio.Redis`` client that stays yours to close.
        prefix: first part of every key.
        period: the window length, seconds.
        margin: seconds added to the window against jitter between leaving
            the client and reaching Postman (as in the in-process limiter).
        rtt_allowance: seconds added for the trip to Redis: a departure is
            logged on the server's clock up to one trip after it happened.
        slowdown: after a 429, the share of ``tps`` allowed fleet-wide during
            ``cooldown`` seconds.
        cooldown: seconds the reduced rate lasts after the latest 429.
        send_reserve: share of every window that reads and polls leave to
            sends and retries, fleet-wide.
        lease: seconds after which a grant whose process never reported it
            stops counting (a crashed process cannot hold slots for longer).
        timeout: seconds one call to Redis may take before the waiting calls
            fail with :class:`LimiterUnavailableError`.
        report_delay: seconds a departure report may wait to ride on the
            process's next call to Redis before it is sent alone.
        restart_wait: when Redis has been up for less than two windows and
            the campaign's keys are gone, the departures and reservations
            before a restart are unknown: wait until they are out of every
            window (two windows after the start) before the first grant.
            Turn off only for a server that is never restarted while clients
            send (a test server with a long ``period``, say).
    """

    def __init__(
        self,
        redis: str | Redis,
        *,
        prefix: str = "postman_async",
        period: float = 1.0,
        margin: float = 0.02,
        rtt_allowance: float = 0.005,
        slowdown: float = 0.5,
        cooldown: float = 5.0,
        send_reserve: float = 0.2,
        lease: float = 10.0,
        timeout: float = 1.0,
        report_delay: float = 0.25,
        restart_wait: bool = True,
    ) -> None:
        if isinstance(redis, str):
            if not redis.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError("redis must be a redis://, rediss:// or unix:// URL or a client")
        elif not isinstance(redis, Redis):
            raise TypeError("redis must be a URL or a redis.asyncio.Redis client")
        if not prefix or any(c in prefix for c in "{} "):
            raise ValueError("prefix must be non-empty, without braces or spaces")
        if period <= 0 or margin < 0 or rtt_allowance < 0:
            raise ValueError("period must be > 0, margin and rtt_allowance >= 0")
        if not 0 < slowdown <= 1 or cooldown < 0 or not 0 <= send_reserve < 1:
            raise ValueError("need 0 < slowdown <= 1, cooldown >= 0, 0 <= send_reserve < 1")
        if lease <= 0 or timeout <= 0 or report_delay < 0:
            raise ValueError("lease and timeout must be > 0, report_delay >= 0")
        self._url = redis if isinstance(redis, str) else None
        self._given = None if isinstance(redis, str) else redis
        self._shared: Store | None = None
        self._open = 0
        self._past_trips = 0
        #: Key prefix.
        self.prefix = prefix
        #: Window length, seconds.
        self.period = period
        #: Jitter margin, seconds.
        self.margin = margin
        #: Allowance for the trip to Redis, seconds.
        self.rtt_allowance = rtt_allowance
        #: Share of ``tps`` allowed during a cooldown.
        self.slowdown = slowdown
        #: Cooldown after a 429, seconds.
        self.cooldown = cooldown
        #: Share of every window kept for sends.
        self.send_reserve = send_reserve
        #: Lease of an unreported grant, seconds.
        self.lease = lease
        #: Deadline of one call to Redis, seconds.
        self.timeout = timeout
        #: Longest wait of a report for a call to ride on, seconds.
        self.report_delay = report_delay
        #: Whether a restarted Redis waits two windows from its start before its first grant.
        self.restart_wait = restart_wait

    def __repr__(self) -> str:
        return f"<RedisLimiterFactory prefix={self.prefix!r} open={self._open}>"

    @property
    def window(self) -> float:
        """The window the script counts in: ``period + margin + rtt_allowance`` seconds."""
        return self.period + self.margin + self.rtt_allowance

    @property
    def round_trips(self) -> int:
        """Commands sent to Redis through this factory's connection so far."""
        return self._past_trips + (0 if self._shared is None else self._shared.round_trips)

    def __call__(self, campaign_id: str, tps: int) -> RedisLimiter:
        """A new handle on ``campaign_id``'s budget of ``tps`` requests per period."""
        if isinstance(tps, bool) or not isinstance(tps, int) or tps < 1:
            raise ValueError(f"tps must be a whole number of requests >= 1, got {tps!r}")
        if not isinstance(campaign_id, str) or not campaign_id:
            raise ValueError("campaign_id must be a non-empty string")
        self._open += 1
        return RedisLimiter(self, campaign_id, tps)

    async def _store(self) -> Store:
        if self._shared is None:
            if self._given is not None:
                client = self._given
            else:
                assert self._url is not None
                # One quick retry on a dropped connection; the limiter's timeout bounds the rest.
                client = Redis.from_url(
                    self._url, retry=Retry(NoBackoff(), 1), socket_connect_timeout=self.timeout
                )
            self._shared = Store(client, timeout=self.timeout)
        return self._shared

    async def _closed_one(self) -> None:
        self._open -= 1
        if self._open == 0 and self._given is None and self._shared is not None:
            store, self._shared = self._shared, None
            self._past_trips += store.round_trips
            await store.redis.aclose()
