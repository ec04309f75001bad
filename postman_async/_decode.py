"""Decoding Postman's answers into the public models, with typed errors for bad bodies."""

from __future__ import annotations

__all__ = ["decode_message", "decode_page", "decode_receipt"]

import msgspec

from ._errors import ResponseDecodeError
from ._models import (
    BatchReceipt,
    Message,
    Page,
    message_decoder,
    message_from_wire,
    page_decoder,
    receipt_decoder,
)

#: What decoding a bad body can raise; RecursionError comes from very deeply nested JSON.
_DECODE_FAILURES = (msgspec.DecodeError, ValueError, RecursionError)
#: How much of an undecodable body its error keeps (ResponseDecodeError keeps 2 KiB).
_BODY_KEPT = 4096


def _unshown(body: bytes | memoryview) -> memoryview:
    """``body`` as a view whose repr does not show it (no copy).

    A 2xx body echoes the recipient and the values; a traceback rendered with
    frame locals would print a decoder's ``bytes`` argument in full.
    """
    return memoryview(body)


def _decode_error(what: str, status: int, body: memoryview, exc: Exception) -> ResponseDecodeError:
    return ResponseDecodeError(
        f"Postman answered HTTP {status} but the body is not a valid {what}: {exc}",
        status=status,
        body=bytes(body[:_BODY_KEPT]),
    )


def decode_message(body: bytes | memoryview, status: int = 200) -> Message:
    """Decode a message object, raising :class:`ResponseDecodeError` on a bad body."""
    body = _unshown(body)
    try:
        return message_from_wire(message_decoder.decode(body))
    except _DECODE_FAILURES as exc:
        raise _decode_error("message object", status, body, exc) from exc


def decode_page(body: bytes | memoryview, status: int = 200) -> Page:
    """Decode a ``{data, pageData}`` list page."""
    body = _unshown(body)
    try:
        wire = page_decoder.decode(body)
        return Page(tuple(message_from_wire(m) for m in wire.data), wire.page_data)
    except _DECODE_FAILURES as exc:
        raise _decode_error("message list page", status, body, exc) from exc


def decode_receipt(body: bytes | memoryview, status: int = 201) -> BatchReceipt:
    """Decode a batch-upload receipt."""
    body = _unshown(body)
    try:
        wire = receipt_decoder.decode(body)
    except _DECODE_FAILURES as exc:
        raise _decode_error("batch receipt", status, body, exc) from exc
    if wire.is_valid is None and wire.batch_id is None:
        raise ResponseDecodeError(
            f"Postman answered HTTP {status} to a batch upload with neither isValid nor batchId",
            status=status,
            body=bytes(body[:_BODY_KEPT]),
        )
    # Without ``isValid``, a batch ID means Postman accepted the file: reporting
    # it as refused would invite a resend that texts every recipient twice.
    is_valid = wire.is_valid if wire.is_valid is not None else wire.batch_id is not None
    return BatchReceipt(
        is_valid=is_valid,
        batch_id=wire.batch_id,
        report_url=wire.report_url,
        num_rows=wire.num_rows,
        num_errors=wire.num_errors,
        file_has_avoidable_expensive_character=wire.file_has_avoidable_expensive_character,
        file_has_unicode=wire.file_has_unicode,
    )
