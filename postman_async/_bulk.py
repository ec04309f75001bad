"""Bulk single sends: many rows through a fixed pool of workers.

Memory stays proportional to ``concurrency``, not to the number of rows: the
input is pulled one row at a time as a worker frees up, and results are
handed back through a queue bounded by ``concurrency``.  No task or buffer
exists per pending recipient.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import Protocol

import msgspec

from ._errors import PostmanError, ValidationError
from ._models import Language, Message

Row = Mapping[str, object]


class Sender(Protocol):
    """What bulk sending needs: one send (``Campaign.send``)."""

    async def send(
        self,
        recipient: str,
        values: Mapping[str, str],
        *,
        language: Language | str = ...,
        timeout: float | None = ...,
    ) -> Message:
        """Send one message."""
        ...


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one row of :meth:`Campaign.send_many`.

    Exactly one of :attr:`message` and :attr:`error` is set.
    """

    #: Position of the row in the input, from 0.
    index: int
    #: The input row itself, as given.
    row: object
    #: The created message, on success.
    message: Message | None = None
    #: Why the row failed (a ValidationError for bad input; nothing was sent then).
    error: PostmanError | None = None

    def __repr__(self) -> str:
        # The row holds a phone number and template values (often an OTP): never show it.
        outcome = (
            f"message={self.message.id!r}"
            if self.message is not None
            else f"error={type(self.error).__name__}"
        )
        return f"SendResult(index={self.index}, {outcome})"

    @property
    def ok(self) -> bool:
        """Whether the message was created."""
        return self.message is not None


class _Rows:
    """Hands out (index, row) pairs from a sync or async iterable, one at a time."""

    def __init__(self, rows: Iterable[Row] | AsyncIterable[Row]) -> None:
        self._sync: Iterator[Row] | None = None
        self._async: AsyncIterator[Row] | None = None
        if isinstance(rows, AsyncIterable):
            self._async = rows.__aiter__()
        else:
            self._sync = iter(rows)
        self._index = 0
        self._lock = asyncio.Lock()

    async def next(self) -> tuple[int, Row] | None:
        async with self._lock:
            try:
                if self._sync is not None:
                    row = next(self._sync)
                else:
                    assert self._async is not None
                    row = await self._async.__anext__()
            except (StopIteration, StopAsyncIteration):
                return None
            index = self._index
            self._index += 1
            return index, row


def send_many(
    campaign: Sender,
    rows: Iterable[Row] | AsyncIterable[Row],
    *,
    concurrency: int,
    language: Language | str,
    timeout: float | None,
) -> AsyncIterator[SendResult]:
    """Send one SMS per row; yield a :class:`SendResult` per row as each completes.

    The arguments are checked at once (not when iteration starts).
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError(f"concurrency must be a whole number >= 1, got {concurrency!r}")
    if not isinstance(rows, (Iterable, AsyncIterable)) or isinstance(rows, (str, bytes, Mapping)):
        raise ValidationError("rows must be an iterable of mappings (one per message)")
    return _send_all(campaign, _Rows(rows), concurrency, language, timeout)


async def _send_all(
    campaign: Sender,
    source: _Rows,
    concurrency: int,
    language: Language | str,
    timeout: float | None,
) -> AsyncIterator[SendResult]:
    results: asyncio.Queue[SendResult | None] = asyncio.Queue(maxsize=concurrency)

    async def worker() -> None:
        while (item := await source.next()) is not None:
            index, row = item
            await results.put(await _send_row(campaign, index, row, language, timeout))

    async def run_workers() -> None:
        loop = asyncio.get_running_loop()
        workers = [loop.create_task(worker()) for _ in range(concurrency)]
        try:
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            raise  # the consumer left: nobody reads the queue any more
        except BaseException:
            await results.put(None)  # wake the consumer, which re-raises from `runner`
            raise
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        await results.put(None)

    runner = asyncio.get_running_loop().create_task(run_workers())
    try:
        while (result := await results.get()) is not None:
            yield result
        await runner  # re-raise a failure of the input iterable itself
    finally:
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner


async def _send_row(
    campaign: Sender, index: int, row: object, language: Language | str, timeout: float | None
) -> SendResult:
    if not isinstance(row, Mapping):
        error = ValidationError(f"row {index} is a {type(row).__name__}, not a mapping")
        return SendResult(index=index, row=row, error=error)
    try:
        recipient = row.get("recipient")
        values = {k: v for k, v in row.items() if k not in {"recipient", "language"}}
        lang = row.get("language") or language
        message = await campaign.send(
            recipient,  # type: ignore[arg-type]  # validated by send()
            values,
            language=lang,
            timeout=timeout,
        )
    except PostmanError as exc:
        # The result outlives this call: drop the traceback, whose frames hold the row
        # (a number and an OTP) for any renderer that shows locals.
        return SendResult(index=index, row=row, error=exc.with_traceback(None))
    return SendResult(index=index, row=row, message=message)
