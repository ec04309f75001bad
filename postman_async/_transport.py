"""The one module that talks aiohttp: one HTTP attempt, and aiohttp's exceptions mapped.

:class:`AiohttpTransport` implements :class:`~postman_async._exchange.Transport`.
It reports each request's real departure to its rate-budget grant (through
aiohttp's tracing hooks on a session it creates; on a session the caller
lends, when the answer or the failure arrives, which can only count it late,
never early), reads at most :data:`MAX_BODY_BYTES` of the decoded body, and
translates every aiohttp and OS exception through :data:`EXCEPTION_MAP`.
No lower-level exception is kept as ``__cause__``: aiohttp's texts and reprs
hold the URL with its query (a phone number in a search) and the request
headers (the key).
"""

from __future__ import annotations

__all__ = ["EXCEPTION_MAP", "MAX_BODY_BYTES", "AiohttpTransport", "Failure", "Session"]

import asyncio
import contextlib
import contextvars
import enum
import io
import re
import ssl
from collections.abc import Sequence

import aiohttp
import yarl

from ._errors import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    PostmanError,
    ResponseDecodeError,
    ValidationError,
)
from ._exchange import Request, Response, TransportError, Upload
from ._limits import Grant
from ._version import __version__

#: The aiohttp session type a caller may lend to :class:`~postman_async.PostmanClient`.
Session = aiohttp.ClientSession

#: Largest (decoded) response body read; anything bigger is refused, not buffered.
MAX_BODY_BYTES = 32 * 1024 * 1024
#: Bodies larger than this go to aiohttp as a stream (its own threshold for a warning).
_LARGE_BYTES_BODY = 1024 * 1024
_CHUNK = 64 * 1024

# The grant of the request being sent by the current task (and the tasks it starts,
# such as aiohttp's body writer): the trace hooks find it here.
_DEPARTING: contextvars.ContextVar[_Departure | None] = contextvars.ContextVar(
    "postman_async_departing", default=None
)


class Failure(enum.Enum):
    """How an aiohttp exception is reported: what the caller sees, and whether it was sent."""

    #: The server's certificate was refused: not sent, not worth retrying.
    CERTIFICATE = "certificate"
    #: No connection could be made: not sent, retryable.
    CONNECT = "connect"
    #: Connecting took too long: not sent, retryable.
    CONNECT_TIMEOUT = "connect_timeout"
    #: The server did not answer in time: maybe sent, retryable.
    READ_TIMEOUT = "read_timeout"
    #: The URL was refused before sending: not retryable.
    BAD_URL = "bad_url"
    #: An answer that could not be parsed: sent.
    BAD_RESPONSE = "bad_response"
    #: The connection failed after sending (reset, closed): sent, retryable.
    DROPPED = "dropped"


#: aiohttp's exception classes, most specific first, and how each is reported.
#: ``tests/test_transport.py`` fails if aiohttp exports an exception missing here.
EXCEPTION_MAP: tuple[tuple[type[BaseException], Failure], ...] = (
    (aiohttp.ClientConnectorCertificateError, Failure.CERTIFICATE),
    (aiohttp.ServerFingerprintMismatch, Failure.CERTIFICATE),
    (aiohttp.ClientConnectorSSLError, Failure.CONNECT),
    (aiohttp.ClientSSLError, Failure.CONNECT),
    (aiohttp.ClientConnectorDNSError, Failure.CONNECT),
    (aiohttp.ClientProxyConnectionError, Failure.CONNECT),
    (aiohttp.ClientConnectorError, Failure.CONNECT),
    (aiohttp.ConnectionTimeoutError, Failure.CONNECT_TIMEOUT),
    (aiohttp.SocketTimeoutError, Failure.READ_TIMEOUT),
    (aiohttp.ServerTimeoutError, Failure.READ_TIMEOUT),
    (asyncio.TimeoutError, Failure.READ_TIMEOUT),
    (aiohttp.InvalidUrlRedirectClientError, Failure.BAD_RESPONSE),
    (aiohttp.NonHttpUrlRedirectClientError, Failure.BAD_RESPONSE),
    (aiohttp.InvalidUrlClientError, Failure.BAD_URL),
    (aiohttp.InvalidURL, Failure.BAD_URL),
    (aiohttp.NonHttpUrlClientError, Failure.BAD_URL),
    (aiohttp.RedirectClientError, Failure.BAD_RESPONSE),
    (aiohttp.TooManyRedirects, Failure.BAD_RESPONSE),
    (aiohttp.ClientHttpProxyError, Failure.BAD_RESPONSE),
    (aiohttp.WSServerHandshakeError, Failure.BAD_RESPONSE),
    (aiohttp.ContentTypeError, Failure.BAD_RESPONSE),
    (aiohttp.ClientResponseError, Failure.BAD_RESPONSE),
    (aiohttp.ClientPayloadError, Failure.BAD_RESPONSE),
    (aiohttp.ServerDisconnectedError, Failure.DROPPED),
    (aiohttp.ClientConnectionResetError, Failure.DROPPED),
    (aiohttp.ServerConnectionError, Failure.DROPPED),
    (aiohttp.ClientOSError, Failure.DROPPED),
    (aiohttp.ClientConnectionError, Failure.DROPPED),
    (aiohttp.UploadAbortedError, Failure.DROPPED),
    (aiohttp.EofStream, Failure.DROPPED),
    (aiohttp.WebSocketError, Failure.BAD_RESPONSE),
    (aiohttp.WSMessageTypeError, Failure.BAD_RESPONSE),
    (aiohttp.BadContentDispositionHeader, Failure.BAD_RESPONSE),
    (aiohttp.BadContentDispositionParam, Failure.BAD_RESPONSE),
    (aiohttp.ClientError, Failure.DROPPED),
    (ssl.SSLError, Failure.CONNECT),
    (OSError, Failure.DROPPED),
)


