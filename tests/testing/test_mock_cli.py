"""The command line, run in a real subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
import ssl
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest

from postman_async.testing._cli import main


@contextlib.asynccontextmanager
async def python(*arguments: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run ``python *arguments`` for the block; it must then stop on SIGTERM with status 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=15)
    assert process.returncode == 0, stderr.decode()


async def read_line(process: asyncio.subprocess.Process, timeout: float = 15) -> bytes:
    """The next line the process prints."""
    assert process.stdout is not None
    return await asyncio.wait_for(process.stdout.readline(), timeout=timeout)


async def test_cli_serves_and_stops_on_sigterm() -> None:
    flags = ("--port", "0", "--json", "--tps", "5", "--speed", "0")
    async with python("-m", "postman_async.testing", *flags) as process:
        info = json.loads(await read_line(process))
        assert set(info) == {"base_url", "campaign_id", "api_key", "environment", "ca_file"}
        assert (info["environment"], info["ca_file"]) == ("test", None)
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


async def test_cli_human_output_and_fixed_ids() -> None:
    code = "from postman_async.testing._cli import main; raise SystemExit(main())"
    flags = ("--port", "0", "--campaign-id", "campaign_fixed", "--api-key", "key_test_fixed")
    async with python("-c", code, *flags) as process:
        first, second, third = [await read_line(process) for _ in range(3)]
    assert first.decode().startswith("Mock Postman v2 API at http://127.0.0.1:")
    assert second.decode().split() == ["campaign_id:", "campaign_fixed"]
    assert third.decode().split() == ["api_key:", "key_test_fixed", "(test", "environment)"]


def test_cli_rejects_bad_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--server-error-rate", "2"]) == 2
    assert "server_error_rate" in capsys.readouterr().err
    assert main(["--port", "0", "--languages", "klingon"]) == 1
    assert "unknown language" in capsys.readouterr().err


@contextlib.asynccontextmanager
async def cli_mock(*flags: str) -> AsyncIterator[dict[str, str]]:
    """Run ``postman-async mock --port 0 --json *flags``; yield its JSON line."""
    async with python("-m", "postman_async", "mock", "--port", "0", "--json", *flags) as process:
        line = await read_line(process, timeout=30)
        assert line, (await process.communicate())[1].decode()
        yield json.loads(line)


async def test_cli_tls_serves_https_with_a_throwaway_ca(tmp_path: pathlib.Path) -> None:
    flags = ("--tls", "--tls-dir", str(tmp_path), "--tls-name", "postman-mock")
    async with cli_mock(*flags) as info:
        assert info["base_url"].startswith("https://127.0.0.1:")
        ca_file = pathlib.Path(info["ca_file"])
        assert ca_file.parent == tmp_path
        assert ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")  # noqa: ASYNC240
        port = info["base_url"].split(":")[2].split("/")[0]
        trusting = ssl.create_default_context(cafile=str(ca_file))
        headers = {"Authorization": f"Bearer {info['api_key']}"}
        path = f"/api/v2/campaigns/{info['campaign_id']}/messages?limit=1"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trusting)) as session:
            for host in ("127.0.0.1", "localhost"):
                async with session.get(f"https://{host}:{port}{path}", headers=headers) as response:
                    assert response.status == 200
        async with aiohttp.ClientSession() as untrusting:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await untrusting.get(f"https://127.0.0.1:{port}{path}", headers=headers)


async def test_cli_environment_profile_and_leniency() -> None:
    flags = ("--environment", "production", "--profile", "realistic", "--lenient", "limit_optional")
    async with cli_mock(*flags) as info:
        assert info["environment"] == "production"
        assert info["api_key"].startswith("key_live_")
        root = info["base_url"].removesuffix("/api/v2")
        headers = {"Authorization": f"Bearer {info['api_key']}"}
        url = f"{info['base_url']}/campaigns/{info['campaign_id']}/messages"
        async with aiohttp.ClientSession() as session:
            async with session.get(url, headers=headers) as response:
                assert response.status == 200  # no limit, but lenient
            async with session.get(f"{root}/_mock/campaigns") as response:
                (campaign,) = await response.json()
        assert (campaign["environment"], campaign["max_batch_rows"]) == ("production", None)


def test_cli_refuses_a_fractional_retry_after(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--retry-after", "1.5"])
    assert "invalid int value" in capsys.readouterr().err
