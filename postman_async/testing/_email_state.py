"""The v1 email side of the mock: accounts, stored emails, their lifecycle, the blacklist.

Statuses are not stored but computed from an email's events on the lifecycle clock, so
``MockPostman.advance`` moves emails on like SMS. Provider events are applied in the
order they arrive, with no ordering guard, as on the real server: ``MockEmail.report``
injects a late event that overwrites a later status.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from ._clock import LifecycleClock
from ._stats import WindowPeak

#: Postman's own sender, used when a send gives no ``from``.
DEFAULT_FROM = "Postman.gov.sg <info@mail.postman.gov.sg>"
#: The addresses of Postman's own senders.
DEFAULT_FROM_ADDRESSES = frozenset({"info@mail.postman.gov.sg", "donotreply@mail.postman.gov.sg"})
#: Requests per second one account may send by default.
DEFAULT_EMAIL_RATE_LIMIT = 10
#: Email statuses in lifecycle order, then the bad endings.
EMAIL_STATUSES = ("UNSENT", "ACCEPTED", "SENT", "DELIVERED", "OPENED", "BOUNCED", "COMPLAINT")

#: Lifecycle seconds after a send at which a normal email reaches each status.
SENT_AGE = 1.0
DELIVERED_AGE = 3.0
OPENED_AGE = 10.0
#: When a bounce arrives, and when a complaint follows delivery.
BOUNCE_AGE = 2.0
COMPLAINT_AGE = 6.0


class EmailOutcome(NamedTuple):
    """What happens to an email sent to one of the simulator addresses."""

    #: The final status: ``BOUNCED``, ``COMPLAINT`` or ``OPENED``.
    status: str
    #: ``error_code`` once it bounces (``Hard bounce`` or ``Soft bounce``).
    error_code: str | None = None
    #: ``error_sub_type`` once it bounces (the provider's sub-type).
    error_sub_type: str | None = None

    @property
    def blacklists(self) -> bool:
        """Whether the outcome blacklists the address (a hard bounce or a complaint)."""
        return self.status == "COMPLAINT" or self.error_code == "Hard bounce"


#: The mail provider's simulator addresses and what each does (others are delivered, opened).
EMAIL_TEST_ADDRESSES: Mapping[str, EmailOutcome] = MappingProxyType(
    {
        "bounce@simulator.amazonses.com": EmailOutcome("BOUNCED", "Hard bounce", "General"),
        "suppressionlist@simulator.amazonses.com": EmailOutcome(
            "BOUNCED", "Hard bounce", "Suppressed"
        ),
        "softbounce@simulator.amazonses.com": EmailOutcome("BOUNCED", "Soft bounce", "MailboxFull"),
        "complaint@simulator.amazonses.com": EmailOutcome("COMPLAINT"),
    }
)


class EmailEvent(NamedTuple):
    """One status change, at a lifecycle time."""

    at: float
    status: str
    error_code: str | None = None
    error_sub_type: str | None = None


@dataclass(eq=False)
class MockEmailMessage:
    """One stored email (a row of the server's email messages table)."""

    #: Numeric ID, as a string.
    id: str
    #: Name of the account that sent it.
    account: str
    #: Recipient, lower-cased.
    recipient: str
    #: The ``From`` header used.
    sender: str
    #: The caller's input: subject, body, from and reply_to when given.
    params: dict[str, str]
    #: ``[{fileName, fileSize, hash}]`` or ``None``.
    attachments_metadata: list[dict[str, Any]] | None
    classification: str | None
    tag: str | None
    cc: list[str]
    bcc: list[str]
    disable_tracking: bool
    #: Lifecycle time the row was stored.
    created_at: float
    #: Set when the send failed after the row was stored (the row stays ``UNSENT``).
    error_code: str | None = None
    #: Status changes in arrival order.
    events: list[EmailEvent] = field(default_factory=list)
    #: Lifecycle time of the last change to the row itself.
    touched_at: float = 0.0

    def applied(self, now: float) -> list[EmailEvent]:
        """The events that have happened by ``now``, in the order they were applied."""
        return sorted((e for e in self.events if e.at <= now), key=lambda e: e.at)

    def status_at(self, now: float) -> str:
        """The status at lifecycle time ``now``: that of the last event applied."""
        applied = self.applied(now)
        return applied[-1].status if applied else "UNSENT"

    def updated_at(self, now: float) -> float:
        """Lifecycle time of the last change visible at ``now``."""
        applied = self.applied(now)
        return max(self.touched_at, applied[-1].at) if applied else self.touched_at


@dataclass(eq=False)
class MockEmailAccount:
    """A Postman user account with v1 API keys, its rate limit and its sender address."""

    #: The account's email address; its letters and digits before ``@`` name its keys.
    email: str
    #: Valid API keys.
    api_keys: list[str]
    #: Sends allowed per one-second window (``None``: unlimited).
    rate_limit: int | None = DEFAULT_EMAIL_RATE_LIMIT
    #: Whether ``email`` may be used as a ``from`` address.
    sender_verified: bool = True
    #: Keys that have expired (refused like unknown ones).
    expired_keys: set[str] = field(default_factory=set)
    #: Monotonic start of the current rate window, and requests counted in it.
    window_start: float = -math.inf
    window_count: int = 0

    @property
    def name(self) -> str:
        """The key prefix: the local part of ``email``, letters and digits only."""
        return key_name(self.email)


def key_name(email: str) -> str:
    """Return the name part of an account's keys: its address's local part, alphanumerics only."""
    return re.sub(r"[^A-Za-z0-9]", "", email.partition("@")[0]) or "user"


def new_key(email: str) -> str:
    """Return a fresh key of the form ``<name>_v1_<base64>``."""
    return f"{key_name(email)}_v1_{base64.b64encode(os.urandom(24)).decode()}"


class RateWindow(NamedTuple):
    """The rate-limit state one send request saw."""

    #: Whether the request is within the limit.
    allowed: bool
    #: The account's limit.
    limit: int
    #: Requests left in the window (never negative).
    remaining: int
    #: Seconds until the window resets.
    reset_in: float


class EmailStats:
    """Counters of the email API."""

    __slots__ = ("_accepted", "messages_created", "rate_limited", "requests", "unauthorized")

    def __init__(self) -> None:
        #: Requests per endpoint: ``email_send``, ``email_get``, ``email_list``.
        self.requests: dict[str, int] = dict.fromkeys(("email_send", "email_get", "email_list"), 0)
        #: 429 answers.
        self.rate_limited = 0
        #: 401 answers.
        self.unauthorized = 0
        #: Rows stored (``UNSENT`` rows of failed sends included).
        self.messages_created = 0
        self._accepted = WindowPeak()

    @property
    def max_sends_in_window(self) -> int:
        """Most sends that passed the rate limit in any sliding one-second window."""
        return self._accepted.peak

    def note_send_accepted(self, now: float) -> None:
        """Count a send that passed the rate limit at monotonic time ``now``."""
        self._accepted.record(now)

    def reset(self) -> None:
        """Zero every counter."""
        for name in self.requests:
            self.requests[name] = 0
        self.rate_limited = self.unauthorized = self.messages_created = 0
        self._accepted.reset()


class MockEmail:
    """All state of the mock's v1 email API.

    Args:
        clock: The lifecycle clock shared with the SMS side.
        monotonic: The real clock of the rate windows.
        wall: Unix time, for ``X-RateLimit-Reset``.

    Example:
        >>> email = MockPostman(speed=0).email  # doctest: +SKIP
        >>> account = email.add_account("ops@agency.gov.sg", rate_limit=10)
        >>> email.blacklist.add("gone@example.com")
    """

    def __init__(
        self,
        clock: LifecycleClock,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.monotonic = monotonic
        self.wall = wall
        #: Accounts by name (the key prefix).
        self.accounts: dict[str, MockEmailAccount] = {}
        #: Every stored email by ID, oldest first.
        self.messages: dict[str, MockEmailMessage] = {}
        #: Addresses refused as recipients (hard bounces and complaints add theirs).
        self.blacklist: set[str] = set()
        #: The next this many sends fail at the mail provider: stored, then 500.
        self.provider_failures = 0
        #: The next this many sends are accepted, then their connection is closed unanswered.
        self.drops_after_commit = 0
        #: Counters.
        self.stats = EmailStats()
        self._sequence = 0
        self._by_recipient: dict[str, list[MockEmailMessage]] = {}

    def add_account(
        self,
        email: str = "ops@agency.gov.sg",
        *,
        api_keys: Sequence[str] | None = None,
        rate_limit: int | None = DEFAULT_EMAIL_RATE_LIMIT,
        sender_verified: bool = True,
    ) -> MockEmailAccount:
        """Create an account and return it.

        Args:
            email: The account's address; ``from`` may use it when ``sender_verified``.
            api_keys: Its keys; one new ``<name>_v1_<base64>`` key when ``None``.
            rate_limit: Sends per one-second window; ``None`` for no limit.
            sender_verified: Whether its own address is a verified sender.

        Raises:
            ValueError: If an account of that name exists or a key is malformed.
        """
        name = key_name(email)
        if name in self.accounts:
            raise ValueError(f"an account named {name!r} already exists")
        if rate_limit is not None and rate_limit < 1:
            raise ValueError(f"rate_limit must be at least 1 or None, got {rate_limit}")
        keys = list(api_keys) if api_keys is not None else [new_key(email)]
        for key in keys:
            if not _well_formed(key) or key.split("_")[0] != name:
                raise ValueError(f"API keys of {email} must look like {name}_v1_<secret>")
        account = MockEmailAccount(
            email=email.lower(),
            api_keys=keys,
            rate_limit=rate_limit,
            sender_verified=sender_verified,
        )
        self.accounts[name] = account
        return account

    def authenticate(self, authorization: str | None) -> MockEmailAccount | None:
        """Return the account whose valid key the ``Authorization`` header carries."""
        if authorization is None or not authorization.startswith("Bearer "):
            return None
        key = authorization[len("Bearer ") :].strip()
        if not _well_formed(key):
            return None
        account = self.accounts.get(key.split("_")[0])
        if account is None or key not in account.api_keys or key in account.expired_keys:
            return None
        return account

    def expire_key(self, key: str) -> None:
        """Make ``key`` expire (keys expire six months after creation)."""
        for account in self.accounts.values():
            if key in account.api_keys:
                account.expired_keys.add(key)

    def count_send(self, account: MockEmailAccount) -> RateWindow:
        """Count one send request in the account's fixed one-second window.

        The window opens at the first request after the previous one closed (a
        counter with a one-second expiry); every request counts, refused ones too.
        """
        now = self.monotonic()
        limit = account.rate_limit
        if limit is None:
            return RateWindow(True, 0, 0, 0.0)
        if now >= account.window_start + 1.0:
            account.window_start = now
            account.window_count = 0
        account.window_count += 1
        allowed = account.window_count <= limit
        if allowed:
            self.stats.note_send_accepted(now)
        else:
            self.stats.rate_limited += 1
        reset_in = account.window_start + 1.0 - now
        return RateWindow(allowed, limit, max(0, limit - account.window_count), reset_in)

    def is_blacklisted(self, address: str) -> bool:
        """Whether ``address`` is blacklisted now: listed, or hard-bounced or complained."""
        if address in self.blacklist:
            return True
        now = self.clock.now()
        return any(
            event.status == "COMPLAINT"
            or (event.status == "BOUNCED" and event.error_code == "Hard bounce")
            for message in self._by_recipient.get(address, ())
            for event in message.applied(now)
        )

    def store(
        self,
        account: MockEmailAccount,
        *,
        recipient: str,
        sender: str,
        params: dict[str, str],
        attachments_metadata: list[dict[str, Any]] | None,
        classification: str | None,
        tag: str | None,
        cc: list[str],
        bcc: list[str],
        disable_tracking: bool,
    ) -> MockEmailMessage:
        """Store a send as an ``UNSENT`` row (input already validated)."""
        self._sequence += 1
        now = self.clock.now()
        message = MockEmailMessage(
            id=str(self._sequence),
            account=account.name,
            recipient=recipient,
            sender=sender,
            params=params,
            attachments_metadata=attachments_metadata,
            classification=classification,
            tag=tag,
            cc=cc,
            bcc=bcc,
            disable_tracking=disable_tracking,
            created_at=now,
            touched_at=now,
        )
        self.messages[message.id] = message
        self._by_recipient.setdefault(recipient, []).append(message)
        self.stats.messages_created += 1
        return message

    def fail(self, message: MockEmailMessage, error_code: str) -> None:
        """Record why a stored send failed; the row stays ``UNSENT``."""
        message.error_code = error_code
        message.touched_at = self.clock.now()

    def accept(self, message: MockEmailMessage) -> None:
        """Hand the email to the mail provider: ``ACCEPTED`` now, then its lifecycle."""
        now = self.clock.now()
        message.events.append(EmailEvent(now, "ACCEPTED"))
        message.events.append(EmailEvent(now + SENT_AGE, "SENT"))
        outcome = EMAIL_TEST_ADDRESSES.get(message.recipient)
        if outcome is None:
            message.events.append(EmailEvent(now + DELIVERED_AGE, "DELIVERED"))
            if not message.disable_tracking:
                message.events.append(EmailEvent(now + OPENED_AGE, "OPENED"))
        elif outcome.status == "BOUNCED":
            message.events.append(
                EmailEvent(now + BOUNCE_AGE, "BOUNCED", outcome.error_code, outcome.error_sub_type)
            )
        else:
            message.events.append(EmailEvent(now + DELIVERED_AGE, "DELIVERED"))
            message.events.append(EmailEvent(now + COMPLAINT_AGE, outcome.status))

    def report(
        self,
        message_id: str,
        status: str,
        *,
        error_code: str | None = None,
        error_sub_type: str | None = None,
    ) -> None:
        """Apply a provider event now, as a late callback would: it overwrites the status.

        Raises:
            KeyError: If no email has that ID.
            ValueError: If ``status`` is not an email status.
        """
        if status not in EMAIL_STATUSES:
            raise ValueError(f"status must be one of {', '.join(EMAIL_STATUSES)}, got {status!r}")
        message = self.messages[message_id]
        now = self.clock.now()
        # Scheduled events still to come stay; the late one takes effect now.
        message.events.append(EmailEvent(now, status, error_code, error_sub_type))

    def isoformat(self, at: float) -> str:
        """Lifecycle time ``at`` as ISO 8601 in UTC with milliseconds, as the server sends."""
        moment = dt.datetime.fromisoformat(self.clock.isoformat(at)).astimezone(dt.UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def datetime(self, at: float) -> dt.datetime:
        """Lifecycle time ``at`` as an aware datetime."""
        return dt.datetime.fromisoformat(self.clock.isoformat(at))

    def render(self, message: MockEmailMessage, *, include_params: bool = True) -> dict[str, Any]:
        """The message object as the API shows it now."""
        now = self.clock.now()
        applied = message.applied(now)
        latest: dict[str, EmailEvent] = {}
        for event in applied:
            latest[event.status] = event
        status = applied[-1].status if applied else "UNSENT"
        error_code, error_sub_type = message.error_code, None
        if applied and applied[-1].error_code is not None:
            error_code, error_sub_type = applied[-1].error_code, applied[-1].error_sub_type

        def stamp(name: str) -> str | None:
            event = latest.get(name)
            return None if event is None else self.isoformat(event.at)

        rendered: dict[str, Any] = {
            "id": message.id,
            "from": message.sender,
            "recipient": message.recipient,
            "params": dict(message.params),
            "attachments_metadata": message.attachments_metadata,
            "status": status,
            "error_code": error_code,
            "error_sub_type": error_sub_type,
            "created_at": self.isoformat(message.created_at),
            "updated_at": self.isoformat(message.updated_at(now)),
            "accepted_at": stamp("ACCEPTED"),
            "sent_at": stamp("SENT"),
            "delivered_at": stamp("DELIVERED"),
            "opened_at": stamp("OPENED"),
            "classification": message.classification,
            "tag": message.tag,
            "cc": list(message.cc),
            "bcc": list(message.bcc),
        }
        if not include_params:
            del rendered["params"]
        return rendered

    def reset(self) -> None:
        """Forget every email, the blacklist, the counters and the rate windows (accounts stay)."""
        self.messages.clear()
        self._by_recipient.clear()
        self.blacklist.clear()
        self.stats.reset()
        self.provider_failures = self.drops_after_commit = 0
        for account in self.accounts.values():
            account.window_start = -math.inf
            account.window_count = 0


def _well_formed(key: str) -> bool:
    """The server's first check: at least three non-empty parts split on ``_``."""
    parts = key.split("_")
    return len(parts) >= 3 and all(parts)
