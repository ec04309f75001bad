"""PostmanClient.from_env() and campaign_from_env(): the POSTMAN_* variables."""

from __future__ import annotations

import asyncio

import pytest

from postman_async import PostmanClient, ValidationError
from postman_async._env import ENVIRONMENTS, read_env
from postman_async.testing import MockTransport, Request, Response

KEY = "key_test_from-env-secret"


def test_environment_names_match_the_client_constants() -> None:
    assert ENVIRONMENTS == {
        "production": PostmanClient.PRODUCTION_URL,
        "test": PostmanClient.TEST_URL,
        "loadtest": PostmanClient.LOADTEST_URL,
    }


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({}, PostmanClient.PRODUCTION_URL),
        ({"POSTMAN_ENV": "test"}, PostmanClient.TEST_URL),
        ({"POSTMAN_ENV": " LoadTest "}, PostmanClient.LOADTEST_URL),
        ({"POSTMAN_BASE_URL": "http://127.0.0.1:8080/api/v2/"}, "http://127.0.0.1:8080/api/v2"),
        (
            {"POSTMAN_ENV": "test", "POSTMAN_BASE_URL": PostmanClient.TEST_URL},
            PostmanClient.TEST_URL,
        ),
        ({"POSTMAN_ENV": "", "POSTMAN_BASE_URL": ""}, PostmanClient.PRODUCTION_URL),
    ],
)
def test_the_base_url(environ: dict[str, str], url: str) -> None:
    assert read_env(environ).base_url == url
    assert PostmanClient.from_env(environ).base_url == url


@pytest.mark.parametrize(
    ("environ", "match"),
    [
        ({"POSTMAN_ENV": "staging"}, "POSTMAN_ENV must be one of production, test, loadtest"),
        (
            {"POSTMAN_ENV": "test", "POSTMAN_BASE_URL": PostmanClient.PRODUCTION_URL},
            "set only one of them",
        ),
        ({"POSTMAN_BASE_URL": "http://postman.example/api/v2"}, "http"),
        ({"POSTMAN_CAMPAIGN_ID": ".."}, "POSTMAN_CAMPAIGN_ID"),
    ],
)
def test_bad_values_are_refused(environ: dict[str, str], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        read_env(environ)


def test_a_bad_key_is_refused_without_echoing_it() -> None:
    secret = "key_test_has a space-secret"
    with pytest.raises(ValidationError, match="POSTMAN_API_KEY") as info:
        read_env({"POSTMAN_API_KEY": secret})
    assert secret not in str(info.value)
    assert "has a space" not in repr(read_env({"POSTMAN_API_KEY": "key_test_x"}))


def test_campaign_from_env_sends_with_the_key() -> None:
    seen: list[tuple[str, str]] = []

    def handler(request: Request) -> Response:
        seen.append((request.url, request.api_key.reveal()))
        return Response(status=201, body=b'{"id": "message_1", "latestStatus": "created"}')

    environ = {
        "POSTMAN_ENV": "test",
        "POSTMAN_CAMPAIGN_ID": "campaign_env",
        "POSTMAN_API_KEY": f" {KEY}\n",
    }

    async def main() -> None:
        async with PostmanClient.from_env(environ, transport=MockTransport(handler)) as client:
            otp = client.campaign_from_env(tps=5)
            assert otp.id == "campaign_env"
            assert otp.tps == 5
            await otp.send("6591234567", {"otp": "1"})

    asyncio.run(main())
    assert seen == [(f"{PostmanClient.TEST_URL}/campaigns/campaign_env/messages", KEY)]


def test_campaign_from_env_names_what_is_missing() -> None:
    client = PostmanClient.from_env({"POSTMAN_ENV": "test", "POSTMAN_API_KEY": KEY})
    with pytest.raises(ValidationError, match=r"^POSTMAN_CAMPAIGN_ID not set"):
        client.campaign_from_env()
    client = PostmanClient.from_env({"POSTMAN_ENV": "test"})
    with pytest.raises(ValidationError, match="POSTMAN_CAMPAIGN_ID and POSTMAN_API_KEY not set"):
        client.campaign_from_env()


def test_a_test_key_with_production_is_refused() -> None:
    client = PostmanClient.from_env({"POSTMAN_CAMPAIGN_ID": "c1", "POSTMAN_API_KEY": KEY})
    with pytest.raises(ValidationError, match="test-environment key"):
        client.campaign_from_env()


def test_campaign_from_env_on_a_plain_client_reads_os_environ(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTMAN_CAMPAIGN_ID", "campaign_os")
    monkeypatch.setenv("POSTMAN_API_KEY", KEY)
    client = PostmanClient(base_url=PostmanClient.TEST_URL)
    assert client.campaign_from_env().id == "campaign_os"


def test_base_url_cannot_be_given_twice() -> None:
    with pytest.raises(ValidationError, match="POSTMAN_BASE_URL or POSTMAN_ENV"):
        PostmanClient.from_env({}, base_url=PostmanClient.TEST_URL)
