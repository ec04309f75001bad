"""Cursor pagination over records kept in ascending (createdAt, id) order (pure).

Pages are served newest first. ``after`` (a page's ``endCursor``) continues with older
records, ``before`` (a page's ``startCursor``) goes back to newer ones. Without a search,
a page costs a bisection and a slice, whatever the number of records.
"""

from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

#: PageSlice size when ``limit`` is not given.
DEFAULT_LIMIT = 100
#: Largest page size allowed.
MAX_LIMIT = 1000

#: A sort key: the ``createdAt`` string (fixed format and offset, so it sorts as time) and id.
Key = tuple[str, str]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageSlice(Generic[T]):
    """One page of records, newest first."""

    items: list[T]
    has_next: bool
    has_previous: bool


def encode_cursor(key: Key) -> str:
    """Return the cursor of ``key``: base64 of the JSON array ``[createdAt, id]``."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.b64encode(raw).decode("ascii")


def decode_cursor(cursor: str) -> Key:
    """Return the key a cursor stands for.

    Raises:
        ValueError: If ``cursor`` was not made by ``encode_cursor``.
    """
    # A '+' sent unescaped in a query string arrives as a space.
    text = cursor.strip().replace(" ", "+")
    try:
        decoded = json.loads(base64.b64decode(text + "=" * (-len(text) % 4), validate=True))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("Invalid cursor") from exc
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2
        or not all(isinstance(part, str) for part in decoded)
    ):
        raise ValueError("Invalid cursor")
    return decoded[0], decoded[1]


def parse_limit(raw: str | None, *, required: bool = False) -> int:
    """Return the page size asked for (``DEFAULT_LIMIT`` when absent and not ``required``).

    Raises:
        ValueError: If ``raw`` is not a whole number from 1 to ``MAX_LIMIT``, or is absent
            while ``required``.
    """
    if raw is None:
        if required:
            raise ValueError(f"limit is required: an integer between 1 and {MAX_LIMIT}")
        return DEFAULT_LIMIT
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer between 1 and {MAX_LIMIT}")
    return int(text)


def paginate(
    keys: Sequence[Key],
    items: Sequence[T],
    *,
    limit: int,
    after: Key | None = None,
    before: Key | None = None,
    match: Callable[[T], bool] | None = None,
) -> PageSlice[T]:
    """Return the page of ``items`` (ascending, with their ``keys``) that a request asks for.

    Args:
        keys: Sort keys of ``items``, ascending.
        items: The records, in the same order.
        limit: PageSlice size.
        after: Return records older than this key.
        before: Return records newer than this key (ignored when ``after`` is given).
        match: Keep only records for which this returns true (the recipient search).
    """
    if after is None and before is not None:
        start = bisect_right(keys, before)
        found, more = _scan(items, range(start, len(items)), limit, match)
        found.reverse()
        return PageSlice(found, _any(items, range(start - 1, -1, -1), match), more)
    end = len(items) if after is None else bisect_left(keys, after)
    found, more = _scan(items, range(end - 1, -1, -1), limit, match)
    return PageSlice(found, more, _any(items, range(end, len(items)), match))


def _scan(
    items: Sequence[T], indices: range, limit: int, match: Callable[[T], bool] | None
) -> tuple[list[T], bool]:
    """Collect up to ``limit`` matching items in ``indices`` order; say if more remain."""
    if match is None:
        chosen = indices[:limit]
        return [items[i] for i in chosen], len(indices) > limit
    found: list[T] = []
    for i in indices:
        item = items[i]
        if match(item):
            if len(found) == limit:
                return found, True
            found.append(item)
    return found, False


def _any(items: Sequence[T], indices: range, match: Callable[[T], bool] | None) -> bool:
    if match is None:
        return len(indices) > 0
    return any(match(items[i]) for i in indices)
