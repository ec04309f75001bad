"""The one place the command line lists messages (the listing API's shape lives here only)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from .._campaign import Campaign
from .._models import Message

#: The most messages one list page may hold.
MAX_PAGE_SIZE = 1000


async def iter_messages(
    campaign: Campaign,
    *,
    batch_id: str | None = None,
    search: str | None = None,
    page_size: int = MAX_PAGE_SIZE,
) -> AsyncGenerator[Message, None]:
    """Every message of the campaign (or of one batch), newest first, pages fetched as needed.

    Close it (``contextlib.aclosing``) when stopping early.
    """
    if batch_id is None:
        source = campaign.list_messages(search=search, limit=page_size)
    else:
        source = campaign.list_batch_messages(batch_id, search=search, limit=page_size)
    iterator = aiter(source)
    try:
        async for message in iterator:
            yield message
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
