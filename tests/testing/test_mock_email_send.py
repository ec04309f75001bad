"""The mock's v1 email send: every error of the reference, in the server's check order."""

from __future__ import annotations

import hashlib
import io
import json

import aiohttp
import pytest

from postman_async.testing import MockPostman, MockServer

from .email_api import EMAIL_FIELDS, OWN_SENDER, EmailApi, email_api

__all__ = ["email_api"]

MIB = 1024 * 1024
PDF = b"%PDF-1.4\n" + b"x" * 100


def _error(body: object, code: str) -> str:
    assert isinstance(body, dict)
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    return str(body["message"])


# --------------------------------------------------------------------------- success


async def test_send_stores_and_accepts(email_api: EmailApi, state: MockPostman) -> None:
    status, body, headers = await email_api.send(
        recipient="Tan@Example.com",
        subject="Your appointment",
        body="<p>Confirmed</p>",
        cc=["clinic@example.gov.sg"],
        bcc=["audit@example.gov.sg"],
        classification="for_action",
        tag="appt",
        reply_to="reply@example.gov.sg",
    )
    assert status == 201
    assert list(body) == EMAIL_FIELDS
    assert body["id"] == "1"
    assert body["recipient"] == "tan@example.com"
    assert body["from"] == "Postman.gov.sg <info@mail.postman.gov.sg>"
    assert body["params"] == {
        "subject": "Your appointment",
        "body": "<p>Confirmed</p>",
        "reply_to": "reply@example.gov.sg",
    }
    assert body["status"] == "ACCEPTED"
    assert body["accepted_at"] == body["created_at"]
    assert body["created_at"].endswith("Z")
    assert body["sent_at"] is None
    assert body["attachments_metadata"] is None
    assert body["classification"] == "FOR_ACTION"
    assert body["tag"] == "appt"
    assert body["cc"] == ["clinic@example.gov.sg"]
    assert body["bcc"] == ["audit@example.gov.sg"]
    assert headers["Content-Type"].startswith("application/json")
    assert state.email.stats.messages_created == 1


async def test_multipart_send_with_attachments_records_md5(email_api: EmailApi) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 50
    status, body, _ = await email_api.send_form(
        [("letter.pdf", PDF), ("scan.png", png)],
        **{"from": OWN_SENDER, "cc": json.dumps(["a@example.com"]), "disable_tracking": "true"},
    )
    assert status == 201, body
    assert body["from"] == OWN_SENDER
    assert body["params"]["from"] == OWN_SENDER
    assert body["cc"] == ["a@example.com"]
    assert body["attachments_metadata"] == [
        {"fileName": "letter.pdf", "fileSize": len(PDF), "hash": hashlib.md5(PDF).hexdigest()},
        {"fileName": "scan.png", "fileSize": len(png), "hash": hashlib.md5(png).hexdigest()},
    ]


async def test_urlencoded_send_works(email_api: EmailApi) -> None:
    status, body, _ = await email_api.call(
        "POST", "/send", data={"recipient": "tan@example.com", "subject": "s", "body": "b"}
    )
    assert status == 201
    assert body["status"] == "ACCEPTED"


async def test_blacklisted_copies_are_dropped_silently(
    email_api: EmailApi, state: MockPostman
) -> None:
    state.email.blacklist.add("gone@example.com")
    status, body, _ = await email_api.send(
        cc=["gone@example.com", "ok@example.com"], bcc=["gone@example.com"]
    )
    assert status == 201
    assert body["cc"] == ["ok@example.com"]
    assert body["bcc"] == []


# --------------------------------------------------------------------------- 1: authentication


@pytest.mark.parametrize(
    "key", [None, "nope", "ops_v1", "ops__secret", "other_v1_c2VjcmV0", "ops_v1_wrongsecret"]
)
async def test_bad_key_is_401(email_api: EmailApi, key: str | None, state: MockPostman) -> None:
    status, body, headers = await email_api.send(key=key)
    assert status == 401
    assert "authentication" in _error(body, "unauthenticated")
    assert "RateLimit-Limit" not in headers
    assert state.email.messages == {}


async def test_expired_key_is_401_on_every_endpoint(
    email_api: EmailApi, state: MockPostman
) -> None:
    state.email.expire_key(email_api.key)
    assert (await email_api.send())[0] == 401
    assert (await email_api.get("1"))[0] == 401
    assert (await email_api.list())[0] == 401
    assert state.email.stats.unauthorized == 3


async def test_second_key_of_the_account_works(email_api: EmailApi, state: MockPostman) -> None:
    account = next(iter(state.email.accounts.values()))
    account.api_keys.append(f"{account.name}_v1_c2Vjb25k")
    assert (await email_api.send(key=account.api_keys[1]))[0] == 201


