"""Wire models: msgspec Structs for every request and response, decoders built once.

Responses are decoded into private ``_Wire*`` structs that mirror the JSON
(camelCase, both attempt shapes, every field optional but ``id``) and are then
turned into the public, normalised types.  Unknown fields are ignored and
unknown enum values are kept, so a field or status the API adds later never
breaks a caller.
"""

from __future__ import annotations

__all__ = [
    "Attempt",
    "BatchReceipt",
    "Language",
    "Message",
    "MessageStatus",
    "Page",
    "PageInfo",
]

import datetime as dt
import enum
import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import msgspec

#: Postman stamps every time in Singapore time; a naive timestamp is read as such.
SGT = dt.timezone(dt.timedelta(hours=8), "SGT")

_E = TypeVar("_E", bound=enum.Enum)


class _OpenStrEnum(str, enum.Enum):  # noqa: UP042  # str() keeps the enum's form
    """A string enum that keeps values it does not know instead of failing."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value.upper()
        member._value_ = value
        return member

    def __str__(self) -> str:
        return str(self.value)


class MessageStatus(_OpenStrEnum):
    """A message's ``latestStatus`` (or one attempt's status).

    The lifecycle is ``created -> enqueued -> sending -> sent -> sent_to_telco
    -> success``, with ``failure`` possible from ``sending`` on.  A status the
    API adds later decodes to a new member (``MessageStatus("queued")``) rather
    than failing; check :attr:`is_known` to tell.
    """

    CREATED = "created"
    ENQUEUED = "enqueued"
    SENDING = "sending"
    SENT = "sent"
    SENT_TO_TELCO = "sent_to_telco"
    SUCCESS = "success"
    FAILURE = "failure"

    @property
    def is_final(self) -> bool:
        """Whether no further change is expected (``success`` or ``failure``).

        ``sent_to_telco`` is not final here: it may still become ``success`` or
        ``failure`` (Postman advises treating it as final after 48 hours, and at
        once for foreign numbers; the status tracker does that).
        """
        return self in _FINAL

    @property
    def is_known(self) -> bool:
        """Whether this status is one this version of the library knows."""
        return self.value in MessageStatus._value2member_map_


_FINAL = frozenset({MessageStatus.SUCCESS, MessageStatus.FAILURE})


class Language(_OpenStrEnum):
    """A template language; a campaign enables a subset of these."""

    ENGLISH = "english"
    CHINESE = "chinese"
    MALAY = "malay"
    TAMIL = "tamil"


KNOWN_LANGUAGES = frozenset(member.value for member in Language)


def mask_phone(number: str) -> str:
    """Hide all but the first two and last two digits: ``"6591234567"`` -> ``"65******67"``."""
    if len(number) <= 4:
        return "*" * len(number)
    return f"{number[:2]}{'*' * (len(number) - 4)}{number[-2:]}"


def _open_enum(cls: type[_E], value: str | None, default: _E) -> _E:
    return default if value is None else cls(value)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=SGT)
    return value


# --------------------------------------------------------------------------- requests


class SendRequest(msgspec.Struct, rename="camel", omit_defaults=True):
    """Body of ``POST /campaigns/{campaignId}/messages``."""

    recipient: str
    language: str
    values: dict[str, str]

    def __repr__(self) -> str:
        # Held by the frames of a send: tracebacks rendered with locals show this.
        return (
            f"SendRequest(recipient={mask_phone(self.recipient)!r}, "
            f"language={self.language!r}, values=<{len(self.values)} hidden>)"
        )


# --------------------------------------------------------------------------- public types


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery attempt of a message, whichever shape the endpoint used.

    The single-message endpoint nests the failure reason (``error: {type,
    code}``); the batch listing flattens it (``errorType``, ``errorCode``).
    Both arrive here as :attr:`error_type` and :attr:`error_code`.
    """

    #: This attempt's status.
    status: MessageStatus
    #: When the attempt was created (aware datetime), if given.
    created_at: dt.datetime | None = None
    #: When the provider sent it, if it did.
    sent_at: dt.datetime | None = None
    #: When the telco confirmed delivery, if it did.
    delivered_at: dt.datetime | None = None
    #: ``"delivery_error"`` or ``"server_error"`` for a failed attempt.
    error_type: str | None = None
    #: The failure reason, e.g. ``"recipient_unavailable"``.
    error_code: str | None = None


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """An SMS message as Postman reports it.

    Fields the endpoint did not return are ``None`` (or empty).  Timestamps are
    timezone-aware.  :attr:`attempts` holds every attempt, newest first as
    Postman lists them.
    """

    #: Message ID (``message_<uuid>``), used to poll and to retry.
    id: str
    #: Where the message is in its lifecycle.
    latest_status: MessageStatus
    #: Recipient number, country code and digits, no ``+``.
    recipient: str | None = None
    #: The template language (a :class:`Language`, or the raw string if unknown).
    language: Language | None = None
    #: The template values used.
    values: Mapping[str, str] = msgspec.field(default_factory=dict)
    #: Rendered text with Postman's header and footer.
    full_message: str | None = None
    #: The campaign the message belongs to.
    campaign_id: str | None = None
    #: The template body used.
    template_body_id: str | None = None
    #: Created at (aware datetime).
    created_at: dt.datetime | None = None
    #: Last changed at (aware datetime).
    updated_at: dt.datetime | None = None
    #: The user that created it.
    creator_id: str | None = None
    #: The creator's e-mail (a pseudo-address for API keys).
    creator_email: str | None = None
    #: The batch it came from, for batch messages (when Postman says so).
    batch_id: str | None = None
    #: Delivery attempts, normalised from either response shape.
    attempts: tuple[Attempt, ...] = ()
    #: Number of attempts, when Postman reports it (else ``len(attempts)`` if known).
    num_attempts: int | None = None

    def __repr__(self) -> str:
        # Recipients are personal data and values often hold an OTP: keep both out of
        # logs and tracebacks that show a message.
        recipient = None if self.recipient is None else mask_phone(self.recipient)
        return (
            f"Message(id={self.id!r}, latest_status={self.latest_status.value!r}, "
            f"recipient={recipient!r}, values=<{len(self.values)} hidden>, "
            f"attempts={len(self.attempts)}, created_at={self.created_at!r})"
        )

    @property
    def is_final(self) -> bool:
        """Whether :attr:`latest_status` is ``success`` or ``failure``."""
        return self.latest_status.is_final

    @property
    def error_code(self) -> str | None:
        """The newest failed attempt's error code (e.g. ``recipient_unavailable``), if any."""
        attempt = self._failed_attempt()
        return None if attempt is None else attempt.error_code

    @property
    def error_type(self) -> str | None:
        """The newest failed attempt's error type (``delivery_error``, ``server_error``)."""
        attempt = self._failed_attempt()
        return None if attempt is None else attempt.error_type

    def _failed_attempt(self) -> Attempt | None:
        for attempt in self.attempts:  # newest first, as Postman lists them
            if attempt.error_code or attempt.error_type:
                return attempt
        return None


