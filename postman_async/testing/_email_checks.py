"""The email API's request checks, as the v1 server makes them (pure).

Messages follow the server's validator: the first problem only, worded like
``"x" is not allowed`` or ``"recipient" must be a valid email``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

#: Largest body, in bytes of UTF-8.
MAX_BODY_BYTES = 1024 * 1024
#: Every attachment must be smaller than this.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
#: All attachments of one email together, at most.
MAX_TOTAL_ATTACHMENT_BYTES = 10 * 1024 * 1024
#: Cc and bcc together, at most.
MAX_COPIES = 49
#: The extensions accepted for attachments.
# fmt: off
ALLOWED_EXTENSIONS = frozenset((
    "asc", "avi", "bmp", "csv", "dgn", "docx", "dwf", "dwg", "dxf", "ent", "gif",
    "jpeg", "jpg", "mpeg", "mpg", "mpp", "odb", "odf", "odg", "ods", "pdf", "png",
    "pptx", "rtf", "sxc", "sxd", "sxi", "sxw", "tif", "tiff", "txt", "wmv", "xlsx",
))
# fmt: on
CLASSIFICATIONS = ("URGENT", "FOR_ACTION", "FOR_INFO")
SEND_FIELDS = (
    "recipient",
    "subject",
    "body",
    "from",
    "reply_to",
    "cc",
    "bcc",
    "classification",
    "tag",
    "disable_tracking",
    "attachments",
)
LIST_STATUSES = ("UNSENT", "ACCEPTED", "SENT", "DELIVERED", "OPENED", "BOUNCED", "COMPLAINT")
_TIME_FILTERS = ("gt", "gte", "lt", "lte")
_LIST_PARAMS = frozenset(
    (
        "limit",
        "offset",
        "status",
        "tag",
        "exclude_params",
        "sort_by",
        *(f"created_at[{op}]" for op in _TIME_FILTERS),
    )
)
_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"]+@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}")
_SENDER = re.compile(r"(?:(?P<name>[^<>]*?)\s*<(?P<address>[^<>\s]+)>|(?P<bare>[^<>\s]+))")
_DROPPED_BLOCKS = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_decode = msgspec.json.Decoder().decode


def is_email(value: object) -> bool:
    """Whether ``value`` is one plausible email address."""
    return isinstance(value, str) and len(value) <= 254 and _EMAIL.fullmatch(value) is not None


def sender_address(value: str) -> str | None:
    """The address of a ``from`` value (``Name <address>`` or bare), lower-cased, or ``None``."""
    match = _SENDER.fullmatch(value.strip())
    if match is None:
        return None
    address = match.group("address") or match.group("bare")
    return address.lower() if is_email(address) else None


def _copies(name: str, value: object) -> tuple[list[str] | None, str | None]:
    if isinstance(value, str):  # multipart sends the list as a JSON string
        try:
            value = _decode(value)
        except msgspec.DecodeError:
            return None, f'"{name}" must be an array'
    if not isinstance(value, list):
        return None, f'"{name}" must be an array'
    seen: set[str] = set()
    for index, item in enumerate(value):
        if not isinstance(item, str):
            return None, f'"{name}[{index}]" must be a string'
        if not is_email(item):
            return None, f'"{name}[{index}]" must be a valid email'
        if item.lower() in seen:
            return None, f'"{name}[{index}]" contains a duplicate value'
        seen.add(item.lower())
    return [item.lower() for item in value], None


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return None


@dataclass(frozen=True)
class SendInput:
    """A send's fields once validated."""

    recipient: str
    subject: str
    body: str
    sender: str | None
    reply_to: str | None
    cc: list[str]
    bcc: list[str]
    classification: str | None
    tag: str | None
    disable_tracking: bool
    has_attachments_field: bool


def check_send(payload: object) -> SendInput | str:
    """Validate a send's fields; return them, or the first problem's message."""
    if not isinstance(payload, Mapping):
        return '"value" must be of type object'
    for name in ("recipient", "subject", "body"):
        value = payload.get(name)
        if value is None:
            return f'"{name}" is required'
        if not isinstance(value, str):
            return f'"{name}" must be a string'
        if not value:
            return f'"{name}" is not allowed to be empty'
    recipient, subject, body = payload["recipient"], payload["subject"], payload["body"]
    if not is_email(recipient):
        return '"recipient" must be a valid email'
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        return f'"body" must be less than or equal to {MAX_BODY_BYTES} bytes'
    sender = payload.get("from")
    if sender is not None and (not isinstance(sender, str) or not sender):
        return '"from" must be a non-empty string'
    reply_to = payload.get("reply_to")
    if reply_to is not None and not is_email(reply_to):
        return '"reply_to" must be a valid email'
    lists: dict[str, list[str]] = {}
    for name in ("cc", "bcc"):
        if payload.get(name) is None:
            lists[name] = []
            continue
        addresses, problem = _copies(name, payload[name])
        if problem is not None:
            return problem
        lists[name] = addresses or []
    classification = payload.get("classification")
    if classification is not None:
        if not isinstance(classification, str) or classification.upper() not in CLASSIFICATIONS:
            return f'"classification" must be one of [{", ".join(CLASSIFICATIONS)}]'
        classification = classification.upper()
    tag = payload.get("tag")
    if tag is not None:
        if not isinstance(tag, str):
            return '"tag" must be a string'
        if len(tag) > 255:
            return '"tag" length must be less than or equal to 255 characters long'
    tracking = payload.get("disable_tracking")
    disable_tracking = False
    if tracking is not None:
        flag = _flag(tracking)
        if flag is None:
            return '"disable_tracking" must be a boolean'
        disable_tracking = flag
    for name in payload:
        if name not in SEND_FIELDS:
            return f'"{name}" is not allowed'
    return SendInput(
        recipient=recipient.lower(),
        subject=subject,
        body=body,
        sender=sender,
        reply_to=None if reply_to is None else str(reply_to).lower(),
        cc=lists["cc"],
        bcc=lists["bcc"],
        classification=classification,
        tag=tag,
        disable_tracking=disable_tracking,
        has_attachments_field="attachments" in payload,
    )


