"""Campaign's listings: one paginator per listing, over the campaign's page reads."""

from __future__ import annotations

__all__ = ["MAX_PAGE_SIZE", "Lister", "Query"]

from typing import Final

from ._errors import ValidationError
from ._limits import Priority
from ._models import Message, Page
from ._paging import Paginator
from ._validate import check_page_args, check_timeout

#: The most messages one list page may hold.
MAX_PAGE_SIZE: Final = 1000


class Query(dict[str, str]):
    """A listing's query parameters; the repr hides the values (a search is a number)."""

    def __repr__(self) -> str:
        return f"Query({', '.join(self)})"


class Lister:
    """Campaign's listing methods, mixed into :class:`~postman_async.Campaign`.

    The campaign provides :meth:`_read_page` (one page read on the request
    loop) and :meth:`_batch_path`.
    """

    __slots__ = ()

    async def _read_page(
        self, path: str, query: Query, *, timeout: float | None = None, priority: Priority
    ) -> Page:
        raise NotImplementedError

    def _batch_path(self, batch_id: str, suffix: str) -> str:
        raise NotImplementedError

    def list_messages(
        self,
        *,
        search: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        after: str | None = None,
        before: str | None = None,
        timeout: float | None = None,
    ) -> Paginator[Page, Message]:
        """The campaign's messages, newest first: ``await`` for a page, ``async for`` for all.

        Args:
            search: a recipient substring, digits only (``"9123"``).
            limit: messages per page, 1 to 1000 (each page costs one request).
            after: ``page_info.end_cursor`` of a page, to start after it.
            before: ``page_info.start_cursor`` of a page, for the one before it.
            timeout: seconds for each page's call.

        Raises:
            ValidationError: at once, for a bad argument.

        Example::

            page = await otp.list_messages(limit=100)
            async for m in otp.list_messages(search="9123"):
                print(m.id, m.latest_status)
        """
        return self._paginator(
            "/messages", search, limit, after=after, before=before, timeout=timeout
        )

    def list_batch_messages(
        self,
        batch_id: str,
        *,
        search: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        after: str | None = None,
        before: str | None = None,
        timeout: float | None = None,
    ) -> Paginator[Page, Message]:
        """A batch's messages (with their attempts), newest first; as :meth:`list_messages`.

        Example::

            async for m in otp.list_batch_messages(receipt.batch_id):
                print(m.recipient, m.latest_status)
        """
        path = self._batch_path(batch_id, "/messages")
        return self._paginator(path, search, limit, after=after, before=before, timeout=timeout)

    def _paginator(
        self,
        path: str,
        search: str | None,
        limit: int,
        *,
        after: str | None,
        before: str | None,
        timeout: float | None,
    ) -> Paginator[Page, Message]:
        check_page_args(search, limit, MAX_PAGE_SIZE)
        for name, cursor in (("after", after), ("before", before)):
            if cursor is not None and (not isinstance(cursor, str) or not cursor):
                raise ValidationError(f"{name} must be a page cursor string, got {cursor!r}")
        if timeout is not None:
            check_timeout(timeout)
        # The closure below keeps only the masked query: a search may be a whole number.
        base = Query(limit=str(limit))
        if search is not None:
            base["search"] = search

        async def fetch(cursor: str | None) -> Page:
            query = Query(base)
            if cursor is not None:
                query["after"] = cursor
            if before is not None and cursor is after:
                query["before"] = before
            return await self._read_page(path, query, timeout=timeout, priority=Priority.READ)

        return Paginator(
            fetch=fetch,
            items=_page_messages,
            next_cursor=_next_cursor,
            fingerprint=_fingerprint,
            after=after,
            where=f"GET {path}",
        )


def _page_messages(page: Page) -> tuple[Message, ...]:
    return page.messages


def _next_cursor(page: Page) -> str | None:
    info = page.page_info
    return info.end_cursor if info.has_next_page else None


def _fingerprint(page: Page) -> tuple[str, str, int]:
    messages = page.messages
    if not messages:
        return ("", "", 0)
    return (messages[0].id, messages[-1].id, len(messages))
