"""Wire models of Postman's v1 transactional email API; decoders built once.

The v1 API speaks snake_case and sends every time in UTC.  Responses are
decoded into private ``_Wire*`` structs (every field optional but ``id``,
unknown fields ignored) and turned into the public :class:`EmailMessage`.  A
status or classification the API adds later decodes to a new member of the
open enum instead of failing.
"""

from __future__ import annotations

__all__ = [
    "AttachmentInfo",
    "EmailClassification",
    "EmailMessage",
    "EmailParams",
    "EmailStatus",
]

import datetime as dt
from typing import Annotated

import msgspec

from ._errors import ResponseDecodeError
from ._models import _OpenStrEnum


class EmailStatus(_OpenStrEnum):
    """Where an email is: ``UNSENT -> ACCEPTED -> SENT -> DELIVERED -> OPENED``.

    ``BOUNCED`` (hard or soft, see :attr:`EmailMessage.error_code`) and
    ``COMPLAINT`` end a message's life badly; a hard bounce or a complaint
    blacklists the address.  ``UNSENT`` with an ``error_code`` is a send the
    server refused after storing it.  A message sent with
    ``disable_tracking=True`` never reaches ``OPENED``.  A status the API adds
    later decodes to a new member rather than failing; check :attr:`is_known`.
    """

    UNSENT = "UNSENT"
    ACCEPTED = "ACCEPTED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    OPENED = "OPENED"
    BOUNCED = "BOUNCED"
    COMPLAINT = "COMPLAINT"

    @property
    def is_known(self) -> bool:
        """Whether this status is one this version of the library knows."""
        return self.value in EmailStatus._value2member_map_

    @property
    def is_failure(self) -> bool:
        """Whether the email bounced or the recipient complained."""
        return self in _FAILURES

    @property
    def rank(self) -> int:
        """Progress order: a higher rank is later in a message's life.

        ``UNSENT`` 0, ``ACCEPTED`` 1, ``SENT`` 2, ``DELIVERED`` 3, ``OPENED`` 4,
        ``BOUNCED`` and ``COMPLAINT`` 5.  Postman applies provider events with
        no ordering guard, so a late event can overwrite a later status; the
        status follower never reports a lower rank after a higher one.  An
        unknown status ranks as ``ACCEPTED`` (in progress).
        """
        return _RANKS.get(self.value, 1)


_FAILURES = frozenset({EmailStatus.BOUNCED, EmailStatus.COMPLAINT})
_RANKS = {
    "UNSENT": 0,
    "ACCEPTED": 1,
    "SENT": 2,
    "DELIVERED": 3,
    "OPENED": 4,
    "BOUNCED": 5,
    "COMPLAINT": 5,
}


class EmailClassification(_OpenStrEnum):
    """The classification shown in an email's header banner."""

    URGENT = "URGENT"
    FOR_ACTION = "FOR_ACTION"
    FOR_INFO = "FOR_INFO"


KNOWN_CLASSIFICATIONS = frozenset(member.value for member in EmailClassification)


def mask_email(address: str) -> str:
    """Hide an address's local part but its first character: ``t**@example.com``.

    The domain is kept (it says which provider, not who); text without ``@``
    is hidden entirely.
    """
    local, at, domain = address.rpartition("@")
    if not at:
        return "*" * min(len(address), 8)
    return f"{local[:1]}{'*' * max(2, len(local) - 1)}@{domain}"


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """The v1 API sends UTC; a timestamp without an offset is read as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


# --------------------------------------------------------------------------- requests


class EmailSendRequest(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Body of ``POST /transactional/email/send`` (JSON; multipart uses the same fields)."""

    recipient: str
    subject: str
    body: str
    sender: str | None = msgspec.field(default=None, name="from")
    reply_to: str | None = None
    cc: list[str] | None = None
    bcc: list[str] | None = None
    classification: str | None = None
    tag: str | None = None
    disable_tracking: bool | None = None

    def form_fields(self) -> list[tuple[str, str]]:
        """The fields as multipart text parts: lists JSON-encoded, booleans ``true``/``false``."""
        fields = [("recipient", self.recipient), ("subject", self.subject), ("body", self.body)]
        for name, value in (
            ("from", self.sender),
            ("reply_to", self.reply_to),
            ("classification", self.classification),
            ("tag", self.tag),
        ):
            if value is not None:
                fields.append((name, value))
        for name, addresses in (("cc", self.cc), ("bcc", self.bcc)):
            if addresses is not None:
                fields.append((name, _encoder.encode(addresses).decode()))
        if self.disable_tracking is not None:
            fields.append(("disable_tracking", "true" if self.disable_tracking else "false"))
        return fields


