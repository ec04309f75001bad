"""Commands on single messages: ``send``, ``status``, ``retry`` and ``watch``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .._campaign import Campaign
from .._models import Attempt, Message, MessageStatus
from .._tracking import MAX_ATTEMPTS
from ._config import UsageError
from ._follow import emit, finish, follow
from ._meanings import DELIVERY_ERRORS, meaning
from ._output import message_record
from ._session import Context


def parse_values(pairs: Sequence[str] | None) -> dict[str, str]:
    """``["otp=123456", "name=Tan"]`` -> ``{"otp": "123456", "name": "Tan"}``."""
    values: dict[str, str] = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            # The text is not echoed: it may be a value (an OTP) missing its name.
            raise UsageError("-v takes NAME=VALUE, e.g. -v otp=123456")
        name = name.strip()
        if name in values:
            raise UsageError(f"template variable {name!r} is given twice")
        values[name] = value
    return values


async def send(ctx: Context) -> int:
    """``send RECIPIENT -v NAME=VALUE...``: send one SMS; with ``--wait``, follow it."""
    values = parse_values(ctx.args.value)
    if not values:
        raise UsageError("give the template values with -v NAME=VALUE (e.g. -v otp=123456)")
    async with ctx.campaign() as campaign:
        message = await campaign.send(ctx.args.recipient, values, language=ctx.args.language)
        return await _emit_and_follow(ctx, campaign, message, verb="sent")


async def _emit_and_follow(ctx: Context, campaign: Campaign, message: Message, verb: str) -> int:
    """Print ``message`` (``verb`` first); with ``--wait``, follow it until final."""
    emit(ctx, message, verb=verb)
    if not ctx.args.wait:
        return 0
    tally = await follow(ctx, campaign, title=f"message {message.id}", messages=[message])
    return finish(ctx, tally)


async def status(ctx: Context) -> int:
    """``status MESSAGE_ID``: status, attempts, error code and what it means."""
    async with ctx.campaign() as campaign:
        message = await campaign.get_message(ctx.args.message_id)
    if ctx.json:
        emit(ctx, message)
        return 0
    ctx.out.print(describe(message, unmask=ctx.unmask))
    return 0


def describe(message: Message, *, unmask: bool = False) -> str:
    """The human answer of ``status``: one field per line, then one line per attempt."""
    record = message_record(message, unmask=unmask)
    lines = [
        f"message    {message.id}",
        f"recipient  {record['recipient'] or '-'}",
        f"status     {message.latest_status.value}",
    ]
    code = message.error_code
    if code:
        kind = f" ({message.error_type})" if message.error_type else ""
        lines.append(f"error      {code}{kind}: {meaning(code)}")
    attempts = record["attempts"] or 0
    lines.append(f"attempts   {attempts} of {MAX_ATTEMPTS}")
    for name in ("language", "batch_id", "created_at", "updated_at"):
        label = name.removesuffix("_id").removesuffix("_at").replace("_", " ")
        lines.append(f"{label:<10} {record[name] or '-'}")
    count = len(message.attempts)
    for number, attempt in enumerate(message.attempts):
        lines.append(f"  attempt {count - number}: {_attempt_line(attempt)}")
    if message.latest_status is MessageStatus.FAILURE:
        lines.append(_next_step(message, int(str(attempts))))
    return "\n".join(lines)


def _attempt_line(attempt: Attempt) -> str:
    parts = [attempt.status.value]
    for label, when in (
        ("created", attempt.created_at),
        ("sent", attempt.sent_at),
        ("delivered", attempt.delivered_at),
    ):
        if when is not None:
            parts.append(f"{label} {when.isoformat()}")
    if attempt.error_code:
        parts.append(f"error {attempt.error_code}")
    return ", ".join(parts)


def _next_step(message: Message, attempts: int) -> str:
    if attempts >= MAX_ATTEMPTS:
        return "next: it had its 3 attempts; send a new message if it is still needed"
    code = message.error_code or ""
    if code in DELIVERY_ERRORS and "do not retry" in DELIVERY_ERRORS[code]:
        return "next: do not retry; fix the number or the content and send a new message"
    return f"next: postman-async retry {message.id}"


async def retry(ctx: Context) -> int:
    """``retry MESSAGE_ID``: re-attempt a failed message; with ``--wait``, follow it."""
    async with ctx.campaign() as campaign:
        message = await campaign.retry(ctx.args.message_id)
        return await _emit_and_follow(ctx, campaign, message, verb="retried")


async def watch(ctx: Context) -> int:
    """``watch MESSAGE_ID... | --batch BATCH_ID``: live counts by status until all are final."""
    given: list[str] = ctx.args.message_ids or []
    if given == ["-"]:  # e.g. postman-async list --format json | jq -r .id | ... watch -
        given = [line.strip() for line in sys.stdin if line.strip()]
        if not given:
            raise UsageError("no message IDs on standard input")
    ids = list(dict.fromkeys(given))
    batch: str | None = ctx.args.batch
    if bool(ids) == bool(batch):
        raise UsageError("give message IDs or --batch BATCH_ID (one of the two)")
    title = f"batch {batch}" if batch else f"{len(ids)} message{'s' if len(ids) > 1 else ''}"
    async with ctx.campaign() as campaign:
        tally = await follow(
            ctx, campaign, title=title, messages=ids, batch=batch, expected=len(ids) or None
        )
    return finish(ctx, tally)
