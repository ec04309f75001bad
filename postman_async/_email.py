"""EmailAccount: Postman's v1 transactional email endpoints, as calls on the request loop.

Sends spend the account's rate budget (all keys of one account share it, so
the limiter is keyed by the account's name, never by the key); reads are not
limited by the server and spend none.  Errors, retries and the ambiguous-send
rules are those of the SMS side: a send never repeats after its outcome became
unknown unless the client's :class:`~postman_async.AmbiguousSendPolicy` says so.
"""

from __future__ import annotations

__all__ = ["EmailAccount", "email_limiter_id"]

import asyncio
import datetime as dt
import logging
import os
import pathlib
import urllib.parse
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Final

from ._email_models import (
    EmailClassification,
    EmailMessage,
    EmailPage,
    EmailSendRequest,
    EmailStatus,
    decode_email,
    decode_email_page,
    encode_send,
    mask_email,
)
from ._email_rate import hold_off, read_rate_headers
from ._email_tracking import EmailFollower
from ._email_validate import (
    Attachment,
    AttachmentSource,
    attachment_name,
    check_attachments,
    check_email_id,
    check_page_size,
    check_send,
    check_sort_by,
    check_status_filter,
    check_tag,
    check_time,
)
from ._errors import TrackingTimeoutError, ValidationError
from ._exchange import Response, Upload
from ._limits import NoLimiter, Priority, RateLimiter
from ._paging import Paginator
from ._request import Call, CallKind, RequestLoop, reconciled
from ._tracking import finish_within
from ._validate import Secret, check_timeout

logger = logging.getLogger(__name__)

#: How far before a send began an email found by RECONCILE may have been created, seconds.
CLOCK_SKEW_ALLOWANCE: Final = 5.0
#: Emails read when looking for one an ambiguous send may have created.
RECONCILE_PAGE: Final = 100


def email_limiter_id(account: str) -> str:
    """The limiter key of an email account: its name, never its key."""
    return f"email:{account}"


