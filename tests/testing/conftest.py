"""Fixtures for the mock server's tests."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from postman_async.testing import MockPostman, MockServer, serve_mock

__all__ = ["MESSAGE_FIELDS", "Api"]

#: The fields every message object starts with, in the order Postman sends them.
MESSAGE_FIELDS = (
    "createdAt",
    "updatedAt",
    "id",
    "recipient",
    "values",
    "fullMessage",
    "latestStatus",
    "templateBodyId",
    "campaignId",
)


class Api:
    """A thin raw-HTTP caller for one campaign of a running mock."""

    def __init__(self, session: aiohttp.ClientSession, server: MockServer) -> None:
        self.session = session
        self.server = server
        self.key = server.api_key
        self.campaign_id = server.campaign_id

    def url(self, path: str, campaign_id: str | None = None) -> str:
        return f"{self.server.base_url}/campaigns/{campaign_id or self.campaign_id}{path}"

    @contextlib.asynccontextmanager
    async def opened(
        self, method: str, path: str, **kwargs: Any
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The raw response to an authorised request, for its headers and bytes as sent."""
        headers = {"Authorization": f"Bearer {self.key}"}
        async with self.session.request(method, self.url(path), headers=headers, **kwargs) as got:
            yield got

    async def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = "default",
        campaign_id: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        headers = dict(headers or {})
        if key is not None:
            headers["Authorization"] = f"Bearer {self.key if key == 'default' else key}"
        url = self.url(path, campaign_id)
        async with self.session.request(method, url, headers=headers, **kwargs) as response:
            text = await response.text()
            is_json = response.content_type == "application/json" and text
            return response.status, (await response.json() if is_json else text)

    async def send(
        self,
        recipient: str = "6591234567",
        language: str = "english",
        values: Any = None,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        body = {
            "recipient": recipient,
            "language": language,
            "values": {"otp": "123456"} if values is None else values,
        }
        return await self.call("POST", "/messages", json=body, **kwargs)

    async def get(self, message_id: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("GET", f"/messages/{message_id}", **kwargs)

    async def retry(self, message_id: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("POST", f"/messages/{message_id}/retry", **kwargs)

    async def batch(
        self, csv_text: str | bytes, file_name: str = "batch.csv", **kwargs: Any
    ) -> tuple[int, Any]:
        form = aiohttp.FormData()
        data = csv_text.encode() if isinstance(csv_text, str) else csv_text
        form.add_field("file", io.BytesIO(data), filename=file_name, content_type="text/csv")
        return await self.call("POST", "/batch/messages", data=form, **kwargs)


@pytest.fixture
def state() -> MockPostman:
    """State with a frozen lifecycle clock: only ``advance`` moves messages on."""
    return MockPostman(speed=0)


@pytest_asyncio.fixture
async def server(state: MockPostman) -> AsyncIterator[MockServer]:
    async with serve_mock(
        state, tps=None, languages=("english", "chinese"), variables=("otp",)
    ) as running:
        yield running


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def api(session: aiohttp.ClientSession, server: MockServer) -> Api:
    return Api(session, server)
