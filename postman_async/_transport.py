"""The one module that talks aiohttp: one HTTP attempt, and aiohttp's exceptions mapped.

:class:`AiohttpTransport` implements :class:`~postman_async._exchange.Transport`.
It reports each request's real departure to its rate-budget grant without
aiohttp's tracing (which costs tens of microseconds a request): a request with
a body carries it in a :class:`_DepartingBody` (or a :class:`_DepartingForm`)
that reports the departure as its first bytes are handed to the socket, on any
session, the caller's too; a request without a body reports it through
:class:`_DepartingRequest` (our own session's ``request_class``) right after
its head is handed to the socket, or, on a session the caller lends, when the
answer or the failure arrives (late, never early). It reads at most
:data:`MAX_BODY_BYTES` of the decoded body, and
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
import math
import re
import ssl
from collections.abc import Sequence

import aiohttp
import yarl
from aiohttp import payload as aiohttp_payload

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
# Parsed URLs kept per transport (the cache starts over when full).
_URL_CACHE = 1024
# aiohttp timeout objects kept per transport, by milliseconds.
_TIMEOUT_CACHE = 256

# The departure of the body-less request being sent by the current task, on our own
# session: _DepartingRequest.send() finds it here.
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

    __slots__ = ("grant", "has_body", "left", "reported")

    def __init__(self, grant: Grant, *, has_body: bool) -> None:
        self.grant = grant
        #: Whether the request carries a body (it then leaves with its first chunk).
        self.has_body = has_body
        #: Whether the request started (or may have started) to leave.
        self.left = False
        #: Whether the grant heard of it.
        self.reported = False

    def leave(self) -> None:
        """The request's bytes are being handed to the socket now: tell the grant, once."""
        self.left = True
        if not self.reported:
            self.reported = True
            self.grant.sent()


