"""The seam between the request loop and HTTP: one attempt in, one answer out.

A :class:`Transport` performs exactly one HTTP exchange per :meth:`~Transport.handle`:
it reports the request's departure on the attempt's :class:`~postman_async._limits.Grant`,
and either returns the :class:`Response` (any status) or raises
:class:`TransportError` saying whether the request may have reached the server.
Retries, deadlines and rate budget live above it, in
:mod:`postman_async._request`.  :mod:`postman_async._transport` is the aiohttp
implementation; :class:`postman_async.testing.MockTransport` is the test double.
"""

from __future__ import annotations

__all__ = ["Request", "Response", "Transport", "TransportError", "Upload"]

import pathlib
from collections.abc import Mapping, Sequence
from typing import Protocol

import msgspec

from ._errors import PostmanError
from ._limits import Grant
from ._validate import Secret


class Upload(msgspec.Struct, frozen=True):
    """One file of a multipart form: bytes in memory, or a file streamed from disk."""

    #: The form field's name.
    field: str
    #: The file name sent with it.
    filename: str
    #: The content, or a path to stream it from.
    source: bytes | pathlib.Path
    #: Its media type.
    content_type: str = "text/csv"

    def __repr__(self) -> str:
        size = len(self.source) if isinstance(self.source, bytes) else "file"
        return f"Upload({self.field!r}, {self.filename!r}, <{size}>)"


class Request(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt of one API call, as a transport needs it.

    Its ``repr`` shows the method and path only: the query (a phone number in a
    search), the body (numbers, OTPs) and the key stay out of tracebacks.
    """

    #: HTTP method.
    method: str
    #: Absolute URL without the query; path segments already percent-encoded.
    url: str
    #: The bearer key (sent as ``Authorization: Bearer ...``).
    api_key: Secret
    #: Query parameters.
    params: Mapping[str, str] | None = None
    #: A JSON body, already encoded.
    json: bytes | None = None
    #: Text fields of a multipart form (sent with ``uploads``).
    fields: Sequence[tuple[str, str]] = ()
    #: Files of a multipart form.
    uploads: Sequence[Upload] = ()
    #: Seconds the attempt may take, connecting and reading included.
    timeout: float
    #: The attempt's rate-budget slot: the transport calls ``sent()`` as the
    #: request leaves, or ``release()`` if it certainly did not leave.
    grant: Grant

    def __repr__(self) -> str:
        return f"Request({self.method} {self.url.partition('?')[0]})"

    @property
    def has_body(self) -> bool:
        """Whether the request carries a body."""
        return self.json is not None or bool(self.uploads) or bool(self.fields)


class Response(msgspec.Struct, frozen=True, kw_only=True):
    """An HTTP answer: status, the headers the client reads, and the body."""

    #: HTTP status code.
    status: int
    #: The body, already read (and capped).
    body: bytes = b""
    #: Response headers (case-insensitive where the transport provides it).
    headers: Mapping[str, str] = msgspec.field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Response({self.status}, {len(self.body)} bytes)"


class TransportError(Exception):
    """An attempt that got no usable response.

    Attributes:
        error: the :class:`~postman_async.PostmanError` the caller will see.
        sent: whether the request may have reached the server (unknown counts as yes).
        retryable: whether another attempt could succeed.
    """

    def __init__(self, error: PostmanError, *, sent: bool, retryable: bool = True) -> None:
        super().__init__(str(error))
        self.error = error
        self.sent = sent
        self.retryable = retryable


class Transport(Protocol):
    """Performs one HTTP exchange per call (see the module docstring)."""

    async def handle(self, request: Request) -> Response:
        """Send ``request`` once; return the answer or raise :class:`TransportError`."""
        ...

    async def aclose(self) -> None:
        """Release connections; calls under way end with a ClientClosedError."""
        ...
