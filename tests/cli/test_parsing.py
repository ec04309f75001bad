"""Small parsers and the one-line explanations of errors."""

from __future__ import annotations

import datetime as dt

import pytest

from postman_async import (
    APIConnectionError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from postman_async.cli._config import UsageError
from postman_async.cli._list import parse_since
from postman_async.cli._meanings import DELIVERY_ERRORS, explain, meaning
from postman_async.cli._messages import parse_values

NOW = dt.datetime(2025, 1, 31, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "ago"),
    [("30s", 30), ("15m", 900), ("1h", 3600), ("2d", 172800), ("1w", 604800), (" 2 H ", 7200)],
)
def test_since_ages(text: str, ago: int) -> None:
    assert parse_since(text, NOW) == NOW - dt.timedelta(seconds=ago)


def test_since_dates_are_singapore_time_unless_they_say() -> None:
    sgt = dt.timezone(dt.timedelta(hours=8))
    assert parse_since("2025-01-31T09:00", NOW) == dt.datetime(2025, 1, 31, 9, 0, tzinfo=sgt)
    assert parse_since("2025-01-31", NOW) == dt.datetime(2025, 1, 31, tzinfo=sgt)
    assert parse_since("2025-01-31T09:00+00:00", NOW).utcoffset() == dt.timedelta(0)
    with pytest.raises(UsageError, match="--since takes"):
        parse_since("soon", NOW)
    with pytest.raises(UsageError, match="further back"):
        parse_since("99999999999d", NOW)


def test_values() -> None:
    assert parse_values(["otp=123=456", "name=Tan Ah Kow"]) == {
        "otp": "123=456",
        "name": "Tan Ah Kow",
    }
    with pytest.raises(UsageError) as caught:
        parse_values(["987654"])
    assert "987654" not in str(caught.value)  # a value missing its name is not echoed
    with pytest.raises(UsageError, match="twice"):
        parse_values(["otp=1", "otp=2"])


def test_every_documented_delivery_error_has_a_meaning() -> None:
    for code in (
        "recipient_invalid",
        "recipient_unavailable",
        "content_invalid",
        "routing_error",
        "message_expired",
        "delivery_unknown_error",
        "server_unknown_error",
    ):
        assert code in DELIVERY_ERRORS
    assert meaning("some_new_code") == "no description known for this code"


def test_explanations_say_what_to_do() -> None:
    too_many = BadRequestError("maximum", status=400, code="too_many_message_attempts_error")
    assert explain(too_many).endswith("; the message had its 3 attempts; send a new one")
    assert "check the ID" in explain(NotFoundError("no", status=404))
    assert "rate limit" in explain(RateLimitError("slow", status=429))
    assert "try again later" in explain(ServerError("down", status=503, trace_id="t1"))
    assert "(trace id t1)" in explain(ServerError("down", status=503, trace_id="t1"))
    assert "check the network" in explain(APIConnectionError("refused"))
    unknown = APIConnectionError("reset", message_may_exist=True)
    assert "before sending again" in explain(unknown)
