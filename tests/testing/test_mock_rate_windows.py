"""The rate-limit models, with explicit timestamps."""

from __future__ import annotations

from typing import Any

import pytest

from postman_async.testing._rate_windows import (
    FixedWindow,
    SlidingWindow,
    TokenBucket,
    Unlimited,
    make_rate_window,
)
from postman_async.testing._stats import WindowPeak


def accepted(limiter: Any, times: Any) -> Any:
    return [t for t in times if limiter.try_acquire(t)]


def test_sliding_window_accepts_tps_then_refuses() -> None:
    limiter = SlidingWindow(10)
    assert accepted(limiter, [0.0] * 15) == [0.0] * 10


def test_sliding_window_is_half_open() -> None:
    limiter = SlidingWindow(2)
    assert limiter.try_acquire(0.0)
    assert limiter.try_acquire(0.5)
    assert not limiter.try_acquire(0.999)
    # At t=1.0 the request at 0.0 is outside (0.0, 1.0]; the one at 0.5 is not.
    assert limiter.try_acquire(1.0)
    assert not limiter.try_acquire(1.4)
    assert limiter.try_acquire(1.5)


def test_sliding_window_refused_requests_do_not_count() -> None:
    limiter = SlidingWindow(1)
    assert limiter.try_acquire(0.0)
    assert not limiter.try_acquire(0.9)
    assert limiter.try_acquire(1.0)


def test_sliding_window_never_exceeds_tps_in_any_window() -> None:
    limiter = SlidingWindow(5)
    times = [i * 0.01 for i in range(1000)]
    ok = accepted(limiter, times)
    for t in ok:
        assert sum(1 for u in ok if t - 1.0 < u <= t) <= 5
    assert len(ok) == 50


def test_fixed_window_resets_at_whole_seconds() -> None:
    limiter = FixedWindow(3)
    assert accepted(limiter, [0.1, 0.2, 0.3, 0.9]) == [0.1, 0.2, 0.3]
    # A new window starts at 1.0: a burst straddling the boundary passes twice the limit.
    assert accepted(limiter, [1.0, 1.0, 1.0, 1.5]) == [1.0, 1.0, 1.0]
    assert accepted(limiter, [2.99, 3.0]) == [2.99, 3.0]


def test_token_bucket_burst_then_steady_refill() -> None:
    limiter = TokenBucket(10)
    assert len(accepted(limiter, [0.0] * 12)) == 10
    assert not limiter.try_acquire(0.05)
    assert limiter.try_acquire(0.1)  # one token refilled after 0.1 s
    assert not limiter.try_acquire(0.1)
    assert len(accepted(limiter, [0.2 + i * 0.1 for i in range(10)])) == 10


def test_token_bucket_caps_at_capacity() -> None:
    limiter = TokenBucket(3)
    assert limiter.try_acquire(0.0)
    # A long idle time refills to 3, not more.
    assert len(accepted(limiter, [100.0] * 5)) == 3


def test_token_bucket_tolerates_clock_going_nowhere() -> None:
    limiter = TokenBucket(1)
    assert limiter.try_acquire(5.0)
    assert not limiter.try_acquire(4.0)
    assert limiter.try_acquire(6.0)


def test_reset_forgets_history() -> None:
    for limiter in (SlidingWindow(1), FixedWindow(1), TokenBucket(1)):
        assert limiter.try_acquire(0.0)
        assert not limiter.try_acquire(0.0)
        limiter.reset()
        assert limiter.try_acquire(0.0)


def test_make_rate_window() -> None:
    assert isinstance(make_rate_window(None, "sliding"), Unlimited)
    assert isinstance(make_rate_window(5, "sliding"), SlidingWindow)
    assert isinstance(make_rate_window(5, "fixed"), FixedWindow)
    assert isinstance(make_rate_window(5, "token_bucket"), TokenBucket)
    assert all(make_rate_window(None, "fixed").try_acquire(0.0) for _ in range(1000))
    with pytest.raises(ValueError, match="rate_limit"):
        make_rate_window(5, "leaky")
    with pytest.raises(ValueError, match="tps"):
        make_rate_window(0, "sliding")


def test_window_peak() -> None:
    peak = WindowPeak()
    for t in (0.0, 0.5, 0.9, 1.0, 1.2, 3.0):
        peak.record(t)
    # (0.2, 1.2] holds 0.5, 0.9, 1.0 and 1.2.
    assert peak.peak == 4
    peak.reset()
    assert peak.peak == 0
