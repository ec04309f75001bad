"""Fault injection: the configuration and the per-request draw."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

from ._stats import ENDPOINTS

_RATES = (
    "server_error_rate",
    "html_error_rate",
    "error_after_commit_rate",
    "drop_rate",
    "slow_body_rate",
    "unreadable_body_rate",
)
_SECONDS = ("latency", "latency_jitter", "slow_body_seconds")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """What can go wrong, and how often. Rates are shares of requests, from 0 to 1.

    Faults apply after authentication and the rate limit, so 401 and 429 answers are never
    replaced by a fault. The admin endpoints are exempt.

    Example:
        >>> state.faults = FaultConfig(server_error_rate=0.1, seed=7)  # doctest: +SKIP
    """

    #: Share of requests answered with a JSON error envelope and ``server_error_status``.
    server_error_rate: float = 0.0
    #: Share of requests answered with an HTML "502 Bad Gateway" page, as a proxy would.
    html_error_rate: float = 0.0
    #: Share of sends (single and batch) that create their messages, then answer 500.
    error_after_commit_rate: float = 0.0
    #: Seconds added before answering.
    latency: float = 0.0
    #: Up to this many more seconds, drawn uniformly per request.
    latency_jitter: float = 0.0
    #: Share of requests whose connection is closed with no answer at all.
    drop_rate: float = 0.0
    #: Share of answers whose body is trickled out over ``slow_body_seconds``.
    slow_body_rate: float = 0.0
    #: How long a slow body takes to arrive, in seconds.
    slow_body_seconds: float = 1.0
    #: Share of 2xx answers whose body is cut short, so no JSON parser reads it (the request
    #: was processed: a send created its message).
    unreadable_body_rate: float = 0.0
    #: If set, 429 answers carry ``Retry-After`` with this many whole seconds.
    retry_after: int | None = None
    #: Status of injected JSON server errors (500 to 599).
    server_error_status: int = 500
    #: Seed of the random draws, for repeatable runs; ``None`` draws from the OS.
    seed: int | None = None
    #: Endpoint names (see ``ENDPOINTS``) the random faults apply to; ``None`` for all.
    endpoints: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in _RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name in _SECONDS:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.retry_after is not None:
            if self.retry_after < 0 or not float(self.retry_after).is_integer():
                raise ValueError(
                    "retry_after must be a whole number of seconds (Retry-After takes "
                    f"delay-seconds), got {self.retry_after}"
                )
            object.__setattr__(self, "retry_after", int(self.retry_after))
        if self.endpoints is not None:
            unknown = sorted(set(self.endpoints) - set(ENDPOINTS))
            if unknown:
                raise ValueError(f"unknown endpoints {unknown}; expected names from {ENDPOINTS}")
            object.__setattr__(self, "endpoints", tuple(self.endpoints))
        if not 500 <= self.server_error_status <= 599:
            raise ValueError(f"server_error_status must be 5xx, got {self.server_error_status}")

    def replace(self, **changes: Any) -> FaultConfig:
        """Return a copy with ``changes`` applied (field names as keywords).

        Raises:
            TypeError: If a name is not a field.
            ValueError: If a value is out of range.
        """
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as plain JSON-ready data."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What happens to one request."""

    #: Seconds to wait before answering.
    delay: float = 0.0
    #: Close the connection without answering.
    drop: bool = False
    #: Answer with an error instead of processing: ``"json"``, ``"html"`` or ``None``.
    error: str | None = None
    #: Process the request, then answer 500 anyway (sends only).
    after_commit: bool = False
    #: Trickle the body out slowly.
    slow: bool = False
    #: Replace a 2xx answer's body with one no JSON parser reads.
    unreadable: bool = False


#: The plan of a request nothing happens to.
NO_FAULT = FaultPlan()
#: Endpoints where ``error_after_commit_rate`` applies.
COMMITTING_ENDPOINTS = frozenset({"send", "batch_send"})


class FaultInjector:
    """Draws a ``FaultPlan`` per request from a ``FaultConfig``."""

    __slots__ = ("_active", "_rng", "config")

    def __init__(self, config: FaultConfig) -> None:
        #: The configuration drawn from.
        self.config = config
        self._rng = random.Random(config.seed)  # noqa: S311 - simulation, not security
        self._active = any(getattr(config, name) for name in (*_RATES, "latency", "latency_jitter"))

    def plan(self, endpoint: str) -> FaultPlan:
        """Draw what happens to a request to ``endpoint``."""
        config = self.config
        if not self._active or (config.endpoints is not None and endpoint not in config.endpoints):
            return NO_FAULT
        rng = self._rng
        delay = config.latency
        if config.latency_jitter:
            delay += rng.uniform(0.0, config.latency_jitter)
        if config.drop_rate and rng.random() < config.drop_rate:
            return FaultPlan(delay=delay, drop=True)
        if config.server_error_rate and rng.random() < config.server_error_rate:
            return FaultPlan(delay=delay, error="json")
        if config.html_error_rate and rng.random() < config.html_error_rate:
            return FaultPlan(delay=delay, error="html")
        after_commit = bool(
            config.error_after_commit_rate
            and endpoint in COMMITTING_ENDPOINTS
            and rng.random() < config.error_after_commit_rate
        )
        slow = bool(config.slow_body_rate and rng.random() < config.slow_body_rate)
        unreadable = bool(
            not after_commit
            and config.unreadable_body_rate
            and rng.random() < config.unreadable_body_rate
        )
        return FaultPlan(delay=delay, after_commit=after_commit, slow=slow, unreadable=unreadable)
