"""Checks on what callers send, returning the service's documented messages."""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Every language the service knows, in its order.
LANGUAGES: tuple[str, ...] = ("english", "chinese", "malay", "tamil")
#: Names a template variable may not take.
RESERVED_VARIABLES = frozenset({"recipient", "language"})

INVALID_RECIPIENT = (
    "Invalid recipient, ensure it is a valid normalized phone number, eg 6591112222."
)
VALUES_NOT_OBJECT = "Validation failed (expected type is object)"

_RECIPIENT = re.compile(r"[0-9]{8,15}")
_VARIABLE = re.compile(r"[a-z][a-z0-9_]*")


def recipient_problem(recipient: object) -> str | None:
    """Return why ``recipient`` is not a normalized number (country code, 8-15 digits)."""
    if isinstance(recipient, str) and _RECIPIENT.fullmatch(recipient):
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