class EmailAccount:
    """The v1 transactional email endpoints of one Postman account.

    Get one from :meth:`PostmanClient.email`.  Every method validates its
    input before spending rate budget and ends in a result or a
    :class:`~postman_async.PostmanError`.  ``timeout=`` (seconds) overrides the
    client's default deadline for that call.
    """

    __slots__ = (
        "_base",
        "_key",
        "_limiter",
        "_reads",
        "_requests",
        "_timeout",
        "_tps",
        "_warned",
        "account",
    )

    def __init__(
        self,
        account: str,
        *,
        key: Secret,
        base_url: str,
        requests: RequestLoop,
        limiter: RateLimiter,
        tps: int | None,
        timeout: float,
    ) -> None:
        #: The account's name (the part of its keys before ``_v1_``).
        self.account = account
        self._key = key
        self._base = f"{base_url}/transactional/email"
        self._requests = requests
        self._limiter = limiter
        self._tps = tps
        self._timeout = timeout
        # The server does not limit reads: they never wait behind sends.
        self._reads = NoLimiter()
        self._warned = False

    def __repr__(self) -> str:
        return f"<EmailAccount {self.account}>"

    @property
    def limiter(self) -> RateLimiter:
        """The send limiter shared by every handle of this account in the client."""
        return self._limiter

    def _call(
        self,
        method: str,
        path: str,
        timeout: float | None,
        *,
        send: bool = False,
        params: dict[str, str] | None = None,
        json: bytes | None = None,
        fields: Sequence[tuple[str, str]] = (),
        uploads: Sequence[Upload] = (),
    ) -> Call:
        return Call(
            method=method,
            url=self._base + path,
            api_key=self._key,
            limiter=self._limiter if send else self._reads,
            priority=Priority.SEND if send else Priority.READ,
            kind=CallKind.CREATES_MESSAGES if send else CallKind.SAFE,
            params=params,
            json=json,
            fields=fields,
            uploads=uploads,
            timeout=self._timeout if timeout is None else check_timeout(timeout),
        )

    # ------------------------------------------------------------------ send

    async def send(
        self,
        recipient: str,
        subject: str,
        body: str,
        *,
        sender: str | None = None,
        reply_to: str | None = None,
        cc: Sequence[str] | None = None,
        bcc: Sequence[str] | None = None,
        classification: EmailClassification | str | None = None,
        tag: str | None = None,
        disable_tracking: bool = False,
        attachments: Sequence[AttachmentSource] = (),
        timeout: float | None = None,
    ) -> EmailMessage:
        """Send one email.

        Args:
            recipient: one address (Postman lower-cases it).
            subject: the subject line, not empty.
            body: the HTML body, at most 1 MiB of UTF-8 (Postman removes
                unsafe HTML; a body left empty by that is refused).
            sender: Postman's ``from``: ``"Name <address>"`` where the address
                is Postman's default or your own verified one; ``None`` for
                ``Postman.gov.sg <info@mail.postman.gov.sg>``.
            reply_to: a ``Reply-To`` address.
            cc: at most 49 unique addresses with ``bcc``.
            bcc: blind copies, counted with ``cc``.
            classification: ``URGENT``, ``FOR_ACTION`` or ``FOR_INFO``.
            tag: up to 255 characters, to find the email again with :meth:`list`.
            disable_tracking: no open tracking (the email never reaches ``OPENED``).
            attachments: paths to files, or ``(file name, bytes)`` pairs; each
                smaller than 10 MiB and at most 10 MiB together, of an allowed
                type (pdf, docx, xlsx, png, jpg, csv, txt...), and only with a
                ``sender`` of your own.  Files are streamed, never read into
                memory in the event loop.
            timeout: seconds for this call, waiting for rate budget included.

        Returns:
            The stored email (``status`` is ``ACCEPTED``).

        Raises:
            ValidationError: bad input; nothing was sent and no budget spent.
            PostmanError: the call failed (``code`` says why, e.g.
                ``invalid_template`` for a blacklisted recipient).  If
                ``message_may_exist`` is true the outcome is unknown and the
                email may have been sent.

        Example::

            msg = await mail.send("tan@example.com", "Your appointment", "<p>3 pm</p>")
        """
        request, from_ = check_send(
            recipient=recipient,
            subject=subject,
            body=body,
            sender=sender,
            reply_to=reply_to,
            cc=cc,
            bcc=bcc,
            classification=classification,
            tag=tag,
            disable_tracking=disable_tracking,
        )
        if isinstance(attachments, (str, bytes, os.PathLike)) or not isinstance(
            attachments, Sequence
        ):
            raise ValidationError(
                "attachments must be a list of paths or (file name, bytes) pairs, "
                f"not {type(attachments).__name__}"
            )
        named = [attachment_name(item, index) for index, item in enumerate(attachments)]
        files = check_attachments(await _sized(named), from_) if named else []
        if files:
            call = self._call(
                "POST",
                "/send",
                timeout,
                send=True,
                fields=request.form_fields(),
                uploads=[_upload(f) for f in files],
            )
        else:
            call = self._call("POST", "/send", timeout, send=True, json=encode_send(request))
        started = dt.datetime.now(dt.UTC)

        async def find(seconds: float) -> EmailMessage | None:
            return await self._reconcile(request, started, seconds)

        return await reconciled(
            self._requests,
            call,
            self._decode_sent,
            find,
            describe=f"email to {mask_email(request.recipient)}",
        )

    def _decode_sent(self, response: Response) -> EmailMessage:
        self._note_rate(response)
        return decode_email(response.body, response.status)

    def _note_rate(self, response: Response) -> None:
        """Act on the send's rate-limit headers (see :mod:`postman_async._email_rate`)."""
        rate = read_rate_headers(response.headers)
        if rate is None:
            return
        if self._tps is not None and 0 < rate.limit < self._tps and not self._warned:
            self._warned = True
            logger.warning(
                "email account %s: Postman allows %d sends per second but this client "
                "sends up to %d; pass tps=%d to client.email()",
                self.account,
                rate.limit,
                self._tps,
                rate.limit,
            )
        snapshot = getattr(self._limiter, "snapshot", None)
        in_window = getattr(snapshot(), "grants_in_window", None) if callable(snapshot) else None
        pause = hold_off(rate, in_window if isinstance(in_window, int) else None)
        if pause is not None:
            logger.warning(
                "email account %s: its send budget is spent by another sender; "
                "holding sends back %.0f s",
                self.account,
                pause,
            )
            self._limiter.slow_down(pause)

    async def _reconcile(
        self, request: EmailSendRequest, started: dt.datetime, timeout: float
    ) -> EmailMessage | None:
        """Find an email this send may have created despite the error.

        Only emails created after the send began (less the clock skew
        allowance) that Postman accepted, with the same recipient, subject,
        body and tag, count.
        """
        since = started - dt.timedelta(seconds=CLOCK_SKEW_ALLOWANCE)
        params = {
            "limit": str(RECONCILE_PAGE),
            "created_at[gte]": _iso(since),
            "sort_by": "-created_at",
        }
        if request.tag is not None:
            params["tag"] = request.tag
        response = await self._requests.request(self._call("GET", "", timeout, params=params))
        for message in decode_email_page(response.body, response.status).messages:
            params_ = message.params
            if (
                message.recipient == request.recipient
                and params_ is not None
                and params_.subject == request.subject
                and params_.body == request.body
                and message.status.rank >= EmailStatus.ACCEPTED.rank
            ):
                return message
        return None

    # ------------------------------------------------------------------ reads

    async def get(self, email_id: str | int, *, timeout: float | None = None) -> EmailMessage:
        """Fetch one email with its status (one request; reads spend no rate budget).

        To follow many emails, use :meth:`track` or :meth:`wait_for`.

        Raises:
            NotFoundError: no email of this account has that ID.

        Example::

            msg = await mail.get(msg.id)
            print(msg.status, msg.error_code)
        """
        segment = check_email_id(email_id)
        response = await self._requests.request(self._call("GET", f"/{segment}", timeout))
        return decode_email(response.body, response.status)

    def list(
        self,
        *,
        status: EmailStatus | str | None = None,
        tag: str | None = None,
        created_after: dt.datetime | None = None,
        created_from: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        created_until: dt.datetime | None = None,
        sort_by: str | None = None,
        include_params: bool = True,
        limit: int = 1000,
        offset: int = 0,
        timeout: float | None = None,
    ) -> Paginator[EmailPage, EmailMessage]:
        """The account's emails, newest first: ``await`` for a page, ``async for`` for all.

        Args:
            status: only emails in this status now.
            tag: only emails sent with this tag.
            created_after: only emails created after this aware datetime.
            created_from: ... at or after it.
            created_before: ... before it.
            created_until: ... at or before it.
            sort_by: ``created_at`` or ``updated_at``, prefixed ``+`` for
                oldest first (default ``-created_at``, newest first).
            include_params: whether to fetch subject and body (``False`` makes
                pages much smaller).
            limit: emails per page, 1 to 1000 (each page costs one request).
            offset: emails to skip first.
            timeout: seconds for each page's call.

        Raises:
            ValidationError: at once, for a bad argument.

        Example::

            async for m in mail.list(status="BOUNCED", tag="appt"):
                print(m.id, m.error_code)
        """
        filters = {
            "status": check_status_filter(status),
            "tag": check_tag(tag),
            "sort_by": check_sort_by(sort_by),
            "created_at[gt]": check_time(created_after, "created_after"),
            "created_at[gte]": check_time(created_from, "created_from"),
            "created_at[lt]": check_time(created_before, "created_before"),
            "created_at[lte]": check_time(created_until, "created_until"),
        }
        params = {"limit": str(check_page_size(limit))}
        params.update({name: value for name, value in filters.items() if value is not None})
        if not isinstance(include_params, bool):
            raise ValidationError(f"include_params must be True or False, got {include_params!r}")
        if not include_params:
            params["exclude_params"] = "true"
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValidationError(f"offset must be a whole number >= 0, got {offset!r}")
        if timeout is not None:
            check_timeout(timeout)
        return _listing(self, params, offset, timeout)

    async def _page(self, params: dict[str, str], offset: int, timeout: float | None) -> EmailPage:
        query = {**params, "offset": str(offset)}
        response = await self._requests.request(self._call("GET", "", timeout, params=query))
        page = decode_email_page(response.body, response.status)
        return EmailPage(page.messages, page.has_more, offset)

    # ------------------------------------------------------------------ tracking

    def track(
        self,
        messages: Iterable[EmailMessage | str],
        *,
        until: EmailStatus | str = EmailStatus.DELIVERED,
        poll_interval: float = 5.0,
    ) -> AsyncIterator[EmailMessage]:
        """Follow emails until each reached ``until``, bounced or drew a complaint.

        Yields an :class:`EmailMessage` each time one moves forward; a status
        reported late (Postman keeps the last event it received, even an older
        one) never moves an email backwards here.  Reads are listings of
        everything sent since the oldest followed email, 1,000 a page, so a
        thousand emails cost about one read a round; reads spend no send budget.

        Args:
            messages: emails as :meth:`send` returned them, or their IDs.
            until: the status that ends following (``OPENED`` never comes for
                ``disable_tracking`` sends or recipients who never open).
            poll_interval: seconds between rounds of reads.

        Example::

            async for m in mail.track([msg]):
                print(m.id, m.status)
        """
        follower = self._follower(messages, until, poll_interval)
        return follower.follow()

    async def wait_for(
        self,
        messages: Iterable[EmailMessage | str],
        *,
        until: EmailStatus | str = EmailStatus.DELIVERED,
        timeout: float | None = None,
        poll_interval: float = 5.0,
    ) -> dict[str, EmailMessage]:
        """Wait until every email reached ``until`` (or failed); return them by ID.

        Raises:
            TrackingTimeoutError: time ran out; it carries ``messages`` (the
                latest known) and ``pending`` (IDs not there yet).

        Example::

            final = await mail.wait_for([msg], timeout=600)
            if final[msg.id].is_failed:
                print(final[msg.id].error_code)
        """
        if timeout is not None:
            check_timeout(timeout)
        follower = self._follower(messages, until, poll_interval)

        async def consume() -> None:
            async for _ in follower.follow():
                pass

        if await finish_within(consume(), timeout):
            return follower.latest
        pending = follower.pending
        raise TrackingTimeoutError(
            f"{len(pending)} of {follower.count} emails had not reached "
            f"{follower.until.value} after {timeout:g} s",
            messages=follower.latest,
            pending=pending,
        )

    def _follower(
        self, messages: Iterable[EmailMessage | str], until: object, poll_interval: object
    ) -> EmailFollower:
        target = check_status_filter(until)
        if target is None:
            raise ValidationError("until must be an email status such as 'DELIVERED'")
        if (
            isinstance(poll_interval, bool)
            or not isinstance(poll_interval, (int, float))
            or not 0 < poll_interval <= 3600
        ):
            raise ValidationError(
                f"poll_interval must be a number of seconds above 0, got {poll_interval!r}"
            )
        if isinstance(messages, (str, EmailMessage)):
            messages = [messages]
        items: list[EmailMessage | str] = [
            item if isinstance(item, EmailMessage) else check_email_id(item) for item in messages
        ]
        return EmailFollower(
            _Reader(self), items, until=EmailStatus(target), interval=float(poll_interval)
        )


