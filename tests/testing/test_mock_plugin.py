"""The pytest plugin and the public names."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import textwrap
from typing import Any

import aiohttp
import pytest

import postman_async.testing as testing
from postman_async.testing import FaultConfig, Leniency, MockFactory, MockServer

PLUGIN_TEST = """
pytest_plugins = ["postman_async.testing.pytest_plugin"]
"""

USER_TEST = """
import aiohttp


async def test_send(postman_mock):
    url = f"{postman_mock.base_url}/campaigns/{postman_mock.campaign_id}/messages"
    body = {"recipient": "6591234567", "language": "english", "values": {"otp": "1"}}
    headers = {"Authorization": f"Bearer {postman_mock.api_key}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=body, headers=headers) as response:
            assert response.status == 201
    assert postman_mock.campaign.tps == 10
    assert postman_mock.state.stats.messages_created == 1
"""


async def test_fixture_yields_a_running_server(
    postman_mock: MockServer, session: aiohttp.ClientSession
) -> None:
    assert isinstance(postman_mock, MockServer)
    assert postman_mock.campaign.tps == 10
    assert postman_mock.campaign.variables == ("otp",)
    assert postman_mock.base_url == f"http://127.0.0.1:{postman_mock.port}/api/v2"
    url = f"{postman_mock.base_url}/campaigns/{postman_mock.campaign_id}/messages?limit=5"
    headers = {"Authorization": f"Bearer {postman_mock.api_key}"}
    async with session.get(url, headers=headers) as response:
        assert response.status == 200


README = pathlib.Path(__file__).parents[2] / "README.md"


def run_pytest(project: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest in ``project`` as a user's suite: no conftest of ours, no repo config."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=project,
        timeout=120,
        check=False,
    )


def readme_test_file() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    (block,) = [b for b in blocks if "postman_mock_factory" in b]
    return str(block)


def test_an_older_conftest_line_registers_nothing_twice(tmp_path: pathlib.Path) -> None:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(PLUGIN_TEST))
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TEST))
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    result = run_pytest(tmp_path, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_installing_the_package_is_enough_for_pytest_fixtures(tmp_path: pathlib.Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = run_pytest(tmp_path, "--fixtures")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^postman_mock\b.*\n\s+A mock Postman", result.stdout, re.MULTILINE)
    assert re.search(r"^postman_mock_factory\b", result.stdout, re.MULTILINE)


STRICT_WARNINGS = "filterwarnings = error\nasyncio_default_fixture_loop_scope = function\n"


@pytest.mark.parametrize(
    "options",
    [
        "",  # pytest-asyncio's defaults: strict mode
        "asyncio_mode = strict\n" + STRICT_WARNINGS,
        "asyncio_mode = auto\n" + STRICT_WARNINGS,
    ],
    ids=["defaults", "strict", "auto"],
)
def test_readme_pytest_example_runs_as_written(tmp_path: pathlib.Path, options: Any) -> None:
    (tmp_path / "test_signup.py").write_text(readme_test_file())
    (tmp_path / "pytest.ini").write_text("[pytest]\n" + options)
    result = run_pytest(tmp_path, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


async def test_factory_shapes_each_mock(postman_mock_factory: MockFactory) -> None:
    first = await postman_mock_factory()
    second = await postman_mock_factory(
        tps=3,
        variables=("name", "clinic"),
        languages=("english", "malay"),
        environment="production",
        profile="realistic",
        faults=FaultConfig(server_error_rate=0.5, seed=2),
        speed=0,
        leniency=Leniency(limit_optional=True),
        max_batch_rows=5,
    )
    assert first.port != second.port
    assert (first.campaign.tps, first.campaign.environment) == (10, "test")
    assert first.campaign.api_key.startswith("key_test_")
    campaign = second.campaign
    assert (campaign.tps, campaign.environment, campaign.max_batch_rows) == (3, "production", 5)
    assert campaign.variables == ("name", "clinic")
    assert campaign.languages == ("english", "malay")
    assert campaign.api_key.startswith("key_live_")
    state = second.state
    assert (state.profile, state.speed, state.faults.server_error_rate) == ("realistic", 0, 0.5)
    assert state.leniency.limit_optional


def test_all_lists_the_public_names() -> None:
    # "@py_..." names: pytest rewrites the asserts of plugins installed through entry points.
    public = {name for name in dir(testing) if not name.startswith(("_", "@"))}
    modules = {"pytest_plugin"}
    assert set(testing.__all__) == public - modules
    assert len(testing.__all__) == len(public - modules)
    for name in testing.__all__:
        if not name.isupper():
            # The transport seam's types are the client's own, re-exported for MockTransport.
            module = getattr(testing, name).__module__
            assert (
                module.startswith("postman_async.testing.") or module == "postman_async._exchange"
            )
