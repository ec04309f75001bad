"""Local input checks: what they accept, what they refuse, and that they never leak secrets."""

from __future__ import annotations

import copy
import pickle
from collections import OrderedDict
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postman_async import Language, ValidationError
from postman_async._models import mask_phone
from postman_async._validate import (
    MAX_VALUE_LENGTH,
    Secret,
    check_api_key,
    check_tps,
    check_values,
    normalize_language,
    normalize_recipient,
    path_segment,
)

# --------------------------------------------------------------------------- recipients

#: The example number every refusal message shows.
EXAMPLE = "6591234567"


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ("6591234567", "6591234567"),
        ("+65 9123 4567", "6591234567"),
        ("+65-9123-4567", "6591234567"),
        ("(65) 9123 4567", "6591234567"),
        ("+65 (9123) 4567", "6591234567"),
        ("65.9123.4567", "6591234567"),
        ("0065 9123 4567", "6591234567"),
        ("00659123-4567", "6591234567"),
        ("\t+65 9123 4567\n", "6591234567"),
        (6591234567, "6591234567"),
        ("+44 20 7946 0958", "442079460958"),
        ("+1 (415) 555-2671", "14155552671"),
        ("12345678", "12345678"),  # 8 digits not looking like a local SG number
        ("123456789012345", "123456789012345"),  # 15 digits: the longest E.164 number
    ],
)
def test_normalize_recipient_accepts(given_: object, expected: str) -> None:
    assert normalize_recipient(given_) == expected


@pytest.mark.parametrize(
    ("given_", "fragment"),
    [
        ("65912345ab", "only digits"),
        ("+65 9123 4567 ext 2", "only digits"),
        ("six five nine", "only digits"),
        ("６５９１２３４５６７", "only digits"),  # full-width digits  # noqa: RUF001
        ("65/91234567", "only digits"),
        ("+", "empty"),
        ("", "empty"),
        ("   ", "empty"),
        ("6591234", "7 digits"),
        ("659", "3 digits"),
        ("6591234567890123", "16 digits"),
        ("09123456789", "starts with 0"),
        ("+0659123456", "starts with 0"),
        ("91234567", "country code"),
        ("81234567", "country code"),
        ("61234567", "country code"),
        ("9123 4567", "country code"),
        ("0091234567", "country code"),  # 00 prefix, then a local SG number
    ],
)
def test_normalize_recipient_refuses_with_a_clear_message(given_: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match="recipient") as info:
        normalize_recipient(given_)
    assert fragment in str(info.value)
    assert "6591234567" in str(info.value)  # every refusal shows the expected form


@pytest.mark.parametrize("given_", [None, True, False, 6.5e9, b"6591234567", ["6591234567"]])
def test_normalize_recipient_refuses_other_types(given_: object) -> None:
    with pytest.raises(ValidationError, match="recipient must be a phone number string") as info:
        normalize_recipient(given_)
    assert type(given_).__name__ in str(info.value)


@pytest.mark.parametrize(
    "number",
    ["87654321", "0987654321", "6587654", "6587654321098765", "658765432198ab", "06587654321"],
)
def test_refusals_never_contain_the_full_number(number: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_recipient(number)
    message = str(info.value).replace(EXAMPLE, "")
    assert number not in message
    digits = "".join(c for c in number if c.isdigit())
    assert digits not in message
    # Where a number is shown at all, it is the masked form.
    if "*" in message:
        assert mask_phone(digits) in message


def _refusal(recipient: object) -> str | None:
    try:
        normalize_recipient(recipient)
    except ValidationError as exc:
        return str(exc)
    return None


@given(st.text(alphabet="0123456789+-() ", max_size=25))
def test_refusal_messages_show_at_most_the_masked_number(text: str) -> None:
    refusal = _refusal(text)
    digits = "".join(c for c in text if c.isdigit())
    if refusal is not None and len(digits) >= 5:
        assert digits not in refusal.replace(EXAMPLE, "")


@given(st.from_regex(r"[1-9][0-9]{7,14}", fullmatch=True))
def test_normalize_recipient_is_idempotent_on_valid_numbers(number: str) -> None:
    try:
        once = normalize_recipient(number)
    except ValidationError:
        assert len(number) == 8  # only the local-SG-number rule refuses plain digits here
        return
    assert once == number
    assert normalize_recipient(f"+{once[:2]} {once[2:]}") == once


# --------------------------------------------------------------------------- mask_phone


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("6591234567", "65******67"),
        ("442079460958", "44********58"),
        ("12345", "12*45"),
        ("1234", "****"),
        ("12", "**"),
        ("", ""),
    ],
)
def test_mask_phone(number: str, masked: str) -> None:
    assert mask_phone(number) == masked
    assert len(masked) == len(number)


