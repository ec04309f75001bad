"""Local checks of email sends and listings: pure, no event loop, no network."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postman_async import ValidationError
from postman_async._email_models import EmailClassification, EmailSendRequest, EmailStatus
from postman_async._email_validate import (
    ALLOWED_EXTENSIONS,
    MAX_ATTACHMENT_BYTES,
    MAX_BODY_BYTES,
    attachment_name,
    check_address,
    check_attachments,
    check_classification,
    check_copies,
    check_email_id,
    check_email_key,
    check_page_size,
    check_send,
    check_sender,
    check_sort_by,
    check_status_filter,
    check_tag,
    check_time,
)

SENDER = ("Clinic <clinic@example.gov.sg>", "clinic@example.gov.sg")
MIB = 1024 * 1024


def _send(**changes: object) -> tuple[EmailSendRequest, tuple[str, str] | None]:
    fields: dict[str, object] = {
        "recipient": "tan@example.com",
        "subject": "Your appointment",
        "body": "<p>Confirmed</p>",
    }
    fields.update(changes)
    return check_send(**fields)


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ("tan@example.com", "tan@example.com"),
        ("Tan.Ah-Kow+appt@Example.COM", "tan.ah-kow+appt@example.com"),
        ("  tan@example.com\n", "tan@example.com"),
        ("x@sub.domain.gov.sg", "x@sub.domain.gov.sg"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("user@xn--80ak6aa92e.com", "user@xn--80ak6aa92e.com"),
    ],
)
def test_address_accepts_and_lower_cases(given_: str, expected: str) -> None:
    assert check_address(given_, "recipient") == expected


@pytest.mark.parametrize(
    ("given_", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("tan", "not a valid email address"),
        ("tan@", "not a valid email address"),
        ("@example.com", "not a valid email address"),
        ("tan@example", "not a valid email address"),
        ("tan@example.c", "not a valid email address"),
        ("tan@-example.com", "not a valid email address"),
        ("tan@exa_mple.com", "not a valid email address"),
        (".tan@example.com", "not a valid email address"),
        ("tan..ah@example.com", "not a valid email address"),
        ("tan<x>@example.com", "not a valid email address"),
        ("a@example.com,b@example.com", "more than one address"),
        ("a@example.com; b@example.com", "more than one address"),
        ("a@b@example.com", "more than one address"),
        ("x" * 65 + "@example.com", "not a valid email address"),
        ("x@" + "a" * 250 + ".com", "at most 254"),
    ],
)
def test_address_refuses(given_: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        check_address(given_, "recipient")


@pytest.mark.parametrize("given_", [None, 5, b"tan@example.com", ["tan@example.com"]])
def test_address_must_be_one_string(given_: object) -> None:
    with pytest.raises(ValidationError, match="one email address as a string"):
        check_address(given_, "recipient")


def test_refusals_mask_the_address() -> None:
    with pytest.raises(ValidationError) as info:
        check_address("secretperson@example", "recipient")
    assert "secretperson" not in str(info.value)
    assert "s***********@example" in str(info.value)


@given(st.text(max_size=80))
def test_address_check_raises_only_validation_error(text: str) -> None:
    try:
        result = check_address(text, "recipient")
    except ValidationError:
        return
    assert result.count("@") == 1
    assert result == result.lower()


# --------------------------------------------------------------------------- the send fields


def test_minimal_send_builds_the_request() -> None:
    request, sender = _send()
    assert sender is None
    assert request.recipient == "tan@example.com"
    assert request.sender is None
    assert request.cc is None
    assert request.disable_tracking is None


def test_full_send_builds_the_request() -> None:
    request, sender = _send(
        recipient="Tan@Example.com",
        sender="Clinic <Clinic@Example.gov.sg>",
        reply_to="Reply@Example.gov.sg",
        cc=["A@example.com"],
        bcc=("b@example.com",),
        classification="for_action",
        tag="appt",
        disable_tracking=True,
    )
    assert sender == ("Clinic <Clinic@Example.gov.sg>", "clinic@example.gov.sg")
    assert request.recipient == "tan@example.com"
    assert request.sender == "Clinic <Clinic@Example.gov.sg>"
    assert request.reply_to == "reply@example.gov.sg"
    assert request.cc == ["a@example.com"]
    assert request.bcc == ["b@example.com"]
    assert request.classification == "FOR_ACTION"
    assert request.tag == "appt"
    assert request.disable_tracking is True


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"subject": ""}, "subject is empty"),
        ({"subject": "  \n"}, "subject is empty"),
        ({"subject": None}, "subject must be a string"),
        ({"body": ""}, "body is empty"),
        ({"body": 5}, "body must be a string"),
        ({"body": "\ud800"}, "UTF-8"),
        ({"recipient": ["tan@example.com"]}, "one email address"),
        ({"reply_to": "nope"}, "reply_to"),
        ({"cc": "a@example.com"}, "cc must be a list"),
        ({"bcc": {"a@example.com"}}, "bcc must be a list"),
        ({"cc": ["a@example.com", "A@example.com"]}, "appears twice"),
        ({"cc": ["a@example.com", "bad"]}, r"cc\[1\]"),
        ({"classification": "SECRET"}, "classification must be one of"),
        ({"classification": 1}, "classification must be one of"),
        ({"tag": ""}, "tag must be a non-empty string"),
        ({"tag": "x" * 256}, "at most 255"),
        ({"disable_tracking": "yes"}, "disable_tracking must be True or False"),
        ({"sender": ""}, "sender must be a string"),
        ({"sender": "Clinic <clinic@example.gov.sg"}, "sender is not"),
        ({"sender": "Clinic <nope>"}, "sender address"),
        ({"sender": "Clinic <a@example.com>\r\nBcc: x@example.com"}, "control characters"),
    ],
)
def test_send_refuses(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        _send(**changes)


def test_body_limit_is_one_mib_of_utf8() -> None:
    _send(body="x" * MAX_BODY_BYTES)
    with pytest.raises(ValidationError, match="1 MiB"):
        _send(body="x" * (MAX_BODY_BYTES + 1))
    # A three-byte character counts three times.
    with pytest.raises(ValidationError, match="1 MiB"):
        _send(body="€" * (MAX_BODY_BYTES // 3 + 1))


def test_tag_of_255_characters_is_fine() -> None:
    assert check_tag("x" * 255) == "x" * 255


def test_copies_at_most_49_together() -> None:
    cc = [f"c{i}@example.com" for i in range(25)]
    bcc = [f"b{i}@example.com" for i in range(24)]
    _send(cc=cc, bcc=bcc)
    with pytest.raises(ValidationError, match="at most 49"):
        _send(cc=cc, bcc=[*bcc, "extra@example.com"])


def test_same_address_in_cc_and_bcc_is_allowed() -> None:
    request, _ = _send(cc=["a@example.com"], bcc=["a@example.com"])
    assert request.cc == request.bcc == ["a@example.com"]


def test_empty_copies_are_left_out() -> None:
    assert check_copies([], "cc") is None
    assert check_copies(None, "cc") is None


def test_classification_accepts_the_enum() -> None:
    assert check_classification(EmailClassification.URGENT) == "URGENT"
    assert check_classification(" for_info ") == "FOR_INFO"


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        (
            "Clinic <clinic@example.gov.sg>",
            ("Clinic <clinic@example.gov.sg>", "clinic@example.gov.sg"),
        ),
        (
            '"Tan, Clinic" <c@example.gov.sg>',
            ('"Tan, Clinic" <c@example.gov.sg>', "c@example.gov.sg"),
        ),
        ("c@example.gov.sg", ("c@example.gov.sg", "c@example.gov.sg")),
        ("<c@example.gov.sg>", ("<c@example.gov.sg>", "c@example.gov.sg")),
        (None, None),
    ],
)
def test_sender_forms(given_: object, expected: object) -> None:
    assert check_sender(given_) == expected


# --------------------------------------------------------------------------- attachments


def test_attachment_names_from_paths_and_pairs(tmp_path: pathlib.Path) -> None:
    assert attachment_name(tmp_path / "letter.pdf", 0) == ("letter.pdf", tmp_path / "letter.pdf")
    assert attachment_name(str(tmp_path / "A.PDF"), 0) == ("A.PDF", tmp_path / "A.PDF")
    assert attachment_name(("notes.txt", b"hi"), 1) == ("notes.txt", b"hi")
    assert attachment_name(("notes.txt", bytearray(b"hi")), 1) == ("notes.txt", b"hi")


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("virus.exe", r"\.exe files"),
        ("archive.zip", r"\.zip files"),
        ("README", "without an extension"),
        (("a.pdf", "text"), "must be bytes"),
        (("", b"x"), "non-empty"),
        (("../a.pdf", b"x"), "slashes"),
        (('a".pdf', b"x"), "quotes"),
        (("a\n.pdf", b"x"), "control"),
        (5, "path to a file"),
        ((b"a.pdf", b"x"), "non-empty string"),
    ],
)
def test_attachment_names_refused(item: object, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment) as info:
        attachment_name(item, 3)
    assert "attachments[3]" in str(info.value)


def test_every_allowed_extension_passes_in_any_case() -> None:
    for extension in ALLOWED_EXTENSIONS:
        assert attachment_name((f"f.{extension.upper()}", b""), 0)[0] == f"f.{extension.upper()}"


def test_attachments_need_a_sender_other_than_the_default() -> None:
    items = [("a.pdf", b"x", 1)]
    with pytest.raises(ValidationError, match="default sender"):
        check_attachments(items, None)
    with pytest.raises(ValidationError, match="default sender"):
        check_attachments(items, ("Me <info@mail.postman.gov.sg>", "info@mail.postman.gov.sg"))
    with pytest.raises(ValidationError, match="default sender"):
        check_attachments(
            items, ("<donotreply@mail.postman.gov.sg>", "donotreply@mail.postman.gov.sg")
        )
    assert check_attachments([], None) == []


def test_attachment_sizes() -> None:
    just_under = MAX_ATTACHMENT_BYTES - 1
    (one,) = check_attachments([("a.pdf", b"", just_under)], SENDER)
    assert one.size == just_under
    assert one.content_type == "application/pdf"
    with pytest.raises(ValidationError, match="smaller than"):
        check_attachments([("a.pdf", b"", MAX_ATTACHMENT_BYTES)], SENDER)
    halves = [("a.pdf", b"", 5 * MIB), ("b.png", b"", 5 * MIB)]
    assert [a.content_type for a in check_attachments(halves, SENDER)] == [
        "application/pdf",
        "image/png",
    ]
    with pytest.raises(ValidationError, match="total"):
        check_attachments([*halves, ("c.txt", b"", 1)], SENDER)


def test_unknown_content_type_falls_back_to_octet_stream() -> None:
    (one,) = check_attachments([("drawing.dgn", b"", 1)], SENDER)
    assert one.content_type == "application/octet-stream"


# --------------------------------------------------------------------------- keys and listing


def test_email_key_yields_its_account_name() -> None:
    key, account = check_email_key("jane_v1_QUJDRA+/==")
    assert account == "jane"
    assert key.reveal() == "jane_v1_QUJDRA+/=="
    assert "QUJD" not in repr(key)


def test_v2_campaign_key_is_refused_for_email() -> None:
    with pytest.raises(ValidationError, match="v2 campaign key") as info:
        check_email_key("key_live_s3cr3tvalue")
    assert "s3cr3tvalue" not in str(info.value)


@pytest.mark.parametrize("bad", ["plainkey", "a__b", "_v1_x", "jane_v1_", ""])
def test_email_key_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_email_key(bad)
    if bad:
        assert bad not in str(info.value)


def test_email_id() -> None:
    assert check_email_id("123") == "123"
    assert check_email_id(7) == "7"
    for bad in ("", "12a", "../1", "١٢", -1, True, 1.5, None):
        with pytest.raises(ValidationError, match="numeric ID"):
            check_email_id(bad)


def test_status_filter() -> None:
    assert check_status_filter("bounced") == "BOUNCED"
    assert check_status_filter(EmailStatus.OPENED) == "OPENED"
    assert check_status_filter(None) is None
    with pytest.raises(ValidationError, match="status must be one of"):
        check_status_filter("LOST")


def test_sort_by() -> None:
    for good in ("created_at", "+created_at", "-updated_at"):
        assert check_sort_by(good) == good
    for bad in ("id", " created_at", "*created_at", 1):
        with pytest.raises(ValidationError, match="sort_by"):
            check_sort_by(bad)


def test_page_size() -> None:
    assert check_page_size(1) == 1
    assert check_page_size(1000) == 1000
    for bad in (0, 1001, True, "10", 2.0):
        with pytest.raises(ValidationError, match="page_size"):
            check_page_size(bad)


def test_time_filter_is_sent_in_utc() -> None:
    sgt = dt.timezone(dt.timedelta(hours=8))
    assert check_time(dt.datetime(2026, 1, 22, 11, 0, tzinfo=sgt), "created_after") == (
        "2026-01-22T03:00:00.000Z"
    )
    with pytest.raises(ValidationError, match="timezone-aware"):
        check_time(dt.datetime(2026, 1, 22), "created_after")
    with pytest.raises(ValidationError, match="timezone-aware"):
        check_time("2026-01-22", "created_after")
