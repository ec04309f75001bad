"""Email wire models: the reference's message object decodes; odd bodies fail only as decode errors."""

from __future__ import annotations

import contextlib
import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postman_async import ResponseDecodeError
from postman_async._email_models import (
    AttachmentInfo,
    EmailClassification,
    EmailMessage,
    EmailParams,
    EmailSendRequest,
    EmailStatus,
    decode_email,
    decode_email_page,
    encode_send,
    mask_email,
)

UTC = dt.UTC

#: A message object as the v1 server sends it (field names and shapes from its source).
MESSAGE = {
    "id": "8231",
    "from": "Postman.gov.sg <info@mail.postman.gov.sg>",
    "recipient": "tan@example.com",
    "params": {
        "subject": "Your appointment",
        "body": "<p>Confirmed for 3 pm.</p>",
        "from": "Postman.gov.sg <info@mail.postman.gov.sg>",
        "reply_to": "clinic@example.gov.sg",
    },
    "attachments_metadata": [
        {"fileName": "letter.pdf", "fileSize": 1234, "hash": "0cc175b9c0f1b6a831c399e269772661"}
    ],
    "status": "DELIVERED",
    "error_code": None,
    "error_sub_type": None,
    "created_at": "2026-01-22T03:04:05.678Z",
    "updated_at": "2026-01-22T03:04:08.000Z",
    "accepted_at": "2026-01-22T03:04:05.900Z",
    "sent_at": "2026-01-22T03:04:06.000Z",
    "delivered_at": "2026-01-22T03:04:08.000Z",
    "opened_at": None,
    "classification": "FOR_ACTION",
    "tag": "appt",
    "cc": ["clinic@example.gov.sg"],
    "bcc": [],
}


def _body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_reference_message_object_decodes_every_field() -> None:
    msg = decode_email(_body(MESSAGE))
    assert msg.id == "8231"
    assert msg.status is EmailStatus.DELIVERED
    assert msg.recipient == "tan@example.com"
    assert msg.sender == "Postman.gov.sg <info@mail.postman.gov.sg>"
    assert msg.params == EmailParams(
        subject="Your appointment",
        body="<p>Confirmed for 3 pm.</p>",
        sender="Postman.gov.sg <info@mail.postman.gov.sg>",
        reply_to="clinic@example.gov.sg",
    )
    assert msg.attachments == (
        AttachmentInfo(
            file_name="letter.pdf", file_size=1234, hash="0cc175b9c0f1b6a831c399e269772661"
        ),
    )
    assert msg.created_at == dt.datetime(2026, 1, 22, 3, 4, 5, 678000, tzinfo=UTC)
    assert msg.delivered_at == dt.datetime(2026, 1, 22, 3, 4, 8, tzinfo=UTC)
    assert msg.opened_at is None
    assert msg.classification is EmailClassification.FOR_ACTION
    assert msg.tag == "appt"
    assert msg.cc == ("clinic@example.gov.sg",)
    assert msg.bcc == ()
    assert msg.is_delivered
    assert not msg.is_failed


def test_every_timestamp_is_aware_even_without_an_offset() -> None:
    body = {**MESSAGE, "created_at": "2026-01-22T03:04:05", "updated_at": "2026-01-22T03:04:05Z"}
    msg = decode_email(_body(body))
    assert msg.created_at == dt.datetime(2026, 1, 22, 3, 4, 5, tzinfo=UTC)
    for value in (msg.created_at, msg.updated_at, msg.accepted_at, msg.sent_at):
        assert value is not None
        assert value.utcoffset() == dt.timedelta(0)


def test_minimal_object_and_null_fields() -> None:
    msg = decode_email(
        _body(
            {
                "id": "1",
                "status": "UNSENT",
                "attachments_metadata": None,
                "classification": None,
                "params": None,
                "cc": None,
            }
        )
    )
    assert msg == EmailMessage(id="1", status=EmailStatus.UNSENT)
    assert msg.attachments is None
    assert msg.cc == ()


def test_numeric_id_is_kept_as_a_string() -> None:
    assert decode_email(_body({"id": 42, "status": "SENT"})).id == "42"


def test_unknown_fields_are_ignored() -> None:
    msg = decode_email(_body({**MESSAGE, "new_field": {"x": [1]}, "params": {"later": 1}}))
    assert msg.id == "8231"
    assert msg.params == EmailParams()


def test_unknown_status_and_classification_are_kept() -> None:
    msg = decode_email(_body({**MESSAGE, "status": "deferred", "classification": "secret"}))
    assert msg.status.value == "DEFERRED"
    assert not msg.status.is_known
    assert msg.status.rank == EmailStatus.ACCEPTED.rank
    assert msg.classification is not None
    assert msg.classification.value == "SECRET"


def test_status_is_read_case_insensitively() -> None:
    assert decode_email(_body({"id": "1", "status": "opened"})).status is EmailStatus.OPENED


