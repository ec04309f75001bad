"""Bearer keys per campaign."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from postman_async.testing import MockPostman
from tests.testing.conftest import Api

UNAUTHORIZED = {"message": "Unauthorized", "statusCode": 401}

ENDPOINTS = [
    ("POST", "/messages"),
    ("POST", "/messages/message_x/retry"),
    ("GET", "/messages/message_x"),
    ("GET", "/messages"),
    ("POST", "/batch/messages"),
    ("POST", "/batch/batch_x/retry"),
    ("GET", "/batch/batch_x/messages"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("key", [None, "key_test_wrong"])
async def test_missing_or_wrong_key_is_401_everywhere(
    api: Api, state: MockPostman, method: Any, path: Any, key: Any
) -> None:
    status, body = await api.call(method, path, key=key)
    assert (status, body) == (401, UNAUTHORIZED)
    assert state.stats.unauthorized == 1
    assert state.campaigns[api.campaign_id].stats.unauthorized == 1


async def test_key_of_another_campaign_cannot_send_or_read(api: Api, state: MockPostman) -> None:
    other = state.add_campaign(tps=None)
    status, created = await api.send()
    assert status == 201
    assert await api.send(key=other.api_key) == (401, UNAUTHORIZED)
    assert await api.get(created["id"], key=other.api_key) == (401, UNAUTHORIZED)
    assert len(state.messages) == 1


async def test_unknown_campaign_is_401(api: Api, state: MockPostman) -> None:
    status, body = await api.send(campaign_id="campaign_unknown")
    assert (status, body) == (401, UNAUTHORIZED)
    assert state.stats.unauthorized == 1
    assert state.stats.requests["send"] == 1


async def test_every_key_of_a_campaign_works(api: Api, state: MockPostman) -> None:
    keys = ["key_test_one", "key_test_two", "key_test_three"]
    campaign = state.add_campaign(api_keys=keys, tps=None)
    for key in keys:
        assert (await api.send(key=key, campaign_id=campaign.id))[0] == 201
    campaign.api_keys.remove("key_test_two")  # revoked
    assert (await api.send(key="key_test_two", campaign_id=campaign.id))[0] == 401


async def test_scheme_must_be_bearer(api: Api, session: aiohttp.ClientSession) -> None:
    url = api.url("/messages?limit=10")
    async with session.get(url, headers={"Authorization": f"Basic {api.key}"}) as response:
        assert response.status == 401
    async with session.get(url, headers={"Authorization": f"bearer {api.key}"}) as response:
        assert response.status == 200


def test_campaign_settings_are_checked() -> None:
    state = MockPostman()
    campaign = state.add_campaign()
    assert campaign.api_keys[0].startswith("key_test_")
    assert campaign.id.startswith("campaign_")
    with pytest.raises(ValueError, match="already exists"):
        state.add_campaign(campaign_id=campaign.id)
    with pytest.raises(ValueError, match="1 to 3 API keys"):
        state.add_campaign(api_keys=["key_test_a", "key_test_b", "key_test_c", "key_test_d"])
    with pytest.raises(ValueError, match="unknown language"):
        state.add_campaign(languages=("klingon",))
    with pytest.raises(ValueError, match="invalid template variable"):
        state.add_campaign(variables=("recipient",))
    with pytest.raises(ValueError, match="invalid template variable"):
        state.add_campaign(variables=("Name",))
    with pytest.raises(ValueError, match="undeclared"):
        state.add_campaign(templates={"english": "Hi {{name}}"})
    with pytest.raises(ValueError, match="rate_limit"):
        state.add_campaign(rate_limit="leaky")  # type: ignore[arg-type]


async def test_custom_template_is_rendered(api: Api, state: MockPostman) -> None:
    campaign = state.add_campaign(
        tps=None, variables=("name", "code"), templates={"english": "Hi {{name}}, use {{ code }}."}
    )
    status, body = await api.send(
        values={"name": "Tan", "code": "42"}, key=campaign.api_key, campaign_id=campaign.id
    )
    assert status == 201
    assert "\n\nHi Tan, use 42.\n\n" in body["fullMessage"]
