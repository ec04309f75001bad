"""Reading the v1 send's rate-limit headers, and when they hold sends back (pure)."""

from __future__ import annotations

import pytest

from postman_async._email_rate import RateHeaders, hold_off, read_rate_headers


def test_reads_the_standard_headers() -> None:
    headers = {"RateLimit-Limit": "10", "RateLimit-Remaining": "3", "RateLimit-Reset": "1"}
    assert read_rate_headers(headers) == RateHeaders(limit=10, remaining=3, reset=1.0)


def test_falls_back_to_the_legacy_headers_but_not_their_epoch_reset() -> None:
    headers = {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1795581585",
    }
    assert read_rate_headers(headers) == RateHeaders(limit=10, remaining=0, reset=1.0)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"RateLimit-Limit": "10"},
        {"RateLimit-Limit": "ten", "RateLimit-Remaining": "1"},
        {"RateLimit-Limit": "10", "RateLimit-Remaining": "-1"},
        {"RateLimit-Limit": "nan", "RateLimit-Remaining": "1"},
    ],
)
def test_missing_or_unreadable_headers_are_ignored(headers: dict[str, str]) -> None:
    assert read_rate_headers(headers) is None


def test_a_huge_reset_is_capped() -> None:
    headers = {"RateLimit-Limit": "10", "RateLimit-Remaining": "0", "RateLimit-Reset": "99999"}
    rate = read_rate_headers(headers)
    assert rate is not None
    assert rate.reset == 60.0


@pytest.mark.parametrize(
    ("remaining", "sent", "expected"),
    [
        (3, 2, None),  # budget left
        (0, 10, None),  # this client spent it: its own limiter already waits
        (0, 12, None),
        (0, 4, 1.0),  # someone else spent it: hold back until the reset
        (0, None, None),  # the limiter cannot tell: carry on
    ],
)
def test_hold_off_only_when_someone_else_spent_the_budget(
    remaining: int, sent: int | None, expected: float | None
) -> None:
    rate = RateHeaders(limit=10, remaining=remaining, reset=1.0)
    assert hold_off(rate, sent) == expected
