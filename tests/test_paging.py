"""The cursor walk (pure) and the paginator shared by every listing."""

from __future__ import annotations

import pytest

from postman_async import Message, MessageStatus, Page, PageInfo, RepeatedPageError
from postman_async._paging import CursorWalk, Paginator


def _page(ids: list[str], cursor: str | None) -> Page:
    messages = tuple(Message(id=i, latest_status=MessageStatus.SUCCESS) for i in ids)
    return Page(messages, PageInfo(has_next_page=cursor is not None, end_cursor=cursor))


def _paginator(pages: dict[str | None, Page], calls: list[str | None]) -> Paginator[Page, Message]:
    async def fetch(cursor: str | None) -> Page:
        calls.append(cursor)
        return pages[cursor]

    return Paginator(
        fetch=fetch,
        items=lambda p: p.messages,
        next_cursor=lambda p: p.page_info.end_cursor if p.page_info.has_next_page else None,
        fingerprint=lambda p: tuple(m.id for m in p.messages),
        where="GET /messages",
    )


def test_walk_ends_without_a_cursor_or_on_an_empty_page() -> None:
    walk = CursorWalk("GET /x")
    assert walk.advance(("a",), "c1", empty=False) == "c1"
    assert walk.advance(("b",), None, empty=False) is None
    assert CursorWalk("GET /x").advance((), "c9", empty=True) is None


def test_walk_refuses_a_cursor_it_has_seen() -> None:
    walk = CursorWalk("GET /x")
    walk.advance(("a",), "A", empty=False)
    walk.advance(("b",), "B", empty=False)
    with pytest.raises(RepeatedPageError, match="cursor it had sent before"):
        walk.advance(("c",), "A", empty=False)  # A -> B -> A


def test_walk_refuses_a_page_it_has_seen_under_a_new_cursor() -> None:
    walk = CursorWalk("GET /x")
    walk.advance(("a", "b"), "c1", empty=False)
    with pytest.raises(RepeatedPageError, match="the same page"):
        walk.advance(("a", "b"), "c2", empty=False)


async def test_await_gives_the_first_page_only() -> None:
    calls: list[str | None] = []
    pages = {None: _page(["m1", "m2"], "c1"), "c1": _page(["m3"], None)}
    page = await _paginator(pages, calls)
    assert [m.id for m in page.messages] == ["m1", "m2"]
    assert calls == [None]


async def test_async_for_walks_every_page_once() -> None:
    calls: list[str | None] = []
    pages = {None: _page(["m1", "m2"], "c1"), "c1": _page(["m3"], "c2"), "c2": _page([], "c3")}
    ids = [m.id async for m in _paginator(pages, calls)]
    assert ids == ["m1", "m2", "m3"]
    assert calls == [None, "c1", "c2"]


async def test_a_cycle_of_cursors_ends_in_an_error_not_duplicates_forever() -> None:
    calls: list[str | None] = []
    pages = {None: _page(["m1"], "A"), "A": _page(["m2"], "B"), "B": _page(["m3"], "A")}
    seen: list[str] = []

    async def drain() -> None:
        seen.extend([m.id async for m in _paginator(pages, calls)])

    with pytest.raises(RepeatedPageError):
        await drain()
    assert calls == [None, "A", "B"]
    assert seen == []  # the comprehension never finished
    seen.clear()

    async def collect() -> None:
        async for message in _paginator(pages, []):
            seen.append(message.id)  # noqa: PERF401

    with pytest.raises(RepeatedPageError):
        await collect()
    assert seen == ["m1", "m2", "m3"]
    assert len(calls) == 3


async def test_a_repeated_page_is_never_yielded_twice() -> None:
    pages = {None: _page(["m1", "m2"], "c1"), "c1": _page(["m1", "m2"], "c2")}
    seen: list[str] = []

    async def collect() -> None:
        async for message in _paginator(pages, []):
            seen.append(message.id)  # noqa: PERF401

    with pytest.raises(RepeatedPageError, match="the same page"):
        await collect()
    assert seen == ["m1", "m2"]
