"""Bad arguments: exit 2 with one line and no traceback, for every command."""

from __future__ import annotations

import pytest

from postman_async import __version__
from postman_async.cli import main

from .conftest import assert_clean_failure, run

BAD = [
    ["demo", "--tps", "0"],
    ["demo", "--speed", "0"],
    ["demo", "--speed", "-1"],
    ["demo", "--speed", "nan"],
    ["demo", "--speed", "1e308"],
    ["demo", "--sends", "-5"],
    ["demo", "--sends", "many"],
    ["mock", "--port", "99999"],
    ["mock", "--port", "http"],
    ["mock", "--no-such-flag"],
    ["nonsense"],
    [],
    ["send"],
    ["send", "6591234567", "--format", "yaml"],
    ["list", "--limit", "0"],
    ["list", "--limit", "-3"],
    ["list", "--tps", "0"],
    ["list", "--timeout", "0"],
    ["list", "--env", "staging"],
    ["status"],
    ["export"],
    ["list", "--unknown"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a) or "(none)" for a in BAD])
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert len(captured.err.splitlines()) == 1, captured.err
    assert "error:" in captured.err


ENV = {
    "POSTMAN_BASE_URL": "http://127.0.0.1:9/api/v2",
    "POSTMAN_CAMPAIGN_ID": "campaign_1",
    "POSTMAN_API_KEY": "key_test_abc",
}

BAD_INPUT = [
    (["send", "6591234567"], "-v NAME=VALUE"),
    (["send", "6591234567", "-v", "otp"], "-v takes NAME=VALUE"),
    (["send", "6591234567", "-v", "otp=1", "-v", "otp=2"], "given twice"),
    (["send", "91234567", "-v", "otp=1"], "without its country code"),
    (["send", "abc", "-v", "otp=1"], "only digits"),
    (["send", "6591234567", "-v", "otp=", "-v", "x=1"], "empty"),
    (["send", "6591234567", "-v", "Bad Name=1"], "template variable name"),
    (["send", "6591234567", "-v", "otp=1", "--language", "klingon"], "language must be one of"),
    (["status", ""], "message_id"),
    (["list", "--search", "91x"], "digits only"),
    (["list", "--since", "yesterday"], "--since takes"),
    (["watch"], "give message IDs or --batch"),
    (["watch", "message_1", "--batch", "batch_1"], "one of the two"),
    (["list", "--env", "test", "--base-url", "http://127.0.0.1:9/api/v2"], "not both"),
    (["batch", "/no/such/file.csv"], "cannot read"),
    (["list", "--base-url", "ftp://example.com"], "https"),
    (["list", "--base-url", "http://example.com/api/v2"], "https"),
]


@pytest.mark.parametrize(("argv", "words"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
async def test_bad_input_exits_2_with_one_line(argv: list[str], words: str) -> None:
    result = await run(*argv, env=ENV)
    line = assert_clean_failure(result, 2)
    assert words in line
    assert "key_test_abc" not in result.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"postman-async {__version__}"


def test_help_of_every_command_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (
        "send",
        "status",
        "retry",
        "batch",
        "retry-batch",
        "watch",
        "list",
        "export",
        "demo",
    ):
        assert main([command, "--help"]) == 0
        assert f"postman-async {command}" in capsys.readouterr().out


def test_mock_help_names_itself_and_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mock", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: postman-async mock")
    assert "port to listen on; 0 picks a free one (default: 8080)" in text
    assert "lifecycle speed-up (0 freezes it) (default: 1.0)" in text
    assert "share of JSON 5xx answers (default: 0.0)" in text


def test_a_key_typed_in_the_wrong_place_is_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "key_test_0123456789abcdef"]) == 2
    err = capsys.readouterr().err
    assert "key_test_***" in err
    assert "0123456789abcdef" not in err
