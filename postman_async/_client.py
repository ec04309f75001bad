"""PostmanClient (session, lifecycle, limiter registry) and Campaign (the endpoints)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import logging
import os
import pathlib
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Collection,
    Iterable,
    Mapping,
)
from typing import TYPE_CHECKING, Final, Union

import msgspec

from ._batch import TEST_MAX_ROWS, build_csv, check_csv, check_size
from ._bulk import SendResult, send_many
from ._errors import (
    BatchRejectedError,
    ClientClosedError,
    PostmanError,
    ResponseDecodeError,
    TrackingTimeoutError,
    ValidationError,
)
from ._http import Call, CallKind, Transport, Upload, check_base_url
from ._limits import NoLimiter, Priority, RateLimiter, SlidingWindowLimiter
from ._models import (
    BatchReceipt,
    Language,
    Message,
    Page,
    SendRequest,
    decode_message,
    decode_page,
    decode_receipt,
    encode_send,
    mask_phone,
)
from ._retry import AmbiguousSendPolicy, RetryPolicy
from ._tracking import RETRYABLE_DELIVERY_ERRORS, Tracker, TrackingPolicy, is_final
from ._validate import (
    Secret,
    check_api_key,
    check_tps,
    check_values,
    normalize_language,
    normalize_recipient,
    path_segment,
)

if TYPE_CHECKING:
    from types import TracebackType

    import aiohttp

logger = logging.getLogger(__name__)

#: Postman's default rate limit per campaign, requests per second.
DEFAULT_TPS: Final = 10
#: The most messages one list page may hold.
MAX_PAGE_SIZE: Final = 1000

#: What :meth:`Campaign.send_batch` accepts: rows, CSV bytes, or a path to a CSV file.
BatchRows = Union[Iterable[Mapping[str, object]], bytes, str, "os.PathLike[str]"]
LimiterFactory = Callable[[str, int], RateLimiter]


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET: Final = _Unset.UNSET


class _State(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


def _default_limiter(campaign_id: str, tps: int) -> RateLimiter:
    return SlidingWindowLimiter(tps)


class PostmanClient:
    """An asyncio client for the Postman v2 SMS API.

    One client serves many campaigns; each campaign gets one rate limiter,
    shared by every endpoint and every :class:`Campaign` handle for it.

    Args:
        base_url: the API base; :attr:`PRODUCTION_URL` (default),
            :attr:`TEST_URL`, :attr:`LOADTEST_URL`, or a mock server's URL.
            Plain ``http`` is refused unless the host is loopback.
        session: an ``aiohttp.ClientSession`` to use; the client then does not
            close it.  By default the client creates and closes its own.
        timeout: seconds; the default deadline of one call, covering waiting for
            rate budget and every attempt.  Each call can override it.
        retry: retry and backoff settings, including what a send does when
            its outcome is unknown (see :class:`RetryPolicy`).
        connect_timeout: seconds allowed to open one connection.
        limiter_factory: ``(campaign_id, tps) -> RateLimiter``, to share the rate
            budget beyond this process; by default an in-process
            :class:`SlidingWindowLimiter`.
        tracking: how the status tracker polls (see :class:`TrackingPolicy`).

    Example::

        async with PostmanClient(base_url=PostmanClient.TEST_URL) as client:
            otp = client.campaign("campaign_...", api_key=os.environ["POSTMAN_KEY"])
            msg = await otp.send("+65 9123 4567", {"otp": "123456"})
    """

    #: Production: real SMS to the public.  Never test here.
    PRODUCTION_URL: Final = "https://postman.gov.sg/api/v2"
    #: Test environment: send only to yourself; batches of at most 20 rows.
    TEST_URL: Final = "https://test.postman.gov.sg/api/v2"
    #: Load-test environment: book it first; messages never reach phones.
    LOADTEST_URL: Final = "https://loadtest.postman.gov.sg/api/v2"

    def __init__(
        self,
        *,
        base_url: str = PRODUCTION_URL,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
        limiter_factory: LimiterFactory | None = None,
        tracking: TrackingPolicy | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        url = check_base_url(base_url)
        #: The API base URL in use.
        self.base_url = str(url)
        #: Default deadline of one call, seconds.
        self.timeout = float(timeout)
        self._transport = Transport(
            base_url=url,
            session=session,
            retry=retry or RetryPolicy(),
            connect_timeout=connect_timeout,
        )
        self._limiter_factory = limiter_factory or _default_limiter
        self._limiters: dict[str, tuple[int | None, RateLimiter]] = {}
        self._trackers: dict[str, Tracker] = {}
        #: How the status tracker polls.
        self.tracking = tracking or TrackingPolicy()
        self._state = _State.OPEN

    def __repr__(self) -> str:
        return (
            f"<PostmanClient {self.base_url} campaigns={len(self._limiters)} {self._state.value}>"
        )

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in use."""
        return self._transport.retry

    @property
    def batch_row_limit(self) -> int | None:
        """Most rows in one batch here: 20 on the test environment, else no local cap."""
        return TEST_MAX_ROWS if self.base_url == self.TEST_URL else None

    async def __aenter__(self) -> PostmanClient:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the client: waiting calls fail with ClientClosedError, the session closes.

        A session passed in by the caller is left open.  Closing twice is fine.
        """
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        for tracker in self._trackers.values():
            await tracker.close()
        for _, limiter in self._limiters.values():
            limiter.close()
        await self._transport.close()

    def _check_open(self) -> None:
        if self._state is _State.CLOSED:
            raise ClientClosedError("the client is closed; create a new PostmanClient")

    def campaign(
        self,
        campaign_id: str,
        *,
        api_key: str,
        tps: int | _Unset | None = _UNSET,
    ) -> Campaign:
        """Return a handle for one campaign (cheap; make as many as you like).

        Args:
            campaign_id: the campaign's ID from the Postman portal.
            api_key: one of the campaign's API keys.
            tps: the campaign's rate limit, requests per second (default 10);
                ``None`` turns client-side limiting off.  Every handle of the
                same campaign shares one limiter, so a later handle must agree
                with the first (or leave ``tps`` out).

        Raises:
            ValidationError: a bad ID or key, a ``tps`` that disagrees with the
                campaign's existing limiter, or a test key pointed at
                production (or a live key at another environment).
        """
        self._check_open()
        path_segment("campaign_id", campaign_id)
        key = check_api_key(api_key)
        self._check_key_environment(key)
        return Campaign(self, campaign_id, key, self._limiter_for(campaign_id, tps))

    def _check_key_environment(self, key: Secret) -> None:
        value = key.reveal()
        if value.startswith("key_test_") and self.base_url == self.PRODUCTION_URL:
            raise ValidationError(
                "this is a test-environment key (key_test_...) but base_url is production; "
                "use base_url=PostmanClient.TEST_URL"
            )
        if value.startswith("key_live_") and self.base_url in {self.TEST_URL, self.LOADTEST_URL}:
            raise ValidationError(
                "this is a production key (key_live_...) but base_url is not production; "
                "testing with production keys is not allowed"
            )

    def _limiter_for(self, campaign_id: str, tps: int | _Unset | None) -> RateLimiter:
        existing = self._limiters.get(campaign_id)
        if existing is not None:
            current, limiter = existing
            if not isinstance(tps, _Unset) and check_tps(tps) != current:
                raise ValidationError(
                    f"campaign {campaign_id} already has a limiter at tps={current}; every "
                    "handle of one campaign shares it, so pass the same tps or leave it out"
                )
            return limiter
        rate = DEFAULT_TPS if isinstance(tps, _Unset) else check_tps(tps)
        limiter = NoLimiter() if rate is None else self._limiter_factory(campaign_id, rate)
        self._limiters[campaign_id] = (rate, limiter)
        return limiter

    def limiter(self, campaign_id: str) -> RateLimiter | None:
        """The rate limiter shared by a campaign's handles, or ``None`` before the first."""
        entry = self._limiters.get(campaign_id)
        return None if entry is None else entry[1]

    def _tracker_for(self, campaign: Campaign) -> Tracker:
        tracker = self._trackers.get(campaign.id)
        if tracker is None:
            tracker = self._trackers[campaign.id] = Tracker(campaign, self.tracking)
        return tracker

    async def _request(self, call: Call) -> tuple[int, bytes]:
        self._check_open()
        response = await self._transport.request(call)
        return response.status, response.body