# --------------------------------------------------------------------------- language


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ("english", "english"),
        ("English", "english"),
        ("CHINESE", "chinese"),
        (" malay ", "malay"),
        ("Tamil", "tamil"),
        (Language.ENGLISH, "english"),
        (Language.TAMIL, "tamil"),
    ],
)
def test_normalize_language_accepts(given_: object, expected: str) -> None:
    assert normalize_language(given_) == expected


@pytest.mark.parametrize("given_", ["french", "", "eng", None, 1, Language("hokkien")])
def test_normalize_language_refuses_and_lists_the_four(given_: object) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_language(given_)
    message = str(info.value)
    for name in ("english", "chinese", "malay", "tamil"):
        assert name in message
    assert "language must be one of" in message


# --------------------------------------------------------------------------- values


def test_check_values_accepts_and_copies() -> None:
    given_ = {"name": "Tan Ah Kow", "clinic_2": "Bedok", "otp": "012345", "body": "a\nb"}
    checked = check_values(given_)
    assert checked == given_
    assert checked is not given_
    assert type(checked) is dict


@pytest.mark.parametrize(
    "mapping",
    [OrderedDict(a="1"), MappingProxyType({"a": "1"})],
    ids=["OrderedDict", "MappingProxyType"],
)
def test_check_values_accepts_any_mapping(mapping: object) -> None:
    assert check_values(mapping) == {"a": "1"}


def test_check_values_accepts_the_longest_value() -> None:
    assert check_values({"body": "x" * MAX_VALUE_LENGTH}) == {"body": "x" * MAX_VALUE_LENGTH}
    assert MAX_VALUE_LENGTH == 1000


@pytest.mark.parametrize(
    "given_",
    [None, "name=Tan", [("name", "Tan")], 42],
    ids=["None", "str", "list", "int"],
)
def test_check_values_refuses_non_mappings(given_: object) -> None:
    with pytest.raises(ValidationError, match="values must be a mapping") as info:
        check_values(given_)
    assert type(given_).__name__ in str(info.value)


@pytest.mark.parametrize("name", ["Name", "1st", "_x", "first name", "a-b", "", "naïve", 7])
def test_check_values_refuses_bad_variable_names(name: object) -> None:
    with pytest.raises(ValidationError, match="template variable name") as info:
        check_values({name: "v"})
    assert repr(name) in str(info.value)


@pytest.mark.parametrize("name", ["recipient", "language"])
def test_check_values_refuses_reserved_names(name: str) -> None:
    with pytest.raises(ValidationError, match="reserved"):
        check_values({name: "v"})


@pytest.mark.parametrize("value", [123456, None, b"abc", 1.5, ["a"]])
def test_check_values_refuses_non_strings(value: object) -> None:
    with pytest.raises(ValidationError, match="must be a string") as info:
        check_values({"otp": value})
    assert "'otp'" in str(info.value)
    assert type(value).__name__ in str(info.value)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        (" leading", "space"),
        ("trailing ", "space"),
        ("  ", "space"),
        ("x" * (MAX_VALUE_LENGTH + 1), "1001 characters"),
    ],
)
def test_check_values_refuses_bad_strings(value: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match="'otp'") as info:
        check_values({"otp": value})
    assert fragment in str(info.value)


def test_check_values_does_not_echo_values() -> None:
    with pytest.raises(ValidationError) as info:
        check_values({"otp": " 834211"})
    assert "834211" not in str(info.value)


def test_check_values_refuses_an_empty_mapping() -> None:
    with pytest.raises(ValidationError, match="values is empty"):
        check_values({})


