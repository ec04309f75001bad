"""Wire models: the reference's examples decode, odd bodies fail only as ResponseDecodeError."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postman_async import (
    Attempt,
    BatchReceipt,
    Language,
    Message,
    MessageStatus,
    Page,
    PageInfo,
    ResponseDecodeError,
)
from postman_async._decode import decode_message, decode_page, decode_receipt
from postman_async._models import (
    SGT,
    ErrorDetails,
    SendRequest,
    decode_error_body,
    encode_send,
)

SGT_OFFSET = dt.timedelta(hours=8)


def _body(value: object) -> bytes:
    return json.dumps(value).encode()


# --------------------------------------------------------------------------- documented examples

SINGLE_SEND_201 = {
    "createdAt": "2025-03-03T09:15:02.118+08:00",
    "updatedAt": "2025-03-03T09:15:02.118+08:00",
    "id": "message_0b6e3f52-5c1e-4d7a-9a57-2f8f1d1c8e11",
    "recipient": "6591234567",
    "values": {"name": "Tan Ah Kow", "clinic": "Bedok Polyclinic"},
    "fullMessage": "<header>\n\n---\n\n<rendered body>\n\n---\n\n<footer>",
    "latestStatus": "created",
    "templateBodyId": "<templateBodyId>",
    "campaignId": "campaign_74f38542-52d1-4323-a5e6-1bd133ace159",
    "language": "english",
    "creatorId": "user_<uuid>",
}

RETRY_201 = {
    "createdAt": "2024-05-16T16:48:42.247+08:00",
    "updatedAt": "2024-05-16T16:48:59.157+08:00",
    "id": "message_<uuid>",
    "recipient": "6591234567",
    "values": {"body": "Your appointment is confirmed."},
    "fullMessage": "<full text>",
    "latestStatus": "created",
    "templateBodyId": "<templateBodyId>",
    "campaignId": "<campaignId>",
    "creatorId": "user_<uuid>",
}

SINGLE_GET_200 = {
    "createdAt": "2024-05-16T10:30:50.904+08:00",
    "updatedAt": "2024-05-16T10:30:50.965+08:00",
    "id": "<YOUR_MESSAGE_ID>",
    "recipient": "6599999999",
    "values": {"name": "John Doe", "fruit": "apple"},
    "fullMessage": "<YOUR_FULL_MESSAGE>",
    "latestStatus": "success",
    "templateBodyId": "<YOUR_TEMPLATE_BODY_ID>",
    "campaignId": "<YOUR_CAMPAIGN_ID>",
    "templateBody": {
        "createdAt": "2024-05-16T10:13:15.111+08:00",
        "updatedAt": "2024-05-16T10:13:15.111+08:00",
        "id": "<YOUR_TEMPLATE_BODY_ID>",
        "templateId": "<YOUR_TEMPLATE_ID>",
        "language": "english",
        "body": "Dear {{name}}, here is your {{fruit}}.",
        "creatorId": "<YOUR_CREATOR_ID>",
    },
    "batches": [],
    "language": "english",
    "creatorEmail": "<YOUR_CREATOR_EMAIL>",
    "creatorId": "<USER_ID_OF_MESSAGE_CREATOR>",
    "attempts": [
        {"status": "success", "createdAt": "2024-05-16T10:57:52.534+08:00"},
        {
            "status": "failure",
            "createdAt": "2024-05-16T10:30:50.906+08:00",
            "sentAt": "2024-05-16T10:31:50.187+08:00",
            "deliveredAt": None,
            "error": {"type": "server_error", "code": "server_unknown_error"},
        },
    ],
}

CAMPAIGN_LIST_200 = {
    "data": [
        {
            "createdAt": "2024-02-27T16:12:52.710+08:00",
            "updatedAt": "2024-02-27T16:13:03.027+08:00",
            "id": "message_44b63f2b-1cd0-5b9d-a8e2-5ca716fe2745",
            "recipient": "6599999999",
            "values": {"name": "test2"},
            "fullMessage": "Open Government Products\n\n---\n\nDear test2, hello!\n\n---\n\n"
            "This is an automated SMS from the Singapore Government. Please do not reply.",
            "latestStatus": "success",
            "templateBodyId": "<YOUR_TEMPLATE_BODY_ID>",
            "campaignId": "<YOUR_CAMPAIGN_ID>",
            "templateBody": {
                "createdAt": "2024-02-27T16:10:20.299+08:00",
                "updatedAt": "2024-02-27T16:10:20.299+08:00",
                "id": "<YOUR_TEMPLATE_BODY_ID>",
                "templateId": "<YOUR_TEMPLATE_ID>",
                "language": "english",
                "body": "Dear {{name}}, hello!",
                "creatorId": "<YOUR_CREATOR_ID>",
            },
            "batches": [
                {
                    "createdAt": "2024-02-27T16:11:47.007+08:00",
                    "updatedAt": "2024-02-27T16:12:52.824+08:00",
                    "id": "<YOUR_BATCH_ID>",
                    "originalFileName": "(sample) Test.csv",
                    "status": "success",
                    "campaignId": "<YOUR_CAMPAIGN_ID>",
                    "creatorId": "<YOUR_CREATOR_ID>",
                    "totalMessages": 1,
                    "BatchMessage": {
                        "createdAt": "2024-02-27T16:12:52.714+08:00",
                        "updatedAt": "2024-02-27T16:12:52.714+08:00",
                        "id": "<BATCH_MESSAGE_ID>",
                        "batchId": "<YOUR_BATCH_ID>",
                        "messageId": "<YOUR_MESSAGE_ID>",
                    },
                }
            ],
            "language": "english",
            "batchId": "<YOUR_BATCH_ID>",
        }
    ],
    "pageData": {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": "WyIyMDI0LTAyLTI3VDE2OjEyOjUyLjcxMCswODowMCJd",
        "endCursor": "WyIyMDI0LTAyLTI3VDE2OjEwOjUxLjg0OSswODowMCJd",
    },
}

BATCH_LIST_200 = {
    "data": [
        {
            "createdAt": "2024-05-16T16:34:06.582+08:00",
            "updatedAt": "2024-05-16T16:35:13.122+08:00",
            "id": "<YOUR_MESSAGE_ID>",
            "recipient": "6522222222",
            "values": {"body": "test"},
            "fullMessage": "This is a test message used for training purposes.",
            "latestStatus": "failure",
            "templateBodyId": "<YOUR_GENERATED_TEMPLATE_ID>",
            "campaignId": "<YOUR_GENERATED_CAMPAIGN_ID>",
            "templateBody": {
                "createdAt": "2024-05-06T11:00:03.467+08:00",
                "updatedAt": "2024-05-06T11:00:03.467+08:00",
                "id": "<YOUR_GENERATED_TEMPLATE_BODY_ID>",
                "templateId": "<YOUR_GENERATED_TEMPLATE_ID>",
                "language": "english",
                "body": "{{body}}",
                "creatorId": "<YOUR_GENERATED_CREATOR_ID>",
            },
            "messageAttempts": [
                {
                    "sentAt": "2024-05-16T16:35:13.118+08:00",
                    "deliveredAt": None,
                    "createdAt": "2024-05-16T16:34:06.604+08:00",
                    "updatedAt": "2024-05-16T16:35:13.118+08:00",
                    "id": "<YOUR_GENERATED_MESSAGE_ATTEMPT_ID>",
                    "messageId": "<YOUR_GENERATED_MESSAGE_ID>",
                    "externalAttemptId": "",
                    "status": "failure",
                    "errorType": "server_error",
                    "errorCode": "server_unknown_error",
                    "metadata": {},
                    "creatorId": "<YOUR_GENERATED_CREATOR_ID>",
                    "creator": {"email": "<CREATOR_EMAIL>"},
                }
            ],
            "language": "english",
            "creatorEmail": "<CREATOR_EMAIL>",
            "numAttempts": 1,
        }
    ],
    "pageData": {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": "<start>",
        "endCursor": "<end>",
    },
}


def _sgt(
    year: int, month: int, day: int, hour: int, minute: int, second: int, micro: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, micro, dt.timezone(SGT_OFFSET))


def test_single_send_201() -> None:
    message = decode_message(_body(SINGLE_SEND_201), 201)
    assert isinstance(message, Message)
    assert message.id == "message_0b6e3f52-5c1e-4d7a-9a57-2f8f1d1c8e11"
    assert message.latest_status is MessageStatus.CREATED
    assert message.recipient == "6591234567"
    assert message.language is Language.ENGLISH
    assert dict(message.values) == {"name": "Tan Ah Kow", "clinic": "Bedok Polyclinic"}
    assert message.full_message == SINGLE_SEND_201["fullMessage"]
    assert message.campaign_id == "campaign_74f38542-52d1-4323-a5e6-1bd133ace159"
    assert message.template_body_id == "<templateBodyId>"
    assert message.creator_id == "user_<uuid>"
    assert message.created_at == _sgt(2025, 3, 3, 9, 15, 2, 118000)
    assert message.updated_at == message.created_at
    assert message.attempts == ()
    assert message.num_attempts is None
    assert message.batch_id is None
    assert message.error_code is None
    assert not message.is_final


def test_retry_201_keeps_original_creation_time() -> None:
    message = decode_message(_body(RETRY_201), 201)
    assert message.latest_status is MessageStatus.CREATED
    assert message.created_at == _sgt(2024, 5, 16, 16, 48, 42, 247000)
    assert message.updated_at == _sgt(2024, 5, 16, 16, 48, 59, 157000)
    assert message.updated_at > message.created_at
    assert message.language is None  # not in the retry response
    assert dict(message.values) == {"body": "Your appointment is confirmed."}


def test_single_get_with_nested_attempt_errors() -> None:
    message = decode_message(_body(SINGLE_GET_200))
    assert message.latest_status is MessageStatus.SUCCESS
    assert message.is_final
    assert message.creator_email == "<YOUR_CREATOR_EMAIL>"
    assert message.creator_id == "<USER_ID_OF_MESSAGE_CREATOR>"
    assert message.batch_id is None  # "batches": []
    newest, oldest = message.attempts
    assert newest == Attempt(
        status=MessageStatus.SUCCESS, created_at=_sgt(2024, 5, 16, 10, 57, 52, 534000)
    )
    assert oldest.status is MessageStatus.FAILURE
    assert oldest.sent_at == _sgt(2024, 5, 16, 10, 31, 50, 187000)
    assert oldest.delivered_at is None
    assert oldest.error_type == "server_error"
    assert oldest.error_code == "server_unknown_error"
    assert message.error_code == "server_unknown_error"
    assert message.num_attempts == 2  # not sent here: counted from attempts


def test_campaign_list_with_batches() -> None:
    page = decode_page(_body(CAMPAIGN_LIST_200))
    assert isinstance(page, Page)
    (message,) = page.messages
    assert message.id == "message_44b63f2b-1cd0-5b9d-a8e2-5ca716fe2745"
    assert message.batch_id == "<YOUR_BATCH_ID>"
    assert message.latest_status is MessageStatus.SUCCESS
    assert message.full_message is not None
    assert message.full_message.startswith("Open Government Products\n\n---")
    assert page.page_info == PageInfo(
        has_next_page=False,
        has_previous_page=False,
        start_cursor="WyIyMDI0LTAyLTI3VDE2OjEyOjUyLjcxMCswODowMCJd",
        end_cursor="WyIyMDI0LTAyLTI3VDE2OjEwOjUxLjg0OSswODowMCJd",
    )


def test_campaign_list_batch_id_taken_from_batches_when_absent() -> None:
    item = {**CAMPAIGN_LIST_200["data"][0]}  # type: ignore[index]
    del item["batchId"]
    page = decode_page(_body({"data": [item], "pageData": CAMPAIGN_LIST_200["pageData"]}))
    assert page.messages[0].batch_id == "<YOUR_BATCH_ID>"


def test_batch_list_with_flat_message_attempts() -> None:
    page = decode_page(_body(BATCH_LIST_200))
    (message,) = page.messages
    assert message.latest_status is MessageStatus.FAILURE
    assert message.num_attempts == 1
    assert message.creator_email == "<CREATOR_EMAIL>"
    (attempt,) = message.attempts
    assert attempt.status is MessageStatus.FAILURE
    assert attempt.error_type == "server_error"
    assert attempt.error_code == "server_unknown_error"
    assert attempt.sent_at == _sgt(2024, 5, 16, 16, 35, 13, 118000)
    assert attempt.created_at == _sgt(2024, 5, 16, 16, 34, 6, 604000)
    assert attempt.delivered_at is None
    assert message.error_code == "server_unknown_error"
    assert page.page_info.has_next_page is True
    assert page.page_info.end_cursor == "<end>"


def test_both_attempt_shapes_normalise_to_the_same_attempt() -> None:
    common = {
        "status": "failure",
        "createdAt": "2024-05-16T16:34:06.604+08:00",
        "sentAt": "2024-05-16T16:35:13.118+08:00",
        "deliveredAt": None,
    }
    nested = {**common, "error": {"type": "delivery_error", "code": "recipient_unavailable"}}
    flat: dict[str, object] = {
        **common,
        "errorType": "delivery_error",
        "errorCode": "recipient_unavailable",
        "metadata": {},
        "externalAttemptId": "",
    }
    from_get = decode_message(_body({"id": "m", "latestStatus": "failure", "attempts": [nested]}))
    from_batch = decode_page(
        _body({"data": [{"id": "m", "latestStatus": "failure", "messageAttempts": [flat]}]})
    ).messages[0]
    assert from_get.attempts == from_batch.attempts
    (attempt,) = from_get.attempts
    assert attempt.error_type == "delivery_error"
    assert attempt.error_code == "recipient_unavailable"


def test_old_flat_error_string_becomes_error_code() -> None:
    message = decode_message(
        _body({"id": "m", "latestStatus": "failure", "attempts": [{"error": "recipient_invalid"}]})
    )
    assert message.attempts[0].error_code == "recipient_invalid"
    assert message.attempts[0].error_type is None


# --------------------------------------------------------------------------- leniency


def test_timestamps_are_aware_and_naive_ones_read_as_sgt() -> None:
    message = decode_message(
        _body(
            {
                "id": "m",
                "createdAt": "2024-05-16T10:30:50.904",
                "updatedAt": "2024-05-16T02:30:50.904Z",
                "attempts": [{"status": "sent", "sentAt": "2024-05-16T10:30:51"}],
            }
        )
    )
    assert message.created_at is not None
    assert message.updated_at is not None
    assert message.created_at.utcoffset() == SGT_OFFSET
    assert message.created_at.tzinfo is SGT
    assert message.updated_at.utcoffset() == dt.timedelta(0)
    # The naive SGT time and the UTC time name the same instant.
    assert message.created_at == message.updated_at
    sent_at = message.attempts[0].sent_at
    assert sent_at is not None
    assert sent_at.utcoffset() == SGT_OFFSET


def test_unknown_fields_are_ignored() -> None:
    body = {**SINGLE_SEND_201, "shinyNewField": {"nested": [1, 2]}, "priority": 3}
    assert decode_message(_body(body)) == decode_message(_body(SINGLE_SEND_201))


def test_unknown_future_status_is_kept_open() -> None:
    message = decode_message(_body({"id": "m", "latestStatus": "queued"}))
    status = message.latest_status
    assert isinstance(status, MessageStatus)
    assert status.value == "queued"
    assert str(status) == "queued"
    assert status == "queued"
    assert not status.is_known
    assert not status.is_final
    assert not message.is_final
    # Decoding it did not add it to the enum.
    assert "queued" not in {member.value for member in MessageStatus}
    assert MessageStatus("queued").is_known is False


@pytest.mark.parametrize("status", list(MessageStatus))
def test_known_statuses_are_known_and_only_success_and_failure_are_final(
    status: MessageStatus,
) -> None:
    assert status.is_known
    assert status.is_final == (status.value in {"success", "failure"})
    assert MessageStatus(status.value) is status


def test_unknown_attempt_status_is_kept() -> None:
    message = decode_message(_body({"id": "m", "attempts": [{"status": "bouncing"}]}))
    assert message.attempts[0].status.value == "bouncing"
    assert not message.attempts[0].status.is_known


def test_unknown_language_is_kept() -> None:
    message = decode_message(_body({"id": "m", "language": "hokkien"}))
    assert message.language is not None
    assert isinstance(message.language, Language)
    assert message.language.value == "hokkien"
    assert str(message.language) == "hokkien"
    assert message.language not in set(Language)


def test_nric_object_recipient() -> None:
    message = decode_message(
        _body({"id": "m", "recipient": {"value": "S1234567A", "type": "nric"}})
    )
    assert message.recipient == "S1234567A"


def test_recipient_object_without_string_value_gives_none() -> None:
    message = decode_message(_body({"id": "m", "recipient": {"type": "nric"}}))
    assert message.recipient is None


def test_only_id_is_required() -> None:
    message = decode_message(b'{"id": "message_1"}')
    assert message.id == "message_1"
    assert message.latest_status is MessageStatus.CREATED
    assert message.recipient is None
    assert message.language is None
    assert dict(message.values) == {}
    assert message.full_message is None
    assert message.campaign_id is None
    assert message.template_body_id is None
    assert message.created_at is None
    assert message.updated_at is None
    assert message.creator_id is None
    assert message.creator_email is None
    assert message.batch_id is None
    assert message.attempts == ()
    assert message.num_attempts is None


def test_nulls_are_accepted_for_optional_fields() -> None:
    message = decode_message(
        _body(
            {
                "id": "m",
                "latestStatus": None,
                "values": None,
                "attempts": None,
                "language": None,
                "createdAt": None,
            }
        )
    )
    assert message.latest_status is MessageStatus.CREATED
    assert dict(message.values) == {}
    assert message.attempts == ()


def test_non_string_values_are_stringified() -> None:
    message = decode_message(_body({"id": "m", "values": {"otp": 123456, "ok": True}}))
    assert dict(message.values) == {"otp": "123456", "ok": "True"}


def test_page_without_page_data_has_no_next_page() -> None:
    page = decode_page(b'{"data": []}')
    assert page.messages == ()
    assert page.page_info == PageInfo()
    assert page.page_info.has_next_page is False
    assert page.page_info.end_cursor is None


def test_encode_send_uses_wire_names() -> None:
    body = encode_send(SendRequest(recipient="6591234567", language="english", values={"a": "b"}))
    assert json.loads(body) == {
        "recipient": "6591234567",
        "language": "english",
        "values": {"a": "b"},
    }


# --------------------------------------------------------------------------- batch receipt


def test_receipt_valid() -> None:
    receipt = decode_receipt(b'{"isValid": true, "batchId": "batch_1"}')
    assert receipt == BatchReceipt(is_valid=True, batch_id="batch_1")
    assert receipt.report_url is None
    assert receipt.num_rows is None


def test_receipt_sftp_style_invalid_report() -> None:
    body = _body(
        {
            "isValid": False,
            "reportURL": "https://files.postman.gov.sg/validation-reports/c/r.csv",
            "numRows": 3,
            "numErrors": 4,
            "fileHasAvoidableExpensiveCharacter": False,
            "fileHasUnicode": True,
            "somethingElse": "ignored",
        }
    )
    receipt = decode_receipt(body, 400)
    assert receipt.is_valid is False
    assert receipt.batch_id is None
    assert receipt.report_url == "https://files.postman.gov.sg/validation-reports/c/r.csv"
    assert receipt.num_rows == 3
    assert receipt.num_errors == 4
    assert receipt.file_has_avoidable_expensive_character is False
    assert receipt.file_has_unicode is True


def test_receipt_without_is_valid_but_with_batch_id_counts_as_accepted() -> None:
    # Reporting an accepted batch as refused would invite a resend to every recipient.
    assert decode_receipt(b'{"batchId": "batch_1"}').is_valid is True
    with pytest.raises(ResponseDecodeError, match="neither isValid nor batchId"):
        decode_receipt(b"{}")
    assert decode_receipt(b'{"isValid": false, "batchId": "b"}').is_valid is False


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'{"isValid": "yes"}', b'{"isValid": true, "batchId": 7}', b'{"isValid": tr'],
)
def test_receipt_bad_bodies(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        decode_receipt(body, 201)
    assert info.value.status == 201
    assert info.value.body == body


# --------------------------------------------------------------------------- bad bodies


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(json.dumps(SINGLE_SEND_201)[:-20].encode(), id="truncated"),
        pytest.param(b"", id="empty"),
        pytest.param(b"<html>502</html>", id="html"),
        pytest.param(b'{"latestStatus": "created"}', id="missing-id"),
        pytest.param(b'{"id": ""}', id="empty-id"),
        pytest.param(b'{"id": 42}', id="id-not-string"),
        pytest.param(b'{"id": null}', id="id-null"),
        pytest.param(b'[{"id": "m"}]', id="list-not-object"),
        pytest.param(b'"message_1"', id="string-not-object"),
        pytest.param(b'{"id": "m", "createdAt": "yesterday"}', id="bad-timestamp"),
        pytest.param(b'{"id": "m", "latestStatus": 3}', id="status-not-string"),
        pytest.param(b'{"id": "m", "attempts": {"status": "sent"}}', id="attempts-not-list"),
        pytest.param(b'{"id": "m", "values": ["a"]}', id="values-not-object"),
        pytest.param(b'{"id": "m", "numAttempts": "1"}', id="num-attempts-string"),
        pytest.param(b'{"id": "m", "recipient": 6591234567}', id="recipient-number"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
    ],
)
def test_bad_message_bodies_raise_response_decode_error(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        decode_message(body, 201)
    assert info.value.status == 201
    assert info.value.body == body
    assert "HTTP 201" in str(info.value)
    assert "message object" in str(info.value)
    assert info.value.message_may_exist is False


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"id": "m"}',
        b'{"pageData": {}}',
        b'{"data": {"id": "m"}}',
        b'{"data": [{"latestStatus": "success"}]}',
        b'{"data": [], "pageData": {"hasNextPage": "no"}}',
        b'{"data": [], "pageData": null}',
        b'[{"id": "m"}]',
    ],
)
def test_bad_page_bodies_raise_response_decode_error(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        decode_page(body)
    assert info.value.status == 200
    assert info.value.body == body


def test_decode_error_keeps_only_the_start_of_a_big_body() -> None:
    body = b"x" * 10_000
    with pytest.raises(ResponseDecodeError) as info:
        decode_message(body)
    assert info.value.body == body[:2048]


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "m", "values": {"a": ' + b'{"a": ' * 20_000 + b"1" + b"}" * 20_001 + b"}",
        b'{"data": [{"id": "m", "values": ' + b"[" * 20_000 + b"]" * 20_000 + b"}]}",
    ],
    ids=["message", "page"],
)
def test_deeply_nested_json_is_a_decode_error_not_a_recursion_error(body: bytes) -> None:
    decoder = decode_page if body.startswith(b'{"data"') else decode_message
    with pytest.raises(ResponseDecodeError):
        decoder(body)
    details = decode_error_body(b'{"error": ' * 20_000 + b"1" + b"}" * 20_000)
    assert isinstance(details, ErrorDetails)
    assert details.code is None


# --------------------------------------------------------------------------- error bodies


def test_error_body_current_envelope() -> None:
    details = decode_error_body(
        _body(
            {
                "error": {
                    "code": "parameter_invalid",
                    "message": "Invalid recipient, ensure it is a valid normalized phone number",
                    "type": "domain_error",
                    "id": "trace_123",
                }
            }
        )
    )
    assert details == ErrorDetails(
        code="parameter_invalid",
        message="Invalid recipient, ensure it is a valid normalized phone number",
        trace_id="trace_123",
    )


def test_error_body_old_flat_shape() -> None:
    details = decode_error_body(b'{"message": "Unauthorized", "statusCode": 401}')
    assert details == ErrorDetails(code=None, message="Unauthorized", trace_id=None)


def test_error_body_code_message_shape() -> None:
    details = decode_error_body(b'{"code": "too_many_message_attempts_error", "message": "no"}')
    assert details.code == "too_many_message_attempts_error"
    assert details.message == "no"
    assert details.trace_id is None


def test_error_body_nestjs_validation_list() -> None:
    details = decode_error_body(
        _body(
            {
                "message": ["recipient must be a string", "values should not be empty"],
                "error": "Bad Request",
                "statusCode": 400,
            }
        )
    )
    assert details.message == "recipient must be a string; values should not be empty"


def test_error_body_html_gateway_page() -> None:
    html = (
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        b"</body>\r\n</html>\r\n"
    )
    details = decode_error_body(html)
    assert details.message == "502 Bad Gateway"
    assert details.code is None
    assert details.trace_id is None


def test_error_body_html_without_title_loses_its_tags() -> None:
    details = decode_error_body(b"<html><body><h1>503 Service Unavailable</h1></body></html>")
    assert details.message == "503 Service Unavailable"


def test_error_body_plain_text() -> None:
    assert decode_error_body(b"upstream connect error\n").message == "upstream connect error"


def test_error_body_long_text_is_shortened() -> None:
    message = decode_error_body(b"a" * 5000).message
    assert message is not None
    assert len(message) <= 200


@pytest.mark.parametrize("body", [b"", b"   ", b"\r\n"])
def test_error_body_empty(body: bytes) -> None:
    assert decode_error_body(body) == ErrorDetails()


@pytest.mark.parametrize("body", [b"[1, 2]", b'"oops"', b"null", b"42", b"true"])
def test_error_body_non_dict_json(body: bytes) -> None:
    details = decode_error_body(body)
    assert details.code is None
    assert details.trace_id is None
    assert details.message == body.decode()


def test_error_body_with_odd_types_does_not_fail() -> None:
    details = decode_error_body(_body({"error": {"code": 1010, "message": None, "id": {"a": 1}}}))
    assert details.code == "1010"
    assert details.message is None
    assert details.trace_id is None


# --------------------------------------------------------------------------- properties

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=5)
    ),
    max_leaves=30,
)
# The optional keys of a message object on the wire.
_message_keys = (
    "latestStatus",
    "language",
    "values",
    "recipient",
    "createdAt",
    "attempts",
    "messageAttempts",
    "numAttempts",
    "batches",
    "batchId",
)
# Values that look like the API's, so the decoders get past the first field.
_wire_keys = st.sampled_from(
    [
        "id",
        *_message_keys,
        "error",
        "status",
        "errorType",
        "errorCode",
        "data",
        "pageData",
        "hasNextPage",
        "isValid",
        "reportURL",
        "numRows",
        "code",
        "message",
        "statusCode",
        "type",
    ]
)
_wire_values = st.recursive(
    _json_scalars | st.sampled_from(["2024-05-16T10:30:50.904+08:00", "queued", "english", "m"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(_wire_keys | st.text(max_size=5), children, max_size=6)
    ),
    max_leaves=30,
)


def _outcome(decoder: Callable[[bytes, int], object], body: bytes) -> object:
    """The decoder's result, or the ResponseDecodeError it raised (anything else escapes)."""
    try:
        return decoder(body, 299)
    except ResponseDecodeError as exc:
        return exc


