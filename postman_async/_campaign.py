"""Campaign: the SMS endpoints of one campaign, as calls on the request loop."""

from __future__ import annotations

__all__ = ["DEFAULT", "BatchRows", "Campaign", "CampaignSettings", "Default"]

import asyncio
import contextlib
import datetime as dt
import enum
import os
import pathlib
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Collection,
    Iterable,
    Mapping,
)
from typing import Final, Union

import msgspec

from ._batch import build_csv, check_csv, check_size
from ._bulk import SendResult, send_many
from ._errors import (
    BatchRejectedError,
    ClientClosedError,
    ResponseDecodeError,
    TrackingTimeoutError,
    ValidationError,
)
from ._exchange import Response, Upload
from ._limits import LimiterSnapshot, Priority, RateLimiter
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
from ._paging import Paginator
from ._request import Call, CallKind, RequestLoop, reconciled
from ._tracking import RETRYABLE_DELIVERY_ERRORS, Tracker, TrackingPolicy, is_final
from ._validate import (
    Secret,
    check_timeout,
    check_values,
    normalize_language,
    normalize_recipient,
    path_segment,
)

#: The most messages one list page may hold.
MAX_PAGE_SIZE: Final = 1000
#: How far before a send began a message found by RECONCILE may have been
#: created, seconds: allows for the server's clock running behind ours.
CLOCK_SKEW_ALLOWANCE: Final = 5.0

#: What :meth:`Campaign.send_batch` accepts: rows, CSV bytes, or a path to a CSV file.
BatchRows = Union[Iterable[Mapping[str, object]], bytes, str, "os.PathLike[str]"]


class Default(enum.Enum):
    """The type of :data:`DEFAULT`."""

    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


#: "Use the client's default" (for example ``tps=DEFAULT`` in :meth:`PostmanClient.campaign`).
DEFAULT: Final = Default.DEFAULT


class CampaignSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What a campaign handle takes from its client."""

    base_url: str
    timeout: float
    batch_row_limit: int | None
    tracking: TrackingPolicy


class _Shared:
    """The state every handle of one campaign shares within a client."""

    __slots__ = ("limiter", "tps", "tracker")

    def __init__(self, tps: int | None, limiter: RateLimiter) -> None:
        self.tps = tps
        self.limiter = limiter
        self.tracker: Tracker | None = None


class _Poller:
    """What the tracker reads through: a campaign's status reads at POLL priority."""

    __slots__ = ("_campaign",)

    def __init__(self, campaign: Campaign) -> None:
        self._campaign = campaign

    @property
    def id(self) -> str:
        """The campaign's ID."""
        return self._campaign.id

    async def fetch_message(self, message_id: str) -> Message:
        """One message, at poll priority."""
        return await self._campaign._read_message(message_id, Priority.POLL)

    async def fetch_page(self, batch_id: str | None, after: str | None) -> Page:
        """One page of 1,000 of the campaign's (or a batch's) messages, at poll priority."""
        campaign = self._campaign
        path = "/messages" if batch_id is None else campaign._batch_path(batch_id, "/messages")
        return await campaign._read_page(path, MAX_PAGE_SIZE, after=after, priority=Priority.POLL)

    async def retry(self, message_id: str) -> Message:
        """Retry one failed message."""
        return await self._campaign.retry(message_id)


