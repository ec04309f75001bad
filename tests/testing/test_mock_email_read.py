"""The mock's v1 email reads: lifecycle on the mock clock, get, and offset listing with filters."""

from __future__ import annotations

import datetime as dt

import pytest

from postman_async.testing import MockPostman

from .email_api import EMAIL_FIELDS, EmailApi, email_api

__all__ = ["email_api"]


def _error(body: object, code: str) -> str:
    assert isinstance(body, dict)
    assert body["code"] == code
    return str(body["message"])


async def _send(email_api: EmailApi, **fields: object) -> str:
    status, body, _ = await email_api.send(**fields)
    assert status == 201, body
    return str(body["id"])


async def _status(email_api: EmailApi, email_id: str) -> dict[str, object]:
    status, body, _ = await email_api.get(email_id)
    assert status == 200
    assert isinstance(body, dict)
    return body


# --------------------------------------------------------------------------- lifecycle


async def test_lifecycle_follows_the_mock_clock(email_api: EmailApi, state: MockPostman) -> None:
    email_id = await _send(email_api)
    seen = []
    for step in (0.0, 1.0, 2.0, 7.0):
        state.advance(step)
        seen.append((await _status(email_api, email_id))["status"])
    assert seen == ["ACCEPTED", "SENT", "DELIVERED", "OPENED"]
    body = await _status(email_api, email_id)
    assert list(body) == EMAIL_FIELDS
    stamps = [body[k] for k in ("accepted_at", "sent_at", "delivered_at", "opened_at")]
    assert all(isinstance(s, str) for s in stamps)
    assert stamps == sorted(str(s) for s in stamps)
    assert body["updated_at"] == body["opened_at"]


async def test_disable_tracking_never_opens(email_api: EmailApi, state: MockPostman) -> None:
    email_id = await _send(email_api, disable_tracking=True)
    state.advance(3600)
    body = await _status(email_api, email_id)
    assert body["status"] == "DELIVERED"
    assert body["opened_at"] is None


@pytest.mark.parametrize(
    ("address", "status", "error_code", "sub_type"),
    [
        ("bounce@simulator.amazonses.com", "BOUNCED", "Hard bounce", "General"),
        ("suppressionlist@simulator.amazonses.com", "BOUNCED", "Hard bounce", "Suppressed"),
        ("softbounce@simulator.amazonses.com", "BOUNCED", "Soft bounce", "MailboxFull"),
        ("complaint@simulator.amazonses.com", "COMPLAINT", None, None),
    ],
)
async def test_simulator_addresses(
    email_api: EmailApi,
    state: MockPostman,
    address: str,
    status: str,
    error_code: str | None,
    sub_type: str | None,
) -> None:
    email_id = await _send(email_api, recipient=address)
    state.advance(60)
    body = await _status(email_api, email_id)
    assert body["status"] == status
    assert body["error_code"] == error_code
    assert body["error_sub_type"] == sub_type
    assert body["opened_at"] is None


@pytest.mark.parametrize(
    ("address", "blacklisted"),
    [
        ("bounce@simulator.amazonses.com", True),
        ("complaint@simulator.amazonses.com", True),
        ("softbounce@simulator.amazonses.com", False),
    ],
)
async def test_hard_bounce_and_complaint_blacklist_the_address(
    email_api: EmailApi, state: MockPostman, address: str, blacklisted: bool
) -> None:
    await _send(email_api, recipient=address)
    # Before the event arrives, the address can still be used.
    await _send(email_api, recipient=address)
    state.advance(60)
    status, body, _ = await email_api.send(recipient=address)
    if blacklisted:
        assert status == 400
        assert _error(body, "invalid_template") == "Recipient email is blacklisted"
    else:
        assert status == 201


async def test_late_event_overwrites_a_later_status(
    email_api: EmailApi, state: MockPostman
) -> None:
    email_id = await _send(email_api, disable_tracking=True)
    state.advance(5)
    assert (await _status(email_api, email_id))["status"] == "DELIVERED"
    state.email.report(email_id, "SENT")
    body = await _status(email_api, email_id)
    assert body["status"] == "SENT"  # no ordering guard on the server
    assert body["delivered_at"] is not None
    with pytest.raises(ValueError, match="status must be one of"):
        state.email.report(email_id, "LOST")


# --------------------------------------------------------------------------- get


async def test_get_unknown_or_foreign_id_is_404(email_api: EmailApi, state: MockPostman) -> None:
    status, body, _ = await email_api.get("42")
    assert status == 404
    assert _error(body, "not_found") == "Email message with ID 42 not found."
    other = state.email.add_account("other@agency.gov.sg")
    foreign = await _send(email_api, key=other.api_keys[0])
    status, body, _ = await email_api.get(foreign)
    assert status == 404
    _error(body, "not_found")


async def test_get_non_numeric_id_is_400(email_api: EmailApi) -> None:
    status, body, _ = await email_api.get("abc")
    assert status == 400
    _error(body, "api_validation")


# --------------------------------------------------------------------------- list


