"""``MockPostman``: every campaign, message and batch, and the operations on them."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from ._batch_csv import CsvRow
from ._clock import LifecycleClock
from ._email_state import MockEmail
from ._environments import Environment
from ._faults import FaultConfig, FaultInjector
from ._leniency import Leniency
from ._lifecycle import PROFILES, TEST_NUMBERS, Profile, pending_schedule, schedule_for
from ._mock_campaign import MockCampaign
from ._phone_numbers import is_foreign
from ._rate_windows import RateLimitModel
from ._records import MAX_ATTEMPTS, MockAttempt, MockBatch, MockMessage
from ._refusals import MockApiError
from ._script import FaultScript
from ._stats import Stats

_NOT_RETRYABLE = (
    "message_not_found_or_retry_message_not_in_failure_status",
    "Message cannot be retried: it does not exist or its latest status is not failure.",
)
_TOO_MANY_ATTEMPTS = (
    "too_many_message_attempts_error",
    f"Message has hit the maximum number of attempts of {MAX_ATTEMPTS}.",
)
_BATCH_NOT_RETRYABLE = (
    "batch_not_found_or_is_not_retryable",
    "Batch cannot be retried: it does not exist or is still being processed.",
)
_UNRESOLVED = (
    "unresolved_batch_messages",
    "Batch has messages that are still being created; retry once they are resolved.",
)
_NOTHING_TO_RETRY = (
    "no_failed_batch_messages_to_retry",
    "Batch has no failed messages that can be retried.",
)
_RETRYABLE_BATCH_STATUSES = frozenset({"messages_enqueued", "messages_enqueuing_failed"})


class MockPostman:
    """All state of the mock service: campaigns, messages, batches, faults and counters.

    Args:
        speed: Lifecycle seconds per real second. ``speed=10`` makes everything ten times
            faster, ``speed=0`` freezes the clock so only ``advance`` moves messages on.
        profile: How messages move on. ``fast`` (default): every attempt ends 3 lifecycle
            seconds after it starts. ``realistic``: delays drawn from a long-tailed
            distribution (most end within 10 s, a few take minutes) and 2% of attempts
            stay in ``sent_to_telco`` for good.
        leniency: Relaxations of the mock's strict readings of undocumented behaviour.
        seed: Seed of the ``realistic`` profile's draws, for repeatable runs; ``None`` draws
            from the OS.

    Example:
        >>> state = MockPostman(speed=0)
        >>> campaign = state.add_campaign(tps=10, variables=("otp",))
        >>> app = make_app(state)
    """

    def __init__(
        self,
        speed: float = 1.0,
        *,
        profile: Profile = "fast",
        leniency: Leniency | None = None,
        seed: int | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
        #: The lifecycle clock (message ages and timestamps).
        self.clock = LifecycleClock(speed=speed)
        #: The lifecycle profile: ``fast`` or ``realistic``.
        self.profile: Profile = profile
        #: Relaxations of strict readings (see ``Leniency``); assign a new one to change them.
        self.leniency = leniency if leniency is not None else Leniency()
        self._rng = random.Random(seed)  # noqa: S311 - simulation, not security
        #: The real monotonic clock the rate windows use.
        self.monotonic: Callable[[], float] = time.monotonic
        #: Campaigns by ID, in creation order.
        self.campaigns: dict[str, MockCampaign] = {}
        #: Every message by ID, in creation order.
        self.messages: dict[str, MockMessage] = {}
        #: Every batch by ID, in creation order.
        self.batches: dict[str, MockBatch] = {}
        #: Counters over all campaigns (each campaign also has its own ``stats``).
        self.stats = Stats()
        #: Validation reports of refused batch CSVs, by name (served under ``/_mock/reports``).
        self.reports: dict[str, bytes] = {}
        self._injector = FaultInjector(FaultConfig())
        #: Scripted faults: what the next requests to an endpoint get.
        self.script = FaultScript()
        self._sequence = 0
        #: The v1 email API's accounts and emails (same lifecycle clock).
        self.email = MockEmail(self.clock, lambda: self.monotonic())  # noqa: PLW0108 - late-bound

    @property
    def speed(self) -> float:
        """Lifecycle seconds per real second (0 freezes the clock)."""
        return self.clock.speed

    @speed.setter
    def speed(self, value: float) -> None:
        self.clock.speed = value

    @property
    def faults(self) -> FaultConfig:
        """The fault configuration; assigning one restarts its random draws from its seed."""
        return self._injector.config

    @faults.setter
    def faults(self, config: FaultConfig) -> None:
        self._injector = FaultInjector(config)

    @property
    def injector(self) -> FaultInjector:
        """Draws the faults of each request."""
        return self._injector

    def now(self) -> float:
        """Return the lifecycle time in seconds."""
        return self.clock.now()

    def advance(self, seconds: float) -> None:
        """Move the lifecycle clock forward by ``seconds``, ageing every message.

        Raises:
            ValueError: If ``seconds`` is negative.
        """
        self.clock.advance(seconds)

    def add_campaign(
        self,
        campaign_id: str | None = None,
        *,
        api_keys: Sequence[str] | None = None,
        environment: Environment | None = None,
        tps: int | Literal["auto"] | None = "auto",
        rate_limit: RateLimitModel = "sliding",
        languages: Sequence[str] = ("english",),
        variables: Sequence[str] = ("otp",),
        max_batch_rows: int | Literal["auto"] | None = "auto",
        hold_sent_to_telco: bool = False,
        templates: Mapping[str, str] | None = None,
        allowed_ips: Sequence[str] | None = None,
        nric: Mapping[str, str] | None = None,
    ) -> MockCampaign:
        """Create a campaign and return it.

        Args:
            campaign_id: Its ID; ``campaign_<uuid>`` when ``None``.
            api_keys: Up to three keys; one fresh key of the environment when ``None``.
            environment: ``test``, ``production`` or ``loadtest``. ``None``: from the keys
                (``key_test_``: test, ``key_live_``: production), test when none are given.
                Test numbers fail on cue only on test; load-test messages stay pending.
            tps: Requests per second allowed over all its endpoints; ``None`` for no limit;
                ``"auto"``: 10, or 200 on the load-test environment.
            rate_limit: How the limit is counted: ``sliding``, ``fixed`` or ``token_bucket``.
            languages: Enabled languages (of english, chinese, malay, tamil).
            variables: Template variables every send must fill.
            max_batch_rows: Most rows per batch CSV; ``None`` for no cap; ``"auto"``: 20 on
                the test environment, no cap elsewhere.
            hold_sent_to_telco: Keep every message in ``sent_to_telco`` (no telco report).
                Foreign numbers (not ``65...``) always stay there, as Postman warns.
            templates: Template text per language; by default the variables in a row.
            allowed_ips: The campaign's IP whitelist: requests from other addresses get
                400 ``invalid_ip_address_used``. ``None`` lets every address in.
            nric: For the legacy NRIC send (``"recipient": {"value": "S1234567A"}``): the
                simulated identifiers and the numbers they resolve to. ``None`` (new
                campaigns) refuses NRIC sends.

        Raises:
            ValueError: On invalid settings or an ID already in use.
        """
        if campaign_id is not None and campaign_id in self.campaigns:
            raise ValueError(f"campaign {campaign_id!r} already exists")
        campaign = MockCampaign(
            campaign_id=campaign_id,
            api_keys=api_keys,
            environment=environment,
            tps=tps,
            rate_limit=rate_limit,
            languages=languages,
            variables=variables,
            max_batch_rows=max_batch_rows,
            hold_sent_to_telco=hold_sent_to_telco,
            templates=templates,
            allowed_ips=allowed_ips,
            nric=nric,
            created_iso=self.clock.isoformat(self.now()),
        )
        self.campaigns[campaign.id] = campaign
        return campaign

    def add_report(self, campaign: MockCampaign, report: bytes) -> str:
        """Keep a batch validation report; return its name (``<campaign id>/<uuid>.csv``)."""
        name = f"{campaign.id}/{uuid.uuid4()}.csv"
        self.reports[name] = report
        return name

    def reset_stats(self) -> None:
        """Zero every counter, in total and per campaign."""
        self.stats.reset()
        for campaign in self.campaigns.values():
            campaign.stats.reset()

    def reset(self) -> None:
        """Forget every message and batch, counters and rate-limit history.

        Campaigns, their keys, the fault configuration, scripted faults and the leniency
        switches stay; validation reports go.
        """
        self.messages.clear()
        self.batches.clear()
        self.reports.clear()
        self.stats.reset()
        self.email.reset()
        for campaign in self.campaigns.values():
            campaign.clear()

    def create_message(
        self,
        campaign: MockCampaign,
        recipient: str,
        language: str,
        values: dict[str, str],
        *,
        batch: MockBatch | None = None,
        shown_recipient: str | dict[str, str] | None = None,
    ) -> MockMessage:
        """Create a message with its first attempt (inputs already validated).

        ``shown_recipient`` is what answers show as ``recipient`` when it is not the number
        (an NRIC send shows the object it was sent with).
        """
        now = self.now() if batch is None else batch.created_at
        message = MockMessage(
            clock=self.clock,
            message_id=f"message_{self._ordered_uuid()}",
            campaign_id=campaign.id,
            recipient=recipient,
            language=language,
            values=values,
            full_message=campaign.render(language, values),
            template_body_id=campaign.template_bodies[language].id,
            created_at=now,
            batch=batch,
            batch_message_id=str(uuid.uuid4()) if batch is not None else "",
            shown_recipient=shown_recipient,
        )
        self._start_attempt(campaign, message, now)
        campaign.add_message(message)
        self.messages[message.id] = message
        if batch is not None:
            batch.note_message(message)
        campaign.stats.messages_created += 1
        self.stats.messages_created += 1
        return message

    def create_batch(
        self, campaign: MockCampaign, rows: Sequence[CsvRow], file_name: str
    ) -> MockBatch:
        """Create a batch and one message per row (rows already validated)."""
        batch = MockBatch(
            clock=self.clock,
            batch_id=f"batch_{uuid.uuid4()}",
            campaign_id=campaign.id,
            original_file_name=file_name,
            created_at=self.now(),
        )
        campaign.batches[batch.id] = batch
        self.batches[batch.id] = batch
        for row in rows:
            self.create_message(campaign, row.recipient, row.language, row.values, batch=batch)
        return batch

    def retry_message(self, campaign: MockCampaign, message_id: str) -> MockMessage:
        """Start a new attempt of a failed message.

        Raises:
            MockApiError: If the message is unknown, has not failed, or is out of attempts.
        """
        message = self.messages.get(message_id)
        now = self.now()
        if message is None or message.campaign_id != campaign.id:
            raise MockApiError(400, *_NOT_RETRYABLE)
        if message.status_at(now) != "failure":
            raise MockApiError(400, *_NOT_RETRYABLE)
        if message.batch is not None and message.batch.status_at(now) not in (
            _RETRYABLE_BATCH_STATUSES
        ):
            raise MockApiError(400, *_NOT_RETRYABLE)
        if len(message.attempts) >= MAX_ATTEMPTS:
            raise MockApiError(400, *_TOO_MANY_ATTEMPTS)
        self._start_attempt(campaign, message, now)
        return message

    def retry_batch(self, campaign: MockCampaign, batch_id: str) -> list[MockMessage]:
        """Start a new attempt of every failed message of a batch; return those messages.

        Raises:
            MockApiError: If the batch is unknown or processing, has messages still ``created``,
                or has no failed message with attempts left.
        """
        batch = campaign.batches.get(batch_id)
        now = self.now()
        if batch is None or batch.status_at(now) not in _RETRYABLE_BATCH_STATUSES:
            raise MockApiError(400, *_BATCH_NOT_RETRYABLE)
        statuses = [message.status_at(now) for message in batch.messages]
        if "created" in statuses:
            batch.enqueuing_failed_at = now
            raise MockApiError(400, *_UNRESOLVED)
        retryable = [
            message
            for message, status in zip(batch.messages, statuses, strict=True)
            if status == "failure" and len(message.attempts) < MAX_ATTEMPTS
        ]
        if not retryable:
            raise MockApiError(400, *_NOTHING_TO_RETRY)
        for message in retryable:
            self._start_attempt(campaign, message, now)
        return retryable

    def _start_attempt(self, campaign: MockCampaign, message: MockMessage, now: float) -> None:
        error = TEST_NUMBERS.get(message.recipient) if campaign.environment == "test" else None
        if campaign.environment == "loadtest":
            error = None
            schedule = pending_schedule(self.profile, self._rng)
        else:
            hold = campaign.hold_sent_to_telco or is_foreign(message.recipient)
            schedule = schedule_for(
                error, hold_sent_to_telco=hold, profile=self.profile, rng=self._rng
            )
        message.attempts.append(MockAttempt(str(uuid.uuid4()), now, schedule, error))
        message.updated_at = now

    def _ordered_uuid(self) -> str:
        """Return a random UUID-shaped ID whose first group counts up, so IDs sort by age."""
        self._sequence += 1
        tail = os.urandom(12).hex()
        variant = "89ab"[int(tail[8], 16) & 3]
        return f"{self._sequence:08x}-{tail[:4]}-4{tail[5:8]}-{variant}{tail[9:12]}-{tail[12:24]}"
