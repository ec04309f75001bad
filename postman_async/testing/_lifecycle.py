"""How a message attempt moves through its statuses as it ages (pure, no clock of its own)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

#: Age (lifecycle seconds after the attempt started) at which each status is reached.
NORMAL_STAGES: tuple[tuple[float, str], ...] = (
    (0.0, "created"),
    (0.2, "enqueued"),
    (0.5, "sending"),
    (1.0, "sent"),
    (2.0, "sent_to_telco"),
    (3.0, "success"),
)
#: Age at which the provider has accepted the message (``sentAt``).
SENT_AGE = 1.0
#: Age at which the telco reports the outcome (``deliveredAt`` on success).
OUTCOME_AGE = 3.0


class DeliveryError(NamedTuple):
    """The error recorded on a failed attempt."""

    #: ``delivery_error`` or ``server_error``.
    type: str
    #: The documented error code, e.g. ``recipient_invalid``.
    code: str


#: The documented test-environment numbers and the failure each one simulates.
TEST_NUMBERS: Mapping[str, DeliveryError] = MappingProxyType(
    {
        "6511111111": DeliveryError("delivery_error", "recipient_invalid"),
        "6511112222": DeliveryError("delivery_error", "recipient_unavailable"),
        "6511113333": DeliveryError("delivery_error", "content_invalid"),
        "6511114444": DeliveryError("delivery_error", "routing_error"),
        "6511115555": DeliveryError("delivery_error", "message_expired"),
        "6511119999": DeliveryError("delivery_error", "delivery_unknown_error"),
        "6522222222": DeliveryError("server_error", "server_unknown_error"),
    }
)


class Schedule:
    """The statuses one attempt passes through, with the age each is reached at."""

    __slots__ = ("ages", "statuses")

    def __init__(self, stages: tuple[tuple[float, str], ...]) -> None:
        self.ages = tuple(age for age, _ in stages)
        self.statuses = tuple(status for _, status in stages)

    def at(self, age: float) -> tuple[str, float]:
        """Return the status at ``age`` and the age at which it was reached."""
        index = max(bisect_right(self.ages, age) - 1, 0)
        return self.statuses[index], self.ages[index]

    @property
    def final_status(self) -> str:
        """The status the attempt ends in."""
        return self.statuses[-1]


def schedule_for(error: DeliveryError | None, *, hold_sent_to_telco: bool) -> Schedule:
    """Return the schedule of an attempt that ends with ``error`` (``None``: delivered).

    Server errors fail when the provider hand-off would happen; delivery errors fail when the
    telco reports back. With ``hold_sent_to_telco`` the telco never reports back, so
    attempts that reach ``sent_to_telco`` stay there.
    """
    return _SCHEDULES[(_kind(error), hold_sent_to_telco)]


def _kind(error: DeliveryError | None) -> str:
    if error is None:
        return "ok"
    return "server" if error.type == "server_error" else "delivery"


def _build() -> dict[tuple[str, bool], Schedule]:
    until_telco = NORMAL_STAGES[:-1]
    until_sending = NORMAL_STAGES[:3]
    server = (*until_sending, (SENT_AGE, "failure"))
    delivery = (*until_telco, (OUTCOME_AGE, "failure"))
    return {
        ("ok", False): Schedule(NORMAL_STAGES),
        ("ok", True): Schedule(until_telco),
        ("server", False): Schedule(server),
        ("server", True): Schedule(server),
        ("delivery", False): Schedule(delivery),
        ("delivery", True): Schedule(until_telco),
    }


_SCHEDULES = _build()
