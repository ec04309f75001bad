"""Parsing and checking a batch-send CSV (pure)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ._checks import content_problem, is_unsupported, language_problem, recipient_problem

#: Largest accepted upload, in bytes.
MAX_FILE_BYTES = 40 * 1024 * 1024
FILE_TOO_LARGE = "File too large, max file size is 40MB"
#: How many row problems one error message lists.
_SHOWN_PROBLEMS = 5


#: Characters with a cheap GSM-7 stand-in, which Postman's validator calls avoidable.
_AVOIDABLE = frozenset("\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0")


class CsvError(ValueError):
    """The file cannot be sent; the message names the row and the problem.

    It also carries what Postman's validation report shows: the rows as read, the reason of
    each refused row (row numbers count the header as row 1), and what the file contains.
    """

    def __init__(
        self,
        message: str,
        *,
        records: Sequence[Sequence[str]] = (),
        reasons: Mapping[int, str] | None = None,
        text: str = "",
    ) -> None:
        super().__init__(message)
        #: Every row read, header first (empty when the file could not be read as CSV).
        self.records = [list(record) for record in records]
        #: Why each refused row was refused, by row number; the whole file's problem otherwise.
        self.reasons = dict(reasons) if reasons else {}
        #: Data rows in the file.
        self.num_rows = max(0, len([r for r in self.records[1:] if r]))
        #: Problems found (at least one).
        self.num_errors = max(1, len(self.reasons))
        #: Whether the file holds characters outside ASCII.
        self.has_unicode = not text.isascii()
        #: Whether it holds characters Postman blocks or would rather see replaced.
        self.has_avoidable = any(char in _AVOIDABLE or is_unsupported(char) for char in text)

    def report_csv(self) -> bytes:
        """Return the validation report: the file with an ``Error Reason`` column."""
        out = io.StringIO(newline="")
        writer = csv.writer(out)
        if not self.records:
            writer.writerows([["Error Reason"], [str(self)]])
            return out.getvalue().encode()
        header, *rows = self.records
        writer.writerow([*header, "Error Reason"])
        if 1 in self.reasons:
            writer.writerow([""] * len(header) + [self.reasons[1]])
        for number, row in enumerate(rows, start=2):
            if row:
                writer.writerow([*row, self.reasons.get(number, "")])
        if not self.reasons:
            writer.writerow([""] * len(header) + [str(self)])
        return out.getvalue().encode()


class CsvTooLargeError(CsvError):
    """The file is over ``MAX_FILE_BYTES``: refused before it is read (always a 400)."""


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
    fill: Callable[[str, Mapping[str, str]], str] | None = None,
    unsupported_allowed: bool = False,
) -> list[CsvRow]:
    """Parse ``data`` into rows, checking it the way the service does before sending anything.

    The header needs ``recipient``, ``language`` and one column per template variable, and
    nothing else (names are matched case-insensitively, surrounding spaces ignored). Row
    numbers in messages count the header as row 1. Blank lines are skipped. With ``fill``
    (a language and values to the message body), each row's content is checked as a single
    send's would be.

    Raises:
        CsvError: If the file is too large, not UTF-8, or any row is invalid.
    """
    if len(data) > MAX_FILE_BYTES:
        raise CsvTooLargeError(FILE_TOO_LARGE)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(f"File is not valid UTF-8 (byte {exc.start})") from exc
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise CsvError(f"File is not valid CSV: {exc}", text=text) from exc
    if not records:
        raise CsvError("File is empty, expected a header row", text=text)
    try:
        columns = _check_header(records[0], variables)
    except CsvError as exc:
        raise CsvError(str(exc), records=records, reasons={1: str(exc)}, text=text) from None
    checks = _RowChecks(languages, variables, fill, unsupported_allowed)
    rows, problems = _read_rows(iter(records[1:]), columns, checks)
    if problems:
        shown = [f"Row {number}: {problem}" for number, problem in problems.items()]
        more = len(shown) - _SHOWN_PROBLEMS
        message = "; ".join(shown[:_SHOWN_PROBLEMS])
        raise CsvError(
            message + (f" (and {more} more)" if more > 0 else ""),
            records=records,
            reasons=problems,
            text=text,
        )
    if not rows:
        raise CsvError("File has no rows to send", records=records, text=text)
    if max_rows is not None and len(rows) > max_rows:
        raise CsvError(
            f"File has {len(rows)} rows, the maximum for this campaign is {max_rows}",
            records=records,
            text=text,
        )
    return rows


@dataclass(frozen=True)
class _RowChecks:
    """What every row is checked against."""

    languages: Sequence[str]
    variables: Sequence[str]
    fill: Callable[[str, Mapping[str, str]], str] | None = None
    unsupported_allowed: bool = False


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
    records: Iterator[list[str]], columns: list[str], checks: _RowChecks
) -> tuple[list[CsvRow], dict[int, str]]:
    rows: list[CsvRow] = []
    problems: dict[int, str] = {}
    for number, record in enumerate(records, start=2):
        if not record:
            continue
        if len(record) != len(columns):
            problems[number] = f"expected {len(columns)} cells, found {len(record)}"
            continue
        cells = dict(zip(columns, record, strict=True))
        problem = _row_problem(cells, checks)
        if problem:
            problems[number] = problem
            continue
        values = {name: cells[name] for name in checks.variables}
        rows.append(CsvRow(cells["recipient"], cells["language"].strip().lower(), values))
    return rows, problems


def _row_problem(cells: dict[str, str], checks: _RowChecks) -> str | None:
    recipient_issue = recipient_problem(cells["recipient"])
    if recipient_issue:
        return f"recipient {cells['recipient']!r}: {recipient_issue}"
    language = cells["language"].strip().lower()
    language_issue = language_problem(language, checks.languages)
    if language_issue:
        return language_issue
    empty = [name for name in checks.variables if not cells[name]]
    if empty:
        return "empty value for " + ", ".join(empty)
    if checks.fill is None:
        return None
    values = {name: cells[name] for name in checks.variables}
    return content_problem(
        language,
        values,
        checks.fill(language, values),
        unsupported_allowed=checks.unsupported_allowed,
    )
