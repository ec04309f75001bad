"""Commands on batches: ``batch`` (check, upload, follow), ``retry-batch`` and ``export``."""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import tempfile
from collections.abc import Iterator
from typing import IO

from .._batch import TEST_MAX_ROWS
from .._client import PostmanClient
from .._models import BatchReceipt
from ._config import UsageError, resolve_base_url
from ._csvcheck import CsvReport, check_file
from ._follow import finish, follow
from ._listing import iter_messages
from ._output import csv_writer, json_line, message_record
from ._progress import Tally
from ._session import Context


def _row_limit(ctx: Context) -> int | None:
    """20 rows on the test environment, else no local cap."""
    if ctx.config is not None:
        url = ctx.config.base_url
    else:  # --dry-run may run without a campaign or key
        try:
            url, _ = resolve_base_url(ctx.args, os.environ)
        except UsageError:
            return None
    return TEST_MAX_ROWS if url.rstrip("/") == PostmanClient.TEST_URL else None


def _check(ctx: Context, path: pathlib.Path) -> CsvReport:
    try:
        report = check_file(path, max_rows=_row_limit(ctx))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    for line, problem in report.problems:
        where = f"{path}:{line}" if line else str(path)
        ctx.out.note(f"{where}: {problem}")
    if report.more:
        ctx.out.note(f"{path}: ... and {report.more} more problems")
    if not report.ok:
        count = len(report.problems) + report.more
        raise UsageError(
            f"{path}: {count} problem{'s' if count > 1 else ''} found; nothing was uploaded"
        )
    return report


async def batch(ctx: Context) -> int:
    """``batch FILE.csv``: check every row locally, upload, and with ``--wait`` follow it."""
    path = pathlib.Path(ctx.args.file)
    report = _check(ctx, path)
    variables = ", ".join(report.variables) or "none"
    if ctx.args.dry_run:
        if ctx.json:
            line = {"kind": "check", "file": str(path), "rows": report.rows, "ok": True}
            ctx.out.print(json_line(line))
        else:
            ctx.out.print(
                f"{path}: {report.rows} rows, variables {variables}: ready to upload "
                "(dry run, nothing sent)"
            )
        return 0
    async with ctx.campaign() as campaign:
        if not ctx.json:
            ctx.out.print(f"uploading {path} ({report.rows} rows, variables {variables})")
        receipt = await campaign.send_batch(path)
        _print_receipt(ctx, receipt)
        if not ctx.args.wait or receipt.batch_id is None:
            return 0
        tally = await follow(
            ctx,
            campaign,
            title=f"batch {receipt.batch_id}",
            batch=receipt,
            expected=receipt.num_rows,
        )
    return finish(ctx, tally)


def _print_receipt(ctx: Context, receipt: BatchReceipt) -> None:
    if ctx.json:
        record = {
            "kind": "batch",
            "batch_id": receipt.batch_id,
            "rows": receipt.num_rows,
            "has_unicode": receipt.file_has_unicode,
            "has_expensive_characters": receipt.file_has_avoidable_expensive_character,
        }
        ctx.out.print(json_line(record))
        return
    ctx.out.print(f"accepted batch {receipt.batch_id}: {receipt.num_rows} rows")
    if receipt.file_has_avoidable_expensive_character:
        ctx.out.note("note: the file has characters that make every SMS cost more")
    if not ctx.args.wait:
        ctx.out.print(f"follow it with: postman-async watch --batch {receipt.batch_id}")


async def retry_batch(ctx: Context) -> int:
    """``retry-batch BATCH_ID``: re-attempt every failed message of a batch."""
    batch_id: str = ctx.args.batch_id
    async with ctx.campaign() as campaign:
        await campaign.retry_batch(batch_id)
        if ctx.json:
            ctx.out.print(json_line({"kind": "batch", "batch_id": batch_id, "retried": True}))
        else:
            ctx.out.print(f"retrying the failed messages of batch {batch_id}")
        if not ctx.args.wait:
            return 0
        tally = await follow(ctx, campaign, title=f"batch {batch_id}", batch=batch_id)
    return finish(ctx, tally)


async def export(ctx: Context) -> int:
    """``export --batch BATCH_ID [-o FILE]``: one CSV row per message of the batch.

    The file appears whole or not at all: rows go to a hidden file beside it,
    renamed into place at the end (standard output gets the rows at the end too).
    """
    batch_id: str = ctx.args.batch
    target: str | None = ctx.args.output
    destination = None if target in (None, "-") else pathlib.Path(str(target))
    if destination is not None and destination.is_dir():
        raise UsageError(f"{destination} is a folder; give a file name with -o")
    tally = Tally()
    stream = ctx.out.stdout if destination is not None else ctx.out.stderr
    with _atomic_output(destination, ctx.out.stdout) as handle:
        writer = csv_writer(handle)
        async with (
            ctx.campaign() as campaign,
            ctx.progress(f"export batch {batch_id}", tally, stream) as progress,
            contextlib.aclosing(iter_messages(campaign, batch_id=batch_id)) as messages,
        ):
            async for message in messages:
                record = message_record(message, unmask=ctx.unmask)
                record["batch_id"] = record["batch_id"] or batch_id  # listings may omit it
                writer.writerow(record)
                tally.update(message)
                progress.changed()
    where = str(destination) if destination is not None else "standard output"
    ctx.out.note(f"exported {len(tally.latest)} messages of batch {batch_id} to {where}")
    return 0


@contextlib.contextmanager
def _atomic_output(destination: pathlib.Path | None, stdout: IO[str]) -> Iterator[IO[str]]:
    """Yield a text handle whose content lands in ``destination`` (or stdout) only on success."""
    if destination is None:
        buffer = io.StringIO(newline="")
        yield buffer
        stdout.write(buffer.getvalue())
        stdout.flush()
        return
    folder = destination.parent
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise UsageError(f"cannot write in {folder}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(temp, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
