"""Ctrl-C: the command stops cleanly, closes the client, writes nothing half-done, exits 130."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import signal
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from postman_async.testing import MockServer

from .conftest import GIVE_UP, mock_env, start

pytestmark = pytest.mark.slow


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


@contextlib.asynccontextmanager
async def stalled_listing() -> AsyncIterator[tuple[dict[str, str], asyncio.Event]]:
    """A server whose batch listing never answers; yields its env and an event set on arrival."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def listing(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.json_response({"data": [], "pageData": {}})

    app = web.Application()
    app.router.add_get("/api/v2/campaigns/{campaign}/batch/{batch}/messages", listing)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    env = {
        "POSTMAN_BASE_URL": f"http://127.0.0.1:{port}/api/v2",
        "POSTMAN_CAMPAIGN_ID": "campaign_1",
        "POSTMAN_API_KEY": "key_test_abc",
    }
    try:
        yield env, arrived
    finally:
        release.set()
        await runner.cleanup()


async def test_ctrl_c_during_export_leaves_no_file(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "outcomes.csv"
    async with stalled_listing() as (env, arrived):
        process = await start("export", "--batch", "batch_1", "-o", str(target), env=env)
        await asyncio.wait_for(arrived.wait(), timeout=GIVE_UP)  # the listing is in flight
        _, err = await interrupt(process)
    assert process.returncode == 130
    assert err.splitlines() == ["interrupted"]
    assert os.listdir(tmp_path) == []  # neither the file nor a partial one


async def test_sigterm_also_stops_cleanly(frozen: MockServer) -> None:
    process = await start("send", "6591234567", "-v", "otp=1", "--wait", env=mock_env(frozen))
    await read_until(process.stdout, "created 1")
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), timeout=GIVE_UP)
    assert process.returncode == 143
    assert err.decode().splitlines() == ["interrupted"]
