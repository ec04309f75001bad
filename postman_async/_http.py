"""The one place that talks aiohttp: the request loop.

For each call: wait for the campaign's rate budget, send, read the answer,
decide whether to retry (see :mod:`postman_async._retry`), back off, and keep
one deadline over all of it.  Every aiohttp and OS exception is translated
into the :mod:`postman_async._errors` tree here, and nowhere else.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import logging
import random
from collections.abc import Callable, Mapping
from typing import NoReturn

import aiohttp
import msgspec
import yarl

from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ClientClosedError,
    LimiterTimeoutError,
    PostmanError,
    ResponseDecodeError,
    ValidationError,
    error_class_for,
)
from ._limits import Priority, RateLimiter
from ._models import decode_error_body
from ._retry import RetryPolicy, decide, parse_retry_after
from ._validate import Secret
from ._version import __version__

logger = logging.getLogger(__name__)

#: Largest response body read; anything bigger is refused, not buffered.
MAX_BODY_BYTES = 32 * 1024 * 1024
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class CallKind(enum.Enum):
    """How safe a call is to repeat after its request reached Postman."""

    #: Reads and the retry endpoints: repeating cannot text anyone twice.
    SAFE = "safe"
    #: Sends: repeating after an unknown outcome can create a second SMS.
    CREATES_MESSAGES = "creates_messages"


class Upload(msgspec.Struct, frozen=True):
    """A file for a multipart form (aiohttp's forms are single-use, so built per attempt)."""

    field: str
    filename: str
    data: bytes
    content_type: str = "text/csv"


class Call(msgspec.Struct, frozen=True, kw_only=True):
    """One API call as the request loop needs it."""

    method: str
    path: str
    api_key: Secret
    limiter: RateLimiter
    priority: Priority
    kind: CallKind = CallKind.SAFE
    params: Mapping[str, str] | None = None
    json: bytes | None = None
    upload: Upload | None = None
    timeout: float


class Response(msgspec.Struct, frozen=True):
    """A 2xx answer: status and raw body."""

    status: int
    body: bytes


def check_base_url(base_url: str) -> yarl.URL:
    """Parse ``base_url``, refusing plain HTTP except to a loopback host."""
    try:
        url = yarl.URL(base_url.rstrip("/"))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"base_url {base_url!r} is not a URL: {exc}") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ValidationError(f"base_url must be an https:// URL, got {base_url!r}")
    if url.query_string or url.fragment or url.user or url.password:
        raise ValidationError("base_url must not carry credentials, a query or a fragment")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise ValidationError(
            f"refusing plain http to {url.host}: the API key would travel in clear text; "
            "use https (plain http is allowed only to a loopback address, e.g. a mock server)"
        )
    return url


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Departure:
    """Ties one attempt to its limiter slot, to report when the request really left."""

    __slots__ = ("granted_at", "has_body", "left", "limiter", "reported", "traced")

    def __init__(
        self, limiter: RateLimiter, granted_at: float, *, traced: bool, has_body: bool
    ) -> None:
        self.limiter = limiter
        self.granted_at = granted_at
        #: Whether the session's trace hooks report departures (only on our own session).
        self.traced = traced
        #: Whether the request carries a body (it then leaves with its first chunk).
        self.has_body = has_body
        #: Whether aiohttp started sending the request (known only when ``traced``).
        self.left = False
        #: Whether the departure was reported to the limiter.
        self.reported = False

    def report(self, now: float) -> None:
        """Tell the limiter, once, when the request really left."""
        if not self.reported:
            self.reported = True
            self.limiter.sent(self.granted_at, now)

    @property
    def may_have_left(self) -> bool:
        """Whether the request may have reached the server (unknown counts as yes)."""
        return self.left or not self.traced

    def __deepcopy__(self, memo: dict[int, object]) -> _Departure:
        # Mocking libraries deep-copy request kwargs; never copy the limiter (and its loop).
        return self


