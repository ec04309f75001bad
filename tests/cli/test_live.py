"""The live display, in a real pseudo-terminal read as a screen: it renders and ends cleanly."""

from __future__ import annotations

import asyncio
import pathlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pexpect
import pyte
import pytest

from postman_async.testing import MockServer

from .conftest import GIVE_UP, base_env, mock_env

pytestmark = pytest.mark.slow

HIDE_CURSOR = b"\x1b[?25l"
SHOW_CURSOR = b"\x1b[?25h"
#: Runs the command line with rich made unimportable.
WITHOUT_RICH = (
    "import sys; sys.modules['rich'] = None; "
    "from postman_async.cli import main; raise SystemExit(main())"
)


@dataclass
class Screen:
    """What a command left on a terminal."""

    code: int | None
    raw: bytes
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def drive(
    argv: list[str],
    env: Mapping[str, str],
    *,
    when: str | None = None,
    then: Callable[[pexpect.spawn[bytes]], None] | None = None,
) -> Screen:
    """Run ``python ARGV`` in a pseudo-terminal to the end; feed its output to a screen.

    When ``when`` first shows up in the output, ``then(child)`` is called (e.g. to press Ctrl-C).
    """
    screen = pyte.Screen(120, 40)
    stream = pyte.ByteStream(screen)
    child: pexpect.spawn[bytes] = pexpect.spawn(
        sys.executable,
        argv,
        env={**base_env(env), "TERM": "xterm-256color"},
        dimensions=(40, 120),
        timeout=GIVE_UP,
    )
    raw = b""
    try:
        while True:
            try:
                chunk = child.read_nonblocking(4096, timeout=GIVE_UP)
            except pexpect.EOF:
                break
            raw += chunk
            stream.feed(chunk)
            if when is not None and then is not None and when.encode() in raw:
                then(child)
                when = None
    finally:
        child.close()
    lines = [line.rstrip() for line in screen.display if line.strip()]
    return Screen(child.exitstatus, raw, lines)


def assert_cursor_restored(raw: bytes) -> None:
    assert HIDE_CURSOR in raw  # the live display did run
    assert raw.rfind(SHOW_CURSOR) > raw.rfind(HIDE_CURSOR)


def batch_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "batch.csv"
    rows = ["recipient,language,otp", "6591234567,english,1", "6591234568,english,2"]
    path.write_text("\n".join([*rows, "6511111111,english,3", ""]), encoding="utf-8")
    return path


async def test_batch_wait_draws_live_counts_and_ends_cleanly(
    mock: MockServer, tmp_path: pathlib.Path
) -> None:
    argv = ["-m", "postman_async", "batch", str(batch_file(tmp_path)), "--wait"]
    screen = await asyncio.to_thread(drive, argv, mock_env(mock))
    assert screen.code == 3, screen.text
    assert_cursor_restored(screen.raw)
    rows = {line.split()[0]: line.split()[1] for line in screen.lines if len(line.split()) == 2}
    assert rows["success"] == "2"
    assert rows["failure"] == "1"
    assert any("3 of 3 final; rate budget" in line for line in screen.lines)
    assert "done: success 2, failure 1 (3 of 3 final)" in screen.lines
    assert "Traceback" not in screen.text


async def test_demo_shows_progress_from_the_start() -> None:
    argv = ["-m", "postman_async", "demo", "--sends", "6", "--tps", "5", "--speed", "100"]
    screen = await asyncio.to_thread(drive, argv, {})
    assert screen.code == 0, screen.text
    assert_cursor_restored(screen.raw)
    assert screen.lines[0].startswith("Starting a mock Postman")
    assert any("6 of 6 final; rate budget" in line for line in screen.lines)
    assert "Summary" in screen.lines
    assert any(line.split()[:3] == ["sent", "(created)", "6"] for line in screen.lines)


async def test_ctrl_c_stops_the_live_display_cleanly(frozen: MockServer) -> None:
    argv = ["-m", "postman_async", "send", "6591234567", "-v", "otp=1", "--wait"]
    screen = await asyncio.to_thread(
        drive, argv, mock_env(frozen), when="rate budget", then=lambda child: child.sendintr()
    )
    assert screen.code == 130, screen.text
    assert_cursor_restored(screen.raw)
    assert ["created", "1"] in [line.split() for line in screen.lines]  # the frame at Ctrl-C
    assert any("0 of 1 final; rate budget" in line for line in screen.lines)
    assert screen.lines[-1] == "interrupted"
    assert "Traceback" not in screen.text


async def test_without_rich_a_terminal_gets_plain_lines(mock: MockServer) -> None:
    env = mock_env(mock)
    screen = await asyncio.to_thread(
        drive, ["-c", WITHOUT_RICH, "send", "6591234567", "-v", "otp=1", "--wait"], env
    )
    assert screen.code == 0, screen.text
    assert HIDE_CURSOR not in screen.raw
    progress = [line for line in screen.lines if line.startswith("message message_")]
    assert progress
    assert "success 1 (1 of 1 final)" in progress[-1]
    assert screen.lines[-1] == "done: success 1 (1 of 1 final)"
    assert mock.api_key not in screen.text
