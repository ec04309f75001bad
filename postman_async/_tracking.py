"""The status tracker: follows many messages for a handful of API calls.

Postman has no webhooks, and every status read spends the campaign's rate
budget.  One :class:`Tracker` per campaign runs one polling loop for every
caller waiting on that campaign (two callers waiting on one ID cost one
poll).  Each round it picks the cheapest way to learn what changed:

* a few messages: one ``GET /messages/{id}`` each;
* many messages: list pages of the campaign (1,000 messages a call, newest
  first), stopping as soon as every tracked message has been seen;
* batches: list pages of each tracked batch.

Polls use the lowest priority of the campaign's limiter, so they never delay a
send.  The interval grows (with jitter) while nothing changes and drops back to
the minimum when something does.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import random
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Iterable
from typing import Protocol

import msgspec

from ._errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    LimiterTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    PostmanError,
    RateLimitError,
    ServerError,
    TrackingTimeoutError,
    ValidationError,
)
from ._models import BatchReceipt, Message, MessageStatus, Page
from ._paging import CursorWalk, RepeatedPageError
from ._validate import check_timeout, path_segment

logger = logging.getLogger(__name__)

#: Delivery errors worth another attempt when the caller asks for retries.
RETRYABLE_DELIVERY_ERRORS: frozenset[str] = frozenset({"recipient_unavailable"})
#: Postman's cap on attempts per message.
MAX_ATTEMPTS = 3
_TRANSIENT = (APIConnectionError, LimiterTimeoutError, RateLimitError, ServerError)
#: Failures that no later round can cure: they end tracking for every watcher.  Any
#: other failure (a bad body, a 400, an exception of any kind) is one failed round.
_FATAL = (
    AuthenticationError,
    ClientClosedError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)


class StatusSource(Protocol):
    """What the tracker reads through: one campaign's status reads, at poll priority."""

    @property
    def id(self) -> str:
        """The campaign's ID."""
        ...

    async def fetch_message(self, message_id: str) -> Message:
        """One message by ID."""
        ...

    async def fetch_page(self, batch_id: str | None, after: str | None) -> Page:
        """One page of 1,000 of the campaign's messages (or a batch's), newest first."""
        ...

    async def retry(self, message_id: str) -> Message:
        """Retry a failed message."""
        ...


class TrackingPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How the status tracker polls.

    Attributes:
        min_interval: seconds between polls while statuses are changing: the
            knob that trades status reads for latency.  One poll reads up to
            1,000 pending messages in one call, so under a steady stream of
            ``n`` tracked sends a second, tracking costs about
            ``1 / (n * min_interval)`` reads per message, and learning a final
            status takes about ``min_interval / 2`` longer on average
            (``benchmarks/otp_tracking.py`` measures both).
        max_interval: seconds between polls at most, after a quiet spell.
        backoff: factor the interval grows by after a round with no change.
        jitter: share (0 to 1) by which each interval is randomly shortened or
            lengthened, so that many processes do not poll in step.
        telco_final_after: seconds after which ``sent_to_telco`` counts as final
            (Postman: no update is likely after 48 hours).
        foreign_final: treat ``sent_to_telco`` as final at once for numbers
            outside Singapore (Postman: telcos abroad rarely report delivery).
        get_threshold: poll with single GETs while at most this many messages
            are pending (and no batch is tracked); list pages above it.
        fetch_failure_reasons: when a listing reports ``failure`` without the
            attempts, spend one GET to learn the error code.
    """

    min_interval: float = 3.0
    max_interval: float = 30.0
    backoff: float = 1.5
    jitter: float = 0.2
    telco_final_after: float = 48 * 3600.0
    foreign_final: bool = False
    get_threshold: int = 2
    fetch_failure_reasons: bool = True

    def __post_init__(self) -> None:
        # Written so that NaN fails too; infinities would reach the event loop's timers.
        if not 0 < self.min_interval <= self.max_interval < math.inf:
            raise ValueError("need 0 < min_interval <= max_interval, both finite")
        if not (1 <= self.backoff < math.inf and 0 <= self.jitter < 1):
            raise ValueError("need a finite backoff >= 1 and 0 <= jitter < 1")
        if not 0 <= self.telco_final_after <= math.inf:
            raise ValueError("need telco_final_after >= 0 seconds")
        if self.get_threshold < 0:
            raise ValueError("need get_threshold >= 0")


def is_final(message: Message, policy: TrackingPolicy, now: dt.datetime) -> bool:
    """Whether no further status change is expected for ``message``.

    ``success`` and ``failure`` are final; ``sent_to_telco`` becomes final
    after ``policy.telco_final_after`` seconds since its last update, or at
    once for foreign numbers when ``policy.foreign_final`` is set.
    """
    status = message.latest_status
    if status.is_final:
        return True
    if status is not MessageStatus.SENT_TO_TELCO:
        return False
    if policy.foreign_final and message.recipient and not message.recipient.startswith("65"):
        return True
    since = message.updated_at or message.created_at
    return since is not None and (now - since).total_seconds() >= policy.telco_final_after


def attempts_used(message: Message) -> int:
    """How many delivery attempts a message has had, as far as Postman said."""
    return message.num_attempts or len(message.attempts) or 1


class _Watch:
    """One caller's interest: the IDs and batches it waits for, and a queue of updates."""

    def __init__(
        self,
        ids: dict[str, Message | None],
        batches: dict[str, int | None],
        retry_codes: frozenset[str],
    ) -> None:
        self.pending: dict[str, Message | None] = ids
        self.batches = batches  # batch id -> expected number of messages, if known
        self.batch_seen: dict[str, set[str]] = {b: set() for b in batches}
        self.latest: dict[str, Message] = {m.id: m for m in ids.values() if m is not None}
        self.retry_codes = retry_codes
        self.queue: asyncio.Queue[Message | BaseException | None] = asyncio.Queue()
        self.done = False


