"""Where the mock once let through what Postman refuses: each test failed before."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from postman_async.testing import Leniency, MockPostman, MockServer
from postman_async.testing._checks import MAX_BODY_CHARACTERS
from postman_async.testing._refusals import INVENTED
from tests.testing.conftest import Api


def assert_refused(status: Any, body: Any, fragment: Any) -> Any:
    assert status == 400
    assert body["error"]["code"] == "parameter_invalid"
    assert fragment in body["error"]["message"]


async def test_send_needs_a_json_content_type(api: Api, state: MockPostman) -> None:
    body = b'{"recipient": "6591234567", "language": "english", "values": {"otp": "1"}}'
    status, answer = await api.call("POST", "/messages", data=body)  # no Content-Type
    assert_refused(status, answer, "Content-Type must be application/json")
    headers = {"Content-Type": "text/plain"}
    status, answer = await api.call("POST", "/messages", data=body, headers=headers)
    assert_refused(status, answer, "got text/plain")
    assert answer["error"]["message"].endswith(INVENTED)
    assert not state.messages
    headers = {"Content-Type": "application/json; charset=utf-8"}
    assert (await api.call("POST", "/messages", data=body, headers=headers))[0] == 201
    state.leniency = Leniency(any_content_type=True)
    headers = {"Content-Type": "text/plain"}
    assert (await api.call("POST", "/messages", data=body, headers=headers))[0] == 201


@pytest.mark.parametrize(
    "value",
    ["\U0001f600", "a|b", "x^2", "\u20ac5", "{x}", "[x]", "~x", "a\\b", "`x`", "\u2764\ufe0f"],
)
async def test_english_values_with_unsupported_characters_are_blocked(
    api: Api, state: MockPostman, value: Any
) -> None:
    status, body = await api.send(values={"otp": value})
    assert_refused(status, body, "characters SMS cannot carry")
    assert body["error"]["message"].endswith(INVENTED)
    assert not state.messages


async def test_unsupported_characters_pass_in_other_languages_and_when_lenient(
    api: Api, state: MockPostman
) -> None:
    assert (await api.send(language="chinese", values={"otp": "\u4f60\u597d {x}"}))[0] == 201
    assert (await api.send(values={"otp": "caf\u00e9 \u00e0 5 @ \u00a3"}))[0] == 201
    state.leniency = Leniency(unsupported_characters=True)
    assert (await api.send(values={"otp": "\U0001f600"}))[0] == 201


async def test_body_over_a_thousand_characters_is_refused(api: Api, state: MockPostman) -> None:
    status, body = await api.send(values={"otp": "x" * (MAX_BODY_CHARACTERS + 1)})
    assert_refused(status, body, "1001 characters, the maximum is 1000")
    status, _ = await api.send(language="chinese", values={"otp": "x" * 1001})
    assert status == 400
    assert (await api.send(values={"otp": "x" * MAX_BODY_CHARACTERS}))[0] == 201
    assert len(state.messages) == 1


async def test_foreign_numbers_stay_in_sent_to_telco(api: Api, state: MockPostman) -> None:
    _, foreign = await api.send(recipient="447911123456")
    _, local = await api.send(recipient="6591234567")
    state.advance(48 * 3600)
    assert (await api.get(foreign["id"]))[1]["latestStatus"] == "sent_to_telco"
    assert (await api.get(local["id"]))[1]["latestStatus"] == "success"


async def test_undocumented_error_texts_are_marked(
    api: Api, session: aiohttp.ClientSession, server: MockServer
) -> None:
    status, body = await api.get("message_unknown")
    assert status == 404
    assert body["error"]["message"].endswith(INVENTED)
    status, body = await api.call("GET", "/batch/batch_unknown/messages", params={"limit": "1"})
    assert status == 404
    assert body["error"]["message"].endswith(INVENTED)
    status, body = await api.send(recipient="91234567")
    assert not body["error"]["message"].endswith(INVENTED)  # documented word for word


async def test_ip_whitelist_answers_invalid_ip_address_used(api: Api, state: MockPostman) -> None:
    fenced = state.add_campaign(tps=None, allowed_ips=["203.0.113.7"])
    status, body = await api.send(key=fenced.api_key, campaign_id=fenced.id)
    assert status == 400
    assert body["error"]["code"] == "invalid_ip_address_used"
    assert not state.messages
    assert (await api.send(key="key_test_wrong", campaign_id=fenced.id))[0] == 401
    open_ = state.add_campaign(tps=None, allowed_ips=["127.0.0.1"])
    assert (await api.send(key=open_.api_key, campaign_id=open_.id))[0] == 201
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        state.add_campaign(allowed_ips=["10.0.0.0/8"])
