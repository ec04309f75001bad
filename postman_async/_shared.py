"""What a client shares with its campaign handles: settings, and per-campaign state."""

from __future__ import annotations

__all__ = ["DEFAULT", "CampaignSettings", "Default", "Shared"]

import enum
from typing import Final

import msgspec

from ._limits import RateLimiter
from ._tracking import Tracker, TrackingPolicy


class Default(enum.Enum):
    """The type of :data:`DEFAULT`."""

    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


#: "Use the client's default" (for example ``tps=DEFAULT`` in :meth:`PostmanClient.campaign`).
DEFAULT: Final = Default.DEFAULT


class CampaignSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What a campaign handle takes from its client."""

    base_url: str
    timeout: float
    batch_row_limit: int | None
    tracking: TrackingPolicy


class Shared:
    """The state every handle of one campaign shares within a client."""

    __slots__ = ("closed", "limiter", "tps", "tracker")

    def __init__(self, tps: int | None, limiter: RateLimiter) -> None:
        self.tps = tps
        self.limiter = limiter
        self.tracker: Tracker | None = None
        #: Set by the client's close() before it awaits anything: no tracker starts after.
        self.closed = False
