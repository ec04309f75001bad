"""Retry policy: full-jitter backoff and Retry-After parsing, with pinned randomness and clocks."""

from __future__ import annotations

import datetime as dt
import email.utils
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postman_async import AmbiguousSendPolicy, RetryPolicy
from postman_async._retry import backoff_delay, decide, parse_retry_after

UTC = dt.UTC
NOW = dt.datetime(2024, 5, 16, 8, 0, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- backoff_delay


@pytest.mark.parametrize(
    ("retry", "ceiling"),
    [(1, 0.25), (2, 0.5), (3, 1.0), (4, 2.0), (5, 4.0), (6, 8.0), (7, 8.0), (50, 8.0)],
)
def test_backoff_ceiling_doubles_then_caps(retry: int, ceiling: float) -> None:
    assert backoff_delay(retry, base=0.25, cap=8.0, rand=lambda: 1.0) == ceiling
    assert backoff_delay(retry, base=0.25, cap=8.0, rand=lambda: 0.5) == ceiling / 2
    assert backoff_delay(retry, base=0.25, cap=8.0, rand=lambda: 0.0) == 0.0


def test_backoff_grows_with_the_attempt() -> None:
    delays = [backoff_delay(n, base=0.1, cap=100.0, rand=lambda: 0.5) for n in range(1, 10)]
    assert delays == sorted(delays)
    assert len(set(delays)) == len(delays)
    assert delays[1] == pytest.approx(2 * delays[0])


def test_backoff_retry_zero_or_negative_uses_the_base() -> None:
    assert backoff_delay(0, base=0.25, cap=8.0, rand=lambda: 1.0) == 0.25
    assert backoff_delay(-3, base=0.25, cap=8.0, rand=lambda: 1.0) == 0.25


def test_backoff_cap_below_base_wins() -> None:
    assert backoff_delay(1, base=5.0, cap=1.0, rand=lambda: 1.0) == 1.0


@pytest.mark.parametrize("retry", [1025, 5000, 10**6])
def test_backoff_huge_attempt_numbers_stay_at_the_cap(retry: int) -> None:
    assert backoff_delay(retry, base=0.25, cap=8.0, rand=lambda: 1.0) == 8.0
    assert backoff_delay(retry, base=0.0, cap=8.0, rand=lambda: 1.0) == 0.0


@given(
    retry=st.integers(min_value=1, max_value=2000),
    base=st.floats(min_value=0.0, max_value=60.0),
    cap=st.floats(min_value=0.0, max_value=600.0),
    rand=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_backoff_full_jitter_bounds(retry: int, base: float, cap: float, rand: float) -> None:
    delay = backoff_delay(retry, base=base, cap=cap, rand=lambda: rand)
    assert 0.0 <= delay <= cap
    assert delay <= (base * 2.0 ** (retry - 1) if retry <= 1024 else math.inf)
    assert math.isfinite(delay)


def test_backoff_uses_random_by_default() -> None:
    delays = {backoff_delay(3, base=1.0, cap=8.0) for _ in range(50)}
    assert len(delays) > 1
    assert all(0.0 <= d <= 4.0 for d in delays)


# --------------------------------------------------------------------------- RetryPolicy


def test_retry_policy_defaults() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts == 5
    assert policy.base_delay == 0.25
    assert policy.max_delay == 8.0
    assert policy.ambiguous_sends is AmbiguousSendPolicy.RAISE


def test_retry_policy_delay_uses_its_settings() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=3.0)
    assert policy.delay(1, rand=lambda: 1.0) == 1.0
    assert policy.delay(2, rand=lambda: 1.0) == 2.0
    assert policy.delay(3, rand=lambda: 1.0) == 3.0
    assert policy.delay(3, rand=lambda: 0.5) == 1.5
    assert policy.delay(9, rand=lambda: 0.0) == 0.0


def test_retry_policy_is_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        RetryPolicy(3)  # type: ignore[call-arg]
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_attempts = 9  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": -1},
        {"base_delay": -0.1},
        {"max_delay": -1.0},
        {"base_delay": math.nan},
        {"max_delay": math.nan},
    ],
)
def test_retry_policy_refuses_bad_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"max_attempts|delay"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("max_attempts", [2.5, "3", True, None])
def test_retry_policy_refuses_non_integer_attempts(max_attempts: object) -> None:
    with pytest.raises(TypeError, match="max_attempts must be a whole number"):
        RetryPolicy(max_attempts=max_attempts)  # type: ignore[arg-type]