class _Reader:
    """The follower's view of an account: status reads without params."""

    __slots__ = ("_account",)

    def __init__(self, account: EmailAccount) -> None:
        self._account = account

    async def read_one(self, email_id: str) -> EmailMessage:
        """One email, by ID."""
        return await self._account.get(email_id)

    async def read_since(self, since: dt.datetime, offset: int) -> EmailPage:
        """A page of 1,000 emails created at or after ``since``, oldest first."""
        params = {
            "limit": "1000",
            "created_at[gte]": _iso(since),
            "sort_by": "+created_at",
            "exclude_params": "true",
        }
        return await self._account._page(params, offset, None)


def _listing(
    account: EmailAccount, params: dict[str, str], start: int, timeout: float | None
) -> Paginator[EmailPage, EmailMessage]:
    """A paginator over offsets.

    Newest-first listings are pinned after their first page to emails created
    no later than the newest one seen, so emails sent meanwhile cannot shift
    the offsets and repeat items.
    """
    pinned = dict(params)
    pin = params.get("sort_by", "-created_at") in ("-created_at", "created_at") and not any(
        name in params for name in ("created_at[lt]", "created_at[lte]")
    )

    async def fetch(cursor: str | None) -> EmailPage:
        offset = start if cursor is None else int(cursor)
        page = await account._page(pinned, offset, timeout)
        if pin and cursor is None and page.messages and page.messages[0].created_at:
            pinned["created_at[lte]"] = _iso(page.messages[0].created_at)
        return page

    def next_cursor(page: EmailPage) -> str | None:
        return str(page.offset + len(page.messages)) if page.has_more else None

    return Paginator(
        fetch=fetch,
        items=lambda page: page.messages,
        next_cursor=next_cursor,
        fingerprint=lambda page: (
            (page.messages[0].id, page.messages[-1].id, len(page.messages)) if page.messages else ()
        ),
        where=f"GET {urllib.parse.urlsplit(account._base).path}",
    )


def _iso(moment: dt.datetime) -> str:
    """An aware datetime as ISO 8601 in UTC with milliseconds."""
    utc = moment.astimezone(dt.UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _sized(
    named: Sequence[tuple[str, pathlib.Path | bytes]],
) -> list[tuple[str, pathlib.Path | bytes, int]]:
    """Add each attachment's size, reading file metadata off the event loop."""
    paths = [source for _, source in named if isinstance(source, pathlib.Path)]
    sizes = await asyncio.to_thread(_file_sizes, paths) if paths else {}
    return [
        (name, source, sizes[source] if isinstance(source, pathlib.Path) else len(source))
        for name, source in named
    ]


def _file_sizes(paths: Sequence[pathlib.Path]) -> dict[pathlib.Path, int]:
    sizes = {}
    for path in paths:
        try:
            stat = path.stat()
        except OSError as exc:
            raise ValidationError(
                f"cannot read attachment {path.name}: {exc.strerror or exc}"
            ) from None
        if not path.is_file():
            raise ValidationError(f"attachment {path.name} is not a regular file")
        sizes[path] = stat.st_size
    return sizes


def _upload(attachment: Attachment) -> Upload:
    return Upload("attachments", attachment.filename, attachment.source, attachment.content_type)
