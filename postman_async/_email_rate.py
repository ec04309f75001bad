"""What the v1 send's rate-limit headers say, and what the client does about it (pure).

Every authenticated send answer carries ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds, rounded up; the
``X-RateLimit-*`` twins carry the reset as epoch seconds).  A 429 also carries
``Retry-After: 1``, which the request loop honours on its own.

The reset is rounded up to whole seconds, so pausing whenever ``Remaining``
reaches 0 would halve a lone sender's pace for nothing: its own limiter
already keeps it within the window.  The headers matter when the account's
budget is spent by someone else (another process with the same account and
no shared limiter): ``Remaining`` is 0 while this client sent fewer than
``Limit`` in the last window.  Only then does the client hold its sends back
until the reset.
"""

from __future__ import annotations

__all__ = ["RateHeaders", "hold_off", "read_rate_headers"]

import math
from collections.abc import Mapping

import msgspec


class RateHeaders(msgspec.Struct, frozen=True, kw_only=True):
    """The account's send budget as the server last reported it."""

    #: Sends allowed per window.
    limit: int
    #: Sends left in the current window.
    remaining: int
    #: Seconds until the window resets (rounded up by the server).
    reset: float


def _number(headers: Mapping[str, str], *names: str) -> float | None:
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        try:
            number = float(value.strip())
        except ValueError:
            continue
        if math.isfinite(number) and number >= 0:
            return number
    return None


def read_rate_headers(headers: Mapping[str, str]) -> RateHeaders | None:
    """Read the ``RateLimit-*`` (or ``X-RateLimit-*``) headers; ``None`` if absent or unreadable.

    ``X-RateLimit-Reset`` is an epoch time, so only ``RateLimit-Reset`` gives the reset.
    """
    limit = _number(headers, "RateLimit-Limit", "X-RateLimit-Limit")
    remaining = _number(headers, "RateLimit-Remaining", "X-RateLimit-Remaining")
    if limit is None or remaining is None:
        return None
    reset = _number(headers, "RateLimit-Reset")
    return RateHeaders(
        limit=int(limit), remaining=int(remaining), reset=1.0 if reset is None else min(reset, 60.0)
    )


def hold_off(rate: RateHeaders, sent_in_window: int | None) -> float | None:
    """Seconds to hold sends back, or ``None`` to carry on.

    Args:
        rate: what the server said.
        sent_in_window: this client's sends of the last window, when its
            limiter can tell (``None``: unknown, then nothing is held back).
    """
    if rate.remaining > 0 or sent_in_window is None or sent_in_window >= rate.limit:
        return None
    return rate.reset
