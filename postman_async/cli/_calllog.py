"""``--verbose``: one log line per HTTP attempt (method, path, outcome, seconds; never the key)."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from .._exchange import Request, Response, Transport, TransportError

logger = logging.getLogger("postman_async.cli")


class LoggedTransport:
    """A transport that logs each attempt of the one it wraps, and otherwise is that one.

    Requests carry no query string here (a search's digits stay out), and the
    key travels in ``request.api_key``, which is never formatted.
    """

    def __init__(self, inner: Transport) -> None:
        self._inner = inner

    async def handle(self, request: Request) -> Response:
        """Send ``request`` through the wrapped transport; log how it went."""
        where = f"{request.method} {urlsplit(request.url).path}"
        started = time.monotonic()
        try:
            response = await self._inner.handle(request)
        except TransportError as exc:
            logger.debug(
                "%s -> %s after %.3f s", where, type(exc.error).__name__, time.monotonic() - started
            )
            raise
        logger.debug("%s -> %d in %.3f s", where, response.status, time.monotonic() - started)
        return response

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._inner.aclose()
