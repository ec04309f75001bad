"""Checking a batch CSV locally before upload, reporting every bad row with its line number.

The same rules as the client's own check (which stops at the first problem):
UTF-8, a header with ``recipient`` and ``language``, every cell filled,
recipients as digits with country code, lowercase languages, at most 40 MB,
and at most 20 rows on the test environment.
"""

from __future__ import annotations

import csv
import io
import pathlib
from dataclasses import dataclass, field

from .._batch import MAX_CSV_BYTES
from .._errors import ValidationError
from .._validate import check_values, normalize_language, normalize_recipient

_REQUIRED = ("recipient", "language")
#: Problems listed at most (a file of a million bad rows should not print a million lines).
MAX_PROBLEMS = 50


@dataclass
class CsvReport:
    """What the check found."""

    #: Data rows read.
    rows: int = 0
    #: Template variables (the header's other columns).
    variables: list[str] = field(default_factory=list)
    #: ``(line number, what is wrong)``, in file order; line 1 is the header.
    problems: list[tuple[int, str]] = field(default_factory=list)
    #: Problems found beyond :data:`MAX_PROBLEMS` (counted, not kept).
    more: int = 0

    @property
    def ok(self) -> bool:
        """Whether the file can be uploaded."""
        return not self.problems

    def add(self, line: int, problem: str) -> None:
        """Record a problem at a line."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((line, problem))
        else:
            self.more += 1


def check_file(path: pathlib.Path, *, max_rows: int | None = None) -> CsvReport:
    """Check a batch CSV file.

    Raises:
        OSError: the file cannot be read.
    """
    size = path.stat().st_size
    report = CsvReport()
    if size > MAX_CSV_BYTES:
        report.add(0, f"the file is {size / 1e6:.1f} MB; Postman's limit is 40 MB: split it")
        return report
    return check_bytes(path.read_bytes(), max_rows=max_rows)


def check_bytes(data: bytes, *, max_rows: int | None = None) -> CsvReport:
    """Check a batch CSV's bytes (see the module docstring)."""
    report = CsvReport()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        report.add(line, "not UTF-8 text: save the file as UTF-8")
        return report
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            report.add(1, "the file is empty; it needs a header row: recipient,language,...")
            return report
        header = [name.strip() for name in header]
        if not _check_header(header, report):
            return report
        report.variables = [name for name in header if name not in _REQUIRED]
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not cells:
                continue  # a blank line
            report.rows += 1
            _check_row(header, cells, line, report)
    except csv.Error as exc:
        report.add(reader.line_num, f"unreadable CSV: {exc}")
        return report
    if report.rows == 0:
        report.add(1, "the file has a header but no rows")
    elif max_rows is not None and report.rows > max_rows:
        report.add(0, f"{report.rows} rows; the test environment takes at most {max_rows}")
    return report


def _check_header(header: list[str], report: CsvReport) -> bool:
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        report.add(1, f"the header lacks {' and '.join(missing)}; it has {header}")
        return False
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        report.add(1, f"the header repeats {', '.join(repeated)}")
        return False
    return True


def _check_row(header: list[str], cells: list[str], line: int, report: CsvReport) -> None:
    if len(cells) != len(header):
        report.add(line, f"{len(cells)} cells, the header has {len(header)}")
        return
    row = dict(zip(header, cells, strict=True))
    recipient = row["recipient"]
    try:
        if normalize_recipient(recipient) != recipient:
            report.add(line, "recipient must be digits only with country code, e.g. 6591234567")
    except ValidationError as exc:
        report.add(line, str(exc))
    try:
        if normalize_language(row["language"]) != row["language"]:
            report.add(line, "language must be lowercase: english, chinese, malay or tamil")
    except ValidationError as exc:
        report.add(line, str(exc))
    for name in header:
        if name in _REQUIRED:
            continue
        try:
            check_values({name: row[name]})
        except ValidationError as exc:
            report.add(line, str(exc))
