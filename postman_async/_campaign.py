"""Campaign: the SMS endpoints of one campaign, as calls on the request loop."""

from __future__ import annotations

__all__ = ["Campaign"]

import datetime as dt
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Iterable,
    Mapping,
)
from typing import Final

import msgspec

from ._batch import BatchRows, prepare_batch
from ._bulk import SendResult, send_many
from ._decode import decode_message, decode_page, decode_receipt
from ._errors import (
    BatchRejectedError,
    ClientClosedError,
    ResponseDecodeError,
)
from ._exchange import Response, Upload
from ._limits import LimiterSnapshot, Priority, RateLimiter
from ._listing import MAX_PAGE_SIZE, Lister, Query
from ._models import (
    BatchReceipt,
    Language,
    Message,
    Page,
    SendRequest,
    encode_send,
    mask_phone,
)
from ._request import Call, CallKind, RequestLoop, reconciled
from ._retry import AmbiguousSendPolicy
from ._shared import CampaignSettings, Shared
from ._tracking import Follower, Tracker, TrackingPolicy
from ._validate import (
    Secret,
    check_timeout,
    check_values,
    normalize_language,
    normalize_recipient,
    path_segment,
)

#: How far before a send began a message found by RECONCILE may have been
#: created, seconds: allows for the server's clock running behind ours.
CLOCK_SKEW_ALLOWANCE: Final = 5.0
# A send's start time where nothing reads it (only RECONCILE does).
_NEVER: Final = dt.datetime.min.replace(tzinfo=dt.UTC)


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
        query = Query(limit=str(MAX_PAGE_SIZE))
        if after is not None:
            query["after"] = after
        return await campaign._read_page(path, query, priority=Priority.POLL)

    async def retry(self, message_id: str) -> Message:
        """Retry one failed message."""
        return await self._campaign.retry(message_id)


class Campaign(Lister, Follower):
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
        shared: Shared,
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
        # From here on the frame holds only ``body``, whose repr masks both: a
        # traceback rendered with locals (Sentry, rich) shows no number, no OTP.
        del recipient, values
        call = self._call(
            "POST",
            "/messages",
            Priority.SEND,
            timeout,
            kind=CallKind.CREATES_MESSAGES,
            json=encode_send(body),
        )
        # Only RECONCILE reads the start time (what it may match was created after it)
        # and the description (for its log lines): no work for them otherwise.
        reconcile = self._requests.retry.ambiguous_sends is AmbiguousSendPolicy.RECONCILE
        started = dt.datetime.now(dt.UTC) if reconcile else _NEVER

        async def find(seconds: float) -> Message | None:
            return await self._reconcile(body, started, seconds)

        return await reconciled(
            self._requests,
            call,
            _decode_message,
            find,
            describe=f"send to {mask_phone(body.recipient)}" if reconcile else "send",
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
            "/messages",
            Query(limit="20", search=body.recipient),
            timeout=timeout,
            priority=Priority.SEND,
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

    async def _read_page(
        self, path: str, query: Query, *, timeout: float | None = None, priority: Priority
    ) -> Page:
        call = self._call("GET", path, priority, timeout, params=query)
        response = await self._requests.request(call)
        return decode_page(response.body, response.status)

    # ------------------------------------------------------------------ tracking

    @property
    def _tracking_policy(self) -> TrackingPolicy:
        return self._settings.tracking

    def _tracker(self) -> Tracker:
        if self._requests.closed or self._shared.closed:
            raise ClientClosedError("the client is closed; create a new PostmanClient")
        shared = self._shared
        if shared.tracker is None:
            shared.tracker = Tracker(_Poller(self), self._settings.tracking)
        return shared.tracker

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
        if timeout is not None:
            check_timeout(timeout)
        data, name, count = await prepare_batch(
            rows,
            language=language,
            filename=filename,
            max_rows=self._settings.batch_row_limit,
        )
        call = self._call(
            "POST",
            "/batch/messages",
            Priority.SEND,
            timeout,
            kind=CallKind.CREATES_MESSAGES,
            upload=Upload("file", name, data),
        )
        # The rows and the CSV hold numbers and values; the call's Upload masks them.
        del rows, data
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
