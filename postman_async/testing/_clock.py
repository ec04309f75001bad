"""The lifecycle clock: message ages and timestamps, scalable and advanceable for tests."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

#: Singapore time, the offset every timestamp of the real service carries.
SGT = timezone(timedelta(hours=8), "SGT")
#: Formatted timestamps kept for reuse (the cache starts over when full).
_ISO_CACHE = 100_000
# "YYYY-MM-DDTHH:MM:SS" in SGT, by Unix second.
_SECONDS: dict[int, str] = {}


class LifecycleClock:
    """Seconds since the mock started, running at ``speed`` times real time.

    ``advance`` jumps forward on top of that, so a test can move messages through their
    lifecycle without sleeping. ``speed=0`` freezes the clock: only ``advance`` moves it.
    Timestamps shown to callers are derived from this clock, so they stay consistent with
    the statuses they accompany.
    """

    __slots__ = ("_base", "_epoch", "_iso", "_monotonic", "_origin", "_speed")

    def __init__(
        self,
        *,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        epoch: float | None = None,
    ) -> None:
        _check_speed(speed)
        self._monotonic = monotonic
        #: Unix time shown for lifecycle time 0.
        self._epoch = time.time() if epoch is None else epoch
        self._origin = monotonic()
        self._base = 0.0
        self._speed = speed
        # Formatted timestamps: pages show the same few per message again and again.
        self._iso: dict[float, str] = {}

    @property
    def speed(self) -> float:
        """How many lifecycle seconds pass per real second (0 freezes the clock)."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        _check_speed(value)
        # Rebase so that the change applies from now on and the clock never goes back.
        self._base = self.now()
        self._origin = self._monotonic()
        self._speed = value

    def now(self) -> float:
        """Return the current lifecycle time in seconds."""
        return self._base + (self._monotonic() - self._origin) * self._speed

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` lifecycle seconds.

        Raises:
            ValueError: If ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError(f"cannot advance the clock by a negative amount ({seconds})")
        self._base += seconds

    def isoformat(self, at: float) -> str:
        """Format lifecycle time ``at`` as ISO 8601 with milliseconds and the +08:00 offset."""
        text = self._iso.get(at)
        if text is None:
            if len(self._iso) >= _ISO_CACHE:
                self._iso.clear()
            text = self._iso[at] = _sgt_iso(self._epoch + at)
        return text


def _sgt_iso(timestamp: float) -> str:
    """``datetime.fromtimestamp(timestamp, SGT).isoformat(timespec="milliseconds")``, faster.

    The same rounding (to the microsecond, half to even, then cut to milliseconds); the
    text up to the second is formatted once per second.
    """
    fraction, whole = math.modf(timestamp)
    micros = round(fraction * 1e6)
    second = int(whole)
    if micros >= 1_000_000:
        second += 1
        micros -= 1_000_000
    prefix = _SECONDS.get(second)
    if prefix is None:
        if len(_SECONDS) >= _ISO_CACHE:
            _SECONDS.clear()
        prefix = _SECONDS[second] = datetime.fromtimestamp(second, SGT).isoformat()[:19]
    return f"{prefix}.{micros // 1000:03d}+08:00"


def _check_speed(speed: float) -> None:
    if speed < 0:
        raise ValueError(f"speed must be >= 0, got {speed}")