class PageInfo(msgspec.Struct, frozen=True, rename="camel"):
    """Cursor information of one list page (``pageData``)."""

    has_next_page: bool = False
    has_previous_page: bool = False
    start_cursor: str | None = None
    end_cursor: str | None = None


class Page(msgspec.Struct, frozen=True):
    """One page of a message listing, newest first."""

    #: The messages on this page.
    messages: tuple[Message, ...]
    #: Cursors to the neighbouring pages.
    page_info: PageInfo


class BatchReceipt(msgspec.Struct, frozen=True, rename="camel"):
    """Postman's answer to a batch upload.

    Attributes are ``None`` where Postman did not send them.
    """

    #: Whether the CSV passed Postman's checks.
    is_valid: bool = False
    #: The batch's ID (use it to list, track and retry the batch).
    batch_id: str | None = None
    #: Link to a validation report (the CSV with an ``Error Reason`` column).
    report_url: str | None = msgspec.field(default=None, name="reportURL")
    #: Rows Postman read.
    num_rows: int | None = None
    #: Rows Postman refused.
    num_errors: int | None = None
    #: The file has characters that make every SMS more expensive.
    file_has_avoidable_expensive_character: bool | None = None
    #: The file has non-GSM-7 characters.
    file_has_unicode: bool | None = None


# --------------------------------------------------------------------------- wire types


class _WireError(msgspec.Struct):
    type: str | None = None
    code: str | None = None


class _WireAttempt(msgspec.Struct, rename="camel"):
    status: str | None = None
    created_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    error: _WireError | str | None = None
    error_type: str | None = None
    error_code: str | None = None


class _WireBatch(msgspec.Struct):
    id: str | None = None


class _WireMessage(msgspec.Struct, rename="camel"):
    # An empty ID could be neither polled nor retried: refuse it like a missing one.
    id: Annotated[str, msgspec.Meta(min_length=1)]
    latest_status: str | None = None
    recipient: str | dict[str, Any] | None = None
    language: str | None = None
    values: dict[str, Any] | None = None
    full_message: str | None = None
    campaign_id: str | None = None
    template_body_id: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    creator_id: str | None = None
    creator_email: str | None = None
    batch_id: str | None = None
    batches: list[_WireBatch] | None = None
    attempts: list[_WireAttempt] | None = None
    message_attempts: list[_WireAttempt] | None = None
    num_attempts: int | None = None

    def __repr__(self) -> str:
        return f"_WireMessage(id={self.id!r})"  # no recipient, no values


class _WireReceipt(msgspec.Struct, rename="camel"):
    is_valid: bool | None = None
    batch_id: str | None = None
    report_url: str | None = msgspec.field(default=None, name="reportURL")
    num_rows: int | None = None
    num_errors: int | None = None
    file_has_avoidable_expensive_character: bool | None = None
    file_has_unicode: bool | None = None


class _WirePage(msgspec.Struct, rename="camel"):
    data: list[_WireMessage]
    page_data: PageInfo = PageInfo()


