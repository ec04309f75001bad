"""The command line, run in a real subprocess."""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp

from postman_async.testing._cli import main


async def test_cli_serves_and_stops_on_sigterm():
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "postman_async.testing",
        "--port",
        "0",
        "--json",
        "--tps",
        "5",
        "--speed",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=15)
        info = json.loads(line)
        assert set(info) == {"base_url", "campaign_id", "api_key"}
        assert info["base_url"].startswith("http://127.0.0.1:")
        assert not info["base_url"].endswith(":0/api/v2")
        url = f"{info['base_url']}/campaigns/{info['campaign_id']}/messages"
        body = {"recipient": "6591234567", "language": "english", "values": {"otp": "1"}}
        headers = {"Authorization": f"Bearer {info['api_key']}"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=body, headers=headers) as response,
        ):
            assert response.status == 201
            assert (await response.json())["latestStatus"] == "created"
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=15)
    assert process.returncode == 0, stderr.decode()


async def test_cli_human_output_and_fixed_ids():
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from postman_async.testing._cli import main; raise SystemExit(main())",
        "--port",
        "0",
        "--campaign-id",
        "campaign_fixed",
        "--api-key",
        "key_test_fixed",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        first = await asyncio.wait_for(process.stdout.readline(), timeout=15)
        second = await asyncio.wait_for(process.stdout.readline(), timeout=15)
        third = await asyncio.wait_for(process.stdout.readline(), timeout=15)
    finally:
        process.terminate()
        await asyncio.wait_for(process.communicate(), timeout=15)
    assert first.decode().startswith("Mock Postman v2 API at http://127.0.0.1:")
    assert second.decode().split() == ["campaign_id:", "campaign_fixed"]
    assert third.decode().split() == ["api_key:", "key_test_fixed"]


def test_cli_rejects_bad_settings(capsys):
    assert main(["--server-error-rate", "2"]) == 2
    assert "server_error_rate" in capsys.readouterr().err
    assert main(["--port", "0", "--languages", "klingon"]) == 1
    assert "unknown language" in capsys.readouterr().err