# --------------------------------------------------------------------------- public types


class AttachmentInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What Postman recorded about one attachment."""

    #: The file name as uploaded.
    file_name: str | None = None
    #: Size in bytes.
    file_size: int | None = None
    #: MD5 of the content, lower-case hex.
    hash: str | None = None


class EmailParams(msgspec.Struct, frozen=True, kw_only=True):
    """The caller's input as Postman stored it (before its HTML sanitising)."""

    #: The subject line.
    subject: str | None = None
    #: The HTML body.
    body: str | None = None
    #: The ``From`` header asked for, if one was.
    sender: str | None = None
    #: The ``Reply-To`` address asked for, if one was.
    reply_to: str | None = None

    def __repr__(self) -> str:
        return "EmailParams(<hidden>)"


class EmailMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A transactional email as Postman's v1 API reports it.

    Timestamps are timezone-aware (UTC); fields Postman did not send are
    ``None`` (or empty).  The ``repr`` masks addresses and hides the content.
    """

    #: The message ID (a number, sent and kept as a string), for :meth:`EmailAccount.get`.
    id: str
    #: Where the message is in its lifecycle.
    status: EmailStatus
    #: The recipient address (lower-cased by Postman).
    recipient: str | None = None
    #: The ``From`` header used, ``Name <address>``.
    sender: str | None = None
    #: Subject, body, sender and reply-to as given (``None`` when listed with ``params`` left out).
    params: EmailParams | None = None
    #: One entry per attachment, or ``None`` when there were none.
    attachments: tuple[AttachmentInfo, ...] | None = None
    #: Why the send or delivery failed: ``"Hard bounce"``, ``"Soft bounce"``,
    #: ``"Error 400: Blacklisted recipient"``...
    error_code: str | None = None
    #: The mail provider's bounce sub-type, for bounces.
    error_sub_type: str | None = None
    #: Created (stored ``UNSENT``) at.
    created_at: dt.datetime | None = None
    #: Last changed at.
    updated_at: dt.datetime | None = None
    #: Handed to the mail provider at.
    accepted_at: dt.datetime | None = None
    #: Sent by the provider at.
    sent_at: dt.datetime | None = None
    #: Delivered to the recipient's mail server at.
    delivered_at: dt.datetime | None = None
    #: First opened at (open tracking).
    opened_at: dt.datetime | None = None
    #: The header banner's classification, if one was given.
    classification: EmailClassification | None = None
    #: The tag given at send time, for listing.
    tag: str | None = None
    #: Cc addresses.
    cc: tuple[str, ...] = ()
    #: Bcc addresses.
    bcc: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # Addresses are personal data: keep them out of logs and tracebacks.
        recipient = None if self.recipient is None else mask_email(self.recipient)
        return (
            f"EmailMessage(id={self.id!r}, status={self.status.value!r}, "
            f"recipient={recipient!r}, cc=<{len(self.cc)}>, bcc=<{len(self.bcc)}>, "
            f"tag={self.tag!r}, error_code={self.error_code!r}, created_at={self.created_at!r})"
        )

    @property
    def is_delivered(self) -> bool:
        """Whether the email reached the recipient's mail server (``DELIVERED`` or ``OPENED``)."""
        return self.status in (EmailStatus.DELIVERED, EmailStatus.OPENED)

    @property
    def is_failed(self) -> bool:
        """Whether it bounced, drew a complaint, or was refused after being stored."""
        return self.status.is_failure or (
            self.status is EmailStatus.UNSENT and self.error_code is not None
        )


