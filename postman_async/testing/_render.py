"""Turning stored records into response bodies, as of one moment on the lifecycle clock.

A message's JSON in a listing or a single GET is kept on its record with the state it
was rendered in (its attempts' statuses, its batch's), and reused while that state
holds: pages of messages polled again and again cost a comparison per message, not a
rendering.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import msgspec

from ._clock import LifecycleClock
from ._mock_campaign import MockCampaign
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
    MessageOut,
    PageDataOut,
    TemplateBodyOut,
)

T = TypeVar("T")

_encode = msgspec.json.Encoder().encode
#: What a message body shows of its state: each attempt's (status, time reached), the
#: record's own update time, and its batch's (status, time changed, size).
_State = tuple[object, ...]


class Renderer:
    """Turns records into response bodies as of one moment on the lifecycle clock."""

    __slots__ = ("_campaign", "_clock", "_iso", "_templates", "now")

    def __init__(self, clock: LifecycleClock, campaign: MockCampaign, now: float) -> None:
        self._clock = clock
        self._iso = clock.isoformat
        self._campaign = campaign
        #: The lifecycle time statuses are computed for.
        self.now = now
        self._templates: dict[str, TemplateBodyOut] = {}

    def created(self, message: MockMessage) -> CreatedMessageOut:
        """Body of a send or retry answer."""
        return CreatedMessageOut(
            *self._head(message, message.attempts[-1].status_at(self.now)),
            language=message.language,
            creator_id=self._campaign.creator_id,
        )

    def message(self, message: MockMessage) -> msgspec.Raw:
        """Body of the single-message GET (attempts newest first), as JSON."""
        state = (self._attempts_state(message), self._batch_state(message))
        return self._cached(message, "message", state, self._message)

    def listed(self, message: MockMessage) -> msgspec.Raw:
        """An item of the campaign listing, as JSON."""
        state = (message.attempts[-1].status_at(self.now), message.updated_at)
        return self._cached(message, "listed", (state, self._batch_state(message)), self._listed)

    def batch_message(self, message: MockMessage) -> msgspec.Raw:
        """An item of the batch listing (attempts newest first), as JSON."""
        return self._cached(
            message, "batch_message", self._attempts_state(message), self._batch_message
        )

    def _cached(
        self,
        message: MockMessage,
        kind: str,
        state: object,
        render: Callable[[MockMessage], object],
    ) -> msgspec.Raw:
        """``message``'s JSON of ``kind``: the one kept if rendered in this state, else anew."""
        cache = message.rendered
        if cache is None:
            cache = message.rendered = {}
        else:
            kept = cache.get(kind)
            if kept is not None and kept[0] == state:
                return msgspec.Raw(kept[1])
        body = _encode(render(message))
        cache[kind] = (state, body)
        return msgspec.Raw(body)

    def _attempts_state(self, message: MockMessage) -> _State:
        now = self.now
        return (message.updated_at, *[attempt.status_at(now) for attempt in message.attempts])

    def _batch_state(self, message: MockMessage) -> _State | None:
        batch = message.batch
        if batch is None:
            return None
        now = self.now
        return (batch.status_at(now), batch.updated_at_time(now), len(batch.messages))

    def _message(self, message: MockMessage) -> MessageOut:
        campaign = self._campaign
        return MessageOut(
            *self._head(message, message.attempts[-1].status_at(self.now)),
            template_body=self._template(message.language),
            batches=self._batches(message),
            language=message.language,
            creator_email=campaign.creator_email,
            creator_id=campaign.creator_id,
            attempts=[self._attempt(attempt) for attempt in reversed(message.attempts)],
        )

    def _listed(self, message: MockMessage) -> ListedMessageOut:
        return ListedMessageOut(
            *self._head(message, message.attempts[-1].status_at(self.now)),
            template_body=self._template(message.language),
            batches=self._batches(message),
            language=message.language,
            batch_id=message.batch.id if message.batch is not None else None,
        )

    def _batch_message(self, message: MockMessage) -> BatchMessageOut:
        campaign = self._campaign
        return BatchMessageOut(
            *self._head(message, message.attempts[-1].status_at(self.now)),
            template_body=self._template(message.language),
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

    def _head(
        self, message: MockMessage, latest: tuple[str, float]
    ) -> tuple[str, str, str, str | dict[str, str], dict[str, str], str, str, str, str]:
        """The fields every message object starts with, in order (``latest``: its status)."""
        status, changed = latest
        return (
            message.created_iso,
            self._iso(max(message.updated_at, changed)),
            message.id,
            message.shown_recipient,
            message.values,
            message.full_message,
            status,
            message.template_body_id,
            message.campaign_id,
        )

    def _template(self, language: str) -> TemplateBodyOut:
        shown = self._templates.get(language)
        if shown is None:
            template = self._campaign.template_bodies[language]
            shown = self._templates[language] = TemplateBodyOut(
                created_at=template.created_iso,
                updated_at=template.created_iso,
                id=template.id,
                template_id=self._campaign.template_id,
                language=template.language,
                body=template.body,
                creator_id=self._campaign.creator_id,
            )
        return shown

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
