"""Environments chosen by the key: test numbers, row caps, load-test pace."""

from __future__ import annotations

from typing import Any

import pytest

from postman_async.testing import ENVIRONMENTS, MockPostman
from tests.testing.conftest import Api


def test_environment_follows_the_key_prefix() -> None:
    state = MockPostman()
    assert state.add_campaign().environment == "test"
    assert state.add_campaign().api_key.startswith("key_test_")
    live = state.add_campaign(api_keys=["key_live_abc"])
    assert (live.environment, live.tps, live.max_batch_rows) == ("production", 10, None)
    generated = state.add_campaign(environment="production")
    assert generated.api_key.startswith("key_live_")
    load = state.add_campaign(environment="loadtest")
    assert (load.tps, load.max_batch_rows) == (200, None)
    assert load.api_key.startswith("key_test_")
    assert state.add_campaign(environment="loadtest", tps=50).tps == 50
    assert ENVIRONMENTS == ("test", "production", "loadtest")


@pytest.mark.parametrize(
    ("keys", "environment", "message"),
    [
        (["secret"], None, "start with key_test_"),
        (["key_test_a", "key_live_b"], None, "all of a campaign's keys alike"),
        (["key_test_a"], "production", "cannot belong to a production campaign"),
        (["key_live_a"], "test", "cannot belong to a test campaign"),
        (["key_live_a"], "loadtest", "cannot belong to a loadtest campaign"),
        (["key_test_a"], "staging", "environment must be one of"),
    ],
)
def test_keys_and_environment_must_agree(keys: Any, environment: Any, message: Any) -> None:
    with pytest.raises(ValueError, match=message):
        MockPostman().add_campaign(api_keys=keys, environment=environment)


def test_any_key_works_when_the_environment_is_named() -> None:
    campaign = MockPostman().add_campaign(api_keys=["secret"], environment="test")
    assert campaign.environment == "test"


async def test_test_numbers_are_ordinary_numbers_in_production(
    api: Api, state: MockPostman
) -> None:
    live = state.add_campaign(api_keys=["key_live_1"], tps=None)
    status, created = await api.send(recipient="6511111111", key="key_live_1", campaign_id=live.id)
    assert status == 201
    _, on_test = await api.send(recipient="6511111111")
    state.advance(60)
    _, body = await api.get(created["id"], key="key_live_1", campaign_id=live.id)
    assert body["latestStatus"] == "success"
    assert (await api.get(on_test["id"]))[1]["latestStatus"] == "failure"


async def test_load_test_messages_stay_pending(api: Api, state: MockPostman) -> None:
    load = state.add_campaign(environment="loadtest")
    _, created = await api.send(key=load.api_key, campaign_id=load.id)
    _, test_number = await api.send(recipient="6522222222", key=load.api_key, campaign_id=load.id)
    state.advance(3600)
    for message in (created, test_number):
        _, body = await api.get(message["id"], key=load.api_key, campaign_id=load.id)
        assert body["latestStatus"] in ("created", "enqueued", "sending")
        assert body["attempts"][0]["sentAt"] is None
