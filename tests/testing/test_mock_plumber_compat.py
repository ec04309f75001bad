"""The calls of the one public integration (a workflow tool's "Postman SMS" app), against the mock.

Ported from its TypeScript: how it checks a connection, sends, and reads the answers. If the
mock answered these in shapes that integration could not read, a user's tests against the
mock would say nothing about Postman.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from postman_async.testing import MockPostman, MockServer, serve_mock

MAX_SMS_CHARS = 1000


class Integration:
    """The integration's HTTP calls, field for field."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, campaign_id: str, key: str):
        self.session = session
        self.base_url = base_url
        self.campaign_id = campaign_id
        self.headers = {"Authorization": f"Bearer {key}"}

    @staticmethod
    def environment(key: str) -> str:
        return "test" if key.startswith("key_test_") else "production"

    async def is_still_verified(self) -> str:
        """A list call with limit=1 as a test query; errors mapped as the integration maps them."""
        url = f"{self.base_url}/campaigns/{self.campaign_id}/messages?limit=1"
        async with self.session.get(url, headers=self.headers) as response:
            if response.status == 200:
                return "verified"
            data: Any = await response.json()
            if response.status == 400 and data.get("error", {}).get("code") == (
                "invalid_ip_address_used"
            ):
                return "ips not whitelisted"
            if response.status == 401:
                return "key not for campaign"
            return f"http {response.status}"

    async def send_sms(self, recipient: str, message: str) -> dict[str, Any]:
        """Strip spacers from the number, trim and cap the text, send, read createdAt and id."""
        if not re.fullmatch(r"\+?[\d \-()]+", recipient.strip()):
            raise ValueError("Enter a valid phone number")
        digits = re.sub(r"[^\d]", "", recipient)
        text = message.strip()
        if not text or len(text) > MAX_SMS_CHARS:
            raise ValueError("bad message")
        url = f"{self.base_url}/campaigns/{self.campaign_id}/messages"
        body = {"recipient": digits, "language": "english", "values": {"body": text}}
        async with self.session.post(url, json=body, headers=self.headers) as response:
            if response.status == 429:
                retry_after = response.headers.get("Retry-After")
                delay = int(retry_after) * 1000 if retry_after is not None else "default"
                return {"retry": delay}
            if response.status >= 400:
                return {"error": response.status, "data": await response.json()}
            raw = await response.read()
        try:
            data = json.loads(raw)
            created_at = datetime.datetime.fromisoformat(data["createdAt"])
            assert created_at.utcoffset() is not None
            return {"message": {"createdAt": data["createdAt"], "id": data["id"]}}
        except (ValueError, KeyError, TypeError):
            # A 2xx it cannot read: the SMS was probably created; do not retry.
            return {"createdAt": "now"}


@pytest.fixture
def state() -> MockPostman:
    return MockPostman(speed=0)


@pytest.fixture
async def plumber_mock(state: MockPostman) -> AsyncIterator[MockServer]:
    async with serve_mock(state, variables=("body",), tps=10) as server:
        yield server


@pytest.fixture
async def integration(plumber_mock: MockServer, session: aiohttp.ClientSession) -> Integration:
    return Integration(
        session, plumber_mock.base_url, plumber_mock.campaign_id, plumber_mock.api_key
    )


async def test_connection_check(
    integration: Integration, plumber_mock: MockServer, state: MockPostman
) -> None:
    assert Integration.environment(plumber_mock.api_key) == plumber_mock.campaign.environment
    assert await integration.is_still_verified() == "verified"
    state.script.ip_not_whitelisted()
    assert await integration.is_still_verified() == "ips not whitelisted"
    integration.headers = {"Authorization": "Bearer key_test_someone_else"}
    assert await integration.is_still_verified() == "key not for campaign"


async def test_send_sms_reads_created_at_and_id(
    integration: Integration, state: MockPostman
) -> None:
    result = await integration.send_sms("+65 9123-4567", "  Your appointment is confirmed.\n")
    message = result["message"]
    assert message["id"] in state.messages
    stored = state.messages[message["id"]]
    assert stored.recipient == "6591234567"
    assert stored.values == {"body": "Your appointment is confirmed."}


async def test_send_sms_refusals_it_would_meet(
    integration: Integration, state: MockPostman
) -> None:
    result = await integration.send_sms("(9123) 4567", "hello")  # no country code
    assert result["error"] == 400
    assert result["data"]["error"]["code"] == "parameter_invalid"
    result = await integration.send_sms("6591234567", "on my way \U0001f697")  # emoji, English
    assert result["error"] == 400
    assert not state.messages


async def test_429_with_and_without_retry_after(
    integration: Integration, state: MockPostman
) -> None:
    state.script.answer(429)
    assert await integration.send_sms("6591234567", "hi") == {"retry": "default"}
    state.script.answer(429, headers={"Retry-After": "2"})
    assert await integration.send_sms("6591234567", "hi") == {"retry": 2000}


async def test_unreadable_2xx_counts_as_probably_created(
    integration: Integration, state: MockPostman
) -> None:
    state.script.unreadable_body()
    assert await integration.send_sms("6591234567", "hi") == {"createdAt": "now"}
    assert len(state.messages) == 1
