"""What the mock stores: messages, their attempts, and batches.

Statuses are not stored: they are computed from an attempt's age on the lifecycle clock
whenever they are read.
"""

from __future__ import annotations

from ._clock import LifecycleClock
from ._lifecycle import DeliveryError, Schedule

#: Maximum attempts per message (the first send included).
MAX_ATTEMPTS = 3


class MockAttempt:
    """One attempt to deliver a message."""

    __slots__ = ("error", "id", "schedule", "started_at")

    def __init__(
        self, attempt_id: str, started_at: float, schedule: Schedule, error: DeliveryError | None
    ) -> None:
        #: Attempt ID.
        self.id = attempt_id
        #: Lifecycle time the attempt began.
        self.started_at = started_at
        #: The statuses it goes through.
        self.schedule = schedule
        #: The error it fails with, if its schedule ends in failure.
        self.error = error

    def status_at(self, now: float) -> tuple[str, float]:
        """Return the status at lifecycle time ``now`` and the time it was reached."""
        status, age = self.schedule.at(now - self.started_at)
        return status, self.started_at + age

    def sent_at(self, now: float) -> float | None:
        """Return when the provider accepted the message, if it has by ``now``."""
        age = self.schedule.sent_age
        if age is None or now < self.started_at + age:
            return None
        return self.started_at + age

    def delivered_at(self, now: float) -> float | None:
        """Return when the telco reported delivery, if the attempt succeeded by ``now``."""
        age = self.schedule.outcome_age
        if age is None or self.schedule.final_status != "success" or now < self.started_at + age:
            return None
        return self.started_at + age

    def failed_error(self, now: float) -> DeliveryError | None:
        """Return the attempt's error if it has failed by ``now``."""
        return self.error if self.status_at(now)[0] == "failure" else None


class MockMessage:
    """One message, as the service stores it."""

    __slots__ = (
        "_clock",
        "attempts",
        "batch",
        "batch_message_id",
        "campaign_id",
        "created_at",
        "created_iso",
        "full_message",
        "id",
        "key",
        "language",
        "recipient",
        "rendered",
        "searchable",
        "shown_recipient",
        "template_body_id",
        "updated_at",
        "values",
    )

    def __init__(
        self,
        *,
        clock: LifecycleClock,
        message_id: str,
        campaign_id: str,
        recipient: str,
        language: str,
        values: dict[str, str],
        full_message: str,
        template_body_id: str,
        created_at: float,
        batch: MockBatch | None = None,
        batch_message_id: str = "",
        shown_recipient: str | dict[str, str] | None = None,
    ) -> None:
        self._clock = clock
        #: Message ID.
        self.id = message_id
        #: Campaign it belongs to.
        self.campaign_id = campaign_id
        #: The number it is sent to.
        self.recipient = recipient
        #: ``recipient`` as answers show it: the number, or the object of an NRIC send.
        self.shown_recipient: str | dict[str, str] = (
            recipient if shown_recipient is None else shown_recipient
        )
        #: What the listings' ``search`` matches against (an NRIC send: the NRIC).
        shown = self.shown_recipient
        self.searchable = shown if isinstance(shown, str) else shown.get("value", "")
        #: Template language.
        self.language = language
        #: Template values as submitted.
        self.values = values
        #: Rendered text with header and footer.
        self.full_message = full_message
        #: ID of the template body used.
        self.template_body_id = template_body_id
        #: Lifecycle time of creation.
        self.created_at = created_at
        #: ``createdAt`` as shown to callers.
        self.created_iso = clock.isoformat(created_at)
        #: Lifecycle time of the last change to the record itself (creation or retry).
        self.updated_at = created_at
        #: Attempts, oldest first.
        self.attempts: list[MockAttempt] = []
        #: The batch it was created by, if any.
        self.batch = batch
        #: ID of the batch/message join record.
        self.batch_message_id = batch_message_id
        #: Sort key for listings.
        self.key = (self.created_iso, message_id)
        #: The renderer's cache: per body kind, the state it was rendered in and the JSON.
        self.rendered: dict[str, tuple[object, bytes]] | None = None

    @property
    def latest_status(self) -> str:
        """The message's status now."""
        return self.status_at(self._clock.now())

    @property
    def latest_attempt(self) -> MockAttempt:
        """The newest attempt."""
        return self.attempts[-1]

    def status_at(self, now: float) -> str:
        """Return the status at lifecycle time ``now``."""
        return self.attempts[-1].status_at(now)[0]

    def updated_at_time(self, now: float) -> float:
        """Return the lifecycle time of the last change visible at ``now``."""
        return max(self.updated_at, self.attempts[-1].status_at(now)[1])


class MockBatch:
    """One uploaded CSV and the messages it created."""

    __slots__ = (
        "_clock",
        "campaign_id",
        "created_at",
        "created_iso",
        "enqueued_at",
        "enqueuing_failed_at",
        "id",
        "keys",
        "messages",
        "original_file_name",
    )

    def __init__(
        self,
        *,
        clock: LifecycleClock,
        batch_id: str,
        campaign_id: str,
        original_file_name: str,
        created_at: float,
    ) -> None:
        self._clock = clock
        #: Batch ID.
        self.id = batch_id
        #: Campaign it belongs to.
        self.campaign_id = campaign_id
        #: The uploaded file's name.
        self.original_file_name = original_file_name
        #: Lifecycle time of creation.
        self.created_at = created_at
        #: ``createdAt`` as shown to callers.
        self.created_iso = clock.isoformat(created_at)
        #: When every message of the first attempts has left ``created`` (``None``: never).
        self.enqueued_at: float | None = created_at
        #: When a retry found unresolved messages (status ``messages_enqueuing_failed``).
        self.enqueuing_failed_at: float | None = None
        #: Messages in creation order, and their sort keys.
        self.messages: list[MockMessage] = []
        self.keys: list[tuple[str, str]] = []

    @property
    def status(self) -> str:
        """The batch's status now."""
        return self.status_at(self._clock.now())

    def status_at(self, now: float) -> str:
        """Return the status at lifecycle time ``now``.

        ``messages_enqueuing`` until its messages have left ``created``, then
        ``messages_enqueued``; ``messages_enqueuing_failed`` once a retry was refused because
        some messages were still ``created``.
        """
        if self.enqueuing_failed_at is not None:
            return "messages_enqueuing_failed"
        if self.enqueued_at is not None and now >= self.enqueued_at:
            return "messages_enqueued"
        return "messages_enqueuing"

    def updated_at_time(self, now: float) -> float:
        """Return the lifecycle time of the last status change visible at ``now``."""
        if self.enqueuing_failed_at is not None:
            return self.enqueuing_failed_at
        enqueued = self.enqueued_at
        return enqueued if enqueued is not None and now >= enqueued else self.created_at

    def note_message(self, message: MockMessage) -> None:
        """Add a newly created message, moving ``enqueued_at`` to when it leaves ``created``."""
        self.messages.append(message)
        self.keys.append(message.key)
        age = message.latest_attempt.schedule.enqueued_age
        if age is None or self.enqueued_at is None:
            self.enqueued_at = None
        else:
            self.enqueued_at = max(self.enqueued_at, message.created_at + age)
