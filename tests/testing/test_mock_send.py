"""Single send, retrieve and retry over HTTP, with the documented validation errors."""

from __future__ import annotations

import re
from typing import Any

import pytest

from postman_async.testing import MockPostman
from postman_async.testing._refusals import INVENTED
from tests.testing.conftest import Api

from .conftest import MESSAGE_FIELDS

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00$")
INVALID_RECIPIENT = (
    "Invalid recipient, ensure it is a valid normalized phone number, eg 6591112222."
)


def assert_envelope(body: Any, code: Any, message: Any = None) -> Any:
    error = body["error"]
    assert set(error) == {"code", "message", "type", "id"}
    assert error["code"] == code
    assert error["type"] == "domain_error"
    assert error["id"]
    if message is not None:
        assert error["message"] == message


async def test_send_answers_201_with_the_created_message(api: Api, state: MockPostman) -> None:
    status, body = await api.send(values={"otp": "424242"})
    assert status == 201
    assert list(body) == [
        *MESSAGE_FIELDS,
        "language",
        "creatorId",
    ]
    assert body["latestStatus"] == "created"
    assert body["id"].startswith("message_")
    assert body["recipient"] == "6591234567"
    assert body["values"] == {"otp": "424242"}
    assert "424242" in body["fullMessage"]
    assert body["campaignId"] == api.campaign_id
    assert ISO.match(body["createdAt"])
    assert body["createdAt"] == body["updatedAt"]
    assert list(state.messages) == [body["id"]]
    assert state.messages[body["id"]].latest_status == "created"


async def test_send_uses_the_language_footer(api: Api) -> None:
    _, english = await api.send(language="english")
    _, chinese = await api.send(language="chinese")
    assert english["fullMessage"] != chinese["fullMessage"]
    assert english["templateBodyId"] != chinese["templateBodyId"]
    assert chinese["language"] == "chinese"


async def test_get_message_answers_the_full_object(api: Api, state: MockPostman) -> None:
    _, created = await api.send()
    status, body = await api.get(created["id"])
    assert status == 200
    assert list(body) == [
        *MESSAGE_FIELDS,
        "templateBody",
        "batches",
        "language",
        "creatorEmail",
        "creatorId",
        "attempts",
    ]
    assert body["batches"] == []
    assert body["templateBody"]["id"] == body["templateBodyId"]
    assert body["templateBody"]["body"] == "{{otp}}"
    assert set(body["templateBody"]) == {
        "createdAt",
        "updatedAt",
        "id",
        "templateId",
        "language",
        "body",
        "creatorId",
    }
    assert body["attempts"] == [
        {"status": "created", "createdAt": body["createdAt"], "sentAt": None, "deliveredAt": None}
    ]


async def test_get_unknown_message_is_404_envelope(api: Api) -> None:
    status, body = await api.get("message_nope")
    assert status == 404
    assert_envelope(body, "message_not_found")


async def test_get_message_of_another_campaign_is_404(api: Api, state: MockPostman) -> None:
    other = state.add_campaign(tps=None)
    _, created = await api.send()
    status, body = await api.get(created["id"], key=other.api_key, campaign_id=other.id)
    assert status == 404
    assert_envelope(body, "message_not_found")


@pytest.mark.parametrize(
    "recipient",
    ["+6591234567", "91234567x", "6591 234567", "1234567", "1234567890123456", "", 6591234567],
)
async def test_invalid_recipient(api: Api, state: MockPostman, recipient: Any) -> None:
    status, body = await api.send(recipient=recipient)
    assert status == 400
    assert_envelope(body, "parameter_invalid", INVALID_RECIPIENT)
    assert not state.messages


async def test_foreign_numbers_with_their_country_code_are_accepted(api: Api) -> None:
    for number in ("12025550123", "447911123456", "60123456789", "8613800138000", "85291234567"):
        assert (await api.send(recipient=number))[0] == 201, number


@pytest.mark.parametrize(
    "recipient",
    [
        "91234567",  # a Singapore number without its country code
        "02012345678",  # a national number with its trunk zero
        "6509123456",  # ... or with the zero after the country code
        "659123456",  # one digit short
        "12345678",  # too short for a US number
        "123456789012345",  # no such US number
        "9991234567",  # no country code 999
        "6591234567890123",  # over 15 digits
    ],
)
async def test_numbers_without_a_valid_country_code_are_refused(api: Api, recipient: Any) -> None:
    status, body = await api.send(recipient=recipient)
    assert status == 400
    assert_envelope(body, "parameter_invalid", INVALID_RECIPIENT)