def test_retry_policy_accepts_one_attempt_and_zero_delays() -> None:
    policy = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0)
    assert policy.max_attempts == 1
    assert policy.delay(1, rand=lambda: 1.0) == 0.0


def test_retry_policy_infinite_cap_means_uncapped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=math.inf)
    assert policy.delay(11, rand=lambda: 1.0) == 1024.0


def test_no_backoff_retries_at_once() -> None:
    policy = RetryPolicy.no_backoff()
    assert policy.max_attempts == 5
    assert policy.ambiguous_sends is AmbiguousSendPolicy.RAISE
    assert all(policy.delay(n, rand=lambda: 1.0) == 0.0 for n in range(1, 20))
    assert RetryPolicy.no_backoff(max_attempts=2).max_attempts == 2
    assert RetryPolicy.no_backoff(2) == RetryPolicy(max_attempts=2, base_delay=0, max_delay=0)


def test_ambiguous_send_policy_values() -> None:
    assert {p.value for p in AmbiguousSendPolicy} == {"raise", "reconcile", "resend"}


# --------------------------------------------------------------------------- parse_retry_after


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        ("5", 5.0),
        ("  5  ", 5.0),
        ("120", 120.0),
        ("1.5", 1.5),
        ("-3", 0.0),
    ],
)
def test_parse_retry_after_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_parse_retry_after_http_date_in_the_future() -> None:
    assert parse_retry_after("Thu, 16 May 2024 08:00:30 GMT", now=NOW) == 30.0
    assert parse_retry_after("Thu, 16 May 2024 16:01:00 +0800", now=NOW) == 60.0


def test_parse_retry_after_http_date_in_the_past_is_zero() -> None:
    assert parse_retry_after("Wed, 15 May 2024 08:00:00 GMT", now=NOW) == 0.0
    assert parse_retry_after("Thu, 16 May 2024 08:00:00 GMT", now=NOW) == 0.0


def test_parse_retry_after_date_without_zone_is_utc() -> None:
    assert parse_retry_after("Thu, 16 May 2024 08:00:10 -0000", now=NOW) == 10.0


def test_parse_retry_after_uses_the_real_clock_by_default() -> None:
    future = dt.datetime.now(UTC) + dt.timedelta(hours=1)
    header = future.strftime("%a, %d %b %Y %H:%M:%S GMT")
    seconds = parse_retry_after(header)
    assert seconds is not None
    assert 3500 < seconds <= 3600


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "soon",
        "inf",
        "-inf",
        "nan",
        "Infinity",
        "1e400",
        "5 seconds",
        "Thu, 99 Foo",
    ],
)
def test_parse_retry_after_garbage_is_none(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None


@given(st.text(max_size=40))
def test_parse_retry_after_never_raises_or_goes_negative(header: str) -> None:
    seconds = parse_retry_after(header, now=NOW)
    assert seconds is None or (seconds >= 0.0 and math.isfinite(seconds))


_offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)


@given(
    st.datetimes(
        min_value=dt.datetime(1900, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=_offsets,
    )
)
def test_parse_retry_after_any_http_date(when: dt.datetime) -> None:
    header = email.utils.format_datetime(when)
    seconds = parse_retry_after(header, now=NOW)
    expected = max(0.0, (when.replace(microsecond=0) - NOW).total_seconds())
    assert seconds == expected


@pytest.mark.parametrize(
    ("status", "sent", "transient", "send", "policy", "expected"),
    [
        # (retry it, may have created a message)
        (429, True, False, True, "raise", (True, False)),  # dropped by Postman
        (503, True, False, False, "raise", (True, False)),  # a read: retry freely
        (503, True, False, True, "raise", (False, True)),  # a send: ambiguous, not re-sent
        (503, True, False, True, "resend", (True, True)),
        (503, True, False, True, "reconcile", (False, True)),  # reconciled by the caller
        (400, True, False, True, "resend", (False, False)),
        (None, False, True, True, "raise", (True, False)),  # connect failure: nothing sent
        (None, True, True, True, "raise", (False, True)),  # reset after sending
        (None, True, True, False, "raise", (True, False)),
        (None, False, False, True, "resend", (False, False)),  # a refused certificate
    ],
)
def test_decide_separates_safe_retries_from_ambiguous_sends(
    status: int | None,
    sent: bool,
    transient: bool,
    send: bool,
    policy: str,
    expected: tuple[bool, bool],
) -> None:
    assert (
        decide(
            status=status,
            sent=sent,
            transient=transient,
            creates_messages=send,
            policy=AmbiguousSendPolicy(policy),
        )
        == expected
    )
