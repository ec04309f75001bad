"""Local checks of an email send or listing, before any rate budget is spent.

Pure functions: each returns the value Postman expects or raises
:class:`~postman_async.ValidationError` saying what to fix.  Messages never
contain a full address, a subject, a body or an API key.  The limits are those
of Postman's v1 server (see ``EmailAccount.send``).
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import os
import pathlib
import re
from collections.abc import Sequence
from typing import Final, Union

import msgspec

from ._email_models import (
    KNOWN_CLASSIFICATIONS,
    EmailClassification,
    EmailSendRequest,
    EmailStatus,
    mask_email,
)
from ._errors import ValidationError
from ._validate import Secret, check_api_key

#: Largest body, in bytes of UTF-8.
MAX_BODY_BYTES: Final = 1024 * 1024
#: Every attachment must be smaller than this, in bytes.
MAX_ATTACHMENT_BYTES: Final = 10 * 1024 * 1024
#: All attachments of one email together, at most, in bytes.
MAX_TOTAL_ATTACHMENT_BYTES: Final = 10 * 1024 * 1024
#: Cc and bcc addresses together, at most (50 recipients with the recipient).
MAX_COPIES: Final = 49
#: Longest tag, in characters.
MAX_TAG_LENGTH: Final = 255
#: The file types Postman accepts as attachments, by extension.
# fmt: off
ALLOWED_EXTENSIONS: Final = frozenset((
    "asc", "avi", "bmp", "csv", "dgn", "docx", "dwf", "dwg", "dxf", "ent", "gif",
    "jpeg", "jpg", "mpeg", "mpg", "mpp", "odb", "odf", "odg", "ods", "pdf", "png",
    "pptx", "rtf", "sxc", "sxd", "sxi", "sxw", "tif", "tiff", "txt", "wmv", "xlsx",
))
# fmt: on
#: Postman's own sender addresses: attachments are refused when sending from them.
DEFAULT_SENDER_ADDRESSES: Final = frozenset(
    {"info@mail.postman.gov.sg", "donotreply@mail.postman.gov.sg"}
)
#: What ``sort_by`` accepts when listing.
SORT_KEYS: Final = frozenset(
    f"{sign}{key}" for sign in ("", "+", "-") for key in ("created_at", "updated_at")
)
MAX_LIST_LIMIT: Final = 1000

#: What ``attachments=`` holds: paths to files, or ``(file name, content)`` pairs.
AttachmentSource = Union[str, "os.PathLike[str]", tuple[str, bytes]]

_LOCAL = re.compile(r"[^\s@<>()\[\],;:\"\\]+")
_LABEL = re.compile(r"(?!-)[^\W_](?:[^\W_]|-){0,62}(?<!-)")
_TLD = re.compile(r"(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: ``Name <address>`` (the name may be quoted) or a bare address.
_SENDER = re.compile(r"(?:[^<>]*?\s*<(?P<address>[^<>\s]+)>|(?P<bare>[^<>\s]+))")


def check_address(value: object, what: str) -> str:
    """Check one email address and return it lower-cased (as Postman stores it).

    Raises:
        ValidationError: not a string, or not one address of the form
            ``name@domain.tld``.  The message masks the address.
    """
    if not isinstance(value, str):
        raise ValidationError(
            f"{what} must be one email address as a string, not {type(value).__name__}"
        )
    text = value.strip()
    if not text:
        raise ValidationError(f"{what} is empty; give an email address such as tan@example.com")
    if len(text) > 254:
        raise ValidationError(f"{what} is {len(text)} characters; an address has at most 254")
    if any(sep in text for sep in ",; ") or text.count("@") > 1:
        raise ValidationError(
            f"{what} {mask_email(text)} holds more than one address; give exactly one "
            "(use cc= or bcc= for the others)"
        )
    local, at, domain = text.rpartition("@")
    labels = domain.split(".")
    if (
        not at
        or len(local) > 64
        or not _LOCAL.fullmatch(local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or not _TLD.fullmatch(labels[-1])
    ):
        raise ValidationError(
            f"{what} {mask_email(text)} is not a valid email address (expected name@domain.tld)"
        )
    return text.lower()


def check_text(value: object, what: str) -> str:
    """Check a required, non-blank string (the subject)."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, not {type(value).__name__}")
    if not value.strip():
        raise ValidationError(f"{what} is empty; Postman needs a non-empty {what}")
    return value