async def test_offset_pages_newest_first(email_api: EmailApi, state: MockPostman) -> None:
    ids = []
    for _ in range(5):
        ids.append(await _send(email_api))
        state.advance(1)
    status, body, _ = await email_api.list(limit="2")
    assert status == 200
    assert set(body) == {"has_more", "data"}
    assert [m["id"] for m in body["data"]] == ids[::-1][:2]
    assert body["has_more"] is True
    _, last, _ = await email_api.list(limit="2", offset="4")
    assert [m["id"] for m in last["data"]] == [ids[0]]
    assert last["has_more"] is False
    _, default, _ = await email_api.list()
    assert len(default["data"]) == 5


async def test_list_sorting(email_api: EmailApi, state: MockPostman) -> None:
    first = await _send(email_api, disable_tracking=True)
    state.advance(1)
    second = await _send(email_api, disable_tracking=True)
    state.advance(8)
    state.email.report(first, "DELIVERED")  # the first one changes last
    _, body, _ = await email_api.list(sort_by="+created_at")
    assert [m["id"] for m in body["data"]] == [first, second]
    _, body, _ = await email_api.list(sort_by="-created_at")
    assert [m["id"] for m in body["data"]] == [second, first]
    _, body, _ = await email_api.list(sort_by="-updated_at")
    assert [m["id"] for m in body["data"]] == [first, second]
    _, body, _ = await email_api.list(sort_by="updated_at")
    assert [m["id"] for m in body["data"]] == [first, second]
    _, body, _ = await email_api.list(sort_by="+updated_at")
    assert [m["id"] for m in body["data"]] == [second, first]


async def test_raw_plus_in_sort_by_is_a_space_and_refused(email_api: EmailApi) -> None:
    url = f"{email_api.server.email_base_url}/transactional/email?sort_by=+created_at"
    headers = {"Authorization": f"Bearer {email_api.key}"}
    async with email_api.session.get(url, headers=headers) as response:
        assert response.status == 400


async def test_list_filters(email_api: EmailApi, state: MockPostman) -> None:
    bounced = await _send(email_api, recipient="bounce@simulator.amazonses.com", tag="appt")
    ok = await _send(email_api, tag="appt")
    other = await _send(email_api, tag="other")
    state.advance(60)
    _, body, _ = await email_api.list(status="bounced", tag="appt")
    assert [m["id"] for m in body["data"]] == [bounced]
    _, body, _ = await email_api.list(tag="appt")
    assert {m["id"] for m in body["data"]} == {bounced, ok}
    _, body, _ = await email_api.list(status="OPENED")
    assert {m["id"] for m in body["data"]} == {ok, other}
    _, body, _ = await email_api.list(exclude_params="true", limit="1")
    assert "params" not in body["data"][0]
    _, body, _ = await email_api.list(exclude_params="false", limit="1")
    assert "params" in body["data"][0]


async def test_created_at_filters(email_api: EmailApi, state: MockPostman) -> None:
    first = await _send(email_api)
    state.advance(10)
    second = await _send(email_api)
    stamp = str((await _status(email_api, second))["created_at"])
    created = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    iso = created.isoformat()
    cases = {
        "created_at[gte]": {second},
        "created_at[gt]": set(),
        "created_at[lt]": {first},
        "created_at[lte]": {first, second},
    }
    for name, expected in cases.items():
        _, body, _ = await email_api.list(**{name: iso})
        assert {m["id"] for m in body["data"]} == expected, name


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, '"limit" must be greater than or equal to 1'),
        ({"limit": "1001"}, '"limit" must be less than or equal to 1000'),
        ({"limit": "ten"}, '"limit" must be a number'),
        ({"offset": "-1"}, '"offset" must be greater than or equal to 0'),
        ({"status": "LOST"}, '"status" must be one of'),
        ({"sort_by": "id"}, '"sort_by" must be one of'),
        ({"exclude_params": "maybe"}, '"exclude_params" must be a boolean'),
        ({"created_at[gte]": "yesterday"}, '"created_at.gte" must be in ISO 8601 date format'),
        ({"search": "tan"}, '"search" is not allowed'),
    ],
)
async def test_bad_list_parameters_are_400(
    email_api: EmailApi, params: dict[str, str], message: str
) -> None:
    status, body, _ = await email_api.list(**params)
    assert status == 400
    assert _error(body, "api_validation").startswith(message)


async def test_repeated_list_parameter_is_400(email_api: EmailApi) -> None:
    status, body, _ = await email_api.call("GET", "", params=[("tag", "a"), ("tag", "b")])
    assert status == 400
    _error(body, "api_validation")


async def test_list_shows_only_the_callers_messages(
    email_api: EmailApi, state: MockPostman
) -> None:
    other = state.email.add_account("other@agency.gov.sg")
    await _send(email_api, key=other.api_keys[0])
    mine = await _send(email_api)
    _, body, _ = await email_api.list()
    assert [m["id"] for m in body["data"]] == [mine]


async def test_unknown_v1_path_is_404(email_api: EmailApi) -> None:
    status, _, _ = await email_api.call("GET", "/1/extra")
    assert status == 404


async def test_reset_forgets_emails_but_keeps_accounts(
    email_api: EmailApi, state: MockPostman
) -> None:
    await _send(email_api)
    state.reset()
    assert state.email.messages == {}
    assert state.email.stats.messages_created == 0
    status, body, _ = await email_api.send()
    assert status == 201
    assert body["id"] == "2"  # IDs are never reused
