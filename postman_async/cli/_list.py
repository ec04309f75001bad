"""The ``list`` command: the campaign's (or a batch's) messages, newest first."""

from __future__ import annotations

import contextlib
import datetime as dt
import re

from .._models import SGT, Message
from ._config import UsageError
from ._listing import MAX_PAGE_SIZE, iter_messages
from ._output import TABLE_COLUMNS, csv_writer, json_line, message_record, table
from ._session import Context

_AGE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"2d"``, ``"1w"`` ago, or an ISO date or date-time.

    A date-time without a time zone is Singapore time, as Postman's are.

    Raises:
        UsageError: ``text`` is neither.
    """
    now = now or dt.datetime.now(dt.UTC)
    match = _AGE.fullmatch(text.strip().lower())
    if match:
        try:
            return now - dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
        except OverflowError:
            raise UsageError(f"--since {text.strip()} is further back than dates go") from None
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since takes an age (30s, 15m, 1h, 2d, 1w) or a date (2025-01-31T09:00); "
            f"got {text!r}"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=SGT)


async def list_messages(ctx: Context) -> int:
    """``list [--search DIGITS] [--batch ID] [--since AGE] [--limit N] [--format ...]``."""
    limit: int = ctx.args.limit
    search: str | None = ctx.args.search
    if search is not None and not (search.isascii() and search.isdigit()):
        raise UsageError("--search matches recipient numbers: give digits only, e.g. 9123")
    since = parse_since(ctx.args.since) if ctx.args.since else None
    found: list[Message] = []
    async with (
        ctx.campaign() as campaign,
        contextlib.aclosing(
            iter_messages(
                campaign,
                batch_id=ctx.args.batch,
                search=search,
                page_size=min(limit, MAX_PAGE_SIZE),
            )
        ) as messages,
    ):
        async for message in messages:
            if since is not None and message.created_at is not None and message.created_at < since:
                break  # newest first: the rest are older still
            found.append(message)
            if len(found) >= limit:
                break
    records = [message_record(m, unmask=ctx.unmask) for m in found]
    for record in records:  # a batch's listing may not say which batch it is
        record["batch_id"] = record["batch_id"] or ctx.args.batch
    style: str = ctx.args.format
    if style == "json":
        for record in records:
            ctx.out.print(json_line({"kind": "message", **record}))
    elif style == "csv":
        writer = csv_writer(ctx.out.stdout)
        for record in records:
            writer.writerow(record)
        ctx.out.stdout.flush()
    elif records:
        ctx.out.print(table(records, TABLE_COLUMNS))
    else:
        ctx.out.note("no messages found")
    return 0
