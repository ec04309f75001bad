"""Where Postman's behaviour is undocumented, the mock is strict unless told otherwise."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Leniency:
    """Relaxations of the mock's strict readings; every one is off by default.

    Example:
        >>> state = MockPostman(leniency=Leniency(limit_optional=True))  # doctest: +SKIP
    """

    #: List calls may leave out ``limit`` (then 100 per page). Strict: 400, as the older docs
    #: say ``limit`` is mandatory.
    limit_optional: bool = False
    #: A send's body is read as JSON whatever its ``Content-Type``. Strict: 400 unless it is
    #: ``application/json``, which the docs list as a required header.
    any_content_type: bool = False
    #: English messages may carry emoji and the documented unsupported characters. Strict:
    #: 400, as the docs say Postman blocks them (its error text is undocumented).
    unsupported_characters: bool = False
    #: An invalid batch CSV is answered 400 ``parameter_invalid``. Strict: 201 with the
    #: ``{"isValid": false, "reportURL": ...}`` report Postman's batch validation produces.
    invalid_csv_as_400: bool = False

    def replace(self, **changes: Any) -> Leniency:
        """Return a copy with ``changes`` applied (field names as keywords)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, bool]:
        """Return the switches as plain JSON-ready data."""
        return dataclasses.asdict(self)


#: The names of the switches, for command lines and admin calls.
LENIENCY_SWITCHES: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(Leniency))
