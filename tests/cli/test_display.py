"""Output records, tables, the rate meter and the plain progress display."""

from __future__ import annotations

import datetime as dt
import io

from postman_async import Attempt, Message, MessageStatus
from postman_async.cli._meter import RateMeter
from postman_async.cli._output import FIELDS, Output, message_record, table
from postman_async.cli._progress import Progress, Tally

T0 = dt.datetime(2025, 1, 31, 9, 0, tzinfo=dt.UTC)


def message(mid: str, status: str, code: str | None = None) -> Message:
    attempt = Attempt(
        status=MessageStatus(status), error_code=code, error_type="delivery_error" if code else None
    )
    return Message(
        id=mid,
        latest_status=MessageStatus(status),
        recipient="6591234567",
        attempts=(attempt,),
        created_at=T0,
    )


def test_record_fields_and_masking() -> None:
    record = message_record(message("m1", "failure", "recipient_invalid"))
    assert tuple(record) == FIELDS
    assert record["recipient"] == "65******67"
    assert record["error_meaning"] is not None
    assert str(record["error_meaning"]).startswith("the operator does not recognise")
    assert record["created_at"] == "2025-01-31T09:00:00+00:00"
    assert message_record(message("m1", "success"), unmask=True)["recipient"] == "6591234567"


def test_table_aligns_columns() -> None:
    text = table(
        [{"id": "m1", "status": "success"}, {"id": "message_2", "status": None}], ["id", "status"]
    )
    assert text.splitlines() == ["ID         STATUS", "m1         success", "message_2  -"]


def test_output_redacts_secrets() -> None:
    out, err = io.StringIO(), io.StringIO()
    output = Output(out, err, secrets=["key_test_secret"])
    output.print("a key_test_secret b")
    output.error("failed with key_test_secret\nand more")
    assert out.getvalue() == "a *** b\n"
    assert err.getvalue() == "error: failed with *** and more\n"


def test_tally_counts_in_lifecycle_order() -> None:
    tally = Tally(expected=4)
    assert tally.update(message("a", "success"))
    assert tally.update(message("b", "created"))
    assert not tally.update(message("b", "created"))
    assert tally.update(message("c", "failure"))
    assert tally.counts() == {"pending": 1, "created": 1, "success": 1, "failure": 1}
    assert (tally.final, tally.failed, tally.total) == (2, 1, 4)
    assert tally.describe() == "pending 1, created 1, success 1, failure 1 (2 of 4 final)"


def test_meter_counts_the_last_second() -> None:
    now = [0.0]
    meter = RateMeter(clock=lambda: now[0])
    meter.tps = 10
    for t in (0.0, 0.5, 0.9):
        now[0] = t
        meter.record()
    assert meter.in_last_second() == 3
    now[0] = 1.2
    assert meter.describe() == "rate budget 2/10 requests in the last second"


async def test_plain_progress_prints_at_start_and_end() -> None:
    stream = io.StringIO()
    tally = Tally(expected=2)
    async with Progress("job", tally, stream, live=False) as progress:
        tally.update(message("a", "success"))
        tally.update(message("b", "failure"))
        progress.changed()
    assert stream.getvalue().splitlines() == [
        "job: pending 2 (0 of 2 final)",
        "job: success 1, failure 1 (2 of 2 final)",
    ]
