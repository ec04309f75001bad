"""Parsing and checking a batch-send CSV (pure)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ._checks import language_problem, recipient_problem

#: Largest accepted upload, in bytes.
MAX_FILE_BYTES = 40 * 1024 * 1024
FILE_TOO_LARGE = "File too large, max file size is 40MB"
#: How many row problems one error message lists.
_SHOWN_PROBLEMS = 5


class CsvError(ValueError):
    """The file cannot be sent; the message names the row and the problem."""


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One message to create."""

    recipient: str
    language: str
    values: dict[str, str]


def parse_batch_csv(
    data: bytes,
    *,
    languages: Sequence[str],
    variables: Sequence[str],
    max_rows: int | None = None,
) -> list[CsvRow]:
    """Parse ``data`` into rows, checking it the way the service does before sending anything.

    The header needs ``recipient``, ``language`` and one column per template variable, and
    nothing else (names are matched case-insensitively, surrounding spaces ignored). Row
    numbers in messages count the header as row 1. Blank lines are skipped.

    Raises:
        CsvError: If the file is too large, not UTF-8, or any row is invalid.
    """
    if len(data) > MAX_FILE_BYTES:
        raise CsvError(FILE_TOO_LARGE)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(f"File is not valid UTF-8 (byte {exc.start})") from exc
    records = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(records, None)
        if header is None:
            raise CsvError("File is empty, expected a header row")
        columns = _check_header(header, variables)
        rows, problems = _read_rows(records, columns, languages, variables)
    except csv.Error as exc:
        raise CsvError(f"File is not valid CSV: {exc}") from exc
    if problems:
        more = len(problems) - _SHOWN_PROBLEMS
        message = "; ".join(problems[:_SHOWN_PROBLEMS])
        raise CsvError(message + (f" (and {more} more)" if more > 0 else ""))
    if not rows:
        raise CsvError("File has no rows to send")
    if max_rows is not None and len(rows) > max_rows:
        raise CsvError(f"File has {len(rows)} rows, the maximum for this campaign is {max_rows}")
    return rows


def _check_header(header: list[str], variables: Sequence[str]) -> list[str]:
    columns = [name.strip().lower() for name in header]
    expected = ["recipient", "language", *variables]
    missing = [name for name in expected if name not in columns]
    unknown = [name for name in columns if name not in expected]
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    problems = []
    if missing:
        problems.append("missing column(s) " + ", ".join(missing))
    if unknown:
        problems.append("unknown column(s) " + ", ".join(unknown))
    if repeated:
        problems.append("repeated column(s) " + ", ".join(repeated))
    if problems:
        found = "; ".join(problems)
        raise CsvError(f"Row 1: invalid header: {found} (expected {','.join(expected)})")
    return columns


def _read_rows(
    records: Iterator[list[str]],
    columns: list[str],
    languages: Sequence[str],
    variables: Sequence[str],
) -> tuple[list[CsvRow], list[str]]:
    rows: list[CsvRow] = []
    problems: list[str] = []
    for number, record in enumerate(records, start=2):
        if not record:
            continue
        if len(record) != len(columns):
            problems.append(f"Row {number}: expected {len(columns)} cells, found {len(record)}")
            continue
        cells = dict(zip(columns, record, strict=True))
        problem = _row_problem(cells, languages, variables)
        if problem:
            problems.append(f"Row {number}: {problem}")
            continue
        values = {name: cells[name] for name in variables}
        rows.append(CsvRow(cells["recipient"], cells["language"].strip().lower(), values))
    return rows, problems


def _row_problem(
    cells: dict[str, str], languages: Sequence[str], variables: Sequence[str]
) -> str | None:
    recipient_issue = recipient_problem(cells["recipient"])
    if recipient_issue:
        return f"recipient {cells['recipient']!r}: {recipient_issue}"
    language_issue = language_problem(cells["language"].strip().lower(), languages)
    if language_issue:
        return language_issue
    empty = [name for name in variables if not cells[name]]
    if empty:
        return "empty value for " + ", ".join(empty)
    return None
