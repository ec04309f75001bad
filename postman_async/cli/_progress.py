"""The progress display of long jobs: counts by status and the rate budget in use.

On a terminal, with rich installed (``pip install 'postman-async[cli]'``), a live
table redrawn a few times a second.  Otherwise plain lines: one at the start,
one every few seconds while the counts change, and one at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from .._models import Message, MessageStatus
from ._meter import RateMeter

if TYPE_CHECKING:
    from rich.live import Live

#: Display order of statuses: the lifecycle, then the two final ones.
ORDER = (
    MessageStatus.CREATED,
    MessageStatus.ENQUEUED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.SENT_TO_TELCO,
    MessageStatus.SUCCESS,
    MessageStatus.FAILURE,
)
#: Seconds between plain progress lines (at most; only when something changed).
PLAIN_INTERVAL = 2.0
#: Redraws per second of the live display.
LIVE_REFRESH = 4.0


class Tally:
    """The latest status of every followed message, and counts by status.

    Args:
        expected: how many messages the job has, when known (rows of a batch,
            sends of the demo); the ones not seen yet count as ``pending``.
    """

    def __init__(self, expected: int | None = None) -> None:
        self.expected = expected
        self.latest: dict[str, Message] = {}

    def update(self, message: Message) -> bool:
        """Record a message's state; return whether its status changed."""
        previous = self.latest.get(message.id)
        self.latest[message.id] = message
        return previous is None or previous.latest_status != message.latest_status

    def counts(self) -> dict[str, int]:
        """Messages by status, in lifecycle order (statuses with none left out)."""
        found: dict[str, int] = {}
        for message in self.latest.values():
            status = str(message.latest_status.value)
            found[status] = found.get(status, 0) + 1
        ordered: dict[str, int] = {}
        for known in ORDER:
            name = str(known.value)
            if name in found:
                ordered[name] = found.pop(name)
        ordered.update(sorted(found.items()))
        pending = self.pending
        return {"pending": pending, **ordered} if pending else ordered

    @property
    def pending(self) -> int:
        """Expected messages not seen yet."""
        return max(0, (self.expected or 0) - len(self.latest))

    @property
    def total(self) -> int:
        """Messages expected (or seen, if more)."""
        return max(self.expected or 0, len(self.latest))

    @property
    def final(self) -> int:
        """Messages in ``success`` or ``failure``."""
        return sum(1 for m in self.latest.values() if m.is_final)

    @property
    def failed(self) -> int:
        """Messages in ``failure``."""
        return sum(1 for m in self.latest.values() if m.latest_status is MessageStatus.FAILURE)

    def describe(self) -> str:
        """``"success 10, failure 1, sending 1 (11 of 12 final)"``."""
        counts = ", ".join(f"{status} {n}" for status, n in self.counts().items())
        if not counts:
            return "no messages yet"
        return f"{counts} ({self.final} of {self.total} final)"


def rich_available() -> bool:
    """Whether rich can be imported (the ``cli`` extra)."""
    try:
        return importlib.util.find_spec("rich") is not None
    except (ImportError, ValueError):
        return False


def wants_live(stream: IO[str]) -> bool:
    """Whether to draw a live display on ``stream``: a terminal, not ``TERM=dumb``, rich there."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and os.environ.get("TERM") != "dumb" and rich_available()


class Progress:
    """A live or plain display of a :class:`Tally`, for the length of an ``async with``.

    Call :meth:`changed` after updating the tally; :meth:`note` prints a line
    above the display.

    Args:
        title: what the job is, e.g. ``"batch batch_123"``.
        tally: the counts to show.
        stream: where to draw.
        meter: the rate budget in use, if known.
        live: force live (``True``) or plain (``False``); default: :func:`wants_live`.
    """

    def __init__(
        self,
        title: str,
        tally: Tally,
        stream: IO[str],
        *,
        meter: RateMeter | None = None,
        live: bool | None = None,
    ) -> None:
        self.title = title
        self.tally = tally
        self.stream = stream
        self.meter = meter
        self.live = wants_live(stream) if live is None else live
        self._dirty = True
        self._last_line = ""
        self._live: Live | None = None
        self._ticker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Progress:
        if self.live:
            from rich.console import Console  # noqa: PLC0415 - optional dependency
            from rich.live import Live  # noqa: PLC0415

            console = Console(file=self.stream)
            self._live = Live(
                get_renderable=self._render,
                console=console,
                auto_refresh=False,
                transient=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start(refresh=True)
        else:
            self._plain()
        self._ticker = asyncio.ensure_future(self._tick())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._live is not None:
            self._live.refresh()
            self._live.stop()
            self._live = None
        else:
            self._plain(force=True)

    def changed(self) -> None:
        """The tally changed: redraw soon."""
        self._dirty = True

    def note(self, text: str) -> None:
        """Print one line above the display."""
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=self.stream, flush=True)

    def line(self) -> str:
        """The plain progress line."""
        text = f"{self.title}: {self.tally.describe()}"
        if self.meter is not None:
            text += f"; {self.meter.describe()}"
        return text

    async def _tick(self) -> None:
        interval = 1 / LIVE_REFRESH if self._live is not None else PLAIN_INTERVAL
        while True:
            await asyncio.sleep(interval)
            if self._live is not None:
                self._live.refresh()
            else:
                self._plain()

    def _plain(self, *, force: bool = False) -> None:
        if not (self._dirty or force):
            return
        self._dirty = False
        text = self.line()
        if text != self._last_line:
            self._last_line = text
            print(text, file=self.stream, flush=True)

    def _render(self) -> Any:
        from rich import box  # noqa: PLC0415 - optional dependency
        from rich.console import Group  # noqa: PLC0415
        from rich.progress_bar import ProgressBar  # noqa: PLC0415
        from rich.table import Table  # noqa: PLC0415
        from rich.text import Text  # noqa: PLC0415

        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column("status")
        table.add_column("messages", justify="right")
        for status, count in self.tally.counts().items():
            style = {"success": "green", "failure": "red"}.get(status, "")
            table.add_row(Text(status, style=style), str(count))
        footer = f"{self.tally.final} of {self.tally.total} final"
        if self.meter is not None:
            footer += f"; {self.meter.describe()}"
        bottom = Table.grid(padding=(0, 1))
        if self.tally.total:
            bar = ProgressBar(total=self.tally.total, completed=self.tally.final, width=30)
            bottom.add_row(bar, Text(footer))
        else:
            bottom.add_row(Text(footer))
        return Group(Text(self.title, style="bold"), table, bottom)
