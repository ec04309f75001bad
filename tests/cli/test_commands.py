"""Every command as a subprocess against the mock: success, each error, and what it prints."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import pathlib
import signal

import pytest

from postman_async.cli._output import FIELDS
from postman_async.testing import MockServer

from .conftest import GIVE_UP, assert_clean_failure, mock_env, run, start

pytestmark = pytest.mark.slow

GOOD = "6591234567"
INVALID = "6511111111"  # the mock fails it with recipient_invalid
UNAVAILABLE = "6511112222"  # ... and this one with recipient_unavailable


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def send_json(server: MockServer, number: str, *extra: str) -> dict[str, object]:
    result = await run(
        "send", number, "-v", "otp=123456", "--format", "json", *extra, env=mock_env(server)
    )
    assert result.code in (0, 3), result.err
    return json_lines(result.out)[0]


async def test_send_prints_the_message_masked(frozen: MockServer) -> None:
    mock = frozen
    result = await run("send", "+65 9123 4567", "-v", "otp=123456", env=mock_env(mock))
    assert result.code == 0, result.err
    (line,) = result.out.splitlines()
    words = line.split()
    assert words[0] == "sent"
    assert words[1].startswith("message_")
    assert words[2:] == ["65******67", "created"]
    assert "123456" not in result.out + result.err  # the OTP is never echoed
    (sent,) = [m for m in mock.campaign.messages if m.id == words[1]]
    assert sent.recipient == GOOD


async def test_send_json_has_the_documented_fields(frozen: MockServer) -> None:
    record = await send_json(frozen, GOOD)
    assert list(record) == ["kind", *FIELDS]
    assert record["kind"] == "message"
    assert record["recipient"] == "65******67"
    assert record["status"] == "created"


async def test_unmask_shows_the_full_number(mock: MockServer) -> None:
    record = await send_json(mock, GOOD, "--unmask")
    assert record["recipient"] == GOOD


async def test_send_wait_exits_3_when_the_message_fails(mock: MockServer) -> None:
    result = await run("send", INVALID, "-v", "otp=1", "--wait", env=mock_env(mock))
    assert result.code == 3, result.err
    assert "done: failure 1 (1 of 1 final)" in result.out
    assert "recipient_invalid" in result.out


async def test_send_wait_exits_0_on_success(mock: MockServer) -> None:
    result = await run(
        "send", GOOD, "-v", "otp=1", "--wait", "--format", "json", env=mock_env(mock)
    )
    assert result.code == 0, result.err
    records = json_lines(result.out)
    assert records[0]["kind"] == "message"
    assert records[-1] == {
        "kind": "summary",
        "total": 1,
        "final": 1,
        "failed": 0,
        "by_status": {"success": 1},
    }
    assert records[-2]["status"] == "success"


async def test_status_explains_the_error_code(mock: MockServer) -> None:
    sent = await send_json(mock, UNAVAILABLE)
    mock.state.advance(10)
    result = await run("status", str(sent["id"]), env=mock_env(mock))
    assert result.code == 0, result.err
    fields = dict(
        line.split(None, 1) for line in result.out.splitlines() if not line.startswith(" ")
    )
    assert fields["status"] == "failure"
    assert fields["error"].startswith("recipient_unavailable (delivery_error): the phone is not")
    assert fields["attempts"] == "1 of 3"
    assert fields["next:"] == f"postman-async retry {sent['id']}"
    assert "attempt 1: failure" in result.out


async def test_status_of_an_unknown_message_exits_1_with_the_trace_id(mock: MockServer) -> None:
    result = await run("status", "message_nope", env=mock_env(mock))
    line = assert_clean_failure(result, 1)
    assert "HTTP 404" in line
    assert "trace id" in line
    assert "check the ID" in line


async def test_retry_and_retry_again_too_often(mock: MockServer) -> None:
    sent = await send_json(mock, UNAVAILABLE)
    mock.state.advance(10)
    result = await run("retry", str(sent["id"]), "--wait", env=mock_env(mock))
    assert result.code == 3, result.err
    assert result.out.startswith(f"retried {sent['id']}")
    again = await run("retry", str(sent["id"]), env=mock_env(mock))
    assert again.code == 0, again.err
    mock.state.advance(10)
    third = await run("retry", str(sent["id"]), env=mock_env(mock))
    line = assert_clean_failure(third, 1)
    assert "too_many_message_attempts_error" in line
    assert "send a new one" in line


async def test_retry_of_a_message_not_failed_says_what_to_do(mock: MockServer) -> None:
    sent = await send_json(mock, GOOD)
    mock.state.advance(10)
    result = await run("retry", str(sent["id"]), env=mock_env(mock))
    line = assert_clean_failure(result, 1)
    assert "only a message in failure can be retried" in line


async def test_list_formats(mock: MockServer) -> None:
    first = await send_json(mock, GOOD)
    second = await send_json(mock, INVALID)
    env = mock_env(mock)
    table = await run("list", env=env)
    assert table.code == 0, table.err
    header, *rows = table.out.splitlines()
    assert header.split() == ["ID", "RECIPIENT", "STATUS", "ERROR_CODE", "ATTEMPTS", "CREATED_AT"]
    assert [row.split()[0] for row in rows] == [second["id"], first["id"]]  # newest first
    as_json = await run("list", "--format", "json", "--limit", "1", env=env)
    assert [r["id"] for r in json_lines(as_json.out)] == [second["id"]]
    as_csv = await run("list", "--format", "csv", "--search", "1111", env=env)
    rows_csv = list(csv.DictReader(io.StringIO(as_csv.out)))
    assert [r["id"] for r in rows_csv] == [second["id"]]
    assert rows_csv[0]["recipient"] == "65******11"


async def test_list_since_stops_at_older_messages(mock: MockServer) -> None:
    await send_json(mock, GOOD)
    result = await run("list", "--since", "2000-01-01", "--format", "json", env=mock_env(mock))
    assert len(json_lines(result.out)) == 1
    future = await run("list", "--since", "2999-01-01T00:00", env=mock_env(mock))
    assert future.code == 0
    assert future.out == ""
    assert "no messages found" in future.err


def write_csv(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    path = tmp_path / "batch.csv"
    path.write_text(text, encoding="utf-8")
    return path


async def test_batch_lists_every_bad_row_and_uploads_nothing(
    mock: MockServer, tmp_path: pathlib.Path
) -> None:
    path = write_csv(
        tmp_path,
        "recipient,language,otp\n"
        "6591234567,english,1\n"
        "6591234568,English,2\n"
        '6591234569,english,"two\nlines"\n'
        "12,english,3\n"
        "6591234570,english,\n"
        "6591234571,english\n",
    )
    result = await run("batch", str(path), env=mock_env(mock))
    assert result.code == 2
    problems = [line for line in result.err.splitlines() if line.startswith(str(path))]
    assert [p.split(":")[1] for p in problems] == ["3", "6", "7", "8"]
    assert "lowercase" in problems[0]
    assert "** has 2 digits" in problems[1]
    assert "empty" in problems[2]
    assert "2 cells, the header has 3" in problems[3]
    assert result.err.splitlines()[-1] == f"error: {path}: 4 problems found; nothing was uploaded"
    assert mock.campaign.stats.requests["batch_send"] == 0


async def test_batch_dry_run_needs_no_key(mock: MockServer, tmp_path: pathlib.Path) -> None:
    path = write_csv(tmp_path, "recipient,language,otp\n6591234567,english,1\n")
    result = await run("batch", str(path), "--dry-run")
    assert result.code == 0, result.err
    assert (
        result.out.strip()
        == f"{path}: 1 rows, variables otp: ready to upload (dry run, nothing sent)"
    )
    assert mock.campaign.stats.requests["batch_send"] == 0


async def test_batch_upload_and_follow(mock: MockServer, tmp_path: pathlib.Path) -> None:
    path = write_csv(
        tmp_path,
        f"recipient,language,otp\n{GOOD},english,1\n6591234568,english,2\n{INVALID},english,3\n",
    )
    result = await run("batch", str(path), "--wait", env=mock_env(mock))
    assert result.code == 3, result.err
    lines = result.out.splitlines()
    assert lines[0] == f"uploading {path} (3 rows, variables otp)"
    assert lines[1].startswith("accepted batch batch_")
    assert lines[1].endswith(": 3 rows")
    assert "done: success 2, failure 1 (3 of 3 final)" in lines
    assert any("failed" in line and "recipient_invalid" in line for line in lines)
    batch_id = lines[1].split()[2].rstrip(":")

    exported = await run("export", "--batch", batch_id, env=mock_env(mock))
    assert exported.code == 0, exported.err
    rows = list(csv.DictReader(io.StringIO(exported.out)))
    assert len(rows) == 3
    assert list(rows[0]) == list(FIELDS)
    assert sorted(r["status"] for r in rows) == ["failure", "success", "success"]
    assert {r["batch_id"] for r in rows} == {batch_id}
    assert all("*" in r["recipient"] for r in rows)
    assert f"exported 3 messages of batch {batch_id}" in exported.err

    target = tmp_path / "out" / "outcomes.csv"
    target.parent.mkdir()
    to_file = await run(
        "export", "--batch", batch_id, "-o", str(target), "--unmask", env=mock_env(mock)
    )
    assert to_file.code == 0, to_file.err
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert sorted(r["recipient"] for r in rows) == sorted([GOOD, "6591234568", INVALID])
    assert [p.name for p in target.parent.iterdir()] == ["outcomes.csv"]  # no partial file left

    watched = await run("watch", "--batch", batch_id, "--format", "json", env=mock_env(mock))
    assert watched.code == 3
    summary = json_lines(watched.out)[-1]
    assert summary["by_status"] == {"success": 2, "failure": 1}

    retried = await run("retry-batch", batch_id, "--wait", env=mock_env(mock))
    assert retried.code == 3, retried.err
    assert retried.out.splitlines()[0] == f"retrying the failed messages of batch {batch_id}"
    unknown = await run("retry-batch", "batch_nope", env=mock_env(mock))
    line = assert_clean_failure(unknown, 1)
    assert "HTTP 400" in line
    assert "check the batch ID" in line


async def test_batch_rejected_by_postman_exits_1(mock: MockServer, tmp_path: pathlib.Path) -> None:
    mock.campaign.max_batch_rows = 1
    path = write_csv(tmp_path, f"recipient,language,otp\n{GOOD},english,1\n6591234568,english,2\n")
    result = await run("batch", str(path), env=mock_env(mock))
    line = assert_clean_failure(result, 1)
    assert "Postman refused the batch CSV: 1 of 2 rows have errors; see http" in line
    assert line.endswith("fix the rows listed in the report and upload again")


async def test_watch_messages_until_final(mock: MockServer) -> None:
    good = await send_json(mock, GOOD)
    result = await run("watch", str(good["id"]), env=mock_env(mock))
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == "done: success 1 (1 of 1 final)"


async def test_watch_unknown_batch_exits_1(mock: MockServer) -> None:
    result = await run("watch", "--batch", "batch_nope", env=mock_env(mock))
    line = assert_clean_failure(result, 1)
    assert "HTTP 404" in line


async def test_wrong_key_exits_1_and_never_prints_the_key(mock: MockServer) -> None:
    env = {**mock_env(mock), "POSTMAN_API_KEY": "key_test_not_the_right_one"}
    result = await run("--verbose", "list", env=env)
    line = assert_clean_failure(result, 1)
    assert "HTTP 401" in line
    assert "POSTMAN_API_KEY" in line
    assert "key_test_not_the_right_one" not in result.out + result.err


async def test_verbose_logs_calls_but_never_the_key(mock: MockServer) -> None:
    result = await run("send", GOOD, "-v", "otp=1", "--verbose", "--wait", env=mock_env(mock))
    assert result.code == 0, result.err
    assert "POST /api/v2/campaigns/" in result.err
    assert "/messages -> 201 in" in result.err
    assert "key from $POSTMAN_API_KEY" in result.err
    assert mock.api_key not in result.out + result.err


async def test_key_from_stdin_and_from_a_file(mock: MockServer, tmp_path: pathlib.Path) -> None:
    env = mock_env(mock)
    key = env.pop("POSTMAN_API_KEY")
    piped = await run("list", "--api-key-file", "-", env=env, input=key + "\n")
    assert piped.code == 0, piped.err
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n")
    from_file = await run("list", "--api-key-file", str(key_file), env=env)
    assert from_file.code == 0, from_file.err
    on_line = await run("list", "--api-key", key, env=env)
    assert on_line.code == 0, on_line.err
    assert "shell history" in on_line.err
    assert key not in on_line.err + on_line.out
    missing = await run("list", "--api-key-file", str(tmp_path / "absent"), env=env)
    assert "cannot read the API key" in assert_clean_failure(missing, 2)


async def test_missing_configuration_exits_2() -> None:
    result = await run("list")
    assert "POSTMAN_BASE_URL" in assert_clean_failure(result, 2)
    result = await run("list", "--env", "test")
    assert "POSTMAN_CAMPAIGN_ID" in assert_clean_failure(result, 2)
    result = await run("list", "--env", "test", "--campaign", "campaign_1")
    assert "POSTMAN_API_KEY" in assert_clean_failure(result, 2)


async def test_test_key_against_production_exits_2() -> None:
    env = {"POSTMAN_CAMPAIGN_ID": "campaign_1", "POSTMAN_API_KEY": "key_test_abc"}
    result = await run("list", "--env", "production", env=env)
    line = assert_clean_failure(result, 2)
    assert "test-environment key" in line
    assert "key_test_abc" not in result.err


async def test_unreachable_api_exits_1() -> None:
    env = {"POSTMAN_CAMPAIGN_ID": "campaign_1", "POSTMAN_API_KEY": "key_test_abc"}
    result = await run(
        "status", "message_1", "--base-url", "http://127.0.0.1:9/api/v2", "--timeout", "5", env=env
    )
    line = assert_clean_failure(result, 1)
    assert "check the network" in line


@pytest.mark.parametrize("tls", [[], ["--tls"]], ids=["http", "tls"])
async def test_mock_prints_the_export_lines_the_commands_use(tls: list[str]) -> None:
    mock_process = await start("mock", "--port", "0", "--speed", "100", *tls)
    try:
        assert mock_process.stdout is not None
        exports: dict[str, str] = {}
        while len(exports) < 3 + len(tls):
            line = (
                await asyncio.wait_for(mock_process.stdout.readline(), timeout=GIVE_UP)
            ).decode()
            assert line, "the mock ended early"
            if line.strip().startswith("export "):
                name, _, value = line.strip().removeprefix("export ").partition("=")
                exports[name] = value
        names = {"POSTMAN_BASE_URL", "POSTMAN_CAMPAIGN_ID", "POSTMAN_API_KEY"}
        assert set(exports) == names | ({"SSL_CERT_FILE"} if tls else set())
        assert exports["POSTMAN_BASE_URL"].startswith("https://" if tls else "http://")
        sent = await run("send", GOOD, "-v", "otp=1", "--wait", env=exports)
        assert sent.code == 0, sent.err
        assert sent.out.splitlines()[-1] == "done: success 1 (1 of 1 final)"
    finally:
        mock_process.send_signal(signal.SIGINT)
        await asyncio.wait_for(mock_process.communicate(), timeout=GIVE_UP)
    assert mock_process.returncode == 0


async def test_watch_reads_message_ids_from_stdin(mock: MockServer) -> None:
    good = await send_json(mock, GOOD)
    bad = await send_json(mock, INVALID)
    result = await run("watch", "-", env=mock_env(mock), input=f"{good['id']}\n{bad['id']}\n\n")
    assert result.code == 3, result.err
    lines = result.out.splitlines()
    assert lines[-2] == "done: success 1, failure 1 (2 of 2 final)"
    assert lines[-1].split()[:2] == ["failed", bad["id"]]
