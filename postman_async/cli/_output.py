"""What the commands print: message records, tables, JSON lines, CSV, and one-line errors.

Every message becomes one flat record with stable field names (:data:`FIELDS`):
JSON lines, CSV exports and tables all come from it.  Recipients are masked
unless asked otherwise, and every line written to the terminal passes through
:meth:`Output.redact`, which blanks the API key should it ever appear.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Final

from .._models import Message, mask_phone
from ._meanings import meaning

#: Fields of a message record, in order (JSON lines, CSV columns).
FIELDS: Final = (
    "id",
    "recipient",
    "status",
    "error_code",
    "error_type",
    "error_meaning",
    "attempts",
    "language",
    "batch_id",
    "created_at",
    "updated_at",
    "sent_at",
    "delivered_at",
)
#: Columns of ``list --format table``.
TABLE_COLUMNS: Final = ("id", "recipient", "status", "error_code", "attempts", "created_at")


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def message_record(message: Message, *, unmask: bool = False) -> dict[str, object]:
    """The flat record of one message (see :data:`FIELDS`); times are ISO 8601 strings."""
    recipient = message.recipient
    if recipient is not None and not unmask:
        recipient = mask_phone(recipient)
    latest = message.attempts[0] if message.attempts else None
    code = message.error_code
    return {
        "id": message.id,
        "recipient": recipient,
        "status": message.latest_status.value,
        "error_code": code,
        "error_type": message.error_type,
        "error_meaning": meaning(code) if code else None,
        "attempts": message.num_attempts or len(message.attempts) or None,
        "language": None if message.language is None else str(message.language),
        "batch_id": message.batch_id,
        "created_at": _time(message.created_at),
        "updated_at": _time(message.updated_at),
        "sent_at": _time(latest.sent_at) if latest else None,
        "delivered_at": _time(latest.delivered_at) if latest else None,
    }


def short_line(message: Message, *, unmask: bool = False) -> str:
    """``id  recipient  status  [error_code]`` for human output."""
    record = message_record(message, unmask=unmask)
    parts = [str(record["id"]), str(record["recipient"] or "-"), str(record["status"])]
    if record["error_code"]:
        parts.append(str(record["error_code"]))
    return "  ".join(parts)


def table(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    """A plain text table with upper-case headers and aligned columns."""
    cells = [[_cell(row.get(name)) for name in columns] for row in rows]
    header = [name.upper() for name in columns]
    widths = [max(len(text) for text in column) for column in zip(header, *cells, strict=True)]
    lines = [header, *cells]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _cell(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def json_line(record: Mapping[str, object]) -> str:
    """One JSON object on one line, keys in the record's order."""
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": "))


def csv_writer(stream: IO[str]) -> csv.DictWriter[str]:
    """A CSV writer of message records (:data:`FIELDS`), header written, CRLF line ends."""
    writer = csv.DictWriter(stream, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    return writer


class Output:
    """Where a command writes: results to ``stdout``, errors and notes to ``stderr``.

    Args:
        stdout: results (human text or machine formats).
        stderr: errors, warnings and ``--verbose`` notes.
        secrets: strings that must never be printed (the API key).
    """

    def __init__(
        self,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        *,
        secrets: Iterable[str] = (),
    ) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self._secrets = [s for s in secrets if s]

    def add_secret(self, secret: str) -> None:
        """Never print ``secret`` from now on."""
        if secret:
            self._secrets.append(secret)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def print(self, text: str = "") -> None:
        """Write one result line (or several) to stdout."""
        print(self.redact(text), file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        """Write a note or warning to stderr."""
        print(self.redact(text), file=self.stderr, flush=True)

    def error(self, text: str) -> None:
        """Write the one-line error of a failed command to stderr."""
        line = " ".join(self.redact(text).split())
        print(f"error: {line}", file=self.stderr, flush=True)