class Campaign:
    """The endpoints of one campaign, rate-limited by the campaign's shared limiter.

    Get one from :meth:`PostmanClient.campaign`.  Every method validates its
    input before spending rate budget and ends in a result or a
    :class:`~postman_async.PostmanError`.  ``timeout=`` (seconds) overrides the
    client's default deadline for that call.
    """

    __slots__ = ("_base", "_key", "_requests", "_settings", "_shared", "id")

    def __init__(
        self,
        campaign_id: str,
        *,
        key: Secret,
        requests: RequestLoop,
        settings: CampaignSettings,
        shared: _Shared,
    ) -> None:
        #: The campaign's ID.
        self.id = campaign_id
        self._key = key
        self._requests = requests
        self._settings = settings
        self._shared = shared
        self._base = f"{settings.base_url}/campaigns/{path_segment('campaign_id', campaign_id)}"

    def __repr__(self) -> str:
        return f"<Campaign {self.id}>"

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter shared by every handle of this campaign."""
        return self._shared.limiter

    def limiter_snapshot(self) -> LimiterSnapshot | None:
        """The campaign's rate budget now: waiting calls, expected wait, recent grants.

        Cheap (no I/O): a web endpoint can read it on every request to answer
        "try again in N s" itself.  ``None`` when the campaign's limiter
        offers no snapshot (a third party's).

        Example::

            snap = otp.limiter_snapshot()
            if snap is not None and snap.expected_wait > 5:
                raise HTTPException(503, headers={"Retry-After": str(ceil(snap.expected_wait))})
        """
        snapshot = getattr(self._shared.limiter, "snapshot", None)
        if snapshot is None:
            return None
        result = snapshot()
        return result if isinstance(result, LimiterSnapshot) else None

    @property
    def tps(self) -> int | None:
        """The campaign's rate limit, requests per second (``None``: not limited here)."""
        return self._shared.tps

    @property
    def status_reads(self) -> int:
        """Status reads (GETs and list pages) the tracker has spent for this campaign."""
        tracker = self._shared.tracker
        return 0 if tracker is None else tracker.calls

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
        return Call(
            method=method,
            url=self._base + path,
            api_key=self._key,
            limiter=self._shared.limiter,
            priority=priority,
            kind=kind,
            params=params,
            json=json,
            uploads=() if upload is None else (upload,),
            timeout=self._settings.timeout if timeout is None else check_timeout(timeout),
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
        # Only RECONCILE reads the start time: what it may match was created after it.
        started = dt.datetime.now(dt.UTC)

        async def find(seconds: float) -> Message | None:
            return await self._reconcile(body, started, seconds)

        return await reconciled(
            self._requests,
            call,
            _decode_message,
            find,
            describe=f"send to {mask_phone(body.recipient)}",
        )

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

        Raises:
            ValidationError: at once, for a bad ``concurrency``, ``timeout`` or ``rows``.

        Example::

            async for result in otp.send_many(rows, concurrency=20):
                if not result.ok:
                    log.warning("row %d failed: %s", result.index, result.error)
        """
        if timeout is not None:
            check_timeout(timeout)
        return send_many(self, rows, concurrency=concurrency, language=language, timeout=timeout)

    async def _reconcile(
        self, body: SendRequest, started: dt.datetime, timeout: float
    ) -> Message | None:
        """Find a message this send may have created despite the error.

        Only messages created after the send began (less
        :data:`CLOCK_SKEW_ALLOWANCE` for the server's clock) count.
        """
        since = started - dt.timedelta(seconds=CLOCK_SKEW_ALLOWANCE)
        page = await self._read_page(
            "/messages", 20, search=body.recipient, timeout=timeout, priority=Priority.SEND
        )
        for message in page.messages:
            if (
                message.recipient == body.recipient
                and dict(message.values) == body.values
                and (message.language is None or message.language == body.language)
                and message.created_at is not None
                and message.created_at >= since
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
        return await self._read_message(message_id, Priority.READ, timeout)

    async def _read_message(
        self, message_id: str, priority: Priority, timeout: float | None = None
    ) -> Message:
        segment = path_segment("message_id", message_id)
        call = self._call("GET", f"/messages/{segment}", priority, timeout)
        return _decode_message(await self._requests.request(call))

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
        return _decode_message(await self._requests.request(call))

    # ------------------------------------------------------------------ listings

    def list_messages(
        self,
        *,
        search: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        after: str | None = None,
        before: str | None = None,
        timeout: float | None = None,
    ) -> Paginator[Page, Message]:
        """The campaign's messages, newest first: ``await`` for a page, ``async for`` for all.

        Args:
            search: a recipient substring, digits only (``"9123"``).
            limit: messages per page, 1 to 1000 (each page costs one request).
            after: ``page_info.end_cursor`` of a page, to start after it.
            before: ``page_info.start_cursor`` of a page, for the one before it.
            timeout: seconds for each page's call.

        Raises:
            ValidationError: at once, for a bad argument.

        Example::

            page = await otp.list_messages(limit=100)
            async for m in otp.list_messages(search="9123"):
                print(m.id, m.latest_status)
        """
        return self._paginator(
            "/messages", search, limit, after=after, before=before, timeout=timeout
        )

    def list_batch_messages(
        self,
        batch_id: str,
        *,
        search: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        after: str | None = None,
        before: str | None = None,
        timeout: float | None = None,
    ) -> Paginator[Page, Message]:
        """A batch's messages (with their attempts), newest first; as :meth:`list_messages`.

        Example::

            async for m in otp.list_batch_messages(receipt.batch_id):
                print(m.recipient, m.latest_status)
        """
        path = self._batch_path(batch_id, "/messages")
        return self._paginator(path, search, limit, after=after, before=before, timeout=timeout)

    def _paginator(
        self,
        path: str,
        search: str | None,
        limit: int,
        *,
        after: str | None,
        before: str | None,
        timeout: float | None,
    ) -> Paginator[Page, Message]:
        _check_page_args(search, limit)
        for name, cursor in (("after", after), ("before", before)):
            if cursor is not None and (not isinstance(cursor, str) or not cursor):
                raise ValidationError(f"{name} must be a page cursor string, got {cursor!r}")
        if timeout is not None:
            check_timeout(timeout)

        async def fetch(cursor: str | None) -> Page:
            previous = before if cursor is after else None
            return await self._read_page(
                path,
                limit,
                search=search,
                after=cursor,
                before=previous,
                timeout=timeout,
                priority=Priority.READ,
            )

        return Paginator(
            fetch=fetch,
            items=_page_messages,
            next_cursor=_next_cursor,
            fingerprint=_fingerprint,
            after=after,
            where=f"GET {path}",
        )

    async def _read_page(
        self,
        path: str,
        limit: int,
        *,
        search: str | None = None,
        after: str | None = None,
        before: str | None = None,
        timeout: float | None = None,
        priority: Priority,
    ) -> Page:
        params = {"limit": str(limit)}
        if search is not None:
            params["search"] = search
        if after is not None:
            params["after"] = after
        if before is not None:
            params["before"] = before
        call = self._call("GET", path, priority, timeout, params=params)
        response = await self._requests.request(call)
        return decode_page(response.body, response.status)

    # ------------------------------------------------------------------ tracking

    def _tracker(self) -> Tracker:
        if self._requests.closed:
            raise ClientClosedError("the client is closed; create a new PostmanClient")
        shared = self._shared
        if shared.tracker is None:
            shared.tracker = Tracker(_Poller(self), self._settings.tracking)
        return shared.tracker

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
        if timeout is not None:
            check_timeout(timeout)
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
        now = dt.datetime.now(dt.UTC)
        ids = wanted if wanted is not None else set(latest)
        policy = self._settings.tracking
        pending = {i for i in ids if i not in latest or not is_final(latest[i], policy, now)}
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
        max_rows = self._settings.batch_row_limit
        if filename is not None:
            _check_filename(filename)
        if timeout is not None:
            check_timeout(timeout)
        if isinstance(rows, bytes):
            count = check_csv(rows, max_rows=max_rows)
            data, name = rows, filename or "batch.csv"
        elif isinstance(rows, (str, os.PathLike)):
            path = pathlib.Path(rows)
            data = await asyncio.to_thread(_read_csv_file, path)
            count = check_csv(data, max_rows=max_rows)
            name = filename or _check_filename(path.name)
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
        response = await self._requests.request(call)
        receipt = _decode_receipt(response)
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
                status=response.status,
                body=response.body,
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
        await self._requests.request(call)


def _decode_message(response: Response) -> Message:
    return decode_message(response.body, response.status)


def _decode_receipt(response: Response) -> BatchReceipt:
    try:
        return decode_receipt(response.body, response.status)
    except ResponseDecodeError as exc:
        exc.message_may_exist = True
        raise


def _page_messages(page: Page) -> tuple[Message, ...]:
    return page.messages


def _next_cursor(page: Page) -> str | None:
    info = page.page_info
    return info.end_cursor if info.has_next_page else None


def _fingerprint(page: Page) -> tuple[str, str, int]:
    messages = page.messages
    if not messages:
        return ("", "", 0)
    return (messages[0].id, messages[-1].id, len(messages))


def _check_page_args(search: str | None, limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationError(f"limit must be 1 to {MAX_PAGE_SIZE} messages a page, got {limit!r}")
    if search is not None and (
        not isinstance(search, str) or not search.isascii() or not search.isdigit()
    ):
        raise ValidationError("search matches recipient numbers: give digits only, e.g. '9123'")


def _check_filename(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > 255:
        raise ValidationError("filename must be a non-empty string of at most 255 characters")
    if any(ch in name for ch in '\r\n\0"\\/') or not name.isprintable():
        raise ValidationError(
            f"filename {name!r} has control characters, quotes or slashes; use a plain name"
        )
    return name


def _read_csv_file(path: pathlib.Path) -> bytes:
    try:
        check_size(path.stat().st_size)
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read batch CSV {path}: {exc.strerror}") from None