# --------------------------------------------------------------------------- 2: rate limit


@pytest.fixture
def frozen_time(state: MockPostman) -> list[float]:
    now = [100.0]
    state.monotonic = lambda: now[0]
    return now


async def test_fixed_window_per_account_with_headers(
    email_api: EmailApi, state: MockPostman, frozen_time: list[float]
) -> None:
    remaining = []
    for _ in range(10):
        status, _, headers = await email_api.send()
        assert status == 201
        remaining.append(int(headers["RateLimit-Remaining"]))
        assert headers["RateLimit-Limit"] == headers["X-RateLimit-Limit"] == "10"
        assert headers["RateLimit-Reset"] == "1"
        assert int(headers["X-RateLimit-Reset"]) >= 1
    assert remaining == list(range(9, -1, -1))
    status, body, headers = await email_api.send()
    assert status == 429
    assert _error(body, "rate_limit") == "Too many requests. Please try again later."
    assert headers["Retry-After"] == "1"
    assert headers["RateLimit-Remaining"] == "0"
    # The window is fixed from its first request: 0.99 s later it is still closed ...
    frozen_time[0] += 0.99
    assert (await email_api.send())[0] == 429
    # ... and it reopens one second after it began.
    frozen_time[0] += 0.01
    assert (await email_api.send())[0] == 201
    assert state.email.stats.rate_limited == 2
    assert state.email.stats.messages_created == 11


async def test_invalid_requests_count_and_reads_do_not(
    email_api: EmailApi, state: MockPostman, frozen_time: list[float]
) -> None:
    next(iter(state.email.accounts.values())).rate_limit = 2
    assert (await email_api.send(colour="red"))[0] == 400
    for _ in range(5):
        assert (await email_api.list())[0] == 200
        assert (await email_api.get("999"))[0] == 404
    assert (await email_api.send())[0] == 201
    status, _, _ = await email_api.send(colour="red")
    assert status == 429  # the limit is checked before validation


async def test_all_keys_of_an_account_share_its_window(
    email_api: EmailApi, state: MockPostman, frozen_time: list[float]
) -> None:
    account = next(iter(state.email.accounts.values()))
    account.rate_limit = 1
    account.api_keys.append(f"{account.name}_v1_c2Vjb25k")
    assert (await email_api.send())[0] == 201
    assert (await email_api.send(key=account.api_keys[1]))[0] == 429
    other = state.email.add_account("other@agency.gov.sg", rate_limit=1)
    assert (await email_api.send(key=other.api_keys[0]))[0] == 201


async def test_rate_headers_on_every_authenticated_send_answer(
    email_api: EmailApi, frozen_time: list[float]
) -> None:
    _, _, headers = await email_api.send(subject="")
    assert headers["RateLimit-Remaining"] == "9"
    _, _, headers = await email_api.list()
    assert "RateLimit-Limit" not in headers


# --------------------------------------------------------------------------- 3 to 8: before storing


async def test_attachment_of_10_mib_is_413(email_api: EmailApi, state: MockPostman) -> None:
    status, body, _ = await email_api.send_form(
        [("big.pdf", b"%PDF-" + b"x" * (10 * MIB - 5))], **{"from": OWN_SENDER}
    )
    assert status == 413
    assert _error(body, "attachment_limit") == "Size of one or more attachments exceeds limit"
    assert state.email.messages == {}


async def test_attachment_just_under_10_mib_passes(email_api: EmailApi) -> None:
    status, body, _ = await email_api.send_form(
        [("big.pdf", b"%PDF-" + b"x" * (10 * MIB - 6))], **{"from": OWN_SENDER}
    )
    assert status == 201, body


