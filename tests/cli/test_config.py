"""Configuration: flags override the environment; the key is never shown."""

from __future__ import annotations

import argparse
import io
import pathlib

import pytest

from postman_async import PostmanClient
from postman_async.cli._config import HISTORY_WARNING, UsageError, resolve
from postman_async.cli._parser import build

ENV = {
    "POSTMAN_BASE_URL": "https://env.example/api/v2",
    "POSTMAN_CAMPAIGN_ID": "campaign_env",
    "POSTMAN_API_KEY": "key_test_from_env",
}


def args(*argv: str) -> argparse.Namespace:
    return build().parse_args([*argv, "list"])


def test_environment_alone() -> None:
    config = resolve(args(), ENV)
    assert (config.base_url, config.campaign_id, config.api_key) == (
        "https://env.example/api/v2",
        "campaign_env",
        "key_test_from_env",
    )
    assert "key_test_from_env" not in repr(config)
    assert "key_test_from_env" not in config.describe()
    assert "$POSTMAN_API_KEY" in config.describe()


def test_flags_override_the_environment() -> None:
    config = resolve(args("--env", "test", "--campaign", "campaign_flag"), ENV)
    assert config.base_url == PostmanClient.TEST_URL
    assert config.campaign_id == "campaign_flag"
    config = resolve(args("--base-url", "https://flag.example/api/v2"), ENV)
    assert config.base_url == "https://flag.example/api/v2"


def test_postman_env_variable() -> None:
    env = {k: v for k, v in ENV.items() if k != "POSTMAN_BASE_URL"}
    assert (
        resolve(args(), {**env, "POSTMAN_ENV": "loadtest"}).base_url == PostmanClient.LOADTEST_URL
    )
    with pytest.raises(UsageError, match="POSTMAN_ENV"):
        resolve(args(), {**env, "POSTMAN_ENV": "staging"})


def test_key_from_file_stdin_and_flag(tmp_path: pathlib.Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("key_test_in_file\n\n")
    assert resolve(args("--api-key-file", str(key_file)), ENV).api_key == "key_test_in_file"
    stdin = io.StringIO("key_test_piped\n")
    assert resolve(args("--api-key-file", "-"), ENV, stdin=stdin).api_key == "key_test_piped"
    stderr = io.StringIO()
    config = resolve(args("--api-key", "key_test_flag"), ENV, stderr=stderr)
    assert config.api_key == "key_test_flag"
    assert stderr.getvalue().strip() == HISTORY_WARNING
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(UsageError, match="empty"):
        resolve(args("--api-key-file", str(tmp_path / "empty")), ENV)
    with pytest.raises(UsageError, match="not both"):
        resolve(args("--api-key-file", str(key_file), "--api-key", "k"), ENV)


@pytest.mark.parametrize(
    ("missing", "words"),
    [
        ("POSTMAN_BASE_URL", "no API address"),
        ("POSTMAN_CAMPAIGN_ID", "no campaign"),
        ("POSTMAN_API_KEY", "no API key"),
    ],
)
def test_each_missing_setting_is_named(missing: str, words: str) -> None:
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(UsageError, match=words):
        resolve(args(), env)