class Campaign:
    """The endpoints of one campaign, rate-limited by the campaign's shared limiter.

    Get one from :meth:`PostmanClient.campaign`.  Every method validates its
    input before spending rate budget and ends in a result or a
    :class:`~postman_async.PostmanError`.  ``timeout=`` (seconds) overrides the
    client's default deadline for that call.
    """

    __slots__ = ("_base", "_client", "_key", "_limiter", "id")

    def __init__(
        self, client: PostmanClient, campaign_id: str, key: Secret, limiter: RateLimiter
    ) -> None:
        #: The campaign's ID.
        self.id = campaign_id
        self._client = client
        self._key = key
        self._limiter = limiter
        self._base = f"/campaigns/{path_segment('campaign_id', campaign_id)}"

    def __repr__(self) -> str:
        return f"<Campaign {self.id}>"

    @property
    def client(self) -> PostmanClient:
        """The client this handle belongs to."""
        return self._client

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter shared by every handle of this campaign."""
        return self._limiter

    def _call(
        self,
        method: str,
        path: str,
        priority: Priority,
        timeout: float | None,
        *,
        kind: CallKind = CallKind.SAFE,
        params: Mapping[str, str] | None = None,
        json: bytes | None = None,
        upload: Upload | None = None,
    ) -> Call:
        if timeout is not None and timeout <= 0:
            raise ValidationError("timeout must be a positive number of seconds")
        return Call(
            method=method,
            path=self._base + path,
            api_key=self._key,
            limiter=self._limiter,
            priority=priority,
            kind=kind,
            params=params,
            json=json,
            upload=upload,
            timeout=self._client.timeout if timeout is None else timeout,
        )

    # ------------------------------------------------------------------ single messages

    async def send(
        self,
        recipient: str,
        values: Mapping[str, str],
        *,
        language: Language | str = Language.ENGLISH,
        timeout: float | None = None,
    ) -> Message:
        """Send one SMS from the campaign's template (OTPs and alerts).

        Args:
            recipient: the phone number with country code; ``+``, spaces and
                dashes are removed (``"+65 9123 4567"`` -> ``"6591234567"``).
            values: one non-empty string per template variable.
            language: a language enabled for the campaign.
            timeout: seconds for this call, waiting for budget included.

        Returns:
            The created message (``latest_status`` is ``created``); poll it
            with :meth:`get_message` or :meth:`wait_for`.

        Raises:
            ValidationError: bad input; nothing was sent.
            PostmanError: the call failed.  If ``message_may_exist`` is true the
                outcome is unknown and the SMS may have been created.

        Example::

            msg = await otp.send("6591234567", {"otp": "123456"})
        """
        body = SendRequest(
            recipient=normalize_recipient(recipient),
            language=normalize_language(language),
            values=check_values(values),
        )
        call = self._call(
            "POST",
            "/messages",
            Priority.SEND,
            timeout,
            kind=CallKind.CREATES_MESSAGES,
            json=encode_send(body),
        )
        started = dt.datetime.now(dt.timezone.utc)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + call.timeout
        try:
            return await self._send_call(call)
        except PostmanError as exc:
            policy = self._client.retry.ambiguous_sends
            if not exc.message_may_exist or policy is not AmbiguousSendPolicy.RECONCILE:
                raise
            # Reconciling and re-sending share the call's one deadline; whatever fails
            # from here on, the first attempt may still have created the SMS.
            try:
                found = await self._reconcile(body, started, _remaining(deadline, loop, exc))
                if found is not None:
                    logger.info(
                        "send to %s: outcome was unknown; found message %s, not sending again",
                        mask_phone(body.recipient),
                        found.id,
                    )
                    return found
                logger.warning(
                    "send to %s: outcome unknown and no matching message found; sending again "
                    "(a late-created original would make this a duplicate)",
                    mask_phone(body.recipient),
                )
                timeout_left = _remaining(deadline, loop, exc)
                return await self._send_call(msgspec.structs.replace(call, timeout=timeout_left))
            except PostmanError as later:
                later.message_may_exist = True
                raise

    def send_many(
        self,
        rows: Iterable[Mapping[str, object]] | AsyncIterable[Mapping[str, object]],
        *,
        concurrency: int = 32,
        language: Language | str = Language.ENGLISH,
        timeout: float | None = None,
    ) -> AsyncIterator[SendResult]:
        """Send one SMS per row, ``concurrency`` at a time; yield results as they complete.

        Each row maps ``recipient``, optionally ``language``, and each template
        variable to its value.  The input is read lazily (a generator or async
        iterator of millions of rows is fine) and memory stays proportional to
        ``concurrency``.  Every row ends in exactly one :class:`SendResult`,
        in completion order, carrying its index and the row: a bad row yields a
        result with a ValidationError, it does not stop the others.  The
        campaign's limiter still paces the sends.

        Example::

            async for result in otp.send_many(rows, concurrency=20):
                if not result.ok:
                    log.warning("row %d failed: %s", result.index, result.error)
        """
        return send_many(self, rows, concurrency=concurrency, language=language, timeout=timeout)

    async def _send_call(self, call: Call) -> Message:
        status, raw = await self._client._request(call)
        try:
            return decode_message(raw, status)
        except ResponseDecodeError as exc:
            exc.message_may_exist = True
            raise

    async def _reconcile(
        self, body: SendRequest, started: dt.datetime, timeout: float | None
    ) -> Message | None:
        """Find a message this send may have created despite the error."""
        since = started - dt.timedelta(minutes=2)  # generous for clock skew
        call = self._call(
            "GET",
            "/messages",
            Priority.SEND,
            timeout,
            params={"limit": "20", "search": body.recipient},
        )
        status, raw = await self._client._request(call)
        for message in decode_page(raw, status).messages:
            if (
                message.recipient == body.recipient
                and dict(message.values) == body.values
                and (message.language is None or message.language == body.language)
                and (message.created_at is None or message.created_at >= since)
            ):
                return message
        return None

    async def get_message(self, message_id: str, *, timeout: float | None = None) -> Message:
        """Fetch one message with its status and attempts (costs one request).

        To follow many messages, use :meth:`track` or :meth:`wait_for`, which
        read statuses in pages instead.

        Example::

            msg = await otp.get_message(msg.id)
            print(msg.latest_status, msg.error_code)
        """
        return await self._get_message(message_id, timeout=timeout)

    async def _get_message(
        self,
        message_id: str,
        *,
        priority: Priority = Priority.READ,
        timeout: float | None = None,
    ) -> Message:
        segment = path_segment("message_id", message_id)
        call = self._call("GET", f"/messages/{segment}", priority, timeout)
        status, raw = await self._client._request(call)
        return decode_message(raw, status)

    async def retry(self, message_id: str, *, timeout: float | None = None) -> Message:
        """Re-attempt a failed message; it keeps its ID (at most 3 attempts in all).

        Raises:
            BadRequestError: with ``code``
                ``message_not_found_or_retry_message_not_in_failure_status`` (unknown ID or
                not failed) or ``too_many_message_attempts_error``.

        Example::

            if msg.latest_status is MessageStatus.FAILURE:
                msg = await otp.retry(msg.id)
        """
        segment = path_segment("message_id", message_id)
        call = self._call("POST", f"/messages/{segment}/retry", Priority.RETRY, timeout)
        status, raw = await self._client._request(call)
        return decode_message(raw, status)

    # ------------------------------------------------------------------ listings

    async def list_messages_page(
        self,
        *,
        search: str | None = None,
        limit: int = 100,
        after: str | None = None,
        before: str | None = None,
        timeout: float | None = None,
    ) -> Page:
        """Fetch one page of the campaign's messages, newest first.

        Args:
            search: a recipient substring, digits only (``"9123"``).
            limit: messages per page, 1 to 1000.
            after: ``page_info.end_cursor`` of the previous page, for the next one.
            before: ``page_info.start_cursor`` of a page, for the one before it.
            timeout: seconds for this call.
        """
        return await self._page(
            "/messages",
            search=search,
            limit=limit,
            after=after,
            before=before,
            timeout=timeout,
            priority=Priority.READ,
        )

    def list_messages(
        self,
        *,
        search: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        timeout: float | None = None,
    ) -> AsyncIterator[Message]:
        """Iterate over the campaign's messages, newest first, fetching pages as needed.

        Each page costs one request; ``page_size`` (1 to 1000) sets how many
        messages it carries.

        Example::

            async for m in otp.list_messages(search="9123"):
                print(m.id, m.latest_status)
        """
        self._check_page_args(search, page_size)
        return self._paginate("/messages", search, page_size, timeout, Priority.READ)

    async def list_batch_messages_page(
        self,
        batch_id: str,
        *,
        search: str | None = None,
        limit: int = 100,
        after: str | None = None,
        before: str | None = None,
        timeout: float | None = None,
    ) -> Page:
        """Fetch one page of a batch's messages (with their attempts), newest first."""
        return await self._page(
            self._batch_path(batch_id, "/messages"),
            search=search,
            limit=limit,
            after=after,
            before=before,
            timeout=timeout,
            priority=Priority.READ,
        )

    def list_batch_messages(
        self,
        batch_id: str,
        *,
        search: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        timeout: float | None = None,
    ) -> AsyncIterator[Message]:
        """Iterate over a batch's messages, newest first.

        Example::

            async for m in otp.list_batch_messages(receipt.batch_id):
                print(m.recipient, m.latest_status)
        """
        path = self._batch_path(batch_id, "/messages")
        self._check_page_args(search, page_size)
        return self._paginate(path, search, page_size, timeout, Priority.READ)

    @staticmethod
    def _check_page_args(search: str | None, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValidationError(f"page size must be 1 to {MAX_PAGE_SIZE}, got {limit!r}")
        if search is not None and (
            not isinstance(search, str) or not search.isascii() or not search.isdigit()
        ):
            raise ValidationError("search matches recipient numbers: give digits only, e.g. '9123'")

    async def _page(
        self,
        path: str,
        *,
        search: str | None,
        limit: int,
        after: str | None,
        before: str | None,
        timeout: float | None,
        priority: Priority,
    ) -> Page:
        self._check_page_args(search, limit)
        params = {"limit": str(limit)}
        extra = {"search": search, "after": after, "before": before}
        params.update({name: value for name, value in extra.items() if value is not None})
        call = self._call("GET", path, priority, timeout, params=params)
        status, raw = await self._client._request(call)
        return decode_page(raw, status)

    async def _paginate(
        self,
        path: str,
        search: str | None,
        page_size: int,
        timeout: float | None,
        priority: Priority,
    ) -> AsyncIterator[Message]:
        after: str | None = None
        while True:
            page = await self._page(
                path,
                search=search,
                limit=page_size,
                after=after,
                before=None,
                timeout=timeout,
                priority=priority,
            )
            for message in page.messages:
                yield message
            cursor = page.page_info.end_cursor
            if not page.page_info.has_next_page or not page.messages or not cursor:
                return
            if cursor == after:
                raise ResponseDecodeError(
                    f"GET {self._base}{path}: Postman returned the same cursor twice; "
                    "stopping to avoid an endless loop",
                    status=200,
                    body=b"",
                )
            after = cursor

    async def _poll_page(self, batch_id: str | None, after: str | None) -> Page:
        path = "/messages" if batch_id is None else self._batch_path(batch_id, "/messages")
        return await self._page(
            path,
            search=None,
            limit=MAX_PAGE_SIZE,
            after=after,
            before=None,
            timeout=None,
            priority=Priority.POLL,
        )

    # ------------------------------------------------------------------ tracking

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
        return self._client._tracker_for(self).follow(messages, batches, codes)

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
        items = list(messages)
        known = {m.id: m for m in items if isinstance(m, Message)}
        wanted = {m.id if isinstance(m, Message) else m for m in items}
        return await self._wait(
            self.track(items, retry_failed=retry_failed), known, wanted, timeout
        )

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
        stream = self.track(batches=[batch], retry_failed=retry_failed)
        return await self._wait(stream, {}, None, timeout)

    async def _wait(
        self,
        stream: AsyncIterator[Message],
        latest: dict[str, Message],
        wanted: set[str] | None,
        timeout: float | None,
    ) -> dict[str, Message]:
        async def consume() -> None:
            async for message in stream:
                latest[message.id] = message

        # asyncio.wait, not wait_for: on Python < 3.12 wait_for can swallow a cancellation.
        task = asyncio.ensure_future(consume())
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if done:
            task.result()  # re-raise what tracking raised
            return latest
        now = dt.datetime.now(dt.timezone.utc)
        ids = wanted if wanted is not None else set(latest)
        pending = {
            i for i in ids if i not in latest or not is_final(latest[i], self._client.tracking, now)
        }
        raise TrackingTimeoutError(
            f"{len(pending)} of {len(ids)} messages were not final after {timeout:g} s",
            messages=dict(latest),
            pending=pending,
        )

    # ------------------------------------------------------------------ batches

    def _batch_path(self, batch_id: str, suffix: str) -> str:
        return f"/batch/{path_segment('batch_id', batch_id)}{suffix}"

    async def send_batch(
        self,
        rows: BatchRows,
        *,
        language: Language | str = Language.ENGLISH,
        filename: str | None = None,
        timeout: float | None = None,
    ) -> BatchReceipt:
        """Upload many messages at once as a CSV (one request, whatever the row count).

        Args:
            rows: an iterable of mappings (``recipient``, optional ``language``,
                and one key per template variable), CSV bytes, or a path to a
                CSV file.  The CSV is checked locally first: header, every row,
                40 MB, and 20 rows on the test environment.
            language: the language of rows that do not say.
            filename: the upload's file name (default: the path's name or ``batch.csv``).
            timeout: seconds for this call.

        Returns:
            The receipt; its ``batch_id`` lists, tracks and retries the batch.

        Raises:
            ValidationError: the CSV is wrong; nothing was sent.
            BatchRejectedError: Postman's own checks refused it (``receipt.report_url``).

        Example::

            receipt = await alerts.send_batch([
                {"recipient": "6591234567", "name": "Tan Ah Kow", "clinic": "Bedok"},
                {"recipient": "6598765432", "name": "Siti", "clinic": "Tampines"},
            ])
        """
        max_rows = self._client.batch_row_limit
        if isinstance(rows, bytes):
            count = check_csv(rows, max_rows=max_rows)
            data, name = rows, filename or "batch.csv"
        elif isinstance(rows, (str, os.PathLike)):
            path = pathlib.Path(rows)
            data = await asyncio.to_thread(_read_csv_file, path)
            count = check_csv(data, max_rows=max_rows)
            name = filename or path.name
        else:
            data, count = build_csv(
                rows, default_language=normalize_language(language), max_rows=max_rows
            )
            name = filename or "batch.csv"
        call = self._call(
            "POST",
            "/batch/messages",
            Priority.SEND,
            timeout,
            kind=CallKind.CREATES_MESSAGES,
            upload=Upload("file", name, data),
        )
        status, raw = await self._client._request(call)
        try:
            receipt = decode_receipt(raw, status)
        except ResponseDecodeError as exc:
            exc.message_may_exist = True
            raise
        if not receipt.is_valid:
            report = receipt.report_url or "the portal"
            raise BatchRejectedError(
                f"Postman refused the batch CSV: {receipt.num_errors or 'some'} of "
                f"{receipt.num_rows or '?'} rows have errors; see {report}",
                receipt=receipt,
            )
        if not receipt.batch_id:
            raise ResponseDecodeError(
                "Postman accepted the batch but returned no batchId",
                status=status,
                body=raw,
                message_may_exist=True,
            )
        # Postman does not echo the row count; keep ours so trackers know when a batch is whole.
        return msgspec.structs.replace(receipt, num_rows=receipt.num_rows or count)

    async def retry_batch(self, batch_id: str, *, timeout: float | None = None) -> None:
        """Re-attempt every failed message of a batch (IDs are kept).

        Raises:
            BadRequestError: ``code`` says why not: ``batch_not_found_or_is_not_retryable``,
                ``unresolved_batch_messages`` (wait, then retry) or
                ``no_failed_batch_messages_to_retry``.
        """
        call = self._call("POST", self._batch_path(batch_id, "/retry"), Priority.RETRY, timeout)
        await self._client._request(call)


def _remaining(deadline: float, loop: asyncio.AbstractEventLoop, error: PostmanError) -> float:
    """Seconds left before ``deadline``; re-raise ``error`` if none are."""
    left = deadline - loop.time()
    if left <= 0:
        raise error
    return left


def _read_csv_file(path: pathlib.Path) -> bytes:
    try:
        check_size(path.stat().st_size)
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read batch CSV {path}: {exc.strerror}") from None
