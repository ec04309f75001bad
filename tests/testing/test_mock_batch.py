"""Batch send, batch retry and the batch listing; CSV checks."""

from __future__ import annotations

import csv
import io
from typing import Any

import aiohttp
import pytest

from postman_async.testing import Leniency, MockPostman
from postman_async.testing._batch_csv import (
    MAX_FILE_BYTES,
    CsvError,
    CsvRow,
    parse_batch_csv,
)
from postman_async.testing._refusals import INVENTED
from tests.testing.conftest import Api

from .conftest import MESSAGE_FIELDS

TRICKY = ["a, b", 'say "hi"', "line one\nline two", "plain", ' "quoted, both" ']


def build_csv(rows: Any, header: Any = ("recipient", "language", "otp")) -> Any:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def parse(text: Any, **kwargs: Any) -> Any:
    options = {"languages": ("english", "chinese"), "variables": ("otp",)} | kwargs
    return parse_batch_csv(text.encode(), **options)


def test_parse_quoted_cells() -> None:
    rows = parse(build_csv([["6591234567", "english", value] for value in TRICKY]))
    assert [row.values["otp"] for row in rows] == TRICKY
    assert rows[0] == CsvRow("6591234567", "english", {"otp": "a, b"})


def test_header_is_case_insensitive_and_bom_tolerated() -> None:
    text = "\ufeffRecipient, LANGUAGE ,otp\r\n6591234567,ENGLISH,1\r\n\r\n"
    assert parse(text) == [CsvRow("6591234567", "english", {"otp": "1"})]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "File is empty"),
        ("recipient,language,otp\n", "no rows"),
        ("recipient,otp\n6591234567,1\n", "Row 1: invalid header: missing column(s) language"),
        ("recipient,language,otp,x\n6591234567,english,1,2\n", "unknown column(s) x"),
        ("recipient,language,otp,otp\n6591234567,english,1,2\n", "repeated column(s) otp"),
        ("recipient,language,otp\n6591234567,english\n", "Row 2: expected 3 cells, found 2"),
        ("recipient,language,otp\n6591234567,english,1\n+65912,english,1\n", "Row 3: recipient"),
        ("recipient,language,otp\n6591234567,tamil,1\n", "Row 2: tamil is not supported"),
        ("recipient,language,otp\n6591234567,english,\n", "Row 2: empty value for otp"),
    ],
)
def test_invalid_files(text: Any, message: Any) -> None:
    with pytest.raises(CsvError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text)


def test_many_problems_are_summarised() -> None:
    text = build_csv([["bad", "english", "1"]] * 8)
    with pytest.raises(CsvError, match=r"Row 2: .*Row 6: .* \(and 3 more\)"):
        parse(text)


def test_row_cap_and_size_cap() -> None:
    text = build_csv([["6591234567", "english", "1"]] * 21)
    with pytest.raises(CsvError, match="21 rows, the maximum for this campaign is 20"):
        parse(text, max_rows=20)
    assert len(parse(text, max_rows=21)) == 21
    with pytest.raises(CsvError, match="File too large, max file size is 40MB"):
        parse_batch_csv(b"x" * (MAX_FILE_BYTES + 1), languages=("english",), variables=())
    with pytest.raises(CsvError, match="UTF-8"):
        parse_batch_csv(b"\xff\xfe", languages=("english",), variables=())


