"""Checks on what callers send, returning the service's documented messages (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ._phone_numbers import is_normalised_number

#: Every language the service knows, in its order.
LANGUAGES: tuple[str, ...] = ("english", "chinese", "malay", "tamil")
#: Names a template variable may not take.
RESERVED_VARIABLES = frozenset({"recipient", "language"})

INVALID_RECIPIENT = (
    "Invalid recipient, ensure it is a valid normalized phone number, eg 6591112222."
)
VALUES_NOT_OBJECT = "Validation failed (expected type is object)"

#: Most characters of a message body (header and footer excluded).
MAX_BODY_CHARACTERS = 1000
#: Characters the docs list as unsupported (blocked in English messages), emoji aside.
UNSUPPORTED_CHARACTERS = frozenset("|^\u20ac{}[]~\\`")
_VARIABLE = re.compile(r"[a-z][a-z0-9_]*")


def recipient_problem(recipient: object) -> str | None:
    """Return why ``recipient`` is not a normalised number with its country code."""
    if isinstance(recipient, str) and is_normalised_number(recipient):
        return None
    return INVALID_RECIPIENT


def language_problem(language: object, enabled: Sequence[str]) -> str | None:
    """Return why ``language`` cannot be used in a campaign with ``enabled`` languages."""
    if isinstance(language, str) and language in enabled:
        return None
    shown = language if isinstance(language, str) else "undefined"
    return f"{shown} is not supported. available language(s) for this campaign: " + ", ".join(
        enabled
    )


def values_problem(values: object, variables: Sequence[str]) -> str | None:
    """Return why ``values`` does not fill every template variable with a non-empty string."""
    if not isinstance(values, dict):
        return VALUES_NOT_OBJECT
    missing = [name for name in variables if name not in values]
    if missing:
        return "Missing value(s) for template variable(s): " + ", ".join(missing)
    for name in variables:
        value = values[name]
        if not isinstance(value, str) or not value:
            return f"Value of template variable '{name}' must be a non-empty string"
    return None


def content_problem(
    language: str, values: Mapping[str, str], body: str, *, unsupported_allowed: bool = False
) -> str | None:
    """Return why a message cannot be sent for its content, if it cannot.

    ``body`` is the filled template without header and footer: more than
    ``MAX_BODY_CHARACTERS`` is refused in every language. In English messages, emoji and the
    documented unsupported characters in ``values`` are refused too (Postman blocks them at
    the API; its wording for that refusal is not documented), unless ``unsupported_allowed``.
    """
    if len(body) > MAX_BODY_CHARACTERS:
        return f"Message body has {len(body)} characters, the maximum is {MAX_BODY_CHARACTERS}"
    if language != "english" or unsupported_allowed:
        return None
    for name, value in values.items():
        bad = sorted({char for char in value if is_unsupported(char)})
        if bad:
            shown = " ".join(f"U+{ord(char):04X}" for char in bad)
            return (
                f"Value of template variable '{name}' has characters SMS cannot carry in an "
                f"English message ({shown})"
            )
    return None


def is_unsupported(char: str) -> bool:
    """Return whether ``char`` is an emoji or one of ``UNSUPPORTED_CHARACTERS``."""
    if char in UNSUPPORTED_CHARACTERS:
        return True
    code = ord(char)
    return (
        code >= 0x1F000
        or 0x2300 <= code <= 0x23FF
        or 0x2600 <= code <= 0x27BF
        or 0x2B00 <= code <= 0x2BFF
        or code in (0x200D, 0xFE0F)
    )


def check_campaign_settings(languages: Sequence[str], variables: Sequence[str]) -> None:
    """Reject settings the admin portal would not allow.

    Raises:
        ValueError: On an unknown or repeated language, or a malformed variable name.
    """
    if not languages:
        raise ValueError("a campaign needs at least one language")
    for language in languages:
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}; expected one of {LANGUAGES}")
    if len(set(languages)) != len(languages) or len(set(variables)) != len(variables):
        raise ValueError("languages and variables must not repeat")
    for name in variables:
        if not _VARIABLE.fullmatch(name) or name in RESERVED_VARIABLES:
            raise ValueError(
                f"invalid template variable {name!r}: use lowercase letters, digits and _, "
                "start with a letter, and avoid 'recipient' and 'language'"
            )
