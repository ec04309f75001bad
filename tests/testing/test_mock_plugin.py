"""The pytest plugin and the public names."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import postman_async.testing as testing
from postman_async.testing import MockServer

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


async def test_fixture_yields_a_running_server(postman_mock, session):
    assert isinstance(postman_mock, MockServer)
    assert postman_mock.campaign.tps == 10
    assert postman_mock.campaign.variables == ("otp",)
    assert postman_mock.base_url == f"http://127.0.0.1:{postman_mock.port}/api/v2"
    url = f"{postman_mock.base_url}/campaigns/{postman_mock.campaign_id}/messages?limit=5"
    headers = {"Authorization": f"Bearer {postman_mock.api_key}"}
    async with session.get(url, headers=headers) as response:
        assert response.status == 200


def test_plugin_works_from_a_users_conftest(tmp_path):
    (tmp_path / "conftest.py").write_text(textwrap.dedent(PLUGIN_TEST))
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TEST))
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_all_lists_the_public_names():
    # "@py_..." names: pytest rewrites the asserts of plugins installed through entry points.
    public = {name for name in dir(testing) if not name.startswith(("_", "@"))}
    modules = {"pytest_plugin"}
    assert set(testing.__all__) == public - modules
    assert len(testing.__all__) == len(public - modules)
    for name in testing.__all__:
        if not name.isupper():
            assert getattr(testing, name).__module__.startswith("postman_async.testing.")
