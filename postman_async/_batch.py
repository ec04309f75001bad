r"""Building and checking the CSV of a batch send (pure, no I/O).

Postman's CSV: a header row with ``recipient``, ``language`` and one column
per template variable, then one row per message, every cell filled.  Cells
with commas, quotes or line breaks are quoted; a line break inside a cell is a
real newline, not ``\\n``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import pathlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sized
from typing import TypeVar, Union

from ._errors import ValidationError
from ._validate import check_filename, check_values, normalize_language, normalize_recipient

_T = TypeVar("_T")

#: Postman refuses files over 40 MB (checked here against the smaller, decimal reading).
MAX_CSV_BYTES = 40_000_000
#: The test environment accepts at most 20 rows per batch.
TEST_MAX_ROWS = 20
_REQUIRED = ("recipient", "language")


def build_csv(
    rows: Iterable[Mapping[str, object]],
    *,
    default_language: str = "english",
    max_rows: int | None = None,
) -> tuple[bytes, int]:
    """Turn rows of template values into Postman's CSV.

    Each row maps ``recipient``, optionally ``language`` (else
    ``default_language``) and every template variable to its value.  Every
    row must have the same variables.

    Returns:
        The CSV as UTF-8 bytes and the number of rows.

    Raises:
        ValidationError: naming the first bad row (1-based) and what is wrong.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    variables: list[str] | None = None
    count = 0
    for count, row in enumerate(_polite(rows), start=1):
        if max_rows is not None and count > max_rows:
            raise ValidationError(f"batch has more than {max_rows} rows, the limit here")
        if not isinstance(row, Mapping):
            raise ValidationError(f"row {count}: expected a mapping, got {type(row).__name__}")
        try:
            recipient = normalize_recipient(row.get("recipient"))
            language = normalize_language(row.get("language") or default_language)
            values = check_values({k: v for k, v in row.items() if k not in _REQUIRED})
        except ValidationError as exc:
            raise ValidationError(f"row {count}: {exc}") from None
        if variables is None:
            variables = sorted(values)
            writer.writerow([*_REQUIRED, *variables])
        elif sorted(values) != variables:
            raise ValidationError(
                f"row {count}: has variables {sorted(values)}, row 1 had {variables}; "
                "every row needs the same template variables"
            )
        writer.writerow([recipient, language, *(values[name] for name in variables)])
    if variables is None:
        raise ValidationError("batch has no rows")
    data = buffer.getvalue().encode("utf-8")
    check_size(len(data))
    return data, count


