"""One event loop per client, and a warning for a client dropped while open.

A client's connections, limiters and trackers belong to the event loop it
first ran a call on.  :class:`LoopBinding` records that loop and refuses any
other at once with :class:`~postman_async.WrongEventLoopError`, instead of
hanging the second loop or raising asyncio's bare ``RuntimeError``.

Where each client was created (``file:line`` of the first frame outside this
package) is recorded when it is created, always: one walk up a few frames,
microseconds.  A client that ran calls and is garbage collected while still
open warns with a :class:`ResourceWarning` naming that place, and closes
its connections without a loop.
"""

from __future__ import annotations

__all__ = ["LoopBinding", "creation_site"]

import asyncio
import os
import sys
import types

from ._errors import WrongEventLoopError

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def creation_site() -> str:
    """``file:line`` of the innermost caller outside this package (``"unknown"`` if none)."""
    frame: types.FrameType | None
    try:
        frame = sys._getframe(1)
    except ValueError:  # pragma: no cover - no Python frames (embedded interpreters)
        return "unknown"
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_DIR):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "unknown"


class LoopBinding:
    """The event loop a client belongs to: the first one it ran a call on."""

    __slots__ = ("loop", "origin")

    def __init__(self, origin: str | None = None) -> None:
        #: The loop, once bound.
        self.loop: asyncio.AbstractEventLoop | None = None
        #: Where the client was created, ``file:line`` (``None``: not made by a client).
        self.origin = origin

    def check(self) -> asyncio.AbstractEventLoop:
        """The running loop; bind to it on first use; refuse any other at once.

        Raises:
            WrongEventLoopError: the running loop is not the bound one.
        """
        loop = asyncio.get_running_loop()
        bound = self.loop
        if bound is loop:
            return loop
        if bound is None:
            self.loop = loop
            return loop
        raise self.error(bound)

    def foreign(self) -> asyncio.AbstractEventLoop | None:
        """The bound loop if the running one is another, else ``None``."""
        bound = self.loop
        if bound is None or bound is asyncio.get_running_loop():
            return None
        return bound

    def error(self, bound: asyncio.AbstractEventLoop) -> WrongEventLoopError:
        """The error for a call made from another loop than ``bound``."""
        state = "has closed since" if bound.is_closed() else "is another one"
        return WrongEventLoopError(
            f"this PostmanClient (created at {self.origin or 'unknown'}) belongs to the event "
            f"loop it first ran on, and that loop {state}: a client cannot move between loops "
            "(threads, or a second asyncio.run). Create one PostmanClient per event loop"
        )
