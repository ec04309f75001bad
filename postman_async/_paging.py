"""One cursor walk and one paginator, for every listing.

:class:`CursorWalk` is pure: given each page's next cursor and a fingerprint
of its content, it says whether to go on, and stops a walk that a server
sends round in a circle (a cursor seen before, or a page seen before), which
would otherwise read pages and yield duplicates forever.

:class:`Paginator` is what listing methods return: ``await`` it for the first
page, or ``async for`` over it for every item, pages fetched as needed.
"""

from __future__ import annotations

__all__ = ["CursorWalk", "Paginator", "RepeatedPageError"]

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Hashable, Sequence
from typing import Generic, TypeVar

from ._errors import ResponseDecodeError

_P = TypeVar("_P")
_I = TypeVar("_I")


class RepeatedPageError(ResponseDecodeError):
    """A listing sent a cursor or a page it had sent before: following it would never end."""


class CursorWalk:
    """Decides, page after page, whether a listing goes on (pure, no I/O).

    Args:
        where: names the listing in error messages.
    """

    __slots__ = ("_cursors", "_pages", "where")

    def __init__(self, where: str) -> None:
        self.where = where
        self._cursors: set[str] = set()
        self._pages: set[Hashable] = set()

    def advance(self, fingerprint: Hashable, next_cursor: str | None, *, empty: bool) -> str | None:
        """Take one page; return the cursor of the next, or ``None`` at the end.

        Args:
            fingerprint: what identifies the page's content (e.g. its first and
                last item IDs); a page seen before ends the walk with an error.
            next_cursor: the page's cursor to the next one (``None``: no more).
            empty: the page has no items (a listing ends there, whatever it says).

        Raises:
            RepeatedPageError: the server sent a page or a cursor twice.
        """
        self.take(fingerprint, empty=empty)
        return self.follow(next_cursor, empty=empty)

    def take(self, fingerprint: Hashable, *, empty: bool) -> None:
        """Note a page's content; raise :class:`RepeatedPageError` if it was seen before."""
        if not empty:
            if fingerprint in self._pages:
                raise self._repeated("the same page")
            self._pages.add(fingerprint)

    def follow(self, next_cursor: str | None, *, empty: bool) -> str | None:
        """The cursor to follow after a page, or ``None`` at the end; refuse one seen before."""
        if empty or not next_cursor:
            return None
        if next_cursor in self._cursors:
            raise self._repeated("a cursor it had sent before")
        self._cursors.add(next_cursor)
        return next_cursor

    def _repeated(self, what: str) -> RepeatedPageError:
        return RepeatedPageError(
            f"{self.where}: Postman returned {what}; stopped to avoid an endless listing",
            status=200,
            body=b"",
        )


class Paginator(Generic[_P, _I]):
    """A listing: ``await`` it for the first page, ``async for`` for every item.

    Example::

        page = await otp.list_messages(limit=100)        # one request
        async for message in otp.list_messages():        # as many as it takes
            ...
    """

    __slots__ = ("_after", "_fetch", "_fingerprint", "_items", "_next", "_where")

    def __init__(
        self,
        *,
        fetch: Callable[[str | None], Awaitable[_P]],
        items: Callable[[_P], Sequence[_I]],
        next_cursor: Callable[[_P], str | None],
        fingerprint: Callable[[_P], Hashable],
        after: str | None = None,
        where: str,
    ) -> None:
        self._fetch = fetch
        self._items = items
        self._next = next_cursor
        self._fingerprint = fingerprint
        self._after = after
        self._where = where

    def __repr__(self) -> str:
        return f"<Paginator {self._where}>"

    def __await__(self) -> Generator[object, None, _P]:
        return self._fetch(self._after).__await__()

    def __aiter__(self) -> AsyncIterator[_I]:
        return self._walk()

    async def pages(self) -> AsyncIterator[_P]:
        """Every page in turn, from the first."""
        walk = CursorWalk(self._where)
        cursor = self._after
        while True:
            page = await self._fetch(cursor)
            empty = not self._items(page)
            walk.take(self._fingerprint(page), empty=empty)  # a repeated page is never yielded
            yield page
            cursor = walk.follow(self._next(page), empty=empty)
            if cursor is None:
                return

    async def _walk(self) -> AsyncIterator[_I]:
        async for page in self.pages():
            for item in self._items(page):
                yield item