def _attempt(wire: _WireAttempt) -> Attempt:
    error_type, error_code = wire.error_type, wire.error_code
    if isinstance(wire.error, _WireError):
        error_type = error_type or wire.error.type
        error_code = error_code or wire.error.code
    elif isinstance(wire.error, str) and wire.error:
        error_code = error_code or wire.error
    return Attempt(
        status=_open_enum(MessageStatus, wire.status, MessageStatus.CREATED),
        created_at=_aware(wire.created_at),
        sent_at=_aware(wire.sent_at),
        delivered_at=_aware(wire.delivered_at),
        error_type=error_type,
        error_code=error_code,
    )


#: Known statuses and languages by their wire value: a dict lookup, not an enum call.
_STATUSES: dict[str | None, MessageStatus] = {m.value: m for m in MessageStatus}
_LANGUAGES: dict[str | None, Language] = {m.value: m for m in Language}


def message_from_wire(wire: _WireMessage) -> Message:
    raw_attempts = wire.attempts or wire.message_attempts or ()
    attempts = tuple(_attempt(a) for a in raw_attempts) if raw_attempts else ()
    batch_id = wire.batch_id
    if batch_id is None and wire.batches:
        batch_id = wire.batches[0].id
    recipient = wire.recipient
    if isinstance(recipient, dict):  # NRIC sends: {"value": "S1234567A", ...}
        value = recipient.get("value")
        recipient = value if isinstance(value, str) else None
    values = wire.values or {}
    if not all(type(v) is str for v in values.values()):
        values = {k: v if isinstance(v, str) else str(v) for k, v in values.items()}
    status = _STATUSES.get(wire.latest_status)
    if status is None:
        status = _open_enum(MessageStatus, wire.latest_status, MessageStatus.CREATED)
    language = _LANGUAGES.get(wire.language)
    if language is None and wire.language is not None:
        language = Language(wire.language.lower())
    return Message(
        id=wire.id,
        latest_status=status,
        recipient=recipient,
        language=language,
        values=values,
        full_message=wire.full_message,
        campaign_id=wire.campaign_id,
        template_body_id=wire.template_body_id,
        created_at=_aware(wire.created_at),
        updated_at=_aware(wire.updated_at),
        creator_id=wire.creator_id,
        creator_email=wire.creator_email,
        batch_id=batch_id,
        attempts=attempts,
        num_attempts=wire.num_attempts if wire.num_attempts is not None else len(attempts) or None,
    )


message_decoder = msgspec.json.Decoder(_WireMessage)
page_decoder = msgspec.json.Decoder(_WirePage)
receipt_decoder = msgspec.json.Decoder(_WireReceipt)
_send_encoder = msgspec.json.Encoder()


def encode_send(request: SendRequest) -> bytes:
    """Encode a single-send body."""
    return _send_encoder.encode(request)


class ErrorDetails(msgspec.Struct, frozen=True):
    """What an error body said, whichever of the three shapes it had."""

    code: str | None = None
    message: str | None = None
    trace_id: str | None = None


_json_decoder = msgspec.json.Decoder()


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, list) and value:  # NestJS lists validation messages
        return "; ".join(str(v) for v in value)
    if isinstance(value, (int, float)):
        return str(value)
    return None


def decode_error_body(body: bytes) -> ErrorDetails:
    """Read Postman's error body, tolerating every shape seen and any bytes at all.

    Shapes: ``{"error": {"code", "message", "type", "id"}}``,
    ``{"message", "statusCode"}`` and ``{"code", "message"}``.  A body that is
    not JSON (an HTML page from a gateway) yields its first line of text.
    Bytes that are not UTF-8 are read as U+FFFD.  Never raises: an error body
    only explains an error, it must not replace it with another.
    """
    try:
        try:
            data = _json_decoder.decode(body)
        except UnicodeDecodeError:  # JSON with a stray non-UTF-8 byte in a string
            data = _json_decoder.decode(body.decode("utf-8", "replace").encode())
    except (msgspec.DecodeError, ValueError, RecursionError):
        return ErrorDetails(message=_summarise(body))
    if not isinstance(data, dict):
        return ErrorDetails(message=_summarise(body))
    try:
        return _error_details(data)
    except (ValueError, RecursionError):  # e.g. an int too long for str()
        return ErrorDetails(message=_summarise(body))


def _error_details(data: dict[str, object]) -> ErrorDetails:
    inner = data.get("error")
    if isinstance(inner, dict):
        return ErrorDetails(
            code=_text(inner.get("code")),
            message=_text(inner.get("message")),
            trace_id=_text(inner.get("id")),
        )
    return ErrorDetails(
        code=_text(data.get("code")),
        message=_text(data.get("message")),
        trace_id=_text(data.get("traceId") or data.get("id")),
    )


def _summarise(body: bytes) -> str | None:
    text = body[:512].decode("utf-8", "replace")
    if "<" in text:  # strip HTML tags to keep e.g. "502 Bad Gateway"
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        text = title.group(1) if title else re.sub(r"<[^>]*>", " ", text)
    text = " ".join(text.split())
    return text[:200] or None