class EmailPage(msgspec.Struct, frozen=True):
    """One page of an email listing."""

    #: The messages on this page.
    messages: tuple[EmailMessage, ...]
    #: Whether more messages follow at a higher offset.
    has_more: bool
    #: The offset this page starts at.
    offset: int = 0


# --------------------------------------------------------------------------- wire types


class _WireAttachment(msgspec.Struct, rename="camel"):
    file_name: str | None = None
    file_size: int | None = None
    hash: str | None = None


class _WireParams(msgspec.Struct):
    subject: str | None = None
    body: str | None = None
    sender: str | None = msgspec.field(default=None, name="from")
    reply_to: str | None = None


class _WireEmail(msgspec.Struct):
    # An empty ID could be neither read nor followed: refuse it like a missing one.
    id: Annotated[str, msgspec.Meta(min_length=1)] | int
    status: str | None = None
    sender: str | None = msgspec.field(default=None, name="from")
    recipient: str | None = None
    params: _WireParams | None = None
    attachments_metadata: list[_WireAttachment] | None = None
    error_code: str | None = None
    error_sub_type: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    opened_at: dt.datetime | None = None
    classification: str | None = None
    tag: str | None = None
    cc: list[str] | None = None
    bcc: list[str] | None = None


class _WireList(msgspec.Struct):
    data: list[_WireEmail]
    has_more: bool = False


def _message(wire: _WireEmail) -> EmailMessage:
    params = None
    if wire.params is not None:
        p = wire.params
        params = EmailParams(subject=p.subject, body=p.body, sender=p.sender, reply_to=p.reply_to)
    attachments = None
    if wire.attachments_metadata is not None:
        attachments = tuple(
            AttachmentInfo(file_name=a.file_name, file_size=a.file_size, hash=a.hash)
            for a in wire.attachments_metadata
        )
    return EmailMessage(
        id=str(wire.id),
        status=EmailStatus.UNSENT if wire.status is None else EmailStatus(wire.status.upper()),
        recipient=wire.recipient,
        sender=wire.sender,
        params=params,
        attachments=attachments,
        error_code=wire.error_code,
        error_sub_type=wire.error_sub_type,
        created_at=_utc(wire.created_at),
        updated_at=_utc(wire.updated_at),
        accepted_at=_utc(wire.accepted_at),
        sent_at=_utc(wire.sent_at),
        delivered_at=_utc(wire.delivered_at),
        opened_at=_utc(wire.opened_at),
        classification=(
            None
            if wire.classification is None
            else EmailClassification(wire.classification.upper())
        ),
        tag=wire.tag,
        cc=tuple(wire.cc or ()),
        bcc=tuple(wire.bcc or ()),
    )


_encoder = msgspec.json.Encoder()
_email_decoder = msgspec.json.Decoder(_WireEmail)
_list_decoder = msgspec.json.Decoder(_WireList)

#: What decoding a bad body can raise; RecursionError comes from very deeply nested JSON.
_DECODE_FAILURES = (msgspec.DecodeError, ValueError, RecursionError)


def encode_send(request: EmailSendRequest) -> bytes:
    """Encode a JSON send body (fields left out are not sent)."""
    return _encoder.encode(request)


def decode_email(body: bytes, status: int = 200) -> EmailMessage:
    """Decode a message object, raising :class:`ResponseDecodeError` on a bad body."""
    try:
        return _message(_email_decoder.decode(body))
    except _DECODE_FAILURES as exc:
        raise ResponseDecodeError(
            f"Postman answered HTTP {status} but the body is not a valid email message: {exc}",
            status=status,
            body=body,
        ) from exc


def decode_email_page(body: bytes, status: int = 200) -> EmailPage:
    """Decode a ``{"has_more", "data"}`` listing."""
    try:
        wire = _list_decoder.decode(body)
        return EmailPage(tuple(_message(m) for m in wire.data), wire.has_more)
    except _DECODE_FAILURES as exc:
        raise ResponseDecodeError(
            f"Postman answered HTTP {status} but the body is not a valid email listing: {exc}",
            status=status,
            body=body,
        ) from exc