class _DepartingRequest(aiohttp.ClientRequest):
    """Our own session's request class: reports a body-less request's departure.

    ``send()`` runs once a connection is ready and hands the request head to the
    socket before it returns (with no body, aiohttp writes the head at once and
    nothing in between waits), so reporting after it counts the request a few
    microseconds late, never early. Requests with a body report through their
    payload instead (their head leaves with the first body chunk).
    """

    async def send(self, conn: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
        # With the socket's buffer full, aiohttp leaves even a bare head to a writer task
        # for later: the answer then reports the departure (late, never early).
        protocol = conn.protocol
        paused = protocol is None or protocol.writing_paused
        response = await super().send(conn)
        departure = _DEPARTING.get()
        if departure is not None:
            if paused:
                departure.left = True  # it may leave any moment: a failure counts it
            else:
                departure.leave()
        return response


class _DepartingBody(aiohttp_payload.BytesPayload):
    """A JSON body that reports its request's departure as it is written.

    aiohttp writes the request head together with the body's first chunk; the
    grant hears of it immediately before that synchronous write (nothing waits
    in between), on whatever session sends it.
    """

    def __init__(self, value: bytes, departure: _Departure) -> None:
        super().__init__(value, content_type="application/json")
        self._departure = departure

    async def write(self, writer: aiohttp.abc.AbstractStreamWriter) -> None:
        self._departure.leave()
        await super().write(writer)

    async def write_with_length(
        self, writer: aiohttp.abc.AbstractStreamWriter, content_length: int | None
    ) -> None:
        self._departure.leave()
        await super().write_with_length(writer, content_length)


class _DepartingForm(aiohttp_payload.Payload):
    """A multipart form (or a streamed large body) that reports its request's departure."""

    def __init__(self, form: aiohttp_payload.Payload, departure: _Departure) -> None:
        super().__init__(form, content_type=form.content_type)
        self._headers = form.headers
        self._size = form.size
        self._form = form
        self._departure = departure

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._form.decode(encoding, errors)

    async def write(self, writer: aiohttp.abc.AbstractStreamWriter) -> None:
        self._departure.leave()
        await self._form.write(writer)

    async def write_with_length(
        self, writer: aiohttp.abc.AbstractStreamWriter, content_length: int | None
    ) -> None:
        self._departure.leave()
        await self._form.write_with_length(writer, content_length)

    async def close(self) -> None:
        await self._form.close()


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
        self._urls: dict[str, yarl.URL] = {}
        self._timeouts: dict[int, aiohttp.ClientTimeout] = {}

    def __repr__(self) -> str:
        return f"<AiohttpTransport {'closed' if self._closed else 'open'}>"

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                headers={"User-Agent": self._user_agent, "Accept": "application/json"},
                raise_for_status=False,
                request_class=_DepartingRequest,
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
        if self._closed:
            where = _where(request)
            request.grant.release()
            raise TransportError(
                ClientClosedError(f"{where}: the client is closed"), sent=False, retryable=False
            )
        session = self._get_session()
        if session.closed:  # a borrowed session its owner has closed
            where = _where(request)
            request.grant.release()
            raise TransportError(
                ClientClosedError(
                    f"{where}: the aiohttp session given to PostmanClient(session=...) is closed"
                ),
                sent=False,
                retryable=False,
            )
        has_body = request.has_body
        departure = _Departure(request.grant, has_body=has_body)
        # A body reports its own departure on any session; a body-less request only
        # on our own session (its request class); on a borrowed one it is reported
        # when the answer (or the failure) arrives: late, never early.
        traced = has_body or self._owns_session
        token = None if has_body or not traced else _DEPARTING.set(departure)
        files: list[io.BufferedReader] = []
        try:
            return await self._send(
                request, session, departure, _payload(request, departure, files)
            )
        except asyncio.CancelledError:
            where = _where(request)
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
            where = _where(request)
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
            if token is not None:
                _DEPARTING.reset(token)
            for file in files:
                file.close()

    @staticmethod
    def _settle(departure: _Departure, *, traced: bool) -> None:
        """After a failure: count the request if it may have left, else give its slot back."""
        if departure.left or not traced:
            departure.leave()
        else:
            departure.grant.release()

    def _url(self, url: str) -> yarl.URL:
        """``url`` parsed once: a campaign calls the same few URLs again and again."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= _URL_CACHE:
                self._urls.clear()
            parsed = self._urls[url] = yarl.URL(url, encoded=True)
        return parsed

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        """The aiohttp timeouts for an attempt of ``seconds``, rounded up to the millisecond.

        Rounded so that one object serves the many attempts that start with (nearly) a
        whole call's time left; aiohttp itself rounds timeouts over 5 s up to the second.
        """
        millis = math.ceil(seconds * 1000)
        timeout = self._timeouts.get(millis)
        if timeout is None:
            if len(self._timeouts) >= _TIMEOUT_CACHE:
                self._timeouts.clear()
            total = millis / 1000
            timeout = self._timeouts[millis] = aiohttp.ClientTimeout(
                total=total, connect=min(total, self._connect_timeout)
            )
        return timeout

    async def _send(
        self,
        request: Request,
        session: aiohttp.ClientSession,
        departure: _Departure,
        data: aiohttp_payload.Payload | None,
    ) -> Response:
        async with session.request(
            request.method,
            self._url(request.url),
            params=request.params,
            data=data,
            # The key goes straight into aiohttp's call: no local variable holds it.
            headers={"Authorization": "Bearer " + request.api_key.reveal()},
            timeout=self._timeout(request.timeout),
            allow_redirects=False,
            raise_for_status=False,
        ) as resp:
            departure.leave()  # an answer came, so it certainly left (reported once)
            self._reading.add(resp)
            try:
                body = await _read_body(resp, request)
            finally:
                self._reading.discard(resp)
            return Response(status=resp.status, body=body, headers=resp.headers)


def _where(request: Request) -> str:
    """The request as error texts name it (the URL holds no query: that is ``params``)."""
    return f"{request.method} {request.url}"


def _payload(
    request: Request, departure: _Departure, files: list[io.BufferedReader]
) -> aiohttp_payload.Payload | None:
    """The request's body, which reports the departure as it is written; files go to ``files``."""
    if request.json is not None:
        # Carries its own Content-Type.  A body of more than 1 MiB goes as a stream, as
        # aiohttp asks (an email's JSON with attachments can be several MiB).
        if len(request.json) > _LARGE_BYTES_BODY:
            stream = aiohttp_payload.BytesIOPayload(
                io.BytesIO(request.json), content_type="application/json"
            )
            return _DepartingForm(stream, departure)
        return _DepartingBody(request.json, departure)
    if request.uploads or request.fields:
        try:
            return _DepartingForm(_form(request.fields, request.uploads, files)(), departure)
        except OSError as exc:
            raise TransportError(
                ValidationError(f"cannot read a file to upload: {exc.strerror}"),
                sent=False,
                retryable=False,
            ) from None
    return None


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


async def _read_body(resp: aiohttp.ClientResponse, request: Request) -> bytes:
    """Read at most :data:`MAX_BODY_BYTES` of the decoded body, chunk by chunk.

    Decoded, not declared: a small compressed body can inflate a thousandfold.
    """
    length = resp.content_length
    if length is not None and length <= MAX_BODY_BYTES and "Content-Encoding" not in resp.headers:
        return await resp.read()  # not compressed: the declared length is what is read
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