async def test_per_file_limit_comes_before_validation(email_api: EmailApi) -> None:
    status, body, _ = await email_api.send_form([("big.pdf", b"x" * (10 * MIB))], colour="red")
    assert status == 413
    _error(body, "attachment_limit")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"colour": "red"}, '"colour" is not allowed'),
        ({"recipient": None}, '"recipient" is required'),
        ({"recipient": "not-an-address"}, '"recipient" must be a valid email'),
        ({"recipient": ["a@example.com"]}, '"recipient" must be a string'),
        ({"subject": ""}, '"subject" is not allowed to be empty'),
        ({"body": None}, '"body" is required'),
        ({"body": "x" * (MIB + 1)}, '"body" must be less than or equal to 1048576 bytes'),
        ({"cc": "a@example.com"}, '"cc" must be an array'),
        ({"cc": ["a@example.com", "A@example.com"]}, '"cc[1]" contains a duplicate value'),
        ({"bcc": ["nope"]}, '"bcc[0]" must be a valid email'),
        ({"reply_to": "nope"}, '"reply_to" must be a valid email'),
        ({"classification": "SECRET"}, '"classification" must be one of'),
        ({"tag": "x" * 256}, '"tag" length must be less than or equal to 255'),
        ({"disable_tracking": "maybe"}, '"disable_tracking" must be a boolean'),
    ],
)
async def test_api_validation_first_error_only(
    email_api: EmailApi, fields: dict[str, object], message: str, state: MockPostman
) -> None:
    body_fields = {k: v for k, v in fields.items() if v is not None}
    if any(v is None for v in fields.values()):
        status, body, _ = await email_api.call(
            "POST",
            "/send",
            json={
                "recipient": "tan@example.com",
                "subject": "s",
                "body": "b",
                **body_fields,
                **{k: None for k, v in fields.items() if v is None},
            },
        )
    else:
        status, body, _ = await email_api.send(**body_fields)
    assert status == 400
    assert _error(body, "api_validation").startswith(message)
    assert state.email.messages == {}


async def test_json_array_body_fails_validation(email_api: EmailApi) -> None:
    status, body, _ = await email_api.call("POST", "/send", json=[1, 2])
    assert status == 400
    assert _error(body, "api_validation") == '"value" must be of type object'


async def test_attachments_in_json_are_attachment_format(email_api: EmailApi) -> None:
    status, body, _ = await email_api.send(attachments=["letter.pdf"], **{"from": OWN_SENDER})
    assert status == 400
    assert _error(body, "attachment_format") == "Attachments must be sent via form-data"


async def test_validation_comes_before_attachment_format(email_api: EmailApi) -> None:
    status, body, _ = await email_api.send(attachments=["a.pdf"], subject="")
    assert status == 400
    _error(body, "api_validation")


@pytest.mark.parametrize(
    "sender", [None, "Me <info@mail.postman.gov.sg>", "donotreply@mail.postman.gov.sg"]
)
async def test_attachments_with_default_sender_are_403(
    email_api: EmailApi, sender: str | None
) -> None:
    fields = {} if sender is None else {"from": sender}
    status, body, _ = await email_api.send_form([("a.pdf", PDF)], **fields)
    assert status == 403
    assert (
        _error(body, "unauthorized")
        == "Attachments are not allowed for Postman default from email address"
    )


async def test_cumulative_attachment_limit_is_413(email_api: EmailApi) -> None:
    half = b"%PDF-" + b"x" * (5 * MIB)
    status, body, _ = await email_api.send_form(
        [("a.pdf", half), ("b.pdf", half)], **{"from": OWN_SENDER}
    )
    assert status == 413
    assert _error(body, "attachment_limit") == "Cumulative attachment size exceeds limit"


async def test_default_sender_403_comes_before_cumulative_413(email_api: EmailApi) -> None:
    half = b"%PDF-" + b"x" * (5 * MIB)
    status, _, _ = await email_api.send_form([("a.pdf", half), ("b.pdf", half)])
    assert status == 403


async def test_fifty_copies_are_too_many_recipients(
    email_api: EmailApi, state: MockPostman
) -> None:
    cc = [f"c{i}@example.com" for i in range(25)]
    bcc = [f"b{i}@example.com" for i in range(25)]
    status, body, _ = await email_api.send(cc=cc, bcc=bcc)
    assert status == 400
    assert _error(body, "too_many_recipients") == "Maximum of 50 recipients allowed"
    assert state.email.messages == {}
    assert (await email_api.send(cc=cc, bcc=bcc[:-1]))[0] == 201


async def test_multipart_cc_must_be_a_json_array(email_api: EmailApi) -> None:
    status, body, _ = await email_api.send_form(cc="a@example.com")
    assert status == 400
    assert _error(body, "api_validation") == '"cc" must be an array'


async def test_unexpected_file_field_is_not_allowed(email_api: EmailApi) -> None:
    status, body, _ = await email_api.send_form(
        [("a.pdf", PDF)], file_field="file", **{"from": OWN_SENDER}
    )
    assert status == 400
    assert _error(body, "api_validation") == '"file" is not allowed'


# --------------------------------------------------------------------------- malformed bodies


@pytest.mark.parametrize("raw", [b"{not json", b'"just a string"', b"[" * 10_000])
async def test_malformed_json_is_400_before_auth(
    email_api: EmailApi, raw: bytes, state: MockPostman
) -> None:
    status, body, _ = await email_api.call(
        "POST", "/send", data=raw, headers={"Content-Type": "application/json"}, key=None
    )
    assert status == 400
    assert _error(body, "malformed") == "Malformed request body"
    assert state.email.stats.unauthorized == 0


