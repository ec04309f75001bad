"""Retry policy: which failures are retried, and how long to wait between tries.

Pure functions of the attempt number, the response and the clock, so they are
tested without an event loop.

What is safe to retry:

* **429** always: Postman dropped the request without processing it.
* **Connection failures before the request was sent** (refused, DNS, connect
  timeout) always: nothing reached Postman.
* **5xx, timeouts and dropped connections after the request was sent**: safe
  for reads and for the retry endpoints (re-asking for a retry of a message that
  is already retrying fails with a 400, it does not send twice).  For sends
  this is *ambiguous*: Postman has no idempotency key, so the SMS may already
  exist.  :class:`AmbiguousSendPolicy` says what the client does then.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousSendPolicy",
    "RetryPolicy",
    "backoff_delay",
    "decide",
    "parse_retry_after",
]

import datetime as dt
import email.utils
import enum
import math
import random
from collections.abc import Callable

import msgspec


class AmbiguousSendPolicy(enum.Enum):
    """What a send does when its outcome is unknown (5xx or timeout after sending).

    * ``RAISE`` (default): raise the error with ``message_may_exist=True`` and
      let the caller decide.  Never sends twice.
    * ``RECONCILE``: list the campaign's newest messages for that recipient; if
      one created since the call began (less 5 s for a server clock running
      behind ours) has the same values, return it, otherwise send again.  An
      identical message sent within those 5 s before the call is taken for
      this call's.  Costs one list call; a message Postman creates
      *after* the check can still be doubled, and each resend is logged at
      WARNING.
    * ``RESEND``: send again at once, as for any other retryable failure.  May
      text a citizen twice.
    """

    RAISE = "raise"
    RECONCILE = "reconcile"
    RESEND = "resend"


#: The most attempts one call may make.
MAX_ATTEMPTS = 1000


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How a call retries.

    Attributes:
        max_attempts: attempts per call, the first included (1 disables retries).
        base_delay: seconds; the backoff before retry ``n`` is drawn uniformly from
            ``[0, min(max_delay, base_delay * 2 ** (n - 1))]`` ("full jitter").
        max_delay: seconds; the cap on one backoff.
        ambiguous_sends: what a send does when its outcome is unknown.
        max_retry_after: seconds; the longest one ``Retry-After`` header can make
            a call (or, after a 429, the campaign's limiter) wait.  A server that
            asks for more gets this much; a call never waits past its deadline.
    """

    max_attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    ambiguous_sends: AmbiguousSendPolicy = AmbiguousSendPolicy.RAISE
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise TypeError(f"max_attempts must be a whole number, got {self.max_attempts!r}")
        if not 1 <= self.max_attempts <= MAX_ATTEMPTS:
            raise ValueError(f"max_attempts must be 1 to {MAX_ATTEMPTS}")
        # Written so that NaN fails too: a NaN delay would reach the loop's timers (and an
        # infinite base times a zero draw is NaN).  max_delay=inf means uncapped.
        if not (0 <= self.base_delay < math.inf and self.max_delay >= 0):
            raise ValueError("base_delay must be a finite number >= 0 and max_delay >= 0")
        if not 0 <= self.max_retry_after < math.inf:
            raise ValueError("max_retry_after must be a finite number of seconds >= 0")

    def delay(self, retry: int, *, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        return backoff_delay(retry, base=self.base_delay, cap=self.max_delay, rand=rand)

    @classmethod
    def no_backoff(cls, max_attempts: int = 5) -> RetryPolicy:
        """A policy that retries at once: for tests of code that uses the client."""
        return cls(max_attempts=max_attempts, base_delay=0.0, max_delay=0.0)


def decide(
    *,
    status: int | None,
    sent: bool,
    transient: bool,
    creates_messages: bool,
    policy: AmbiguousSendPolicy,
) -> tuple[bool, bool]:
    """Judge a failed attempt: return ``(retry it, it may have created a message)``.

    Args:
        status: the HTTP status, or ``None`` when no response came.
        sent: with no response, whether the request may have reached Postman.
        transient: with no response, whether the failure can pass (not a TLS refusal).
        creates_messages: whether the call is a send.
        policy: what a send does when its outcome is unknown.
    """
    if status is None:
        ambiguous = sent and creates_messages
    else:
        ambiguous = status >= 500 and creates_messages
        transient = status == 429 or status >= 500
    retry = transient and (not ambiguous or policy is AmbiguousSendPolicy.RESEND)
    return retry, ambiguous


def backoff_delay(
    retry: int,
    *,
    base: float,
    cap: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Full-jitter exponential backoff: uniform in ``[0, min(cap, base * 2**(retry-1))]``."""
    try:
        ceiling = min(cap, base * 2.0 ** max(0, retry - 1))
    except OverflowError:  # 2.0 ** 1024 and beyond: long past any cap
        ceiling = cap if base > 0 else 0.0
    return ceiling * rand()


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date).

    Returns ``None`` for a missing or unreadable header, never a negative number.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())
