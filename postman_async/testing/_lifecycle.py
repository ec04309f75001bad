"""How a message attempt moves through its statuses as it ages (pure, no clock of its own).

Two profiles set the pace. ``fast`` takes every attempt from ``created`` to its end in 3
lifecycle seconds, the same each time: quick tests. ``realistic`` draws each stage's length
from a long-tailed distribution, like Postman's "typically within 10 seconds" that can stretch
to minutes at peak, and keeps a few messages in ``sent_to_telco`` for good, as telcos do.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, NamedTuple

#: The lifecycle profiles: ``fast`` and ``realistic``.
Profile = Literal["fast", "realistic"]
PROFILES: tuple[Profile, ...] = ("fast", "realistic")
#: Share of realistic attempts the telco never reports on (they stay ``sent_to_telco``).
REALISTIC_HELD_SHARE = 0.02
#: The status load-test messages stop at: Postman shows them as "Pending" for good.
LOADTEST_STATUS = "sending"

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

    __slots__ = ("ages", "enqueued_age", "outcome_age", "sent_age", "statuses")

    def __init__(self, stages: tuple[tuple[float, str], ...]) -> None:
        self.ages = tuple(age for age, _ in stages)
        self.statuses = tuple(status for _, status in stages)
        ages = dict(zip(self.statuses, self.ages, strict=True))
        #: Age at which the attempt left ``created`` (``None``: it never does).
        self.enqueued_age = ages.get("enqueued")
        #: Age at which the provider took it (``sentAt``): ``sent``, or a failure while sending.
        self.sent_age = ages.get("sent")
        if self.sent_age is None and self.statuses[-2:] == ("sending", "failure"):
            self.sent_age = self.ages[-1]
        #: Age at which the telco reported the outcome (``deliveredAt`` on success).
        self.outcome_age: float | None = None
        if self.statuses[-1] in ("success", "failure"):
            self.outcome_age = self.ages[-1]

    def at(self, age: float) -> tuple[str, float]:
        """Return the status at ``age`` and the age at which it was reached."""
        index = max(bisect_right(self.ages, age) - 1, 0)
        return self.statuses[index], self.ages[index]

    @property
    def final_status(self) -> str:
        """The status the attempt ends in."""
        return self.statuses[-1]


def schedule_for(
    error: DeliveryError | None,
    *,
    hold_sent_to_telco: bool,
    profile: Profile = "fast",
    rng: random.Random | None = None,
) -> Schedule:
    """Return the schedule of an attempt that ends with ``error`` (``None``: delivered).

    Server errors fail when the provider hand-off would happen; delivery errors fail when the
    telco reports back. With ``hold_sent_to_telco`` the telco never reports back, so
    attempts that reach ``sent_to_telco`` stay there. The ``realistic`` profile draws its
    delays (and whether the telco reports at all) from ``rng``.
    """
    if profile == "fast":
        return _SCHEDULES[(_kind(error), hold_sent_to_telco)]
    if profile != "realistic":
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    draw = rng if rng is not None else random.Random()  # noqa: S311 - simulation
    enqueued = draw.uniform(0.05, 0.5)
    sending = enqueued + min(draw.lognormvariate(math.log(1.5), 1.0), 300.0)
    sent = sending + draw.uniform(0.2, 1.5)
    if error is not None and error.type == "server_error":
        return Schedule(
            ((0.0, "created"), (enqueued, "enqueued"), (sending, "sending"), (sent, "failure"))
        )
    telco = sent + draw.uniform(0.3, 2.0)
    until_telco = (
        (0.0, "created"),
        (enqueued, "enqueued"),
        (sending, "sending"),
        (sent, "sent"),
        (telco, "sent_to_telco"),
    )
    if hold_sent_to_telco or draw.random() < REALISTIC_HELD_SHARE:
        return Schedule(until_telco)
    outcome = telco + min(draw.lognormvariate(math.log(2.5), 0.9), 600.0)
    return Schedule((*until_telco, (outcome, "failure" if error is not None else "success")))


def pending_schedule(profile: Profile = "fast", rng: random.Random | None = None) -> Schedule:
    """Return the schedule of a load-test attempt: it stops at ``LOADTEST_STATUS``."""
    if profile == "fast":
        return _PENDING
    draw = rng if rng is not None else random.Random()  # noqa: S311 - simulation
    enqueued = draw.uniform(0.05, 0.5)
    return Schedule(
        ((0.0, "created"), (enqueued, "enqueued"), (enqueued + draw.uniform(0.1, 2.0), "sending"))
    )


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
_PENDING = Schedule(NORMAL_STAGES[:3])