async def test_batch_of_twenty_rows_with_quoted_cells(api: Api, state: MockPostman) -> None:
    rows = [["6591234567", "english", TRICKY[i % len(TRICKY)]] for i in range(19)]
    rows.append(["6511111111", "chinese", "x"])
    status, body = await api.batch(build_csv(rows), file_name="Appointments.csv")
    assert status == 201
    assert list(body) == ["isValid", "batchId"]
    assert body["isValid"] is True
    batch_id = body["batchId"]
    assert len(state.messages) == 20
    assert state.stats.messages_created == 20
    assert sorted(m.values["otp"] for m in state.messages.values()) == sorted(r[2] for r in rows)

    state.advance(5)
    status, page = await api.call("GET", f"/batch/{batch_id}/messages", params={"limit": "15"})
    assert status == 200
    assert len(page["data"]) == 15
    assert page["pageData"]["hasNextPage"] is True
    params = {"limit": "15", "after": page["pageData"]["endCursor"]}
    _, rest = await api.call("GET", f"/batch/{batch_id}/messages", params=params)
    items = page["data"] + rest["data"]
    assert len({m["id"] for m in items}) == 20
    failed = next(m for m in items if m["recipient"] == "6511111111")
    assert list(failed) == [
        *MESSAGE_FIELDS,
        "templateBody",
        "messageAttempts",
        "language",
        "creatorEmail",
        "numAttempts",
    ]
    assert failed["numAttempts"] == 1
    attempt = failed["messageAttempts"][0]
    assert attempt["errorType"] == "delivery_error"
    assert attempt["errorCode"] == "recipient_invalid"
    assert attempt["messageId"] == failed["id"]
    assert attempt["externalAttemptId"] == ""
    assert attempt["metadata"] == {}
    assert set(attempt["creator"]) == {"email"}
    ok = next(m for m in items if m["recipient"] == "6591234567")
    assert ok["messageAttempts"][0]["errorType"] is None

    _, listed = await api.call("GET", "/messages", params={"search": "6511111111", "limit": "10"})
    entry = listed["data"][0]
    assert entry["batchId"] == batch_id
    batch = entry["batches"][0]
    assert batch["id"] == batch_id
    assert batch["status"] == "messages_enqueued"
    assert batch["originalFileName"] == "Appointments.csv"
    assert batch["totalMessages"] == 20
    assert batch["BatchMessage"]["messageId"] == entry["id"]
    assert batch["BatchMessage"]["batchId"] == batch_id
    _, single = await api.get(entry["id"])
    assert single["batches"] == entry["batches"]


REPORT_FIELDS = [
    "isValid",
    "reportURL",
    "numRows",
    "numErrors",
    "fileHasAvoidableExpensiveCharacter",
    "fileHasUnicode",
]


async def fetch_report(session: aiohttp.ClientSession, url: Any) -> Any:
    async with session.get(url) as response:
        assert response.status == 200
        assert response.content_type == "text/csv"
        return list(csv.reader(io.StringIO(await response.text())))


async def test_test_environment_caps_batches_at_twenty_rows_by_default(
    api: Api, state: MockPostman
) -> None:
    capped = state.add_campaign(tps=None)  # a key_test_ key: the test environment
    assert capped.environment == "test"
    assert capped.max_batch_rows == 20
    text = build_csv([["6591234567", "english", "1"]] * 21)
    status, body = await api.batch(text, key=capped.api_key, campaign_id=capped.id)
    assert status == 201
    assert body["isValid"] is False
    assert body["numRows"] == 21
    assert not state.messages
    live = state.add_campaign(api_keys=["key_live_1"], tps=None)
    assert live.environment == "production"
    assert live.max_batch_rows is None
    status, body = await api.batch(text, key=live.api_key, campaign_id=live.id)
    assert (status, body["isValid"]) == (201, True)
    assert len(state.messages) == 21


async def test_invalid_csv_answers_the_validation_report(
    api: Api, state: MockPostman, session: aiohttp.ClientSession
) -> None:
    rows = [
        ["6591234567", "english", "1"],
        ["91234567", "english", "2"],
        ["6591234567", "english", ""],
    ]
    status, body = await api.batch(build_csv(rows))
    assert status == 201
    assert list(body) == REPORT_FIELDS
    assert body["isValid"] is False
    assert "batchId" not in body
    assert body["numRows"] == 3
    assert body["numErrors"] == 2
    assert body["fileHasUnicode"] is False
    assert body["fileHasAvoidableExpensiveCharacter"] is False
    assert body["reportURL"].startswith(
        f"{api.server.url}/_mock/validation-reports/{api.campaign_id}/"
    )
    report = await fetch_report(session, body["reportURL"])
    assert report[0] == ["recipient", "language", "otp", "Error Reason"]
    assert report[1] == ["6591234567", "english", "1", ""]
    assert report[2][:3] == ["91234567", "english", "2"]
    assert "valid normalized phone number" in report[2][3]
    assert report[3][3] == "empty value for otp"
    assert not state.messages
    assert state.stats.messages_created == 0


