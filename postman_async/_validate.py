"""Local checks of everything a caller passes in, before any rate budget is spent.

Each check either returns the value Postman expects or raises
:class:`~postman_async.ValidationError` with a message that says what to fix.
Messages never contain a full phone number or an API key.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Mapping

from ._errors import ValidationError
from ._models import KNOWN_LANGUAGES, Language, mask_phone

#: Separators people write inside phone numbers.
_PHONE_NOISE = re.compile(r"[\s\-().]")
_TEMPLATE_VARIABLE = re.compile(r"[a-z][a-z0-9_]*")
_RESERVED_VARIABLES = frozenset({"recipient", "language"})
#: Postman's cap on a template body; a single value cannot be longer.
MAX_VALUE_LENGTH = 1000
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
#: Each language, and its value, to the value Postman expects.
_LANGUAGES: dict[object, str] = {
    **{member: member.value for member in Language},
    **{member.value: member.value for member in Language},
}
#: Template variable names that passed the checks (so later calls skip the regex).
_GOOD_NAMES: set[str] = set()
_GOOD_NAMES_MAX = 1024


def normalize_recipient(recipient: object) -> str:
    """Return ``recipient`` as Postman wants it: country code and digits, no ``+``.

    Spaces, dashes, dots, brackets and a leading ``+`` or ``00`` are removed:
    ``"+65 9123 4567"`` becomes ``"6591234567"``.

    Raises:
        ValidationError: when what is left cannot be an international number.
    """
    if (  # the common case: already digits only, the right length, no trunk prefix
        type(recipient) is str
        and 9 <= len(recipient) <= 15
        and recipient.isdigit()
        and recipient.isascii()
        and recipient[0] != "0"
    ):
        return recipient
    if isinstance(recipient, bool) or not isinstance(recipient, (str, int)):
        raise ValidationError(
            f"recipient must be a phone number string such as '6591234567', "
            f"not {type(recipient).__name__}"
        )
    text = _PHONE_NOISE.sub("", str(recipient))
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    if not text:
        raise ValidationError(
            "recipient is empty; give a number with country code, e.g. 6591234567"
        )
    if not text.isascii() or not text.isdigit():
        raise ValidationError(
            "recipient must contain only digits (with a country code, e.g. 6591234567); "
            f"got {len(text)} characters with other symbols"
        )
    if len(text) == 8 and text[0] in "3689":
        raise ValidationError(
            f"recipient {mask_phone(text)} looks like a Singapore number without its "
            "country code; put 65 in front (e.g. 6591234567)"
        )
    if text[0] == "0":
        raise ValidationError(
            f"recipient {mask_phone(text)} starts with 0: write the country code first, "
            "without the trunk prefix (e.g. 6591234567)"
        )
    if not 8 <= len(text) <= 15:
        raise ValidationError(
            f"recipient {mask_phone(text)} has {len(text)} digits; an international "
            "number with country code has 8 to 15 (e.g. 6591234567)"
        )
    return text


def normalize_language(language: object) -> str:
    """Return one of ``english``, ``chinese``, ``malay``, ``tamil`` (case-insensitive)."""
    known = _LANGUAGES.get(language) if isinstance(language, str) else None
    if known is not None:  # a Language, or its exact value
        return known
    value = language.value if isinstance(language, Language) else language
    if isinstance(value, str) and value.strip().lower() in KNOWN_LANGUAGES:
        return value.strip().lower()
    raise ValidationError(
        f"language must be one of {', '.join(sorted(KNOWN_LANGUAGES))} "
        f"(and enabled for the campaign), got {language!r}"
    )


def check_values(values: object) -> dict[str, str]:
    """Check template values: a mapping of variable names to non-empty strings.

    Variable names use lowercase letters, digits and ``_`` and start with a
    letter; ``recipient`` and ``language`` are reserved.  Values must be
    non-empty, must not start or end with a space and are at most 1000
    characters.  The values are not logged or echoed in errors (they may hold
    an OTP).
    """
    if not isinstance(values, Mapping):
        raise ValidationError(
            "values must be a mapping of template variable names to strings, e.g. "
            f"{{'otp': '123456'}}, not {type(values).__name__}"
        )
    checked: dict[str, str] = {}
    for name, value in values.items():
        if (  # the common case: a name seen before and a plain, short, trimmed value
            name in _GOOD_NAMES
            and type(value) is str
            and 0 < len(value) <= MAX_VALUE_LENGTH
            and value[0] != " "
            and value[-1] != " "
        ):
            checked[name] = value
            continue
        if not isinstance(name, str) or not _TEMPLATE_VARIABLE.fullmatch(name):
            raise ValidationError(
                f"template variable name {name!r} is invalid: use lowercase letters, digits "
                "and '_', starting with a letter"
            )
        if name in _RESERVED_VARIABLES:
            raise ValidationError(f"{name!r} is reserved and cannot be a template variable")
        if not isinstance(value, str):
            raise ValidationError(
                f"value of {name!r} must be a string, not {type(value).__name__} "
                "(convert it with str())"
            )
        if not value:
            raise ValidationError(f"value of {name!r} is empty; Postman needs every value filled")
        if value != value.strip(" "):
            raise ValidationError(
                f"value of {name!r} starts or ends with a space; Postman refuses that, strip it"
            )
        if len(value) > MAX_VALUE_LENGTH:
            raise ValidationError(
                f"value of {name!r} is {len(value)} characters; a message body is at most "
                f"{MAX_VALUE_LENGTH}"
            )
        checked[name] = value
        if len(_GOOD_NAMES) < _GOOD_NAMES_MAX:
            _GOOD_NAMES.add(name)
    if not checked:
        raise ValidationError("values is empty; give one value per template variable")
    return checked


def path_segment(kind: str, value: object) -> str:
    """Return an ID escaped for use as one URL path segment.

    IDs are opaque, so anything printable is accepted and percent-encoded;
    empty IDs, whitespace, control characters and the dot segments ``.`` and
    ``..`` are refused, so an ID can never change which endpoint is called.
    """
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{kind} must be a non-empty string, got {value!r}")
    if _CONTROL.search(value):
        raise ValidationError(f"{kind} {value!r} contains whitespace or control characters")
    if value in {".", ".."}:
        raise ValidationError(f"{kind} {value!r} is not a valid ID")
    return urllib.parse.quote(value, safe="")


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself (only for building the request header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


def check_api_key(api_key: object) -> Secret:
    """Check that an API key can be sent in a header; never echo it."""
    if not isinstance(api_key, str) or not api_key:
        raise ValidationError("api_key must be a non-empty string (Campaign settings > API keys)")
    if _CONTROL.search(api_key) or not api_key.isascii():
        raise ValidationError(
            "api_key contains whitespace, control or non-ASCII characters; copy it again"
        )
    return Secret(api_key)


def check_tps(tps: object) -> int | None:
    """Check a rate limit: a whole number of requests per second >= 1, or ``None``."""
    if tps is None:
        return None
    if isinstance(tps, float) and tps.is_integer():
        tps = int(tps)
    if isinstance(tps, bool) or not isinstance(tps, int) or not 1 <= tps <= 1_000_000:
        raise ValidationError(
            "tps must be a whole number of requests per second from 1 to 1,000,000, "
            f"or None, got {tps!r}"
        )
    return tps


_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def check_base_url(base_url: object) -> str:
    """Check an API base URL; return it without a trailing slash.

    Plain ``http`` is refused except to a loopback host (a mock server): the
    key would travel in clear text.
    """
    if not isinstance(base_url, str):
        raise ValidationError(f"base_url must be a string URL, got {type(base_url).__name__}")
    text = base_url.rstrip("/")
    try:
        parts = urllib.parse.urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018  # raises ValueError on a bad port
    except ValueError as exc:
        raise ValidationError(f"base_url {base_url!r} is not a URL: {exc}") from None
    if parts.scheme not in {"http", "https"} or not host:
        raise ValidationError(f"base_url must be an https:// URL, got {base_url!r}")
    if parts.query or parts.fragment or parts.username or parts.password or "?" in text:
        raise ValidationError("base_url must not carry credentials, a query or a fragment")
    if _CONTROL.search(text) or " " in text:
        raise ValidationError("base_url must not contain spaces or control characters")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ValidationError(
            f"refusing plain http to {host}: the API key would travel in clear text; "
            "use https (plain http is allowed only to a loopback address, e.g. a mock server)"
        )
    return text


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_timeout(timeout: object, name: str = "timeout") -> float:
    """Check a number of seconds: finite and above zero."""
    # A range test, not math.isfinite(): that overflows on a huge int; NaN fails it too.
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout <= 366 * 86400
    ):
        raise ValidationError(
            f"{name} must be a finite number of seconds above 0 (at most a year), got {timeout!r}"
        )
    return float(timeout)


def check_page_args(search: object, limit: object, max_limit: int) -> None:
    """Check a listing's ``search`` (digits) and ``limit`` (page size)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= max_limit:
        raise ValidationError(f"limit must be 1 to {max_limit} messages a page, got {limit!r}")
    if search is not None and (
        not isinstance(search, str) or not search.isascii() or not search.isdigit()
    ):
        raise ValidationError("search matches recipient numbers: give digits only, e.g. '9123'")


def check_filename(name: object) -> str:
    """Check an upload's file name: printable, no quotes, slashes or line breaks."""
    if not isinstance(name, str) or not name or len(name) > 255:
        raise ValidationError("filename must be a non-empty string of at most 255 characters")
    if any(ch in name for ch in '\r\n\0"\\/') or not name.isprintable():
        raise ValidationError(
            f"filename {name!r} has control characters, quotes or slashes; use a plain name"
        )
    return name