# --------------------------------------------------------------------------- path segments


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "message_0b6e3f52-5c1e-4d7a-9a57-2f8f1d1c8e11",
            "message_0b6e3f52-5c1e-4d7a-9a57-2f8f1d1c8e11",
        ),
        ("a/b", "a%2Fb"),
        ("../admin", "..%2Fadmin"),
        ("id?x=1", "id%3Fx%3D1"),
        ("id#frag", "id%23frag"),
        ("100%", "100%25"),
        ("%2e%2e", "%252e%252e"),
        ("...", "..."),
        ("ünï", "%C3%BCn%C3%AF"),
    ],
)
def test_path_segment_escapes(value: str, expected: str) -> None:
    escaped = path_segment("message_id", value)
    assert escaped == expected
    for char in "/?#":
        assert char not in escaped


@pytest.mark.parametrize(
    "value",
    ["", " ", "a b", " id", "id\n", "a\tb", "a\x00b", "a\x7fb", "a\rb", ".", "..", None, 5, b"id"],
)
def test_path_segment_refuses(value: object) -> None:
    with pytest.raises(ValidationError, match="batch_id"):
        path_segment("batch_id", value)


@given(st.text(min_size=1).filter(lambda s: s not in {".", ".."}))
def test_path_segment_output_is_one_safe_segment(value: str) -> None:
    try:
        escaped = path_segment("campaign_id", value)
    except ValidationError:
        assert any(ord(c) <= 0x20 or c == "\x7f" for c in value)
        return
    assert escaped.isascii()
    assert not any(c in escaped for c in "/?# \\")
    assert escaped not in {".", ".."}


# --------------------------------------------------------------------------- API key

KEY = "key_test_a1b2c3d4e5f6"


def test_check_api_key_returns_a_secret() -> None:
    secret = check_api_key(KEY)
    assert isinstance(secret, Secret)
    assert secret.reveal() == KEY
    assert secret == check_api_key(KEY)
    assert secret != check_api_key(KEY + "x")
    assert secret != KEY
    assert hash(secret) == hash(check_api_key(KEY))


@pytest.mark.parametrize(
    "key",
    [
        "",
        " ",
        "   ",
        "key with space",
        " key_live_x",
        "key_live_x\n",
        "key\x00",
        "kéy_live_x",
        None,
        7,
    ],
)
def test_check_api_key_refuses(key: object) -> None:
    with pytest.raises(ValidationError, match="api_key") as info:
        check_api_key(key)
    if isinstance(key, str) and key.strip():
        assert key.strip() not in str(info.value)
        assert repr(key) not in str(info.value)


def test_check_api_key_error_never_contains_the_key() -> None:
    key = "key_live_s3cr3tS3CR3T s3cr3t"
    with pytest.raises(ValidationError) as info:
        check_api_key(key)
    assert "s3cr3t" not in str(info.value)
    assert "s3cr3t" not in repr(info.value)


def test_secret_never_shows_the_key() -> None:
    secret = check_api_key(KEY)
    for shown in (
        repr(secret),
        str(secret),
        f"{secret}",
        format(secret),
        "%s %r" % (secret, secret),  # noqa: UP031
        repr([secret]),
        repr({"key": secret}),
    ):
        assert KEY not in shown
        assert "a1b2" not in shown
        assert "*" in shown
    assert not hasattr(secret, "__dict__")


def test_secret_cannot_be_pickled_or_copied() -> None:
    secret = check_api_key(KEY)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(secret, protocol=protocol)
    with pytest.raises(TypeError):
        copy.copy(secret)


# --------------------------------------------------------------------------- tps


@pytest.mark.parametrize(("given_", "expected"), [(None, None), (1, 1), (10, 10), (200, 200)])
def test_check_tps_accepts(given_: object, expected: int | None) -> None:
    assert check_tps(given_) == expected


def test_check_tps_turns_whole_floats_into_ints() -> None:
    result = check_tps(10.0)
    assert result == 10
    assert type(result) is int


@pytest.mark.parametrize(
    "given_", [0, -1, 0.5, 2.5, True, False, "10", float("inf"), float("nan"), 0.0]
)
def test_check_tps_refuses(given_: object) -> None:
    with pytest.raises(ValidationError, match="tps must be a whole number"):
        check_tps(given_)


def test_validation_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="tps"):
        check_tps(-5)