def empty_after_sanitising(html: str) -> bool:
    """Whether nothing is left once scripts, styles and tags are removed."""
    return not _TAG.sub("", _DROPPED_BLOCKS.sub("", html)).strip()


#: Magic numbers of common types, and the extensions each is allowed under.
_MAGIC: tuple[tuple[bytes, frozenset[str]], ...] = (
    (b"%PDF-", frozenset({"pdf"})),
    (b"\x89PNG\r\n\x1a\n", frozenset({"png"})),
    (b"\xff\xd8\xff", frozenset({"jpg", "jpeg"})),
    (b"GIF8", frozenset({"gif"})),
    (b"BM", frozenset({"bmp"})),
    (b"PK\x03\x04", frozenset({"docx", "xlsx", "pptx", "odb", "odf", "odg", "ods", "sxc"})),
    (b"MZ", frozenset()),  # Windows executables
    (b"\x7fELF", frozenset()),  # Linux executables
)


def attachment_type_ok(filename: str, head: bytes) -> bool:
    """Whether an attachment's type is allowed: by magic number, else by extension."""
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    for magic, extensions in _MAGIC:
        if head.startswith(magic):
            return extension in extensions
    return extension in ALLOWED_EXTENSIONS


@dataclass(frozen=True)
class ListQuery:
    """A listing's parameters once validated."""

    limit: int = 10
    offset: int = 0
    status: str | None = None
    tag: str | None = None
    exclude_params: bool = False
    created_at: tuple[tuple[str, dt.datetime], ...] = ()
    sort_key: str = "created_at"
    descending: bool = True


def check_list_query(pairs: list[tuple[str, str]]) -> ListQuery | str:
    """Validate a listing's query string (as decoded pairs); return it or the problem."""
    values: dict[str, str] = {}
    for name, value in pairs:
        if name not in _LIST_PARAMS:
            return f'"{name}" is not allowed'
        if name in values:
            return f'"{name}" must be a single value'
        values[name] = value
    fields: dict[str, Any] = {}
    for name, low, high in (("limit", 1, 1000), ("offset", 0, None)):
        if name not in values:
            continue
        text = values[name]
        if not re.fullmatch(r"[+-]?\d+", text.strip()):
            return f'"{name}" must be a number'
        number = int(text)
        if number < low:
            return f'"{name}" must be greater than or equal to {low}'
        if high is not None and number > high:
            return f'"{name}" must be less than or equal to {high}'
        fields[name] = number
    if "status" in values:
        if values["status"].upper() not in LIST_STATUSES:
            return f'"status" must be one of [{", ".join(LIST_STATUSES)}]'
        fields["status"] = values["status"].upper()
    if "tag" in values:
        fields["tag"] = values["tag"]
    if "exclude_params" in values:
        flag = _flag(values["exclude_params"])
        if flag is None:
            return '"exclude_params" must be a boolean'
        fields["exclude_params"] = flag
    bounds = []
    for op in _TIME_FILTERS:
        bound = values.get(f"created_at[{op}]")
        if bound is None:
            continue
        moment = parse_time(bound)
        if moment is None:
            return f'"created_at.{op}" must be in ISO 8601 date format'
        bounds.append((op, moment))
    fields["created_at"] = tuple(bounds)
    if "sort_by" in values:
        match = re.fullmatch(r"([+-]?)(created_at|updated_at)", values["sort_by"])
        if match is None:
            return '"sort_by" must be one of [created_at, updated_at] with an optional + or -'
        fields["sort_key"] = match.group(2)
        fields["descending"] = match.group(1) != "+"
    return ListQuery(**fields)


def parse_time(text: str) -> dt.datetime | None:
    """Parse an ISO 8601 time; without an offset it is UTC."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def time_matches(moment: dt.datetime, bounds: tuple[tuple[str, dt.datetime], ...]) -> bool:
    """Whether ``moment`` satisfies every ``(op, limit)`` bound."""
    for op, limit in bounds:
        if (
            (op == "gt" and not moment > limit)
            or (op == "gte" and not moment >= limit)
            or (op == "lt" and not moment < limit)
            or (op == "lte" and not moment <= limit)
        ):
            return False
    return True