class Tracker:
    """The shared polling loop of one campaign (see the module docstring).

    Args:
        source: the campaign's status reads.
        policy: polling intervals and finality rules.
        wall_clock: returns "now" as an aware datetime (tests pin it).
        rand: random source for jitter.
    """

    def __init__(
        self,
        source: StatusSource,
        policy: TrackingPolicy,
        *,
        wall_clock: Callable[[], dt.datetime] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.source = source
        self.policy = policy
        self._wall = wall_clock or (lambda: dt.datetime.now(dt.UTC))
        self._rand = rand
        self._watches: list[_Watch] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._last_pages = 1
        self._closed = False
        #: Status-read calls spent so far (GETs and list pages).
        self.calls = 0
        #: Retry calls made for failed messages.
        self.retries = 0

    # ------------------------------------------------------------------ public

    async def follow(
        self,
        messages: Iterable[Message | str],
        batches: Iterable[BatchReceipt | str],
        retry_codes: Collection[str],
    ) -> AsyncIterator[Message]:
        """Yield each tracked message whenever its status changes, until all are final."""
        ids: dict[str, Message | None] = {}
        for item in messages:
            if isinstance(item, Message):
                ids[item.id] = item
            else:
                path_segment("message_id", item)
                ids.setdefault(item, None)
        expected: dict[str, int | None] = {}
        for batch in batches:
            if isinstance(batch, BatchReceipt):
                if batch.batch_id:
                    expected[batch.batch_id] = batch.num_rows
            else:
                path_segment("batch_id", batch)
                expected[batch] = None
        if self._closed:
            raise ClientClosedError("the client is closed; create a new PostmanClient")
        watch = _Watch(ids, expected, frozenset(retry_codes))
        now = self._wall()
        for mid, known in list(ids.items()):
            if known is not None and is_final(known, self.policy, now):
                del watch.pending[mid]
        if not watch.pending and not watch.batches:
            return
        self._watches.append(watch)
        self._ensure_running()
        try:
            while True:
                update = await watch.queue.get()
                if update is None:
                    return
                if isinstance(update, BaseException):
                    raise update
                yield update
        finally:
            watch.done = True
            with contextlib.suppress(ValueError):
                self._watches.remove(watch)
            if not self._watched():
                self._wake.set()  # the last watcher left: the loop ends now, not next round

    async def close(self) -> None:
        """Stop polling; waiting callers end with ClientClosedError."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # The loop ends only by returning or by this cancel; nothing it raised
            # may escape into close().
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        watches, self._watches = self._watches, []
        for watch in watches:
            watch.queue.put_nowait(ClientClosedError("the client was closed while tracking"))

    def _watched(self) -> bool:
        """Whether any caller still waits for updates."""
        return any(not watch.done for watch in self._watches)

    # ------------------------------------------------------------------ loop

    def _ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name=f"postman-tracker-{self.source.id}")
            return
        # A new watcher: poll within min_interval, but do not poll at once (its message
        # was most likely just sent), so a watcher per send does not poll per send.
        soon = loop.time() + self.policy.min_interval
        if self._timer is not None and self._timer.when() > soon:
            self._timer.cancel()
            self._timer = loop.call_at(soon, self._wake.set)

    async def _run(self) -> None:
        interval = self.policy.min_interval
        while True:
            await self._sleep(interval)
            self._watches = [w for w in self._watches if not w.done]
            if not self._watches:
                return
            try:
                changed = await self._round()
            except _FATAL as exc:
                logger.warning("status tracking stopped: %s", exc)
                for watch in self._watches:
                    watch.queue.put_nowait(exc)
                self._watches.clear()
                return
            except Exception as exc:  # one bad response must not end everyone's tracking
                # The type only: a foreign exception's text can quote the response.
                level = logging.INFO if isinstance(exc, _TRANSIENT) else logging.WARNING
                logger.log(level, "status poll failed (%s); trying again later", _kind(exc))
                changed = False
            if not self._watched():
                return
            if changed:
                interval = self.policy.min_interval
            else:
                interval = min(self.policy.max_interval, interval * self.policy.backoff)

    async def _sleep(self, interval: float) -> None:
        """Sleep ``interval`` (with jitter), or less if a new watcher arrives."""
        spread = self.policy.jitter * (2 * self._rand() - 1)
        self._wake.clear()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(interval * (1 + spread), self._wake.set)
        try:
            await self._wake.wait()
        finally:
            self._timer.cancel()
            self._timer = None

    # ------------------------------------------------------------------ one round

    async def _round(self) -> bool:
        """Poll once; hand updates to the watchers; return whether anything changed."""
        now = self._wall()
        wanted: dict[str, Message | None] = {}
        batches: set[str] = set()
        for watch in self._watches:
            for mid, known in watch.pending.items():
                if wanted.get(mid) is None:
                    wanted[mid] = known
            batches.update(b for b in watch.batches if not self._batch_done(watch, b, now))
        updates: list[tuple[str | None, Message]] = []
        for batch_id in sorted(batches):
            updates.extend((batch_id, m) for m in await self._scan(batch_id, {}))
        listed = {m.id for _, m in updates}
        missing = {k: v for k, v in wanted.items() if k not in listed}
        if missing:
            if len(missing) <= max(self.policy.get_threshold, self._last_pages):
                found = await self._get_each(missing)
            else:
                found = await self._scan(None, missing)
            updates.extend((None, m) for m in found)
        return await self._dispatch(updates)

    async def _get_each(self, ids: dict[str, Message | None]) -> list[Message]:
        found = []
        for mid in ids:
            self.calls += 1
            try:
                found.append(await self.source.fetch_message(mid))
            except NotFoundError as exc:
                self._fail_id(mid, exc)
        return found

    async def _scan(self, batch_id: str | None, wanted: dict[str, Message | None]) -> list[Message]:
        """Walk list pages newest first.

        A batch listing is read whole.  The campaign listing stops once every
        wanted message was seen, or once past the oldest of them.
        """
        times = [m.created_at for m in wanted.values() if m is not None and m.created_at]
        oldest = min(times) if times and len(times) == len(wanted) else None
        remaining = set(wanted)
        found: list[Message] = []
        after: str | None = None
        pages = 0
        walk = CursorWalk(f"status poll of {'the campaign' if batch_id is None else 'a batch'}")
        while True:
            page = await self.source.fetch_page(batch_id, after)
            pages += 1
            self.calls += 1
            for message in page.messages:
                if batch_id is not None or message.id in remaining:
                    found.append(message)
                    remaining.discard(message.id)
            info = page.page_info
            messages = page.messages
            fingerprint = (messages[0].id, messages[-1].id, len(messages)) if messages else None
            try:
                after = walk.advance(
                    fingerprint,
                    info.end_cursor if info.has_next_page else None,
                    empty=not messages,
                )
            except RepeatedPageError:
                logger.warning("%s: a page came round again; this scan ends here", walk.where)
                break
            if after is None or not self._watched():  # nobody waits: stop walking
                break
            if batch_id is None:
                last = messages[-1].created_at
                if not remaining or (oldest is not None and last is not None and last < oldest):
                    break
        if batch_id is None:
            self._last_pages = pages
            if remaining and self._watched():  # not in the listing: ask one by one
                found.extend(await self._get_each({k: wanted[k] for k in remaining}))
        return found

    def _fail_id(self, message_id: str, exc: PostmanError) -> None:
        for watch in self._watches:
            if message_id in watch.pending and not watch.done:
                watch.queue.put_nowait(exc)
                watch.done = True

    async def _dispatch(self, updates: list[tuple[str | None, Message]]) -> bool:
        now = self._wall()
        changed = False
        # Index the watchers once per round: thousands of single-message waiters are common.
        by_id: dict[str, list[_Watch]] = {}
        by_batch: dict[str, list[_Watch]] = {}
        for watch in self._watches:
            if not watch.done:
                for mid in watch.pending:
                    by_id.setdefault(mid, []).append(watch)
                for bid in watch.batches:
                    by_batch.setdefault(bid, []).append(watch)
        for batch_id, message in updates:
            watches = by_id.get(message.id, [])
            if batch_id is not None and batch_id in by_batch:
                watches = list(dict.fromkeys([*watches, *by_batch[batch_id]]))
            watches = [w for w in watches if not w.done]
            if not watches:
                continue
            codes = frozenset().union(*(w.retry_codes for w in watches))
            if (
                message.latest_status is MessageStatus.FAILURE
                and not message.attempts
                and (codes or self.policy.fetch_failure_reasons)
            ):  # listings may omit attempts: one GET learns why it failed
                self.calls += 1
                message = await self.source.fetch_message(message.id)  # noqa: PLW2901
            if codes:
                message = await self._maybe_retry(message, codes)  # noqa: PLW2901
            final = is_final(message, self.policy, now)
            for watch in watches:
                if batch_id is not None and batch_id in watch.batches:
                    watch.batch_seen[batch_id].add(message.id)
                previous = watch.latest.get(message.id)
                watch.latest[message.id] = message
                if message.id in watch.pending:
                    if final:
                        del watch.pending[message.id]
                    else:
                        watch.pending[message.id] = message
                if previous is None or previous.latest_status != message.latest_status:
                    changed = True
                    watch.queue.put_nowait(message)
        for watch in self._watches:
            if watch.done or watch.pending:
                continue
            if all(self._batch_done(watch, b, now) for b in watch.batches):
                watch.queue.put_nowait(None)
                watch.done = True
        return changed

    def _batch_done(self, watch: _Watch, batch_id: str, now: dt.datetime) -> bool:
        seen = watch.batch_seen[batch_id]
        expected = watch.batches[batch_id]
        if not seen or (expected is not None and len(seen) < expected):
            return False
        return all(is_final(watch.latest[mid], self.policy, now) for mid in seen)

    async def _maybe_retry(self, message: Message, codes: frozenset[str]) -> Message:
        if message.latest_status is not MessageStatus.FAILURE:
            return message
        if message.error_code not in codes or attempts_used(message) >= MAX_ATTEMPTS:
            return message
        self.retries += 1
        logger.info("message %s failed with %s; retrying it", message.id, message.error_code)
        try:
            return await self.source.retry(message.id)
        except BadRequestError as exc:  # e.g. too many attempts: the failure is final
            logger.info("message %s: retry refused (%s); it stays failed", message.id, exc.code)
            return message


def _kind(exc: BaseException) -> str:
    """``ServerError (HTTP 502)``: enough to log, nothing from the response's text."""
    status = getattr(exc, "status", None)
    name = type(exc).__name__
    return f"{name} (HTTP {status})" if isinstance(status, int) else name


async def finish_within(work: Coroutine[object, object, None], timeout: float | None) -> bool:
    """Run ``work`` for at most ``timeout`` seconds; whether it finished (its error re-raised).

    ``asyncio.wait``, not ``wait_for``: a cancellation of the caller is never swallowed,
    and the work is cancelled and awaited when time runs out.
    """
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if done:
        task.result()
    return bool(done)


async def wait_until_final(
    stream: AsyncIterator[Message],
    latest: dict[str, Message],
    wanted: set[str] | None,
    timeout: float | None,
    policy: TrackingPolicy,
) -> dict[str, Message]:
    """Drain a tracking stream into ``latest`` until it ends or ``timeout`` passes.

    Raises:
        TrackingTimeoutError: time ran out; it carries what is known.
    """

    async def consume() -> None:
        async for message in stream:
            latest[message.id] = message

    if await finish_within(consume(), timeout):
        return latest
    now = dt.datetime.now(dt.UTC)
    ids = wanted if wanted is not None else set(latest)
    pending = {i for i in ids if i not in latest or not is_final(latest[i], policy, now)}
    raise TrackingTimeoutError(
        f"{len(pending)} of {len(ids)} messages were not final after {timeout:g} s",
        messages=dict(latest),
        pending=pending,
    )


class Follower:
    """Campaign's tracking methods: follow messages and batches to their final status.

    Mixed into :class:`~postman_async.Campaign`, which provides :meth:`_tracker`
    and :attr:`_tracking_policy`.
    """

    __slots__ = ()

    def _tracker(self) -> Tracker:
        raise NotImplementedError

    @property
    def _tracking_policy(self) -> TrackingPolicy:
        raise NotImplementedError

    def track(
        self,
        messages: Iterable[Message | str] = (),
        *,
        batches: Iterable[BatchReceipt | str] = (),
        retry_failed: bool | Collection[str] = False,
    ) -> AsyncIterator[Message]:
        """Follow messages (and whole batches) until every one is final.

        Yields a :class:`Message` each time one changes status; ends when all
        are final (``success``, ``failure``, or ``sent_to_telco`` that the
        client's :class:`TrackingPolicy` counts as final).  All trackers of a
        campaign share one polling loop at the lowest priority, reading
        statuses a page of 1,000 at a time: sends never wait behind it.

        Args:
            messages: messages (as returned by :meth:`send`) or their IDs.
                Passing messages lets the tracker stop reading pages sooner.
            batches: batch receipts (from :meth:`send_batch`) or batch IDs.
            retry_failed: retry messages that fail with a retryable delivery
                error (``True``: ``recipient_unavailable``; or give the error
                codes), within Postman's 3 attempts.

        Raises:
            ClientClosedError: the client is closed.
            ValidationError: a bad message or batch ID.

        Example::

            async for m in otp.track(sent):
                print(m.id, m.latest_status)
        """
        codes: Collection[str]
        if retry_failed is True:
            codes = RETRYABLE_DELIVERY_ERRORS
        elif retry_failed is False:
            codes = ()
        else:
            codes = retry_failed
        return self._tracker().follow(messages, batches, codes)

    async def wait_for(
        self,
        messages: Iterable[Message | str],
        *,
        timeout: float | None = None,
        retry_failed: bool | Collection[str] = False,
    ) -> dict[str, Message]:
        """Wait until every message is final; return them by ID.

        Args:
            messages: messages or message IDs.
            timeout: seconds to wait at most (``None``: no limit).
            retry_failed: as for :meth:`track`.

        Raises:
            TrackingTimeoutError: time ran out; it carries ``messages`` (latest
                known) and ``pending`` (IDs not final yet).

        Example::

            final = await otp.wait_for([msg], timeout=60)
            print(final[msg.id].latest_status)
        """
        if timeout is not None:
            check_timeout(timeout)
        items = list(messages)
        known = {m.id: m for m in items if isinstance(m, Message)}
        wanted = {m.id if isinstance(m, Message) else m for m in items}
        stream = self.track(items, retry_failed=retry_failed)
        return await wait_until_final(stream, known, wanted, timeout, self._tracking_policy)

    async def wait_for_batch(
        self,
        batch: BatchReceipt | str,
        *,
        timeout: float | None = None,
        retry_failed: bool | Collection[str] = False,
    ) -> dict[str, Message]:
        """Wait until every message of a batch is final; return them by ID.

        Pass the :class:`BatchReceipt` from :meth:`send_batch` when you can:
        it knows how many rows the batch has.

        Raises:
            TrackingTimeoutError: time ran out, with what is known so far.
        """
        if timeout is not None:
            check_timeout(timeout)
        stream = self.track(batches=[batch], retry_failed=retry_failed)
        return await wait_until_final(stream, {}, None, timeout, self._tracking_policy)
