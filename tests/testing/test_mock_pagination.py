"""Cursor pagination: the pure paginator and the two list endpoints."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postman_async.testing import Leniency, MockPostman, MockServer
from postman_async.testing._pagination import (
    decode_cursor,
    encode_cursor,
    paginate,
    parse_limit,
)
from tests.testing.conftest import Api

from .conftest import MESSAGE_FIELDS


def walk(keys: Any, items: Any, limit: Any, match: Any = None) -> Any:
    """Walk forward from the newest page to the oldest, then back; return both walks."""
    forward = []
    page = paginate(keys, items, limit=limit, match=match)
    pages = [page]
    while page.has_next:
        page = paginate(keys, items, limit=limit, after=page.items[-1][0], match=match)
        pages.append(page)
    forward = [item for p in pages for item in p.items]
    backward_pages = [page]
    while page.has_previous:
        page = paginate(keys, items, limit=limit, before=page.items[0][0], match=match)
        backward_pages.append(page)
    backward = [item for p in reversed(backward_pages) for item in p.items]
    return forward, backward, pages


@given(
    times=st.lists(st.integers(min_value=0, max_value=5), max_size=40),
    limit=st.integers(min_value=1, max_value=7),
    digit=st.sampled_from([None, "1", "2"]),
)
def test_walking_pages_visits_every_match_once_newest_first(
    times: Any, limit: Any, digit: Any
) -> None:
    records = sorted((f"t{t}", f"id{i:03d}") for i, t in enumerate(times))
    items = [(key, f"65{i % 3}{i}") for i, key in enumerate(records)]
    match = None if digit is None else (lambda item: digit in item[1])
    expected = [item for item in reversed(items) if match is None or match(item)]
    forward, backward, pages = walk(records, items, limit, match)
    assert forward == expected
    assert backward == expected
    assert not pages[0].has_previous
    assert all(len(p.items) == limit for p in pages[:-1])


def test_empty_and_edge_pages() -> None:
    assert paginate([], [], limit=10).items == []
    keys = [("a", "1"), ("b", "2")]
    page = paginate(keys, keys, limit=10, after=("a", "1"))
    assert page.items == []
    assert not page.has_next
    assert page.has_previous
    page = paginate(keys, keys, limit=10, before=("b", "2"))
    assert page.items == []
    assert page.has_next
    assert not page.has_previous


def test_cursor_round_trip_and_shape() -> None:
    key = ("2024-02-27T16:12:52.710+08:00", "message_44b63f2b")
    cursor = encode_cursor(key)
    assert json.loads(base64.b64decode(cursor)) == list(key)
    assert decode_cursor(cursor) == key
    assert decode_cursor(cursor.replace("+", " ")) == key
    for bad in ("", "!!!", base64.b64encode(b"[1,2]").decode(), base64.b64encode(b"{}").decode()):
        with pytest.raises(ValueError, match="cursor"):
            decode_cursor(bad)


def test_parse_limit() -> None:
    assert parse_limit(None) == 100
    assert parse_limit("1") == 1
    assert parse_limit("1000") == 1000
    for bad in ("0", "1001", "-1", "abc", "1.5", ""):
        with pytest.raises(ValueError, match="between 1 and 1000"):
            parse_limit(bad)


class CountingList(list[Any]):
    reads = 0

    def __getitem__(self, index: Any) -> Any:
        CountingList.reads += 1
        return super().__getitem__(index)


def test_a_page_costs_a_bisection_not_a_scan() -> None:
    n = 20_000
    keys = CountingList((f"{i:08d}", f"id{i}") for i in range(n))
    items = list(range(n))
    CountingList.reads = 0
    page = paginate(keys, items, limit=100, after=keys[12_345])
    assert page.items == list(range(12_344, 12_244, -1))
    assert CountingList.reads < 40


def make_messages(
    state: MockPostman, campaign: Any, count: Any, recipient: Any = lambda i: f"6590{i:06d}"
) -> Any:
    return [
        state.create_message(campaign, recipient(i), "english", {"otp": str(i)})
        for i in range(count)
    ]


async def test_list_pages_forward_and_back(
    api: Api, state: MockPostman, server: MockServer
) -> None:
    messages = make_messages(state, server.campaign, 25)
    newest_first = [m.id for m in reversed(messages)]
    pages = []
    status, body = await api.call("GET", "/messages", params={"limit": "10"})
    assert status == 200
    pages.append(body)
    while body["pageData"]["hasNextPage"]:
        params = {"limit": "10", "after": body["pageData"]["endCursor"]}
        _, body = await api.call("GET", "/messages", params=params)
        pages.append(body)
    assert [len(p["data"]) for p in pages] == [10, 10, 5]
    assert [m["id"] for p in pages for m in p["data"]] == newest_first
    assert [p["pageData"]["hasPreviousPage"] for p in pages] == [False, True, True]
    params = {"limit": "10", "before": pages[-1]["pageData"]["startCursor"]}
    _, back = await api.call("GET", "/messages", params=params)
    assert back["data"] == pages[1]["data"]
    assert back["pageData"] == pages[1]["pageData"]
    first = pages[0]["data"][0]
    assert list(first) == [
        *MESSAGE_FIELDS,
        "templateBody",
        "batches",
        "language",
    ]
    assert decode_cursor(pages[0]["pageData"]["startCursor"]) == (first["createdAt"], first["id"])


async def test_limit_is_required_unless_lenient(
    api: Api, state: MockPostman, server: MockServer
) -> None:
    make_messages(state, server.campaign, 150, recipient=lambda i: f"659{i % 2}{i:06d}")
    status, body = await api.call("GET", "/messages")
    assert status == 400
    assert body["error"]["code"] == "parameter_invalid"
    assert "limit is required" in body["error"]["message"]
    _, created = await api.batch("recipient,language,otp\n6591234567,english,1\n")
    status, _ = await api.call("GET", f"/batch/{created['batchId']}/messages")
    assert status == 400
    state.leniency = Leniency(limit_optional=True)
    _, body = await api.call("GET", "/messages")
    assert len(body["data"]) == 100


async def test_list_search(api: Api, state: MockPostman, server: MockServer) -> None:
    make_messages(state, server.campaign, 150, recipient=lambda i: f"659{i % 2}{i:06d}")
    _, body = await api.call("GET", "/messages", params={"search": "6591", "limit": "1000"})
    assert len(body["data"]) == 75
    assert all("6591" in m["recipient"] for m in body["data"])
    assert body["pageData"]["hasNextPage"] is False
    _, body = await api.call("GET", "/messages", params={"search": "6591", "limit": "30"})
    seen = [m["id"] for m in body["data"]]
    params = {"search": "6591", "limit": "30", "after": body["pageData"]["endCursor"]}
    _, body = await api.call("GET", "/messages", params=params)
    seen += [m["id"] for m in body["data"]]
    assert len(set(seen)) == 60


async def test_empty_list_has_null_cursors(api: Api) -> None:
    status, body = await api.call("GET", "/messages", params={"limit": "5"})
    assert status == 200
    assert body == {
        "data": [],
        "pageData": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "1001"}, {"limit": "ten"}, {"after": "garbage"}, {"before": "%%"}],
)
async def test_invalid_list_parameters(api: Api, params: Any) -> None:
    status, body = await api.call("GET", "/messages", params=params)
    assert status == 400
    assert body["error"]["code"] == "parameter_invalid"


async def test_after_and_before_together_are_refused(
    api: Api, state: MockPostman, server: MockServer
) -> None:
    make_messages(state, server.campaign, 3)
    _, body = await api.call("GET", "/messages", params={"limit": "1"})
    cursor = body["pageData"]["endCursor"]
    status, body = await api.call("GET", "/messages", params={"after": cursor, "before": cursor})
    assert status == 400
    assert body["error"]["code"] == "parameter_invalid"


async def test_listing_ten_thousand_messages_stays_fast(
    api: Api, state: MockPostman, server: MockServer
) -> None:
    messages = make_messages(state, server.campaign, 10_000)
    cursor = encode_cursor(messages[5000].key)
    status, body = await api.call("GET", "/messages", params={"limit": "50", "after": cursor})
    assert status == 200
    assert [m["id"] for m in body["data"]] == [m.id for m in messages[4999:4949:-1]]
