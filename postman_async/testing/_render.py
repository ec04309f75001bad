"""Turning stored records into response bodies, as of one moment on the lifecycle clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from ._clock import LifecycleClock
from ._mock_campaign import MockCampaign, TemplateBody
from ._pagination import PageSlice, encode_cursor
from ._records import MockAttempt, MockBatch, MockMessage
from ._wire import (
    AttemptErrorOut,
    AttemptOut,
    BatchJoinOut,
    BatchMessageOut,
    BatchOut,
    CreatedMessageOut,
    CreatorOut,
    ListedMessageOut,
    ListOut,
    MessageAttemptOut,
    MessageBaseOut,
    MessageOut,
    PageDataOut,
    TemplateBodyOut,
)

T = TypeVar("T")


class Renderer:
    """Turns records into response bodies as of one moment on the lifecycle clock."""

    __slots__ = ("_campaign", "_clock", "_iso", "now")

    def __init__(self, clock: LifecycleClock, campaign: MockCampaign, now: float) -> None:
        self._clock = clock
        self._iso = clock.isoformat
        self._campaign = campaign
        #: The lifecycle time statuses are computed for.
        self.now = now

    def created(self, message: MockMessage) -> CreatedMessageOut:
        """Body of a send or retry answer."""
        return CreatedMessageOut(
            **self._head(message),
            language=message.language,
            creator_id=self._campaign.creator_id,
        )

    def message(self, message: MockMessage) -> MessageOut:
        """Body of the single-message GET (attempts newest first)."""
        campaign = self._campaign
        return MessageOut(
            **self._head(message),
            template_body=self._template(campaign.template_bodies[message.language]),
            batches=self._batches(message),
            language=message.language,
            creator_email=campaign.creator_email,
            creator_id=campaign.creator_id,
            attempts=[self._attempt(attempt) for attempt in reversed(message.attempts)],
        )

    def listed(self, message: MockMessage) -> ListedMessageOut:
        """An item of the campaign listing."""
        return ListedMessageOut(
            **self._head(message),
            template_body=self._template(self._campaign.template_bodies[message.language]),
            batches=self._batches(message),
            language=message.language,
            batch_id=message.batch.id if message.batch is not None else None,
        )

    def batch_message(self, message: MockMessage) -> BatchMessageOut:
        """An item of the batch listing (attempts newest first)."""
        campaign = self._campaign
        return BatchMessageOut(
            **self._head(message),
            template_body=self._template(campaign.template_bodies[message.language]),
            message_attempts=[
                self._message_attempt(message, attempt) for attempt in reversed(message.attempts)
            ],
            language=message.language,
            creator_email=campaign.creator_email,
            num_attempts=len(message.attempts),
        )

    def page(self, page: PageSlice[MockMessage], item: Callable[[MockMessage], T]) -> ListOut[T]:
        """Body of a listing, rendering each record with ``item``."""
        items = page.items
        return ListOut(
            data=[item(message) for message in items],
            page_data=PageDataOut(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start_cursor=encode_cursor(items[0].key) if items else None,
                end_cursor=encode_cursor(items[-1].key) if items else None,
            ),
        )

    def _head(self, message: MockMessage) -> dict[str, Any]:
        """The fields every message object starts with, as keyword arguments."""
        head = MessageBaseOut(
            created_at=message.created_iso,
            updated_at=self._iso(message.updated_at_time(self.now)),
            id=message.id,
            recipient=message.shown_recipient,
            values=message.values,
            full_message=message.full_message,
            latest_status=message.status_at(self.now),
            template_body_id=message.template_body_id,
            campaign_id=message.campaign_id,
        )
        return msgspec.structs.asdict(head)

    def _template(self, template: TemplateBody) -> TemplateBodyOut:
        return TemplateBodyOut(
            created_at=template.created_iso,
            updated_at=template.created_iso,
            id=template.id,
            template_id=self._campaign.template_id,
            language=template.language,
            body=template.body,
            creator_id=self._campaign.creator_id,
        )

    def _batches(self, message: MockMessage) -> list[BatchOut]:
        batch = message.batch
        if batch is None:
            return []
        return [self._batch(batch, message)]

    def _batch(self, batch: MockBatch, message: MockMessage) -> BatchOut:
        return BatchOut(
            created_at=batch.created_iso,
            updated_at=self._iso(batch.updated_at_time(self.now)),
            id=batch.id,
            original_file_name=batch.original_file_name,
            status=batch.status_at(self.now),
            campaign_id=batch.campaign_id,
            creator_id=self._campaign.creator_id,
            total_messages=len(batch.messages),
            batch_message=BatchJoinOut(
                created_at=message.created_iso,
                updated_at=message.created_iso,
                id=message.batch_message_id,
                batch_id=batch.id,
                message_id=message.id,
            ),
        )

    def _attempt(self, attempt: MockAttempt) -> AttemptOut:
        status, _ = attempt.status_at(self.now)
        error = attempt.error if status == "failure" else None
        return AttemptOut(
            status=status,
            created_at=self._iso(attempt.started_at),
            sent_at=self._optional_iso(attempt.sent_at(self.now)),
            delivered_at=self._optional_iso(attempt.delivered_at(self.now)),
            error=AttemptErrorOut(error.type, error.code) if error is not None else None,
        )

    def _message_attempt(self, message: MockMessage, attempt: MockAttempt) -> MessageAttemptOut:
        status, changed = attempt.status_at(self.now)
        error = attempt.error if status == "failure" else None
        return MessageAttemptOut(
            sent_at=self._optional_iso(attempt.sent_at(self.now)),
            delivered_at=self._optional_iso(attempt.delivered_at(self.now)),
            created_at=self._iso(attempt.started_at),
            updated_at=self._iso(changed),
            id=attempt.id,
            message_id=message.id,
            external_attempt_id="",
            status=status,
            error_type=error.type if error is not None else None,
            error_code=error.code if error is not None else None,
            metadata={},
            creator_id=self._campaign.creator_id,
            creator=CreatorOut(self._campaign.creator_email),
        )

    def _optional_iso(self, at: float | None) -> str | None:
        return None if at is None else self._iso(at)