def test_ranks_follow_the_lifecycle() -> None:
    order = [
        EmailStatus.UNSENT,
        EmailStatus.ACCEPTED,
        EmailStatus.SENT,
        EmailStatus.DELIVERED,
        EmailStatus.OPENED,
    ]
    assert [s.rank for s in order] == sorted({s.rank for s in order})
    assert EmailStatus.BOUNCED.rank > EmailStatus.OPENED.rank
    assert EmailStatus.COMPLAINT.rank == EmailStatus.BOUNCED.rank
    assert EmailStatus.BOUNCED.is_failure
    assert EmailStatus.COMPLAINT.is_failure
    assert not EmailStatus.DELIVERED.is_failure
    assert all(s.is_known for s in EmailStatus)


def test_bounce_and_refused_send_count_as_failed() -> None:
    bounced = decode_email(_body({"id": "1", "status": "BOUNCED", "error_code": "Hard bounce"}))
    assert bounced.is_failed
    assert bounced.error_code == "Hard bounce"
    refused = decode_email(
        _body({"id": "2", "status": "UNSENT", "error_code": "Error 400: Blacklisted recipient"})
    )
    assert refused.is_failed
    assert not decode_email(_body({"id": "3", "status": "UNSENT"})).is_failed


def test_listing_decodes() -> None:
    page = decode_email_page(_body({"has_more": True, "data": [MESSAGE, {**MESSAGE, "id": "9"}]}))
    assert page.has_more is True
    assert [m.id for m in page.messages] == ["8231", "9"]
    empty = decode_email_page(_body({"has_more": False, "data": []}))
    assert empty.messages == ()
    assert not empty.has_more


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b"null",
        b'{"status": "SENT"}',
        b'{"id": "", "status": "SENT"}',
        b'{"id": null}',
        b'{"id": "1", "created_at": "yesterday"}',
        b'{"id": "1", "cc": "a@b.c"}',
        b'{"id": "1", "attachments_metadata": {"fileName": "x"}}',
        b"[" * 100_000,
    ],
)
def test_bad_bodies_raise_only_response_decode_error(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        decode_email(body, 201)
    assert info.value.status == 201
    assert info.value.body == body[:2048]


@pytest.mark.parametrize("body", [b"{}", b'{"data": {}}', b'{"data": [{"id": true}]}', b"[]"])
def test_bad_listings_raise_only_response_decode_error(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError):
        decode_email_page(body)


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_decode_error(body: bytes) -> None:
    with contextlib.suppress(ResponseDecodeError):
        decode_email(body)


def test_repr_masks_addresses_and_hides_content() -> None:
    msg = decode_email(_body(MESSAGE))
    text = repr(msg)
    assert "tan@example.com" not in text
    assert "t**@example.com" in text
    assert "clinic@example.gov.sg" not in text
    assert "appointment" not in text
    assert "Confirmed" not in text
    assert "appointment" not in repr(msg.params)


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("tan@example.com", "t**@example.com"),
        ("a@example.com", "a**@example.com"),
        ("longer.name@example.com", "l**********@example.com"),
        ("no-at-sign", "********"),
    ],
)
def test_mask_email(address: str, masked: str) -> None:
    assert mask_email(address) == masked


def test_send_request_leaves_out_unset_fields_and_names_from() -> None:
    request = EmailSendRequest(
        recipient="tan@example.com",
        subject="Hi",
        body="<p>x</p>",
        sender="Clinic <clinic@example.gov.sg>",
        cc=["a@example.com"],
    )
    assert json.loads(encode_send(request)) == {
        "recipient": "tan@example.com",
        "subject": "Hi",
        "body": "<p>x</p>",
        "from": "Clinic <clinic@example.gov.sg>",
        "cc": ["a@example.com"],
    }


def test_form_fields_encode_lists_as_json_and_flags_as_words() -> None:
    request = EmailSendRequest(
        recipient="tan@example.com",
        subject="Hi",
        body="b",
        sender="C <c@example.gov.sg>",
        reply_to="r@example.com",
        cc=["a@example.com", "b@example.com"],
        bcc=["c@example.com"],
        classification="URGENT",
        tag="t",
        disable_tracking=True,
    )
    fields = dict(request.form_fields())
    assert fields == {
        "recipient": "tan@example.com",
        "subject": "Hi",
        "body": "b",
        "from": "C <c@example.gov.sg>",
        "reply_to": "r@example.com",
        "cc": '["a@example.com","b@example.com"]',
        "bcc": '["c@example.com"]',
        "classification": "URGENT",
        "tag": "t",
        "disable_tracking": "true",
    }
    minimal = EmailSendRequest(recipient="tan@example.com", subject="Hi", body="b")
    assert [name for name, _ in minimal.form_fields()] == ["recipient", "subject", "body"]
