"""Request counters kept by the mock, per campaign and in total."""

from __future__ import annotations

from collections import deque

#: The endpoint names requests are counted under.
ENDPOINTS: tuple[str, ...] = (
    "send",
    "retry",
    "get_message",
    "list_messages",
    "batch_send",
    "batch_retry",
    "list_batch_messages",
)


class WindowPeak:
    """The most events seen in any sliding one-second window ``(t - 1, t]`` (pure)."""

    __slots__ = ("_times", "peak")

    def __init__(self) -> None:
        self._times: deque[float] = deque()
        #: The highest count seen so far.
        self.peak = 0

    def record(self, now: float) -> int:
        """Record an event at ``now``; return how many fall in the window ending at ``now``."""
        times = self._times
        horizon = now - 1.0
        while times and times[0] <= horizon:
            times.popleft()
        times.append(now)
        count = len(times)
        self.peak = max(self.peak, count)
        return count

    def reset(self) -> None:
        """Forget every event and the peak."""
        self._times.clear()
        self.peak = 0


class Stats:
    """Counters for one campaign, or for the whole mock.

    Example:
        >>> stats = Stats()
        >>> stats.requests["send"]
        0
    """

    __slots__ = (
        "_accepted",
        "_received",
        "dropped",
        "messages_created",
        "rate_limited",
        "requests",
        "server_errors",
        "unauthorized",
    )

    def __init__(self) -> None:
        #: Requests received per endpoint name (see ``ENDPOINTS``), whatever the answer.
        self.requests: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
        #: 429 answers sent.
        self.rate_limited = 0
        #: Injected 5xx answers (JSON, HTML and after-commit errors).
        self.server_errors = 0
        #: Connections closed without an answer.
        self.dropped = 0
        #: 401 answers sent.
        self.unauthorized = 0
        #: Messages created (single sends and batch rows; retries create none).
        self.messages_created = 0
        self._received = WindowPeak()
        self._accepted = WindowPeak()

    @property
    def total_requests(self) -> int:
        """All requests received, over every endpoint."""
        return sum(self.requests.values())

    @property
    def max_received_in_window(self) -> int:
        """Most authorised requests that arrived in any one-second window, 429s included."""
        return self._received.peak

    @property
    def max_accepted_in_window(self) -> int:
        """Most requests that passed the rate limit in any one-second window."""
        return self._accepted.peak

    def note_received(self, now: float) -> None:
        """Count an authorised request arriving at monotonic time ``now``."""
        self._received.record(now)

    def note_accepted(self, now: float) -> None:
        """Count a request arriving at ``now`` that passed the rate limit."""
        self._accepted.record(now)

    def reset(self) -> None:
        """Zero every counter."""
        for name in self.requests:
            self.requests[name] = 0
        self.rate_limited = self.server_errors = self.dropped = 0
        self.unauthorized = self.messages_created = 0
        self._received.reset()
        self._accepted.reset()

    def to_dict(self) -> dict[str, object]:
        """Return the counters as plain JSON-ready data."""
        return {
            "requests": dict(self.requests),
            "total_requests": self.total_requests,
            "rate_limited": self.rate_limited,
            "server_errors": self.server_errors,
            "dropped": self.dropped,
            "unauthorized": self.unauthorized,
            "messages_created": self.messages_created,
            "max_received_in_window": self.max_received_in_window,
            "max_accepted_in_window": self.max_accepted_in_window,
        }