async def test_report_flags_unicode_and_avoidable_characters(api: Api) -> None:
    rows = [
        ["6591234567", "chinese", "\u4f60\u597d"],
        ["6591234567", "english", "it\u2019s"],
        ["1", "english", "x"],
    ]
    _, body = await api.batch(build_csv(rows))
    assert body["isValid"] is False
    assert body["fileHasUnicode"] is True
    assert body["fileHasAvoidableExpensiveCharacter"] is True


async def test_invalid_csv_as_400_when_lenient(api: Api, state: MockPostman) -> None:
    state.leniency = Leniency(invalid_csv_as_400=True)
    text = build_csv([["6591234567", "english", "1"], ["6591234567", "english", ""]])
    status, body = await api.batch(text)
    assert status == 400
    assert body["error"]["code"] == "parameter_invalid"
    assert body["error"]["message"] == "Row 3: empty value for otp" + INVENTED
    assert not state.messages


async def test_rows_with_characters_postman_blocks_are_refused(
    api: Api, state: MockPostman
) -> None:
    rows = [["6591234567", "english", "ok"], ["6591234567", "english", "a {b}"]]
    _, body = await api.batch(build_csv(rows))
    assert (body["isValid"], body["numErrors"]) == (False, 1)
    _, body = await api.batch(build_csv([["6591234567", "chinese", "a {b}"]]))
    assert body["isValid"] is True


async def test_file_over_40_mb_is_refused(api: Api, state: MockPostman) -> None:
    status, body = await api.batch(b"x" * (MAX_FILE_BYTES + 1))
    assert status == 400
    assert body["error"]["message"] == "File too large, max file size is 40MB"


async def test_upload_must_be_a_csv_in_the_file_field(api: Api) -> None:
    status, body = await api.batch("recipient,language,otp\n", file_name="list.xlsx")
    assert status == 400
    assert body["error"]["message"] == "Only .csv files are accepted" + INVENTED
    status, body = await api.call("POST", "/batch/messages", json={"file": "x"})
    assert status == 400
    assert "multipart/form-data" in body["error"]["message"]


async def test_batch_retry_rules(api: Api, state: MockPostman) -> None:
    rows = [["6591234567", "english", "1"], ["6522222222", "english", "2"]]
    _, body = await api.batch(build_csv(rows))
    batch_id = body["batchId"]
    retry = f"/batch/{batch_id}/retry"

    status, body = await api.call("POST", retry)  # still enqueuing
    assert status == 400
    assert body["error"]["code"] == "batch_not_found_or_is_not_retryable"
    status, body = await api.call("POST", "/batch/batch_nope/retry")
    assert body["error"]["code"] == "batch_not_found_or_is_not_retryable"

    state.advance(10)  # one success, one failure
    status, body = await api.call("POST", retry)
    assert (status, body) == (201, "")
    assert len(state.messages) == 2
    failed = next(m for m in state.messages.values() if m.recipient == "6522222222")
    assert len(failed.attempts) == 2
    assert failed.latest_status == "created"

    status, body = await api.call("POST", retry)  # the retried message is still created
    assert status == 400
    assert body["error"]["code"] == "unresolved_batch_messages"
    assert state.batches[batch_id].status == "messages_enqueuing_failed"

    state.advance(10)
    assert (await api.call("POST", retry))[0] == 201  # third and last attempt
    state.advance(10)
    status, body = await api.call("POST", retry)
    assert status == 400
    assert body["error"]["code"] == "no_failed_batch_messages_to_retry"
    assert len(failed.attempts) == 3


async def test_batch_of_successes_has_nothing_to_retry(api: Api, state: MockPostman) -> None:
    _, body = await api.batch(build_csv([["6591234567", "english", "1"]]))
    state.advance(10)
    status, body = await api.call("POST", f"/batch/{body['batchId']}/retry")
    assert status == 400
    assert body["error"]["code"] == "no_failed_batch_messages_to_retry"


async def test_single_retry_of_a_batch_message(api: Api, state: MockPostman) -> None:
    await api.batch(build_csv([["6511115555", "english", "1"]]))
    state.advance(10)
    message_id = next(iter(state.messages))
    status, retried = await api.retry(message_id)
    assert status == 201
    assert retried["id"] == message_id


async def test_unknown_batch_listing_is_404(api: Api) -> None:
    status, body = await api.call("GET", "/batch/batch_nope/messages")
    assert status == 404
    assert body["error"]["code"] == "batch_not_found"