def classify(exc: BaseException) -> Failure | None:
    """The :class:`Failure` for an exception, or ``None`` if it is not a transport failure."""
    for cls, failure in EXCEPTION_MAP:
        if isinstance(exc, cls):
            return failure
    return None


class _Departure:
    """Ties one attempt to its grant, to report when the request really left."""

    __slots__ = ("grant", "has_body", "left")

    def __init__(self, grant: Grant, *, has_body: bool) -> None:
        self.grant = grant
        #: Whether the request carries a body (it then leaves with its first chunk).
        self.has_body = has_body
        #: Whether the request started to leave.
        self.left = False


async def _on_headers_sent(
    session: aiohttp.ClientSession,
    context: object,
    params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    """A request without a body has left (after any connection set-up)."""
    departure = _DEPARTING.get()
    if departure is not None:
        departure.left = True
        if not departure.has_body:
            departure.grant.sent()


async def _on_chunk_sent(
    session: aiohttp.ClientSession,
    context: object,
    params: aiohttp.TraceRequestChunkSentParams,
) -> None:
    """A request with a body has left.

    aiohttp holds such a request's headers back and writes them with the first
    body chunk, in a task of its own: the departure is then, not at "headers sent".
    """
    departure = _DEPARTING.get()
    if departure is not None and departure.has_body:
        departure.left = True
        departure.grant.sent()


class AiohttpTransport:
    """Performs attempts through one aiohttp session.

    Args:
        session: a session to borrow (never closed here), or ``None`` to
            create one on first use.
        connect_timeout: seconds allowed to open a connection, per attempt.
        max_connections: the size of the connection pool of a session created
            here (aiohttp's default is 100).
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        connect_timeout: float = 10.0,
        max_connections: int = 100,
    ) -> None:
        self._max_connections = max_connections
        self._session = session
        self._owns_session = session is None
        self._connect_timeout = connect_timeout
        self._closed = False
        # Responses whose body is being read: aclose() ends them at once instead of
        # leaving the calls to their deadlines.
        self._reading: set[aiohttp.ClientResponse] = set()
        self._user_agent = f"postman-async/{__version__} aiohttp/{aiohttp.__version__}"

    def __repr__(self) -> str:
        return f"<AiohttpTransport {'closed' if self._closed else 'open'}>"

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(_on_headers_sent)
            trace.on_request_chunk_sent.append(_on_chunk_sent)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                headers={"User-Agent": self._user_agent, "Accept": "application/json"},
                raise_for_status=False,
                trace_configs=[trace],
            )
        return self._session

    def abandon(self) -> None:
        """Close a session this transport created without awaiting (its client was dropped).

        Closes the connector synchronously, so neither aiohttp's session nor its
        connector warns in turn: the client's own ResourceWarning says where it
        was created.
        """
        self._closed = True
        session, self._session = self._session, None
        if session is None or not self._owns_session:
            return
        connector = session.connector
        if connector is not None and not connector.closed:
            with contextlib.suppress(Exception):  # a loop closed or in another thread
                connector._close()

    async def aclose(self) -> None:
        """Close the session if this transport created it; end bodies being read."""
        self._closed = True
        for response in self._reading:
            response.content.set_exception(aiohttp.ClientConnectionError("the client was closed"))
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    async def handle(self, request: Request) -> Response:
        """Send ``request`` once (see :class:`~postman_async._exchange.Transport`)."""
        where = f"{request.method} {request.url}"
        if self._closed:
            request.grant.release()
            raise TransportError(
                ClientClosedError(f"{where}: the client is closed"), sent=False, retryable=False
            )
        session = self._get_session()
        if session.closed:  # a borrowed session its owner has closed
            request.grant.release()
            raise TransportError(
                ClientClosedError(
                    f"{where}: the aiohttp session given to PostmanClient(session=...) is closed"
                ),
                sent=False,
                retryable=False,
            )
        departure = _Departure(request.grant, has_body=request.has_body)
        # Only our own session has the hooks; on a borrowed one the departure is
        # reported when the answer (or the failure) arrives: late, never early.
        traced = self._owns_session
        token = _DEPARTING.set(departure if traced else None)
        try:
            return await self._exchange(request, session, departure)
        except asyncio.CancelledError:
            # Closing a session cancels aiohttp's internal waits (a queued request's wait
            # for a pooled connection) without cancelling our task: that is a closed
            # client, not a cancellation the caller asked for.
            self._settle(departure, traced=traced)
            if _being_cancelled() or not (self._closed or session.closed):
                raise
            raise TransportError(
                ClientClosedError(f"{where}: the client was closed during the call"),
                sent=departure.left or not traced,
                retryable=False,
            ) from None
        except TransportError:
            self._settle(departure, traced=traced)
            raise
        except Exception as exc:
            self._settle(departure, traced=traced)
            if self._closed or session.closed:
                raise TransportError(
                    ClientClosedError(f"{where}: the client was closed during the call"),
                    sent=departure.left or not traced,
                    retryable=False,
                ) from None
            failure = classify(exc)
            if failure is None:
                raise
            raise _translate(where, exc, failure, maybe_sent=departure.left or not traced) from None
        finally:
            _DEPARTING.reset(token)

    @staticmethod
    def _settle(departure: _Departure, *, traced: bool) -> None:
        """After a failure: count the request if it may have left, else give its slot back."""
        if departure.left or not traced:
            departure.grant.sent()
        else:
            departure.grant.release()

    async def _exchange(
        self, request: Request, session: aiohttp.ClientSession, departure: _Departure
    ) -> Response:
        form: aiohttp.FormData | None = None
        content_type: dict[str, str] = {}
        files: list[io.BufferedReader] = []
        if request.json is not None:
            content_type["Content-Type"] = "application/json"
        elif request.uploads or request.fields:
            try:
                form = _form(request.fields, request.uploads, files)
            except OSError as exc:
                for file in files:
                    file.close()
                raise TransportError(
                    ValidationError(f"cannot read a file to upload: {exc.strerror}"),
                    sent=False,
                    retryable=False,
                ) from None
        try:
            return await self._send(request, session, departure, form, content_type)
        finally:
            for file in files:
                file.close()

    async def _send(
        self,
        request: Request,
        session: aiohttp.ClientSession,
        departure: _Departure,
        form: aiohttp.FormData | None,
        content_type: dict[str, str],
    ) -> Response:
        remaining = request.timeout
        timeout = aiohttp.ClientTimeout(
            total=remaining, connect=min(remaining, self._connect_timeout)
        )
        async with session.request(
            request.method,
            yarl.URL(request.url, encoded=True),
            params=request.params,
            # The JSON too goes straight in: no local shows the recipient and the values
            # to a traceback rendered with frame locals (the masked Request holds them).
            data=_streamed(request.json) if form is None else form,
            # The key goes straight into aiohttp's call: no local variable holds it.
            headers={"Authorization": "Bearer " + request.api_key.reveal(), **content_type},
            timeout=timeout,
            allow_redirects=False,
            raise_for_status=False,
        ) as resp:
            departure.left = True  # an answer came, so the request certainly left
            departure.grant.sent()  # no-op when the hooks already reported it
            self._reading.add(resp)
            try:
                body = await _read_body(resp, request)
            finally:
                self._reading.discard(resp)
            return Response(status=resp.status, body=body, headers=resp.headers)


def _form(
    fields: Sequence[tuple[str, str]], uploads: Sequence[Upload], files: list[io.BufferedReader]
) -> aiohttp.FormData:
    """A multipart form; files given as paths are opened here (into ``files``) and streamed."""
    form = aiohttp.FormData()
    for name, value in fields:
        form.add_field(name, value)
    for up in uploads:
        payload: bytes | io.BytesIO | io.BufferedReader
        if isinstance(up.source, bytes):
            big = len(up.source) > _LARGE_BYTES_BODY
            payload = io.BytesIO(up.source) if big else up.source
        else:
            payload = up.source.open("rb")
            files.append(payload)
        form.add_field(up.field, payload, filename=up.filename, content_type=up.content_type)
    return form


def _streamed(data: bytes | None) -> bytes | io.BytesIO | None:
    """Wrap a body of more than 1 MiB in a stream, as aiohttp asks (it warns otherwise).

    An email's JSON body or an in-memory attachment can be several MiB.
    """
    if data is not None and len(data) > _LARGE_BYTES_BODY:
        return io.BytesIO(data)
    return data


async def _read_body(resp: aiohttp.ClientResponse, request: Request) -> bytes:
    """Read at most :data:`MAX_BODY_BYTES` of the decoded body, chunk by chunk.

    Decoded, not declared: a small compressed body can inflate a thousandfold.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TransportError(
                ResponseDecodeError(
                    f"{request.method} {request.url}: response body is over "
                    f"{MAX_BODY_BYTES} bytes; refused",
                    status=resp.status,
                    body=b"",
                ),
                sent=True,
                retryable=False,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _translate(where: str, exc: BaseException, failure: Failure, *, maybe_sent: bool) -> Exception:
    """The TransportError for ``exc``; its text never includes aiohttp's (it holds the URL)."""
    error: PostmanError
    if failure is Failure.CERTIFICATE:
        return TransportError(
            APIConnectionError(
                f"{where}: the server's TLS certificate was refused ({type(exc).__name__}); "
                "check base_url and your CA bundle"
            ),
            sent=False,
            retryable=False,
        )
    if failure is Failure.CONNECT:
        detail = _os_detail(exc)
        error = APIConnectionError(f"{where}: could not connect to Postman{detail}")
        return TransportError(error, sent=False)
    if failure is Failure.CONNECT_TIMEOUT:
        return TransportError(
            APITimeoutError(f"{where}: timed out connecting to Postman"), sent=False
        )
    if failure is Failure.READ_TIMEOUT:
        return TransportError(
            APITimeoutError(f"{where}: Postman did not answer in time"), sent=maybe_sent
        )
    if failure is Failure.BAD_URL:
        return TransportError(
            APIConnectionError(f"{where}: invalid URL"), sent=False, retryable=False
        )
    if failure is Failure.BAD_RESPONSE:
        return TransportError(
            APIConnectionError(f"{where}: unreadable response after sending: {_parse_detail(exc)}"),
            sent=True,
        )
    return TransportError(
        APIConnectionError(
            f"{where}: connection failed after sending ({type(exc).__name__}{_os_detail(exc)})"
        ),
        sent=maybe_sent,
    )


def _parse_detail(exc: BaseException) -> str:
    """What aiohttp's parser objected to, without the bytes it quotes.

    Its messages quote what it choked on (``Bad status line 'HTTP/1.1 2O1'``, or the
    data after a body on the lines below); a response echoes the recipient and the
    values, so only the first line is kept, cut where a quoted value begins.
    """
    message = getattr(exc, "message", None)
    if not isinstance(message, str) or not message:
        return type(exc).__name__
    line = _QUOTED.split(message.strip().split("\n", 1)[0], maxsplit=1)[0]
    return line.rstrip(" :")[:200] or type(exc).__name__


#: Where a quoted value starts in a parser message: a quote (or ``b'``) after a space.
_QUOTED = re.compile(r"""\s+b?['"]""")


def _os_detail(exc: BaseException) -> str:
    """The OS error text of ``exc`` (never aiohttp's own text, which holds the URL)."""
    strerror = getattr(exc, "strerror", None)
    return f": {strerror}" if isinstance(strerror, str) and strerror else ""


def _being_cancelled() -> bool:
    """Whether someone asked to cancel the current task."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
