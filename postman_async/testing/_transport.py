"""MockTransport: answer the client's requests with a function, no sockets.

The test double of the client's HTTP seam, in the manner of httpx's
``MockTransport``: every attempt the client makes is handed to ``handler``,
which returns a :class:`Response` (or raises :class:`TransportError` to act
out a dropped connection).  Retries, rate budget, deadlines and decoding all
run for real above it.

Example::

    def handler(request: Request) -> Response:
        return Response(status=201, body=b'{"id": "message_1", "latestStatus": "created"}')

    client = PostmanClient(transport=MockTransport(handler))
"""

from __future__ import annotations

__all__ = ["MockTransport", "Request", "Response", "TransportError"]

import inspect
from collections.abc import Awaitable, Callable

from .._errors import ClientClosedError
from .._exchange import Request, Response, TransportError

Handler = Callable[[Request], "Response | Awaitable[Response]"]


class MockTransport:
    """A transport whose answers come from ``handler(request)`` (sync or async).

    The request counts as sent (its rate-budget grant is reported) just
    before the handler runs.  Every request is kept in :attr:`requests`.

    Args:
        handler: returns the :class:`Response` for a :class:`Request`, or raises
            :class:`TransportError` (for example
            ``TransportError(APIConnectionError("reset"), sent=True)``).
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        #: Every request handed to the transport, in order.
        self.requests: list[Request] = []
        #: Whether :meth:`aclose` was called.
        self.closed = False

    def __repr__(self) -> str:
        return f"<MockTransport requests={len(self.requests)}>"

    async def handle(self, request: Request) -> Response:
        """Record ``request``, report it sent, and return the handler's answer."""
        if self.closed:
            request.grant.release()
            raise TransportError(
                ClientClosedError("the transport is closed"), sent=False, retryable=False
            )
        self.requests.append(request)
        request.grant.sent()
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer

    async def aclose(self) -> None:
        """Refuse later requests."""
        self.closed = True
