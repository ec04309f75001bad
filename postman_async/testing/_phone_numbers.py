"""Whether a string is a normalised phone number: country code and number, digits only (pure).

Postman wants "a valid normalized phone number" with its country code, no ``+``. The mock
knows every country calling code, and the length of national numbers in the countries most
messages from Singapore go to; elsewhere it accepts 4 to 14 national digits (15 in all).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_ONE_DIGIT = frozenset({"1", "7"})
_TWO_DIGITS = frozenset(
    str(code)
    for code in (
        *(20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49),
        *(51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66),
        *(81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98),
    )
)
_THREE_DIGIT_RANGES = (
    (211, 218),
    (220, 258),
    (260, 269),
    (290, 299),
    (350, 359),
    (370, 389),
    (420, 423),
    (500, 509),
    (590, 599),
    (670, 692),
    (850, 856),
    (870, 888),
    (960, 998),
)
#: National (significant) number lengths by country code, where they are well known.
NATIONAL_LENGTHS: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        "1": (10,),
        "44": (9, 10),
        "60": (9, 10),
        "61": (9,),
        "62": (9, 10, 11, 12),
        "63": (10,),
        "64": (8, 9, 10),
        "65": (8,),
        "66": (8, 9),
        "81": (9, 10),
        "82": (9, 10),
        "84": (9, 10),
        "86": (10, 11),
        "91": (10,),
        "92": (10,),
        "94": (9,),
        "95": (8, 9, 10),
        "673": (7,),
        "852": (8,),
        "853": (8,),
        "855": (8, 9),
        "856": (8, 9, 10),
        "880": (10,),
    }
)
#: Singapore's country calling code: numbers without it are foreign.
SINGAPORE = "65"


def country_code(number: str) -> str | None:
    """Return the country calling code ``number`` starts with, if it starts with one."""
    if number[:1] in _ONE_DIGIT:
        return number[:1]
    if number[:2] in _TWO_DIGITS:
        return number[:2]
    prefix = number[:3]
    if len(prefix) == 3 and prefix.isdigit():
        value = int(prefix)
        if any(low <= value <= high for low, high in _THREE_DIGIT_RANGES):
            return prefix
    return None


def is_normalised_number(number: str) -> bool:
    """Return whether ``number`` is digits only: a country code, then a national number.

    Example:
        >>> is_normalised_number("6591234567"), is_normalised_number("91234567")
        (True, False)
    """
    if not (number.isascii() and number.isdigit()) or len(number) > 15:
        return False
    code = country_code(number)
    if code is None:
        return False
    national = number[len(code) :]
    if national.startswith("0"):
        return False
    lengths = NATIONAL_LENGTHS.get(code)
    if lengths is None:
        return 4 <= len(national) <= 14
    if code == "1" and national[:1] in ("0", "1"):
        return False
    return len(national) in lengths


def is_foreign(number: str) -> bool:
    """Return whether ``number`` (already normalised) is outside Singapore."""
    return not number.startswith(SINGAPORE)
