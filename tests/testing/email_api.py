"""A raw-HTTP caller of the mock's v1 email API (the mock fixtures come from conftest)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import aiohttp
import pytest

from postman_async.testing import MockServer

#: The fields of every message object, in the order the mock sends them.
EMAIL_FIELDS = [
    "id",
    "from",
    "recipient",
    "params",
    "attachments_metadata",
    "status",
    "error_code",
    "error_sub_type",
    "created_at",
    "updated_at",
    "accepted_at",
    "sent_at",
    "delivered_at",
    "opened_at",
    "classification",
    "tag",
    "cc",
    "bcc",
]
#: The account's own (verified) sender.
OWN_SENDER = "Ops <ops@agency.gov.sg>"


class EmailApi:
    """Calls the v1 endpoints of a running mock with its first email key."""

    def __init__(self, session: aiohttp.ClientSession, server: MockServer) -> None:
        self.session = session
        self.server = server
        self.key = server.email_api_key

    async def call(
        self, method: str, path: str, *, key: str | None = "default", **kwargs: Any
    ) -> tuple[int, Any, dict[str, str]]:
        headers = dict(kwargs.pop("headers", {}))
        if "json" in kwargs:  # as a stream: aiohttp warns about large bytes bodies
            kwargs["data"] = io.BytesIO(json.dumps(kwargs.pop("json")).encode())
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Authorization"] = f"Bearer {self.key if key == 'default' else key}"
        url = f"{self.server.email_base_url}/transactional/email{path}"
        async with self.session.request(method, url, headers=headers, **kwargs) as response:
            text = await response.text()
            is_json = response.content_type == "application/json" and text
            body = await response.json() if is_json else text
            return response.status, body, dict(response.headers)

    async def send(self, **fields: Any) -> tuple[int, Any, dict[str, str]]:
        key = fields.pop("key", "default")
        body = {"recipient": "tan@example.com", "subject": "Hello", "body": "<p>Hi</p>"}
        body.update(fields)
        return await self.call("POST", "/send", json=body, key=key)

    async def send_form(
        self,
        files: Sequence[tuple[str, bytes]] = (),
        *,
        key: str | None = "default",
        file_field: str = "attachments",
        **fields: str,
    ) -> tuple[int, Any, dict[str, str]]:
        form = aiohttp.FormData()
        values = {"recipient": "tan@example.com", "subject": "Hello", "body": "<p>Hi</p>"}
        values.update(fields)
        for name, value in values.items():
            form.add_field(name, value)
        for filename, data in files:
            form.add_field(file_field, io.BytesIO(data), filename=filename)
        return await self.call("POST", "/send", data=form, key=key)

    async def get(self, email_id: str, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
        return await self.call("GET", f"/{email_id}", **kwargs)

    async def list(self, **params: str) -> tuple[int, Any, dict[str, str]]:
        return await self.call("GET", "", params=params)


@pytest.fixture
def email_api(session: aiohttp.ClientSession, server: MockServer) -> EmailApi:
    return EmailApi(session, server)
