"""Running ``postman-async`` as a subprocess against a mock served by the test process."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import pytest

from postman_async.testing import MockServer, serve_mock

#: Seconds any one subprocess may take before the test gives up on it (a hang, not a timing check).
GIVE_UP = 120.0


@dataclass
class Result:
    """What a finished command did."""

    code: int
    out: str
    err: str


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any POSTMAN_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTMAN_")}
    env["COLUMNS"] = "200"
    env.update(extra or {})
    return env


def mock_env(server: MockServer) -> dict[str, str]:
    """Variables that point the command line at ``server``."""
    return {
        "POSTMAN_BASE_URL": server.base_url,
        "POSTMAN_CAMPAIGN_ID": server.campaign_id,
        "POSTMAN_API_KEY": server.api_key,
    }


async def start(
    *args: str, env: Mapping[str, str] | None = None, stdin: bool = False
) -> asyncio.subprocess.Process:
    """Start ``python -m postman_async ARGS`` with pipes."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "postman_async",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=base_env(env),
    )


async def run(*args: str, env: Mapping[str, str] | None = None, input: str | None = None) -> Result:
    """Run ``python -m postman_async ARGS`` to the end (the mock keeps serving meanwhile)."""
    process = await start(*args, env=env, stdin=input is not None)
    data = None if input is None else input.encode()
    out, err = await asyncio.wait_for(process.communicate(data), timeout=GIVE_UP)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


def assert_clean_failure(result: Result, code: int) -> str:
    """The command failed with ``code``, one ``error:`` line and no traceback; return the line."""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err + result.out
    errors = [line for line in result.err.splitlines() if line.startswith(("error:", "postman"))]
    assert len(errors) == 1, result.err
    return errors[0]


@pytest.fixture
async def mock() -> AsyncIterator[MockServer]:
    """A mock whose messages reach their final status almost at once."""
    async with serve_mock(tps=50, variables=("otp",)) as server:
        server.state.speed = 1000.0
        yield server


@pytest.fixture
async def frozen() -> AsyncIterator[MockServer]:
    """A mock whose messages stay ``created`` until the test advances its clock."""
    async with serve_mock(tps=50, variables=("otp",)) as server:
        server.state.speed = 0.0
        yield server
