"""The shortcuts for common input refuse what the full checks refuse."""

from __future__ import annotations

import pytest

from postman_async import Language, ValidationError
from postman_async._decode import decode_message
from postman_async._models import MessageStatus
from postman_async._transport import AiohttpTransport
from postman_async._validate import check_values, normalize_language, normalize_recipient


@pytest.mark.parametrize("value", ["", " 123456", "123456 ", "x" * 1001, 123456])
def test_a_known_variable_name_still_gets_every_value_check(value: object) -> None:
    assert check_values({"otp": "123456"}) == {"otp": "123456"}  # the name is now known
    with pytest.raises(ValidationError):
        check_values({"otp": value})


def test_reserved_names_never_become_known() -> None:
    for _ in range(2):
        with pytest.raises(ValidationError):
            check_values({"recipient": "6591234567"})


@pytest.mark.parametrize(
    "number",
    [
        "91234567",
        "06591234567",
        "6591234567" * 2,
        "\uff16\uff15\uff19\uff11\uff12\uff13\uff14\uff15\uff16\uff17",
        "65912345a7",
    ],
)
def test_recipients_outside_the_shortcut_still_get_every_check(number: str) -> None:
    with pytest.raises(ValidationError):
        normalize_recipient(number)


def test_recipient_and_language_shortcuts_return_what_the_full_checks_return() -> None:
    assert normalize_recipient("6591234567") == normalize_recipient("+65 9123 4567")
    assert normalize_language(Language.CHINESE) == normalize_language(" Chinese ") == "chinese"


def test_decoding_maps_known_and_unknown_statuses_and_languages() -> None:
    known = decode_message(b'{"id": "m1", "latestStatus": "success", "language": "tamil"}')
    assert (known.latest_status, known.language) == (MessageStatus.SUCCESS, Language.TAMIL)
    odd = decode_message(
        b'{"id": "m1", "latestStatus": "queued_somewhere", "language": "MALAY", "values": {"a": 1}}'
    )
    assert odd.latest_status.value == "queued_somewhere"
    assert odd.language is Language.MALAY
    assert odd.values == {"a": "1"}


def test_attempt_timeouts_are_rounded_up_to_the_millisecond_and_shared() -> None:
    transport = AiohttpTransport(connect_timeout=10.0)
    for seconds in (0.0004, 1.2345, 29.9999, 30.0):
        total = transport._timeout(seconds).total
        assert total is not None
        assert seconds <= total < seconds + 0.001
    assert transport._timeout(29.9999) is transport._timeout(30.0)
    assert transport._timeout(60.0).connect == 10.0