def check_csv(data: bytes, *, max_rows: int | None = None) -> int:
    """Check a CSV the caller wrote; return its number of data rows.

    Checks size, encoding, the header and every row's recipient, language
    and cells, so that a bad file fails here and not after an upload.
    """
    check_size(len(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"batch CSV is not UTF-8 (byte {exc.start})") from None
    return _check_lines(io.StringIO(text, newline=""), max_rows)


def check_csv_file(path: pathlib.Path, *, max_rows: int | None = None) -> int:
    """As :func:`check_csv`, reading the file as a stream: memory stays small whatever its size.

    Blocking file I/O: call it in a worker thread from async code.
    """
    try:
        check_size(path.stat().st_size)
        with path.open(encoding="utf-8-sig", newline="") as lines:
            return _check_lines(lines, max_rows)
    except UnicodeDecodeError:
        raise ValidationError("batch CSV is not UTF-8") from None
    except OSError as exc:
        raise ValidationError(f"cannot read batch CSV {path}: {exc.strerror}") from None


def _check_lines(lines: Iterable[str], max_rows: int | None) -> int:
    reader = _records(_polite(lines))
    header = next(reader, None)
    if not header:
        raise ValidationError("batch CSV is empty; it needs a header row")
    header = [name.strip() for name in header]
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        raise ValidationError(f"batch CSV header lacks {', '.join(missing)}; got {header}")
    if len(set(header)) != len(header):
        raise ValidationError(f"batch CSV header repeats a column: {header}")
    variables = [name for name in header if name not in _REQUIRED]
    count = 0
    for count, cells in enumerate(reader, start=1):
        if max_rows is not None and count > max_rows:
            raise ValidationError(f"batch CSV has more than {max_rows} rows, the limit here")
        if len(cells) != len(header):
            raise ValidationError(
                f"batch CSV row {count} has {len(cells)} cells, the header has {len(header)}"
            )
        row = dict(zip(header, cells, strict=True))
        try:
            if normalize_recipient(row["recipient"]) != row["recipient"]:
                raise ValidationError(  # noqa: TRY301 - re-raised with the row number below
                    "recipient must be digits only with country code, e.g. 6591234567"
                )
            if normalize_language(row["language"]) != row["language"]:
                raise ValidationError(  # noqa: TRY301
                    "language must be lowercase: english, chinese, malay or tamil"
                )
            if variables:
                check_values({name: row[name] for name in variables})
        except ValidationError as exc:
            raise ValidationError(f"batch CSV row {count}: {exc}") from None
    if count == 0:
        raise ValidationError("batch CSV has a header but no rows")
    return count


#: Rows between two moments where CSV work lets other threads run.
_YIELD_EVERY = 500


def _polite(items: Iterable[_T]) -> Iterator[_T]:
    """Pass ``items`` through, letting other threads take the GIL every few hundred.

    In a worker thread, the csv module's C loops can keep the GIL for hundreds
    of milliseconds at a time on a busy machine, stalling the event loop; a
    ``time.sleep(0)`` hands it over (microseconds each).
    """
    for i, item in enumerate(items):
        if i % _YIELD_EVERY == _YIELD_EVERY - 1:
            time.sleep(0)
        yield item


def _records(lines: Iterable[str]) -> Iterator[list[str]]:
    """Yield the CSV's records, turning the csv module's errors into ValidationError."""
    reader = csv.reader(lines)
    try:
        yield from reader
    except csv.Error as exc:  # e.g. a cell over csv.field_size_limit(); NUL bytes on 3.10
        raise ValidationError(
            f"batch CSV cannot be read at line {reader.line_num}: {exc}"
        ) from None


def check_size(size: int) -> None:
    """Refuse a CSV over Postman's size limit."""
    if size > MAX_CSV_BYTES:
        raise ValidationError(
            f"batch CSV is {size / 1e6:.1f} MB; Postman's limit is 40 MB: split it"
        )


#: What :meth:`Campaign.send_batch` accepts: rows, CSV bytes, or a path to a CSV file.
BatchRows = Union[Iterable[Mapping[str, object]], bytes, str, "os.PathLike[str]"]


#: CSV bytes up to this size are checked on the event loop; larger ones in a worker thread.
INLINE_CHECK_BYTES = 256 * 1024
#: Row lists up to this length are turned into CSV on the event loop; longer ones (and
#: iterators, whose length is unknown) in a worker thread.
INLINE_BUILD_ROWS = 500


async def prepare_batch(
    rows: BatchRows, *, language: str, filename: str | None, max_rows: int | None
) -> tuple[bytes | pathlib.Path, str, int]:
    """Build or check the batch CSV; return ``(bytes or file to upload, file name, row count)``.

    Never blocks the event loop on a big CSV: building and checking run in a
    worker thread, a file is checked as a stream and then uploaded from disk
    (so no copy of it is held in memory).
    """
    if filename is not None:
        check_filename(filename)
    if isinstance(rows, bytes):
        if len(rows) <= INLINE_CHECK_BYTES:
            count = check_csv(rows, max_rows=max_rows)
        else:
            count = await asyncio.to_thread(check_csv, rows, max_rows=max_rows)
        return rows, filename or "batch.csv", count
    if isinstance(rows, (str, os.PathLike)):
        path = pathlib.Path(rows)
        name = filename or check_filename(path.name)
        return path, name, await asyncio.to_thread(check_csv_file, path, max_rows=max_rows)
    default = normalize_language(language)
    if isinstance(rows, Sized) and len(rows) <= INLINE_BUILD_ROWS:
        data, count = build_csv(rows, default_language=default, max_rows=max_rows)
    else:
        data, count = await asyncio.to_thread(
            build_csv, rows, default_language=default, max_rows=max_rows
        )
    return data, filename or "batch.csv", count
