"""Following messages until they are final, with the progress display; the exit code it implies."""

from __future__ import annotations

from collections.abc import Sequence

from .._campaign import Campaign
from .._models import BatchReceipt, Message, MessageStatus
from ._output import json_line, message_record, short_line
from ._progress import Tally
from ._session import Context

#: Exit code when every message is final but some ended in ``failure``.
EXIT_FAILED = 3
#: Failed messages listed after a follow, at most.
SHOW_FAILED = 20


def emit(ctx: Context, message: Message, verb: str | None = None) -> None:
    """Print one message: a JSON line, or a short human line (``verb`` first)."""
    if ctx.json:
        ctx.out.print(json_line({"kind": "message", **message_record(message, unmask=ctx.unmask)}))
    else:
        line = short_line(message, unmask=ctx.unmask)
        ctx.out.print(f"{verb} {line}" if verb else line)


async def follow(
    ctx: Context,
    campaign: Campaign,
    *,
    title: str,
    messages: Sequence[Message | str] = (),
    batch: BatchReceipt | str | None = None,
    expected: int | None = None,
) -> Tally:
    """Track messages (or a batch) until all are final, showing live counts by status.

    In JSON mode every status change is printed as a message line.
    """
    tally = Tally(expected)
    for item in messages:
        if isinstance(item, Message):
            tally.update(item)
    # Machine output owns stdout: the display then goes to stderr.
    stream = ctx.out.stderr if ctx.json else ctx.out.stdout
    batches = [batch] if batch is not None else []
    async with ctx.progress(title, tally, stream) as progress:
        async for message in campaign.track(messages, batches=batches):
            if tally.update(message):
                progress.changed()
                if ctx.json:
                    emit(ctx, message)
    return tally


def finish(ctx: Context, tally: Tally) -> int:
    """Print the outcome of a follow; return 0, or :data:`EXIT_FAILED` if any failed."""
    if ctx.json:
        summary: dict[str, object] = {
            "kind": "summary",
            "total": tally.total,
            "final": tally.final,
            "failed": tally.failed,
            "by_status": tally.counts(),
        }
        ctx.out.print(json_line(summary))
    else:
        ctx.out.print(f"done: {tally.describe()}")
        failed = [m for m in tally.latest.values() if m.latest_status is MessageStatus.FAILURE]
        for message in failed[:SHOW_FAILED]:
            ctx.out.print(f"  failed {short_line(message, unmask=ctx.unmask)}")
        if len(failed) > SHOW_FAILED:
            ctx.out.print(f"  ... and {len(failed) - SHOW_FAILED} more (postman-async list)")
    return EXIT_FAILED if tally.failed else 0