def _decodes_or_refuses(body: bytes) -> None:
    for decoder, expected in (
        (decode_message, Message),
        (decode_page, Page),
        (decode_receipt, BatchReceipt),
    ):
        outcome = _outcome(decoder, body)
        if isinstance(outcome, ResponseDecodeError):
            assert outcome.status == 299
            assert outcome.body == body[:2048]
        else:
            assert isinstance(outcome, expected)
    assert isinstance(decode_error_body(body), ErrorDetails)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_decoders_on_arbitrary_bytes(body: bytes) -> None:
    _decodes_or_refuses(body)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_json_values | _wire_values)
def test_decoders_on_arbitrary_json(value: object) -> None:
    _decodes_or_refuses(json.dumps(value).encode())


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {"id": st.text(min_size=1, max_size=10)},
        optional=dict.fromkeys(_message_keys, _wire_values),
    )
)
def test_message_shaped_json(value: dict[str, object]) -> None:
    body = json.dumps(value).encode()
    _decodes_or_refuses(body)
    _decodes_or_refuses(json.dumps({"data": [value]}).encode())


def test_message_repr_hides_recipient_and_values() -> None:
    from postman_async._decode import decode_message

    msg = decode_message(
        b'{"id": "message_1", "latestStatus": "sent", "recipient": "6591234567",'
        b' "values": {"otp": "918273"}, "fullMessage": "Your OTP is 918273"}'
    )
    text = repr(msg)
    assert "message_1" in text and "'sent'" in text
    assert "65******67" in text
    for secret in ("6591234567", "918273"):
        assert secret not in text
        assert secret not in str(msg)