def check_body(value: object) -> str:
    """Check the HTML body: a non-blank string of at most 1 MiB in UTF-8."""
    body = check_text(value, "body")
    try:
        size = len(body.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValidationError(
            "body holds characters that cannot be encoded as UTF-8 (lone surrogates)"
        ) from None
    if size > MAX_BODY_BYTES:
        raise ValidationError(
            f"body is {size} bytes of UTF-8; Postman accepts at most {MAX_BODY_BYTES} (1 MiB). "
            "Link to large content instead of embedding it"
        )
    return body


def check_sender(value: object) -> tuple[str, str] | None:
    """Check ``sender`` (Postman's ``from``): ``"Name <address>"`` or a bare address.

    Returns:
        ``(the header as given, its address lower-cased)``, or ``None`` for the
        default sender.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            "sender must be a string such as 'Clinic <clinic@agency.gov.sg>', or None for "
            "Postman's default sender"
        )
    text = value.strip()
    if _CONTROL.search(text):
        raise ValidationError("sender contains control characters (a line break?)")
    match = _SENDER.fullmatch(text)
    if match is None:
        raise ValidationError(
            "sender is not 'Name <address>' or an address, e.g. 'Clinic <clinic@agency.gov.sg>'"
        )
    return text, check_address(match.group("address") or match.group("bare"), "sender address")


def check_copies(value: object, what: str) -> list[str] | None:
    """Check ``cc`` or ``bcc``: a sequence of unique addresses (``None`` or empty: none)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValidationError(
            f"{what} must be a list of addresses, e.g. ['clinic@example.gov.sg'], "
            f"not {type(value).__name__}"
        )
    addresses = [check_address(item, f"{what}[{index}]") for index, item in enumerate(value)]
    seen: set[str] = set()
    for index, address in enumerate(addresses):
        if address in seen:
            raise ValidationError(
                f"{what}[{index}] {mask_email(address)} appears twice in {what}; "
                "Postman needs unique addresses"
            )
        seen.add(address)
    return addresses or None


def check_copy_count(cc: list[str] | None, bcc: list[str] | None) -> None:
    """Refuse more than 49 cc and bcc addresses together."""
    total = len(cc or ()) + len(bcc or ())
    if total > MAX_COPIES:
        raise ValidationError(
            f"cc and bcc hold {total} addresses; Postman allows at most {MAX_COPIES} "
            "(50 recipients in all). Send several emails instead"
        )


def check_classification(value: object) -> str | None:
    """Check ``classification``: ``URGENT``, ``FOR_ACTION`` or ``FOR_INFO`` (any case)."""
    if value is None:
        return None
    text = value.value if isinstance(value, EmailClassification) else value
    if isinstance(text, str) and text.strip().upper() in KNOWN_CLASSIFICATIONS:
        return text.strip().upper()
    raise ValidationError(
        f"classification must be one of {', '.join(sorted(KNOWN_CLASSIFICATIONS))}, got {value!r}"
    )


def check_tag(value: object) -> str | None:
    """Check ``tag``: a non-empty string of at most 255 characters."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValidationError(f"tag must be a non-empty string, got {value!r}")
    if len(value) > MAX_TAG_LENGTH:
        raise ValidationError(
            f"tag is {len(value)} characters; Postman accepts at most {MAX_TAG_LENGTH}"
        )
    return value


def check_flag(value: object, what: str) -> bool:
    """Check a boolean option."""
    if not isinstance(value, bool):
        raise ValidationError(f"{what} must be True or False, got {value!r}")
    return value


class Attachment(msgspec.Struct, frozen=True):
    """One attachment to send: its file name, its size, and where its bytes are."""

    #: The name the recipient sees.
    filename: str
    #: The file itself (streamed when sent) or the content in memory.
    source: pathlib.Path | bytes
    #: Size in bytes.
    size: int
    #: The part's content type.
    content_type: str


def attachment_name(value: object, index: int) -> tuple[str, pathlib.Path | bytes]:
    """Read one ``attachments=`` item: a path, or a ``(file name, bytes)`` pair.

    Returns:
        The file name and the source (a path not yet opened, or the bytes).
    """
    where = f"attachments[{index}]"
    if isinstance(value, tuple) and len(value) == 2:
        name, data = value
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ValidationError(f"{where}: the content of a (name, content) pair must be bytes")
        return _check_filename(name, where), bytes(data)
    if isinstance(value, (str, os.PathLike)):
        path = pathlib.Path(value)
        return _check_filename(path.name, where), path
    raise ValidationError(
        f"{where} must be a path to a file or a (file name, bytes) pair, not {type(value).__name__}"
    )


def _check_filename(name: object, where: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{where}: the file name must be a non-empty string")
    if _CONTROL.search(name) or "/" in name or "\\" in name or '"' in name:
        raise ValidationError(
            f"{where}: the file name {name!r} may not contain slashes, quotes or control characters"
        )
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if extension not in ALLOWED_EXTENSIONS:
        kind = f".{extension} files" if extension else "files without an extension"
        raise ValidationError(
            f"{where}: Postman does not accept {kind}; allowed extensions: "
            f"{', '.join(sorted(ALLOWED_EXTENSIONS))}"
        )
    return name


def check_attachments(
    items: Sequence[tuple[str, pathlib.Path | bytes, int]], sender: tuple[str, str] | None
) -> list[Attachment]:
    """Check attachment sizes and the sender, given each item's name, source and size.

    Each attachment must be smaller than 10 MiB and all of them together at
    most 10 MiB; attachments need a sender other than Postman's default.
    """
    if not items:
        return []
    if sender is None or sender[1] in DEFAULT_SENDER_ADDRESSES:
        raise ValidationError(
            "Postman refuses attachments from its default sender address; pass "
            "sender='Name <address>' with your own Postman-verified address"
        )
    total = 0
    checked = []
    for index, (name, source, size) in enumerate(items):
        if size >= MAX_ATTACHMENT_BYTES:
            raise ValidationError(
                f"attachments[{index}] ({name}) is {size} bytes; each attachment must be "
                f"smaller than {MAX_ATTACHMENT_BYTES} (10 MiB)"
            )
        total += size
        content_type = mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"
        checked.append(Attachment(name, source, size, content_type))
    if total > MAX_TOTAL_ATTACHMENT_BYTES:
        raise ValidationError(
            f"attachments total {total} bytes; Postman accepts at most "
            f"{MAX_TOTAL_ATTACHMENT_BYTES} (10 MiB) per email"
        )
    return checked


def check_email_key(api_key: object) -> tuple[Secret, str]:
    """Check a v1 API key (``<name>_v1_<secret>``) and return it with its account name.

    The account name (the part before the first ``_``) keys the account's
    shared rate limit; the key itself never leaves this function but as a
    :class:`~postman_async._validate.Secret`.
    """
    key = check_api_key(api_key)
    parts = key.reveal().split("_")
    if parts[:2] in (["key", "live"], ["key", "test"]):
        raise ValidationError(
            "api_key is a Postman v2 campaign key (key_live_... or key_test_...); email "
            "needs a v1 API key (<name>_v1_<secret>) from Postman's legacy portal"
        )
    if len(parts) < 3 or not all(parts):
        raise ValidationError(
            "api_key is not a Postman v1 API key (they look like <name>_v1_<secret>); "
            "v2 campaign keys (key_live_...) do not work for email"
        )
    return key, parts[0]


def check_email_id(value: object) -> str:
    """Check a message ID: a whole number, as a string or an int."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    raise ValidationError(f"email_id must be a message's numeric ID such as '1234', got {value!r}")


def check_status_filter(value: object) -> str | None:
    """Check a listing's ``status`` filter: one known :class:`EmailStatus` (any case)."""
    if value is None:
        return None
    text = value.value if isinstance(value, EmailStatus) else value
    known = {member.value for member in EmailStatus}
    if isinstance(text, str) and text.strip().upper() in known:
        return text.strip().upper()
    raise ValidationError(f"status must be one of {', '.join(sorted(known))}, got {value!r}")


def check_sort_by(value: object) -> str | None:
    """Check ``sort_by``: ``created_at`` or ``updated_at``, optionally prefixed ``+`` or ``-``."""
    if value is None:
        return None
    if isinstance(value, str) and value in SORT_KEYS:
        return value
    raise ValidationError(
        "sort_by must be created_at or updated_at, optionally prefixed with + (oldest first) "
        f"or - (newest first), got {value!r}"
    )


def check_page_size(value: object) -> int:
    """Check a page size: a whole number from 1 to 1000."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIST_LIMIT:
        raise ValidationError(f"page_size must be 1 to {MAX_LIST_LIMIT}, got {value!r}")
    return value


def check_time(value: object, what: str) -> str | None:
    """Check a timezone-aware datetime filter and return it as ISO 8601 in UTC."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValidationError(
            f"{what} must be a timezone-aware datetime, e.g. "
            "datetime.now(timezone.utc) - timedelta(days=1)"
        )
    utc = value.astimezone(dt.UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_send(
    *,
    recipient: object,
    subject: object,
    body: object,
    sender: object = None,
    reply_to: object = None,
    cc: object = None,
    bcc: object = None,
    classification: object = None,
    tag: object = None,
    disable_tracking: object = False,
) -> tuple[EmailSendRequest, tuple[str, str] | None]:
    """Check every field of a send and build its request body.

    Returns:
        The request body, and the sender (header and address) or ``None`` for
        Postman's default sender.
    """
    checked_sender = check_sender(sender)
    copies = check_copies(cc, "cc")
    blind = check_copies(bcc, "bcc")
    request = EmailSendRequest(
        recipient=check_address(recipient, "recipient"),
        subject=check_text(subject, "subject"),
        body=check_body(body),
        sender=None if checked_sender is None else checked_sender[0],
        reply_to=None if reply_to is None else check_address(reply_to, "reply_to"),
        cc=copies,
        bcc=blind,
        classification=check_classification(classification),
        tag=check_tag(tag),
        disable_tracking=check_flag(disable_tracking, "disable_tracking") or None,
    )
    check_copy_count(copies, blind)
    return request, checked_sender