async def _on_headers_sent(
    session: aiohttp.ClientSession,
    context: object,
    params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    """Tell the limiter when a body-less request actually left (after any connection set-up)."""
    departure = getattr(context, "trace_request_ctx", None)
    if isinstance(departure, _Departure):
        departure.left = True
        if not departure.has_body:
            departure.report(asyncio.get_running_loop().time())


async def _on_chunk_sent(
    session: aiohttp.ClientSession,
    context: object,
    params: aiohttp.TraceRequestChunkSentParams,
) -> None:
    """Tell the limiter when a request with a body actually left.

    aiohttp holds such a request's headers back and writes them with the first
    body chunk; before Python 3.12 that write happens in a task scheduled later,
    tens of milliseconds after "headers sent" when a burst of requests leaves.
    """
    departure = getattr(context, "trace_request_ctx", None)
    if isinstance(departure, _Departure) and departure.has_body:
        departure.report(asyncio.get_running_loop().time())


class _AttemptFailed(Exception):
    """Internal: an attempt ended without a response; ``sent`` says if it reached Postman."""

    def __init__(self, error: PostmanError, *, sent: bool, retryable: bool = True) -> None:
        super().__init__(str(error))
        self.error = error
        self.sent = sent
        self.retryable = retryable


class Transport:
    """Sends calls through one aiohttp session, with retries and a deadline.

    Args:
        base_url: the API base URL (already checked).
        session: a session to borrow (not closed here), or ``None`` to create one.
        retry: the retry policy.
        connect_timeout: seconds allowed to open a connection, per attempt.
        rand: the random source for backoff jitter (tests pin it).
    """

    def __init__(
        self,
        *,
        base_url: yarl.URL,
        session: aiohttp.ClientSession | None,
        retry: RetryPolicy,
        connect_timeout: float = 10.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.base_url = base_url
        self.retry = retry
        self._base = str(base_url)
        self._session = session
        self._owns_session = session is None
        self._connect_timeout = connect_timeout
        self._rand = rand
        self._closed = False
        # Responses whose body is being read, and retry backoffs under way: close()
        # ends both at once instead of leaving the calls to their deadlines.
        self._reading: set[aiohttp.ClientResponse] = set()
        self._sleepers: set[asyncio.Future[None]] = set()
        self._user_agent = f"postman-async/{__version__} aiohttp/{aiohttp.__version__}"

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("the client is closed; create a new PostmanClient")
        if self._session is None:
            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(_on_headers_sent)
            trace.on_request_chunk_sent.append(_on_chunk_sent)
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": self._user_agent, "Accept": "application/json"},
                raise_for_status=False,
                trace_configs=[trace],
            )
        return self._session

    async def close(self) -> None:
        """Close the session if this transport created it; end calls under way; refuse later calls.

        Calls reading a response or waiting to retry end at once with
        :class:`ClientClosedError` (aiohttp alone would leave a half-read body
        waiting for the call's deadline).
        """
        self._closed = True
        for wake in self._sleepers:
            _wake(wake)
        for response in self._reading:
            response.content.set_exception(aiohttp.ClientConnectionError("the client was closed"))
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    async def request(self, call: Call) -> Response:
        """Perform ``call`` with rate limiting, retries and one deadline.

        Returns:
            The 2xx response.

        Raises:
            PostmanError: the subclass that explains the last failure.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + call.timeout
        policy = self.retry
        may_exist = False  # an earlier attempt of this send may have created the SMS
        last: PostmanError | None = None
        try:
            for attempt in range(1, policy.max_attempts + 1):
                started = loop.time()
                granted_at = await call.limiter.acquire(call.priority, timeout=deadline - started)
                if granted_at is None:
                    if last is not None:
                        raise last
                    raise LimiterTimeoutError(
                        f"{call.method} {call.path}: waited {call.timeout:g} s for the campaign's "
                        "rate budget without getting a slot; raise timeout= or send less at once"
                    )
                waited = loop.time() - started
                departure = _Departure(
                    call.limiter,
                    granted_at,
                    traced=self._owns_session,
                    has_body=call.json is not None or call.upload is not None,
                )
                try:
                    status, body, retry_after = await self._attempt(
                        call, deadline - loop.time(), departure
                    )
                except _AttemptFailed as failed:
                    error = failed.error
                    error.__cause__ = failed.__cause__  # keep the transport error for debugging
                    retryable, ambiguous = decide(
                        status=None,
                        sent=failed.sent,
                        transient=failed.retryable,
                        creates_messages=call.kind is CallKind.CREATES_MESSAGES,
                        policy=policy.ambiguous_sends,
                    )
                    status_text = type(error).__name__
                    retry_after = None
                else:
                    self._log_attempt(call, status, attempt, waited, loop.time() - started)
                    if 200 <= status < 300:
                        return Response(status, body)
                    error = _api_error(call, status, body, retry_after)
                    if status == 429:
                        _slow_down(call, retry_after)
                    retryable, ambiguous = decide(
                        status=status,
                        sent=True,
                        transient=False,
                        creates_messages=call.kind is CallKind.CREATES_MESSAGES,
                        policy=policy.ambiguous_sends,
                    )
                    status_text = f"HTTP {status}"
                may_exist = may_exist or ambiguous
                error.message_may_exist = may_exist
                if not retryable or attempt == policy.max_attempts:
                    raise error
                delay = policy.delay(attempt, rand=self._rand)
                if retry_after is not None:
                    delay = max(delay, retry_after)
                if loop.time() + delay >= deadline:
                    raise error
                logger.info(
                    "%s %s: %s on attempt %d of %d; retrying in %.2f s",
                    call.method,
                    call.path,
                    status_text,
                    attempt,
                    policy.max_attempts,
                    delay,
                )
                last = error
                await self._backoff(delay)
        except ClientClosedError as exc:
            # Closing must not hide what an earlier attempt learned: the SMS may exist.
            exc.message_may_exist = exc.message_may_exist or may_exist
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _backoff(self, delay: float) -> None:
        """Sleep ``delay`` seconds before a retry, or until :meth:`close`."""
        loop = asyncio.get_running_loop()
        wake: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(delay, _wake, wake)
        self._sleepers.add(wake)
        try:
            await wake
        finally:
            timer.cancel()
            self._sleepers.discard(wake)
        if self._closed:
            raise ClientClosedError("the client was closed while the call waited to retry")

    def _log_attempt(
        self, call: Call, status: int, attempt: int, waited: float, spent: float
    ) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %d (attempt %d, %.3f s waiting for rate budget, %.3f s in all)",
                call.method,
                call.path,
                status,
                attempt,
                waited,
                spent,
            )

    async def _attempt(
        self, call: Call, remaining: float, departure: _Departure
    ) -> tuple[int, bytes, float | None]:
        """One HTTP exchange; raises :class:`_AttemptFailed` when there is no response."""
        if remaining <= 0:
            raise _AttemptFailed(
                APITimeoutError(f"{call.method} {call.path}: no time left for an attempt"),
                sent=False,
                retryable=False,
            )
        session = self._get_session()
        if session.closed:  # a borrowed session its owner has closed
            raise _AttemptFailed(
                ClientClosedError(
                    f"{call.method} {call.path}: the aiohttp session given to "
                    "PostmanClient(session=...) is closed"
                ),
                sent=False,
                retryable=False,
            )
        url = yarl.URL(self._base + call.path, encoded=True)
        headers = {"Authorization": f"Bearer {call.api_key.reveal()}"}
        data: bytes | aiohttp.FormData | None = call.json
        if call.json is not None:
            headers["Content-Type"] = "application/json"
        if call.upload is not None:
            form = aiohttp.FormData()
            up = call.upload
            form.add_field(up.field, up.data, filename=up.filename, content_type=up.content_type)
            data = form
        timeout = aiohttp.ClientTimeout(
            total=remaining, connect=min(remaining, self._connect_timeout)
        )
        try:
            async with session.request(
                call.method,
                url,
                params=call.params,
                data=data,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                raise_for_status=False,
                trace_request_ctx=departure,
            ) as resp:
                departure.left = True  # an answer came, so the request certainly left
                self._reading.add(resp)
                try:
                    body = await _read_body(resp, call)
                finally:
                    self._reading.discard(resp)
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                return resp.status, body, retry_after
        except _AttemptFailed:
            raise
        except asyncio.CancelledError:
            # Closing a session cancels aiohttp's internal waits (a queued request's wait
            # for a pooled connection) without cancelling our task: that is a closed
            # client, not a cancellation the caller asked for.
            if _being_cancelled() or not (self._closed or session.closed):
                raise
            raise _AttemptFailed(
                ClientClosedError(
                    f"{call.method} {call.path}: the client was closed during the call"
                ),
                sent=departure.may_have_left,
                retryable=False,
            ) from None
        except Exception as exc:
            self._translate(call, exc, departure, session)

    def _translate(
        self,
        call: Call,
        exc: BaseException,
        departure: _Departure,
        session: aiohttp.ClientSession,
    ) -> NoReturn:
        """Map an aiohttp/OS exception to a PostmanError, noting whether it was sent."""
        where = f"{call.method} {call.path}"
        if self._closed or session.closed:
            raise _AttemptFailed(
                ClientClosedError(f"{where}: the client was closed during the call"),
                sent=departure.may_have_left,
                retryable=False,
            ) from exc
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            raise _AttemptFailed(
                APIConnectionError(
                    f"{where}: the server's TLS certificate was refused "
                    f"({exc.certificate_error}); check base_url and your CA bundle"
                ),
                sent=False,
                retryable=False,
            ) from exc
        if isinstance(exc, aiohttp.ClientConnectorError):
            raise _AttemptFailed(
                APIConnectionError(f"{where}: could not connect to {exc.host}: {exc.strerror}"),
                sent=False,
            ) from exc
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            raise _AttemptFailed(
                APITimeoutError(f"{where}: timed out connecting to Postman"), sent=False
            ) from exc
        if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
            raise _AttemptFailed(
                APITimeoutError(f"{where}: Postman did not answer in time"), sent=True
            ) from exc
        if isinstance(exc, aiohttp.InvalidURL):
            raise _AttemptFailed(
                APIConnectionError(f"{where}: invalid URL"), sent=False, retryable=False
            ) from exc
        if isinstance(exc, aiohttp.ClientResponseError):
            # A response aiohttp could not parse.  Its text carries the request URL (a
            # search query may hold a phone number) and its repr the request headers
            # (the API key), so keep only what the server said and drop the exception.
            raise _AttemptFailed(
                APIConnectionError(
                    f"{where}: unreadable response after sending: "
                    f"{exc.message or type(exc).__name__}"
                ),
                sent=True,
            ) from None
        if isinstance(exc, (aiohttp.ClientError, OSError)):
            detail = str(exc) or type(exc).__name__
            raise _AttemptFailed(
                APIConnectionError(f"{where}: connection failed after sending: {detail}"),
                sent=True,
            ) from exc
        raise exc


async def _read_body(resp: aiohttp.ClientResponse, call: Call) -> bytes:
    """Read at most :data:`MAX_BODY_BYTES` of the body."""
    length = resp.content_length
    if length is not None:
        if length > MAX_BODY_BYTES:
            raise _AttemptFailed(_too_big(call, resp.status), sent=True, retryable=False)
        return await resp.read()  # aiohttp reads no more than the declared length
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _AttemptFailed(_too_big(call, resp.status), sent=True, retryable=False)
        chunks.append(chunk)
    return b"".join(chunks)


def _slow_down(call: Call, retry_after: float | None) -> None:
    call.limiter.slow_down(retry_after)
    logger.warning(
        "%s %s: HTTP 429, Postman dropped the request (rate limit); "
        "this campaign's limiter slows down for a while",
        call.method,
        call.path,
    )


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _being_cancelled() -> bool:
    """Whether someone asked to cancel the current task (unknowable before Python 3.11)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is None or bool(cancelling())


def _too_big(call: Call, status: int) -> ResponseDecodeError:
    return ResponseDecodeError(
        f"{call.method} {call.path}: response body is over {MAX_BODY_BYTES} bytes; refused",
        status=status,
        body=b"",
    )


def _api_error(call: Call, status: int, body: bytes, retry_after: float | None) -> APIError:
    details = decode_error_body(body)
    message = details.message or f"HTTP {status} with no message"
    cls = error_class_for(status)
    return cls(
        message,
        request=f"{call.method} {call.path}",
        status=status,
        code=details.code,
        trace_id=details.trace_id,
        body=body,
        retry_after=retry_after,
    )
