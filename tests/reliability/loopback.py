"""What every raw loopback server of the reliability suite shares: its lifetime.

A server keeps the set of its running handler tasks and a ``stop`` event its
handlers wait on instead of sleeping.  :meth:`LoopbackServer.listening` serves
on 127.0.0.1 for a block and, leaving it, sets ``stop`` and lets every handler
end (no "Task was destroyed" and no cancelled handler to log);
:meth:`LoopbackServer.handling` wraps one handler so it is counted while it
runs and its connection is closed after.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass(kw_only=True)
class LoopbackServer:
    """A server on 127.0.0.1: its port, its ``stop`` event and its running handlers."""

    port: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        """The API base to give ``PostmanClient(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/api/v2"

    @contextlib.asynccontextmanager
    async def listening(self, handle: Handler, **options: Any) -> AsyncIterator[None]:
        """Serve ``handle`` on a free port until the block ends, then let every handler end."""
        listener = await asyncio.start_server(handle, "127.0.0.1", 0, **options)
        self.port = listener.sockets[0].getsockname()[1]
        try:
            yield
        finally:
            self.stop.set()
            listener.close()
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=5)
            await listener.wait_closed()

    @contextlib.asynccontextmanager
    async def handling(
        self, writer: asyncio.StreamWriter, ignore: tuple[type[BaseException], ...]
    ) -> AsyncIterator[None]:
        """Count the running handler in; end quietly on ``ignore``; close the connection."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            yield
        except ignore:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._tasks.discard(task)
