"""Response bodies, field for field as the API reference shows them."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")


class TemplateBodyOut(msgspec.Struct, rename="camel"):
    """``templateBody``."""

    created_at: str
    updated_at: str
    id: str
    template_id: str
    language: str
    body: str
    creator_id: str


class BatchJoinOut(msgspec.Struct, rename="camel"):
    """``BatchMessage``: the join record between a batch and a message."""

    created_at: str
    updated_at: str
    id: str
    batch_id: str
    message_id: str


class BatchOut(msgspec.Struct, rename="camel"):
    """An entry of a message's ``batches``."""

    created_at: str
    updated_at: str
    id: str
    original_file_name: str
    status: str
    campaign_id: str
    creator_id: str
    total_messages: int
    batch_message: BatchJoinOut = msgspec.field(name="BatchMessage")


class AttemptErrorOut(msgspec.Struct):
    """``attempts[].error``."""

    type: str
    code: str


class AttemptOut(msgspec.Struct, rename="camel", omit_defaults=True):
    """An entry of ``attempts`` (single-message GET); ``error`` only on failures."""

    status: str
    created_at: str
    sent_at: str | None
    delivered_at: str | None
    error: AttemptErrorOut | None = None


class CreatorOut(msgspec.Struct):
    """``messageAttempts[].creator``."""

    email: str


class MessageAttemptOut(msgspec.Struct, rename="camel"):
    """An entry of ``messageAttempts`` (batch listing), with flat error fields."""

    sent_at: str | None
    delivered_at: str | None
    created_at: str
    updated_at: str
    id: str
    message_id: str
    external_attempt_id: str
    status: str
    error_type: str | None
    error_code: str | None
    metadata: dict[str, Any]
    creator_id: str
    creator: CreatorOut


class MessageBaseOut(msgspec.Struct, rename="camel"):
    """The nine fields every message object starts with, in Postman's order."""

    created_at: str
    updated_at: str
    id: str
    recipient: str | dict[str, str]
    values: dict[str, str]
    full_message: str
    latest_status: str
    template_body_id: str
    campaign_id: str


class CreatedMessageOut(MessageBaseOut):
    """Answer of single send and single retry."""

    language: str
    creator_id: str


class MessageOut(MessageBaseOut):
    """Answer of the single-message GET."""

    template_body: TemplateBodyOut
    batches: list[BatchOut]
    language: str
    creator_email: str
    creator_id: str
    attempts: list[AttemptOut]


class ListedMessageOut(MessageBaseOut, omit_defaults=True):
    """An item of the campaign message listing; ``batchId`` only for batch messages."""

    template_body: TemplateBodyOut
    batches: list[BatchOut]
    language: str
    batch_id: str | None = None


class BatchMessageOut(MessageBaseOut):
    """An item of the batch message listing."""

    template_body: TemplateBodyOut
    message_attempts: list[MessageAttemptOut]
    language: str
    creator_email: str
    num_attempts: int


class PageDataOut(msgspec.Struct, rename="camel"):
    """``pageData``; cursors are ``null`` on an empty page."""

    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


class ListOut(msgspec.Struct, Generic[T], rename="camel"):
    """Answer of both listings."""

    data: list[T]
    page_data: PageDataOut


class BatchCreatedOut(msgspec.Struct, rename="camel"):
    """Answer of batch send."""

    is_valid: bool
    batch_id: str


_REPORT_NAMES = {
    "is_valid": "isValid",
    "report_url": "reportURL",
    "num_rows": "numRows",
    "num_errors": "numErrors",
    "file_has_avoidable_expensive_character": "fileHasAvoidableExpensiveCharacter",
    "file_has_unicode": "fileHasUnicode",
}


class BatchReportOut(msgspec.Struct, rename=_REPORT_NAMES):
    """Answer of batch send for a file that failed validation (the SFTP report's shape)."""

    is_valid: bool
    report_url: str
    num_rows: int
    num_errors: int
    file_has_avoidable_expensive_character: bool
    file_has_unicode: bool