async def test_json_body_over_10_mib_is_malformed(email_api: EmailApi) -> None:
    raw = json.dumps({"recipient": "tan@example.com", "subject": "s", "body": "x" * (10 * MIB)})
    status, body, _ = await email_api.call(
        "POST", "/send", data=io.BytesIO(raw.encode()), headers={"Content-Type": "application/json"}
    )
    assert status == 400
    _error(body, "malformed")


# --------------------------------------------------------------------------- after storing


async def _stored(state: MockPostman) -> dict[str, object]:
    (message,) = state.email.messages.values()
    return state.email.render(message)


@pytest.mark.parametrize(
    "sender", ["Someone <someone@example.com>", "Ops <ops@agency.gov.sg", "<not-an-address>"]
)
async def test_invalid_from_address_keeps_an_unsent_row(
    email_api: EmailApi, state: MockPostman, sender: str
) -> None:
    status, body, _ = await email_api.send(**{"from": sender})
    assert status == 400
    _error(body, "invalid_from_address")
    row = await _stored(state)
    assert row["status"] == "UNSENT"
    assert row["error_code"] == "Error 400: Invalid from address"


async def test_unverified_own_address_is_refused(email_api: EmailApi, state: MockPostman) -> None:
    next(iter(state.email.accounts.values())).sender_verified = False
    status, body, _ = await email_api.send(**{"from": OWN_SENDER})
    assert status == 400
    _error(body, "invalid_from_address")


async def test_default_addresses_are_valid_senders(email_api: EmailApi) -> None:
    for sender in ("Clinic <info@mail.postman.gov.sg>", "donotreply@mail.postman.gov.sg"):
        status, body, _ = await email_api.send(**{"from": sender})
        assert status == 201
        assert body["from"] == sender


async def test_blacklisted_recipient_is_invalid_template(
    email_api: EmailApi, state: MockPostman
) -> None:
    state.email.blacklist.add("tan@example.com")
    status, body, _ = await email_api.send()
    assert status == 400
    assert _error(body, "invalid_template") == "Recipient email is blacklisted"
    row = await _stored(state)
    assert row["status"] == "UNSENT"
    assert row["error_code"] == "Error 400: Blacklisted recipient"


@pytest.mark.parametrize(
    ("subject", "body"),
    [("<b></b>", "<p>x</p>"), ("Hi", "<script>alert(1)</script>"), ("Hi", "<style>p{}</style> ")],
)
async def test_empty_after_sanitising_is_invalid_template(
    email_api: EmailApi, state: MockPostman, subject: str, body: str
) -> None:
    status, answer, _ = await email_api.send(subject=subject, body=body)
    assert status == 400
    assert "empty after removing invalid HTML tags" in _error(answer, "invalid_template")
    assert (await _stored(state))["status"] == "UNSENT"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("a.exe", b"MZ\x90\x00"),
        ("a.pdf", b"MZ\x90\x00"),
        ("a.zip", b"hello"),
        ("a.pdf", b"PK\x03\x04"),
    ],
)
async def test_unsupported_attachment_type_is_invalid_template(
    email_api: EmailApi, state: MockPostman, name: str, data: bytes
) -> None:
    status, body, _ = await email_api.send_form([(name, data)], **{"from": OWN_SENDER})
    assert status == 400
    _error(body, "invalid_template")
    assert (await _stored(state))["error_code"] == "Error 400: Unsupported attachment type"


async def test_text_attachment_is_judged_by_extension(email_api: EmailApi) -> None:
    status, _, _ = await email_api.send_form([("notes.txt", b"plain text")], **{"from": OWN_SENDER})
    assert status == 201


async def test_provider_failure_is_500_with_a_stored_row(
    email_api: EmailApi, state: MockPostman
) -> None:
    state.email.provider_failures = 1
    status, body, headers = await email_api.send()
    assert status == 500
    _error(body, "internal_server")
    assert "RateLimit-Limit" in headers
    assert (await _stored(state))["status"] == "UNSENT"
    assert (await email_api.send())[0] == 201


async def test_drop_after_commit_stores_and_accepts(
    email_api: EmailApi, state: MockPostman, server: MockServer
) -> None:
    state.email.drops_after_commit = 1
    with pytest.raises(aiohttp.ClientError):
        await email_api.send()
    assert (await _stored(state))["status"] == "ACCEPTED"
    assert server.email_base_url.endswith("/v1")