async def test_language_not_enabled(api: Api) -> None:
    status, body = await api.send(language="tamil")
    assert status == 400
    assert_envelope(
        body,
        "parameter_invalid",
        "tamil is not supported. available language(s) for this campaign: english, chinese",
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ("otp=1", "Validation failed (expected type is object)"),
        (["1"], "Validation failed (expected type is object)"),
        ({}, "Missing value(s) for template variable(s): otp" + INVENTED),
        ({"code": "1"}, "Missing value(s) for template variable(s): otp" + INVENTED),
        ({"otp": ""}, "Value of template variable 'otp' must be a non-empty string" + INVENTED),
        ({"otp": 123456}, "Value of template variable 'otp' must be a non-empty string" + INVENTED),
    ],
)
async def test_invalid_values(api: Api, values: Any, message: Any) -> None:
    status, body = await api.send(values=values)
    assert status == 400
    assert_envelope(body, "parameter_invalid", message)


async def test_missing_values_and_non_json_body(api: Api, state: MockPostman) -> None:
    status, body = await api.call(
        "POST", "/messages", json={"recipient": "6591234567", "language": "english"}
    )
    assert status == 400
    assert_envelope(body, "parameter_invalid", "Validation failed (expected type is object)")
    status, body = await api.call("POST", "/messages", data=b"not json")
    assert status == 400
    assert_envelope(body, "parameter_invalid")
    status, body = await api.call("POST", "/messages", json=["x"])
    assert status == 400
    assert not state.messages


async def test_retry_only_after_failure(api: Api, state: MockPostman) -> None:
    _, created = await api.send()
    status, body = await api.retry(created["id"])
    assert status == 400
    assert_envelope(body, "message_not_found_or_retry_message_not_in_failure_status")
    state.advance(10)
    status, body = await api.retry(created["id"])  # success is not retryable either
    assert status == 400
    assert_envelope(body, "message_not_found_or_retry_message_not_in_failure_status")


async def test_retry_unknown_message_is_400(api: Api) -> None:
    status, body = await api.retry("message_nope")
    assert status == 400
    assert_envelope(body, "message_not_found_or_retry_message_not_in_failure_status")


async def test_retry_keeps_the_id_and_appends_an_attempt(api: Api, state: MockPostman) -> None:
    _, created = await api.send(recipient="6511112222")
    state.advance(10)
    status, retried = await api.retry(created["id"])
    assert status == 201
    assert retried["id"] == created["id"]
    assert retried["latestStatus"] == "created"
    assert retried["createdAt"] == created["createdAt"]
    assert retried["updatedAt"] > created["updatedAt"]
    assert len(state.messages) == 1
    _, body = await api.get(created["id"])
    assert [a["status"] for a in body["attempts"]] == ["created", "failure"]


async def test_at_most_three_attempts(api: Api, state: MockPostman) -> None:
    _, created = await api.send(recipient="6522222222")
    for _ in range(2):
        state.advance(10)
        assert (await api.retry(created["id"]))[0] == 201
    state.advance(10)
    status, body = await api.retry(created["id"])
    assert status == 400
    assert_envelope(body, "too_many_message_attempts_error")
    _, message = await api.get(created["id"])
    assert len(message["attempts"]) == 3
    assert {a["status"] for a in message["attempts"]} == {"failure"}


async def test_nric_send_on_an_invited_campaign(api: Api, state: MockPostman) -> None:
    invited = state.add_campaign(tps=None, nric={"S0000001I": "6591234567"})
    body = {
        "recipient": {"value": "s0000001i", "type": "nric"},
        "language": "english",
        "values": {"otp": "1"},
    }
    status, created = await api.call(
        "POST", "/messages", json=body, key=invited.api_key, campaign_id=invited.id
    )
    assert status == 201
    assert created["recipient"] == {"value": "s0000001i", "type": "nric"}
    message = state.messages[created["id"]]
    assert message.recipient == "6591234567"

    async def found(search: str) -> tuple[int, list[str]]:
        status, listed = await api.call(
            "GET",
            "/messages",
            params={"limit": "10", "search": search},
            key=invited.api_key,
            campaign_id=invited.id,
        )
        return status, [m["id"] for m in listed["data"]]

    assert await found("S0000001") == (200, [])  # search is case-sensitive on the NRIC
    assert await found("s0000001") == (200, [created["id"]])


async def test_nric_send_refusals(api: Api, state: MockPostman) -> None:
    body = {"recipient": {"value": "S0000001I"}, "language": "english", "values": {"otp": "1"}}
    status, answer = await api.call("POST", "/messages", json=body)
    assert status == 400
    assert "cannot send by NRIC" in answer["error"]["message"]
    invited = state.add_campaign(tps=None, nric={"S0000001I": "6591234567"})
    body["recipient"] = {"value": "S0000002G"}
    status, answer = await api.call(
        "POST", "/messages", json=body, key=invited.api_key, campaign_id=invited.id
    )
    assert status == 400
    assert "no message was sent" in answer["error"]["message"]
    assert not state.messages
    with pytest.raises(ValueError, match="not normalised numbers"):
        state.add_campaign(nric={"S0000001I": "91234567"})
