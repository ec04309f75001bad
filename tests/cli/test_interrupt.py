"""Ctrl-C: the command stops cleanly, closes the client, writes nothing half-done, exits 130."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal

from postman_async.testing import FaultConfig, MockServer

from .conftest import GIVE_UP, mock_env, start


async def read_until(stream: asyncio.StreamReader | None, words: str) -> list[str]:
    """Lines read up to and including the first that contains ``words``."""
    assert stream is not None
    lines: list[str] = []
    while True:
        raw = await asyncio.wait_for(stream.readline(), timeout=GIVE_UP)
        assert raw, f"the command ended before printing {words!r}: {lines}"
        lines.append(raw.decode())
        if words in lines[-1]:
            return lines


async def interrupt(process: asyncio.subprocess.Process) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), timeout=GIVE_UP)
    return out.decode(), err.decode()


async def test_ctrl_c_while_watching_exits_130(frozen: MockServer) -> None:
    process = await start("send", "6591234567", "-v", "otp=1", "--wait", env=mock_env(frozen))
    lines = await read_until(process.stdout, "created 1")
    assert lines[0].startswith("sent message_")
    out, err = await interrupt(process)
    assert process.returncode == 130
    assert err.splitlines() == ["interrupted"]
    assert "done:" not in out


async def test_ctrl_c_during_export_leaves_no_file(
    frozen: MockServer, tmp_path: pathlib.Path
) -> None:
    frozen.state.faults = FaultConfig(latency=2.0)  # the listing is in flight when Ctrl-C comes
    target = tmp_path / "outcomes.csv"
    process = await start("export", "--batch", "batch_1", "-o", str(target), env=mock_env(frozen))
    await read_until(process.stdout, "export batch batch_1")
    _, err = await interrupt(process)
    assert process.returncode == 130
    assert err.splitlines() == ["interrupted"]
    assert os.listdir(tmp_path) == []  # neither the file nor a partial one
