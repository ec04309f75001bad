"""Bad input is refused locally, and IDs cannot steer a request to another resource.

Every wrong kind of phone number, language, values mapping, timeout, page
argument, ID and batch row/CSV ends in a ``ValidationError`` that names the
problem, with **no request sent and no rate budget spent** (the mock saw zero
requests).  IDs that do reach Postman are one opaque path segment: against the
mock, ``'/'``, ``'..'``, ``'?'``, ``'#'`` and friends get a 404/400 *for that
ID*, never another message or endpoint.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from postman_async import (
    APIError,
    BadRequestError,
    Campaign,
    NotFoundError,
    PostmanClient,
    SlidingWindowLimiter,
    ValidationError,
)
from postman_async.testing import MockPostman, MockServer, serve_mock

pytestmark = pytest.mark.slow

OK_VALUES = {"otp": "123456"}
OK_PHONE = "6591234567"


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    async with serve_mock(MockPostman(speed=0), tps=10, variables=("otp",)) as running:
        yield running


@pytest.fixture
async def otp(server: MockServer) -> AsyncIterator[Campaign]:
    async with PostmanClient(base_url=server.base_url) as client:
        yield client.campaign(server.campaign_id, api_key=server.api_key)


async def _drain(iterator: AsyncIterable[Any]) -> list[Any]:
    return [item async for item in iterator]


BadCall = Callable[[Campaign], Awaitable[object]]

BAD_RECIPIENTS: list[object] = [
    None,
    True,
    65.91234567,
    b"6591234567",
    ["6591234567"],
    "",
    "+",
    "   ",
    "abc",
    "65 9123 456a",
    "6591234567; DROP TABLE",
    "91234567",  # Singapore number without its country code
    "0091234567",  # 00-prefix stripped leaves a local number
    "06591234567",
    "1234567",  # too short
    "1234567890123456",  # too long
    "".join(chr(0xFF10 + int(d)) for d in "6591234567"),  # full-width digits
    "٦٥٩١٢٣٤٥٦٧",  # Arabic-Indic digits
    "65912345\x0067",
]
BAD_LANGUAGES: list[object] = [None, "", "klingon", "en", "english-sg", 5, ["english"]]
BAD_VALUES: list[object] = [
    None,
    "123456",
    ["otp", "123456"],
    {},
    {"otp": ""},
    {"otp": 123456},
    {"otp": None},
    {"otp": b"1"},
    {"OTP": "1"},
    {"1otp": "1"},
    {"o tp": "1"},
    {"otp-code": "1"},
    {5: "1"},
    {"recipient": "1"},
    {"language": "1"},
    {"otp": " 1"},
    {"otp": "1 "},
    {"otp": "x" * 1001},
]
BAD_IDS: list[object] = ["", ".", "..", "a b", "a\nb", "a\tb", "a\rb", "\x00", "a\x7f", None, 5]
BAD_PAGE_SIZES: list[object] = [0, -1, 1001, True, "10", 10.0, None]
BAD_CURSORS: list[object] = ["", 5, b"cursor", ["c"]]
BAD_SEARCHES: list[object] = ["", "91 23", "+65", "abc", "\uff19\uff11\uff12\uff13", 9123, ["9"]]


def _cases() -> list[Any]:
    cases: list[Any] = []

    def add(
        name: str, call: Callable[[Campaign, Any], Awaitable[object]], bad: object, match: str
    ) -> None:
        def bound(campaign: Campaign) -> Awaitable[object]:
            return call(campaign, bad)

        cases.append(pytest.param(bound, match, id=name))

    for i, bad in enumerate(BAD_RECIPIENTS):
        add(f"recipient-{i}", lambda c, b: c.send(b, OK_VALUES), bad, "recipient")
    for i, bad in enumerate(BAD_LANGUAGES):
        add(f"language-{i}", lambda c, b: c.send(OK_PHONE, OK_VALUES, language=b), bad, "language")
    for i, bad in enumerate(BAD_VALUES):
        add(f"values-{i}", lambda c, b: c.send(OK_PHONE, b), bad, r"value|variable|reserved")
    for i, bad in enumerate([0, -1, -0.5]):
        add(f"timeout-{i}", lambda c, b: c.send(OK_PHONE, OK_VALUES, timeout=b), bad, "timeout")
        add(f"get-timeout-{i}", lambda c, b: c.get_message("m1", timeout=b), bad, "timeout")
        add(f"list-timeout-{i}", lambda c, b: c.list_messages(timeout=b), bad, "timeout")
    for i, bad in enumerate(BAD_IDS):
        add(f"get-id-{i}", lambda c, b: c.get_message(b), bad, "message_id")
        add(f"retry-id-{i}", lambda c, b: c.retry(b), bad, "message_id")
        add(f"batch-id-{i}", lambda c, b: c.list_batch_messages(b), bad, "batch_id")
        add(f"retry-batch-id-{i}", lambda c, b: c.retry_batch(b), bad, "batch_id")
        add(f"wait-id-{i}", lambda c, b: c.wait_for([b], timeout=1), bad, "message_id")
    for i, bad in enumerate(BAD_PAGE_SIZES):
        # The first page (await), and every page (async for): both refuse before a request.
        add(f"limit-{i}", lambda c, b: c.list_messages(limit=b), bad, "limit")
        add(f"limit-all-{i}", lambda c, b: _drain(c.list_messages(limit=b)), bad, "limit")
        add(f"batch-limit-{i}", lambda c, b: c.list_batch_messages("b1", limit=b), bad, "limit")
    for i, bad in enumerate(BAD_CURSORS):
        add(f"after-{i}", lambda c, b: c.list_messages(after=b), bad, "after")
        add(f"before-{i}", lambda c, b: c.list_messages(before=b), bad, "before")
    for i, bad in enumerate(BAD_SEARCHES):
        add(f"search-{i}", lambda c, b: c.list_messages(search=b), bad, "digits")
    return cases


@pytest.mark.parametrize(("call", "match"), _cases())
async def test_bad_arguments_are_refused_before_any_request(
    server: MockServer, otp: Campaign, call: BadCall, match: str | None
) -> None:
    with pytest.raises(ValidationError, match=match) as info:
        await call(otp)
    assert server.state.stats.total_requests == 0
    limiter = otp.limiter
    assert isinstance(limiter, SlidingWindowLimiter)
    assert limiter.granted == 0, "rate budget was spent on a call that never left"
    # Validation messages never echo a full phone number (only the documented example).
    assert not re.search(r"\d{8,}", str(info.value).replace("6591234567", "e.g."))


ROW = {"recipient": OK_PHONE, "otp": "1"}
HEADER = b"recipient,language,otp\r\n"
BAD_BATCHES: list[tuple[str, object, str]] = [
    ("no-rows", [], "no rows"),
    ("not-a-mapping", [ROW, 5], "row 2"),
    ("no-recipient", [{"otp": "1"}], "row 1"),
    ("bad-recipient", [ROW, {"recipient": "91234567", "otp": "1"}], "row 2"),
    ("no-values", [{"recipient": OK_PHONE}], "row 1"),
    ("empty-value", [{"recipient": OK_PHONE, "otp": ""}], "row 1"),
    ("value-not-str", [{"recipient": OK_PHONE, "otp": 1}], "row 1"),
    ("bad-language", [{**ROW, "language": "klingon"}], "row 1"),
    ("mixed-variables", [ROW, {"recipient": OK_PHONE, "code": "1"}], "row 2"),
    ("csv-empty", b"", "empty"),
    ("csv-header-only", HEADER, "no rows"),
    ("csv-no-recipient-column", b"phone,language,otp\r\n6591234567,english,1\r\n", "recipient"),
    ("csv-repeated-column", b"recipient,language,otp,otp\r\n6591234567,english,1,1\r\n", "repeats"),
    ("csv-not-utf8", HEADER + b"6591234567,english,\xff\xfe\r\n", "UTF-8"),
    ("csv-short-row", HEADER + b"6591234567,english\r\n", "cells"),
    ("csv-plus-recipient", HEADER + b"+6591234567,english,1\r\n", "digits"),
    ("csv-upper-language", HEADER + b"6591234567,ENGLISH,1\r\n", "lowercase"),
    ("csv-empty-cell", HEADER + b"6591234567,english,\r\n", "empty"),
    ("csv-too-big", HEADER + b"6591234567,english," + b"x" * 40_000_001 + b"\r\n", "40 MB"),
]


@pytest.mark.parametrize(("rows", "match"), [pytest.param(r, m, id=n) for n, r, m in BAD_BATCHES])
async def test_bad_batches_are_refused_before_any_request(
    server: MockServer, otp: Campaign, rows: Any, match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        await otp.send_batch(rows)
    assert server.state.stats.total_requests == 0
    assert not server.state.batches


async def test_unreadable_batch_path_is_refused(
    server: MockServer, otp: Campaign, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="cannot read"):
        await otp.send_batch(tmp_path / "missing.csv")
    with pytest.raises(ValidationError, match="cannot read"):
        await otp.send_batch(str(tmp_path))  # a directory
    assert server.state.stats.total_requests == 0


async def test_send_many_reports_each_bad_row_and_sends_nothing(
    server: MockServer, otp: Campaign
) -> None:
    rows: list[Any] = [
        5,
        {"otp": "1"},
        {"recipient": "91234567", "otp": "1"},
        {"recipient": OK_PHONE},
        {"recipient": OK_PHONE, "otp": 1},
        {"recipient": OK_PHONE, "otp": "1", "language": "klingon"},
    ]
    results = await _drain(otp.send_many(rows, concurrency=3))
    assert sorted(r.index for r in results) == list(range(len(rows)))
    assert all(isinstance(r.error, ValidationError) and r.message is None for r in results)
    assert server.state.stats.total_requests == 0


@pytest.mark.parametrize("concurrency", [0, -1, True, 1.5, "4"])
async def test_send_many_refuses_a_bad_concurrency(
    server: MockServer, otp: Campaign, concurrency: Any
) -> None:
    with pytest.raises(ValidationError, match="concurrency"):
        await _drain(otp.send_many([ROW], concurrency=concurrency))
    assert server.state.stats.total_requests == 0


@pytest.mark.parametrize(
    ("campaign_id", "api_key"),
    [
        ("..", None),
        (".", None),
        ("a b", None),
        ("", None),
        (None, "key\r\nX-Injected: 1"),
        (None, "key with space"),
        (None, ""),
        (None, "kéy"),
    ],
)
async def test_bad_campaign_ids_and_keys_are_refused(
    server: MockServer, campaign_id: str | None, api_key: str | None
) -> None:
    async with PostmanClient(base_url=server.base_url) as client:
        with pytest.raises(ValidationError):
            client.campaign(
                server.campaign_id if campaign_id is None else campaign_id,
                api_key=server.api_key if api_key is None else api_key,
            )
    assert server.state.stats.total_requests == 0


async def test_a_campaign_id_cannot_reach_another_campaign(server: MockServer) -> None:
    other = server.state.add_campaign(variables=("otp",))
    async with PostmanClient(base_url=server.base_url) as client:
        sneaky = client.campaign(f"x/../{other.id}", api_key=server.api_key)
        with pytest.raises(APIError) as info:
            await sneaky.send(OK_PHONE, OK_VALUES)
    assert info.value.status == 401  # an unknown campaign "x/../campaign_...", not `other`
    assert other.stats.total_requests == 0
    assert not server.state.messages


# ----------------------------------------------------------------------------- path injection

EVIL_IDS = [
    "{id}/retry",
    "{id}?limit=1",
    "{id}#frag",
    "../messages/{id}",
    "../../campaigns/{campaign}/messages/{id}",
    "x/../{id}",
    "{id}/..",
    "{id}/.",
    "./{id}",
    "..%2F{id}",
    "%2e%2e",
    "%2E%2E/{id}",
    "{id}%00",
    "{id}%20",
    "{id}\u00a0",
    "\u2028{id}",
    "{id};x",
    "{id}\\..\\x",
    "?",
    "#",
    "/",
    "//",
    "...",
]


@pytest.mark.parametrize("template", EVIL_IDS)
async def test_ids_reach_only_their_own_resource(
    server: MockServer, otp: Campaign, template: str
) -> None:
    real = await otp.send(OK_PHONE, OK_VALUES)
    server.state.advance(600)  # the real message has failed or succeeded: retry-able or not
    evil = template.format(id=real.id, campaign=server.campaign_id)
    stats = server.campaign.stats
    before = dict(stats.requests)

    with pytest.raises(NotFoundError) as got:
        await otp.get_message(evil)
    assert got.value.code == "message_not_found"  # the get_message route, for that ID
    with pytest.raises(BadRequestError) as retried:
        await otp.retry(evil)
    assert retried.value.code == "message_not_found_or_retry_message_not_in_failure_status"
    with pytest.raises(NotFoundError) as batch:
        await otp.list_batch_messages(evil)
    assert batch.value.code == "batch_not_found"
    with pytest.raises(APIError) as batch_retry:
        await otp.retry_batch(evil)
    assert batch_retry.value.code == "batch_not_found_or_is_not_retryable"

    after = stats.requests
    changed = {name: after[name] - before[name] for name in after if after[name] != before[name]}
    # Exactly one request per call, each on the endpoint it was meant for: the ID was one
    # path segment, so nothing reached the listing, the send or another message.
    assert changed == {"get_message": 1, "retry": 1, "list_batch_messages": 1, "batch_retry": 1}
    assert len(server.state.messages) == 1
    assert (await otp.get_message(real.id)).attempts  # the real one is untouched and readable
