"""Following email statuses: pure rules, and a poller that reads them cheaply.

Postman applies the mail provider's events with no ordering guard, so a late
``SENT`` can overwrite ``DELIVERED``.  :func:`forward` never lets a report move
a message backwards (see :attr:`EmailStatus.rank`).  :class:`EmailFollower`
reads statuses by listing everything created since the oldest followed email,
oldest first and 1,000 a page, so following a thousand emails costs about one
read a round; it falls back to one GET per email when that is cheaper.  It
depends on the small :class:`EmailReader` protocol, not on the account handle.
"""

from __future__ import annotations

__all__ = ["EmailFollower", "EmailReader", "forward", "settled"]

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterable
from typing import Protocol

from ._email_models import EmailMessage, EmailPage, EmailStatus

#: Listing from this long before the oldest followed email: the server's
#: clock may run behind the one that stamped what we know.
CLOCK_SKEW_ALLOWANCE = dt.timedelta(seconds=5)
#: Page size of status reads.
READ_PAGE = 1000


def forward(known: EmailMessage | None, seen: EmailMessage) -> EmailMessage | None:
    """Return ``seen`` if it moves the message on from ``known``, else ``None``.

    A status of a higher :attr:`~EmailStatus.rank` moves it on; the same or a
    lower rank does not (a late event overwriting a later status is ignored,
    and of ``BOUNCED`` and ``COMPLAINT`` the first reported stays).
    """
    if known is None or seen.status.rank > known.status.rank:
        return seen
    return None


def settled(message: EmailMessage, until: EmailStatus) -> bool:
    """Whether ``message`` needs no more following for a wait ``until`` a status.

    True once it reached ``until``'s rank, bounced or drew a complaint, or was
    refused after being stored (``UNSENT`` with an ``error_code``).
    """
    return message.status.rank >= until.rank or message.is_failed


class EmailReader(Protocol):
    """What the follower reads through (an account's status reads)."""

    async def read_one(self, email_id: str) -> EmailMessage:
        """One email, by ID."""
        ...

    async def read_since(self, since: dt.datetime, offset: int) -> EmailPage:
        """A page of the account's emails created at or after ``since``, oldest first."""
        ...


class EmailFollower:
    """Polls until every followed email is settled, yielding each forward move.

    Args:
        reader: where statuses are read.
        messages: what :meth:`EmailAccount.send` returned, or bare IDs (read once by GET
            to learn when they were created).
        until: the status that settles a message (bounces and complaints always do).
        interval: seconds between rounds of reads.
    """

    __slots__ = ("_interval", "_known", "_pending", "_reader", "_until", "reads")

    def __init__(
        self,
        reader: EmailReader,
        messages: Iterable[EmailMessage | str],
        *,
        until: EmailStatus,
        interval: float,
    ) -> None:
        self._reader = reader
        self._until = until
        self._interval = interval
        #: The latest state reported per ID (``None``: not read yet).
        self._known: dict[str, EmailMessage | None] = {}
        for item in messages:
            if isinstance(item, EmailMessage):
                self._known[item.id] = item
            else:
                self._known.setdefault(item, None)
        self._pending = {
            i for i, m in self._known.items() if m is None or not settled(m, self._until)
        }
        #: Read calls made so far.
        self.reads = 0

    @property
    def until(self) -> EmailStatus:
        """The status that settles a followed email."""
        return self._until

    @property
    def count(self) -> int:
        """How many emails are followed."""
        return len(self._known)

    @property
    def latest(self) -> dict[str, EmailMessage]:
        """The latest state of every followed email read or given so far."""
        return {i: m for i, m in self._known.items() if m is not None}

    @property
    def pending(self) -> set[str]:
        """IDs not settled yet."""
        return set(self._pending)

    async def follow(self) -> AsyncIterator[EmailMessage]:
        """Yield each email when it moves forward; end when all are settled."""
        unread = [i for i, m in self._known.items() if m is None]
        for email_id in unread:
            for moved in self._take(await self._read_one(email_id)):
                yield moved
        while self._pending:
            await asyncio.sleep(self._interval)
            async for moved in self._round():
                yield moved

    async def _round(self) -> AsyncIterator[EmailMessage]:
        """Read every pending email once, by listing or by GET, whichever costs less."""
        stamps = [m.created_at if (m := self._known[i]) else None for i in self._pending]
        wanted = set(self._pending)
        if len(wanted) > 1 and all(stamps):
            since = min(s for s in stamps if s is not None) - CLOCK_SKEW_ALLOWANCE
            offset = pages = 0
            while wanted and pages < len(wanted):  # beyond that, GETs cost less
                page = await self._reader.read_since(since, offset)
                self.reads += 1
                pages += 1
                for message in page.messages:
                    if message.id in wanted:
                        wanted.discard(message.id)
                        for moved in self._take(message):
                            yield moved
                if not page.has_more or not page.messages:
                    break
                offset += len(page.messages)
        for email_id in sorted(wanted & self._pending):
            for moved in self._take(await self._read_one(email_id)):
                yield moved

    async def _read_one(self, email_id: str) -> EmailMessage:
        self.reads += 1
        return await self._reader.read_one(email_id)

    def _take(self, seen: EmailMessage) -> list[EmailMessage]:
        moved = forward(self._known.get(seen.id), seen)
        if moved is None:
            return []
        self._known[seen.id] = moved
        if settled(moved, self._until):
            self._pending.discard(moved.id)
        return [moved]
