"""The request loop: rate budget, attempt, retry decision, backoff, one deadline.

For each call: wait for a slot of the campaign's budget, hand one attempt to
the :class:`~postman_async._exchange.Transport`, judge the outcome with
:func:`postman_async._retry.decide`, back off, and keep one deadline over all
of it.  It never imports aiohttp; tests drive it with
:class:`postman_async.testing.MockTransport` on a virtual clock.
"""

from __future__ import annotations

__all__ = ["Call", "CallKind", "RequestLoop", "reconciled"]

import asyncio
import enum
import logging
import random
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

import msgspec

from ._errors import (
    APIError,
    APITimeoutError,
    ClientClosedError,
    LimiterTimeoutError,
    PostmanError,
    error_class_for,
)
from ._exchange import Request, Response, Transport, TransportError, Upload
from ._limits import Grant, Priority, RateLimiter
from ._loop_binding import LoopBinding
from ._models import decode_error_body
from ._retry import AmbiguousSendPolicy, RetryPolicy, decide, parse_retry_after
from ._telemetry import CallSpan, Telemetry
from ._validate import Secret

logger = logging.getLogger("postman_async")

_T = TypeVar("_T")

#: Longest error message kept from a response body, characters.
MAX_ERROR_MESSAGE = 500


class CallKind(enum.Enum):
    """How safe a call is to repeat after its request reached Postman."""

    #: Reads and the retry endpoints: repeating cannot text anyone twice.
    SAFE = "safe"
    #: Sends: repeating after an unknown outcome can create a second message.
    CREATES_MESSAGES = "creates_messages"


class Call(msgspec.Struct, frozen=True, kw_only=True):
    """One API call as the request loop needs it.

    Its ``repr`` shows the method and path only (the body and query can hold
    phone numbers and OTPs; ``api_key`` is a masked :class:`Secret`).
    """

    #: HTTP method.
    method: str
    #: Absolute URL without the query; path segments already percent-encoded.
    url: str
    #: The bearer key.
    api_key: Secret
    #: The budget the call spends (``NoLimiter()`` for calls the server does not limit).
    limiter: RateLimiter
    #: Its place in the limiter's queue.
    priority: Priority
    #: Whether an ambiguous failure could create a second message.
    kind: CallKind = CallKind.SAFE
    #: Query parameters.
    params: Mapping[str, str] | None = None
    #: A JSON body, already encoded.
    json: bytes | None = None
    #: Text fields of a multipart form.
    fields: Sequence[tuple[str, str]] = ()
    #: Files of a multipart form.
    uploads: Sequence[Upload] = ()
    #: Seconds for the whole call: waiting for budget and every attempt.
    timeout: float

    def __repr__(self) -> str:
        return f"Call({self.where})"

    @property
    def where(self) -> str:
        """``METHOD /path`` for messages: no host, no query."""
        path = self.url.partition("://")[2].partition("/")[2]
        return f"{self.method} /{path}"


class RequestLoop:
    """Runs calls through a transport with budget, retries and one deadline.

    Args:
        transport: performs one attempt.
        retry: the retry policy.
        max_retry_after: the longest a ``Retry-After`` header can make a call
            wait between attempts, seconds.
        rand: the random source for backoff jitter.
        telemetry: OpenTelemetry spans and metrics, or ``None``.
    """

    def __init__(
        self,
        *,
        transport: Transport,
        retry: RetryPolicy,
        max_retry_after: float = 60.0,
        rand: Callable[[], float] = random.random,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.transport = transport
        #: Spans and metrics (``None``: OpenTelemetry is not installed).
        self.telemetry = telemetry
        self.retry = retry
        self.max_retry_after = max_retry_after
        self._rand = rand
        self._closed = False
        # Retry backoffs under way: aclose() ends them at once.
        self._sleepers: set[asyncio.Future[None]] = set()
        #: The event loop the calls run on (bound by the first call).
        self.binding = LoopBinding()

    def __del__(self) -> None:
        # Garbage collected while open after running calls: say where the client was
        # made, and close what can be closed without a loop.
        binding = getattr(self, "binding", None)
        if binding is None or binding.loop is None or binding.origin is None or self._closed:
            return  # never ran, closed, or not a client's (an internal or test loop)
        self._closed = True
        warnings.warn(
            f"PostmanClient created at {self.binding.origin} was garbage collected while "
            "open; close it: `async with PostmanClient(...) as client:` or "
            "`await client.close()`",
            ResourceWarning,
            source=self,
            stacklevel=1,
        )
        self._abandon()

    def _abandon(self) -> None:
        """Close the transport's connections without a loop, if it can."""
        abandon: Callable[[], None] | None = getattr(self.transport, "abandon", None)
        if abandon is not None:
            abandon()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def aclose(self) -> None:
        """End backoffs under way with ClientClosedError; close the transport.

        Raises:
            WrongEventLoopError: called from another loop while the client's own
                loop still runs (from another loop after it closed, the
                connections are closed without it).
        """
        bound = self.binding.foreign()
        if bound is not None:
            if not bound.is_closed():
                raise self.binding.error(bound)
            self._closed = True
            self._abandon()
            return
        self._closed = True
        for wake in self._sleepers:
            _wake(wake)
        await self.transport.aclose()

    async def request(self, call: Call) -> Response:
        """Perform ``call``; return its 2xx response.

        Raises:
            PostmanError: the subclass that explains the last failure, with
                ``message_may_exist`` set when a send's outcome is unknown.
        """
        loop = self.binding.check()
        if self.telemetry is None:
            return await self._perform(call, loop, None)
        with self.telemetry.call(call) as span:
            return await self._perform(call, loop, span)

    async def _perform(
        self, call: Call, loop: asyncio.AbstractEventLoop, span: CallSpan | None
    ) -> Response:
        deadline = loop.time() + call.timeout
        policy = self.retry
        may_exist = False  # an earlier attempt of this send may have created the message
        last: PostmanError | None = None
        try:
            for attempt in range(1, policy.max_attempts + 1):
                self._check_open(call)
                started = loop.time()
                _admit(call, deadline - started, last)
                grant = await _acquire(call, deadline - started, span)
                if grant is None:
                    if last is not None:
                        raise last
                    raise LimiterTimeoutError(
                        f"{call.where}: waited {call.timeout:g} s for the campaign's rate "
                        "budget without getting a slot; raise timeout= or send less at once"
                    )
                remaining = deadline - loop.time()
                if remaining <= 0:
                    grant.release()
                    raise last or APITimeoutError(f"{call.where}: no time left for an attempt")
                request = Request(
                    method=call.method,
                    url=call.url,
                    api_key=call.api_key,
                    params=call.params,
                    json=call.json,
                    fields=call.fields,
                    uploads=call.uploads,
                    timeout=remaining,
                    grant=grant,
                )
                try:
                    handle = self.transport.handle
                    if span is None:
                        response = await handle(request)
                    else:
                        response = await span.attempt(attempt, handle, request)
                except TransportError as failed:
                    outcome = _Outcome.from_failure(call, failed, policy)
                else:
                    if 200 <= response.status < 300:
                        return response
                    outcome = _Outcome.from_response(call, response, policy)
                retry_after, error = outcome.retry_after, outcome.error
                ambiguous, retryable = outcome.ambiguous, outcome.retryable
                may_exist = may_exist or ambiguous
                error.message_may_exist = may_exist
                if not retryable or attempt == policy.max_attempts:
                    raise error
                delay = policy.delay(attempt, rand=self._rand)
                if retry_after is not None:
                    delay = max(delay, min(retry_after, self.max_retry_after))
                if loop.time() + delay >= deadline:
                    raise error
                if span is not None:
                    span.retry(outcome.describe.removeprefix("HTTP "))
                logger.info(
                    "%s: %s on attempt %d of %d; retrying in %.2f s",
                    call.where,
                    outcome.describe,
                    attempt,
                    policy.max_attempts,
                    delay,
                )
                last = error
                await self._backoff(delay)
        except ClientClosedError as exc:
            # Closing must not hide what an earlier attempt learned: the message may exist.
            exc.message_may_exist = exc.message_may_exist or may_exist
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_open(self, call: Call) -> None:
        if self._closed:
            raise ClientClosedError(f"{call.where}: the client is closed")

    async def _backoff(self, delay: float) -> None:
        """Sleep ``delay`` seconds before a retry, or until :meth:`aclose`."""
        if self._closed:
            raise ClientClosedError("the client was closed while the call waited to retry")
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


async def reconciled(
    requests: RequestLoop,
    call: Call,
    decode: Callable[[Response], _T],
    find: Callable[[float], Awaitable[_T | None]],
    *,
    describe: str,
) -> _T:
    """Perform a send under the client's :class:`~postman_async.AmbiguousSendPolicy`.

    Under ``RECONCILE``, when the outcome is unknown, ``find(seconds_left)``
    looks for the message the failed attempt may have created; if there is
    none, the send is made once more.  Everything shares the call's deadline.
    ``describe`` names the send in log lines (masked: no number, no address).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + call.timeout
    try:
        return _decoded(decode, await requests.request(call))
    except PostmanError as exc:
        if (
            not exc.message_may_exist
            or requests.retry.ambiguous_sends is not AmbiguousSendPolicy.RECONCILE
        ):
            raise
        try:
            found = await find(_remaining(deadline, loop, exc))
            if found is not None:
                logger.info(
                    "%s: outcome was unknown; found the message, not sending again", describe
                )
                return found
            logger.warning(
                "%s: outcome unknown and no matching message found; sending again "
                "(a late-created original would make this a duplicate)",
                describe,
            )
            again = msgspec.structs.replace(call, timeout=_remaining(deadline, loop, exc))
            return _decoded(decode, await requests.request(again))
        except PostmanError as later:
            later.message_may_exist = True
            raise


def _decoded(decode: Callable[[Response], _T], response: Response) -> _T:
    """Decode a send's answer; an unreadable one may still mean the message exists."""
    try:
        return decode(response)
    except PostmanError as exc:
        exc.message_may_exist = True
        raise


def _remaining(deadline: float, loop: asyncio.AbstractEventLoop, error: PostmanError) -> float:
    """Seconds left before ``deadline``; re-raise ``error`` if none are."""
    left = deadline - loop.time()
    if left <= 0:
        raise error
    return left


class _Outcome:
    """A failed attempt, judged: the error, and whether to retry."""

    __slots__ = ("ambiguous", "describe", "error", "retry_after", "retryable")

    def __init__(
        self,
        error: PostmanError,
        *,
        retryable: bool,
        ambiguous: bool,
        retry_after: float | None,
        describe: str,
    ) -> None:
        self.error = error
        self.retryable = retryable
        self.ambiguous = ambiguous
        self.retry_after = retry_after
        self.describe = describe

    @classmethod
    def from_failure(cls, call: Call, failed: TransportError, policy: RetryPolicy) -> _Outcome:
        retryable, ambiguous = decide(
            status=None,
            sent=failed.sent,
            transient=failed.retryable,
            creates_messages=call.kind is CallKind.CREATES_MESSAGES,
            policy=policy.ambiguous_sends,
        )
        error = failed.error
        return cls(
            error,
            retryable=retryable,
            ambiguous=ambiguous,
            retry_after=None,
            describe=type(error).__name__,
        )

    @classmethod
    def from_response(cls, call: Call, response: Response, policy: RetryPolicy) -> _Outcome:
        status = response.status
        retry_after = _retry_after(response)
        if status == 429:
            call.limiter.slow_down(retry_after)
            logger.warning(
                "%s: HTTP 429, Postman dropped the request (rate limit); "
                "this campaign's limiter slows down for a while",
                call.where,
            )
        retryable, ambiguous = decide(
            status=status,
            sent=True,
            transient=False,
            creates_messages=call.kind is CallKind.CREATES_MESSAGES,
            policy=policy.ambiguous_sends,
        )
        return cls(
            _api_error(call, response, retry_after),
            retryable=retryable,
            ambiguous=ambiguous,
            retry_after=retry_after,
            describe=f"HTTP {status}",
        )


def _retry_after(response: Response) -> float | None:
    try:
        return parse_retry_after(response.headers.get("Retry-After"))
    except (ValueError, OverflowError):  # a date too far out for datetime
        return None


def _api_error(call: Call, response: Response, retry_after: float | None) -> APIError:
    status = response.status
    details = decode_error_body(response.body)
    message = details.message or f"HTTP {status} with no message"
    if len(message) > MAX_ERROR_MESSAGE:
        message = message[:MAX_ERROR_MESSAGE] + "... (truncated)"
    cls = error_class_for(status)
    return cls(
        message,
        request=call.where,
        status=status,
        code=details.code,
        trace_id=details.trace_id,
        body=response.body,
        retry_after=retry_after,
    )


async def _acquire(call: Call, timeout: float, span: CallSpan | None) -> Grant | None:
    """Wait for the call's budget (reported to telemetry when on)."""
    if span is None:
        return await call.limiter.acquire(call.priority, timeout=timeout)
    with span.waiting():
        return await call.limiter.acquire(call.priority, timeout=timeout)


def _admit(call: Call, remaining: float, last: PostmanError | None) -> None:
    """Refuse the call at once if its limiter knows it cannot get budget in time.

    Only limiters with an ``admit`` method (:class:`~postman_async._limits.Admission`)
    are asked; with others the call waits until its deadline.
    """
    admit: Callable[[Priority, float | None], None] | None = getattr(call.limiter, "admit", None)
    if admit is None:
        return
    try:
        admit(call.priority, remaining)
    except LimiterTimeoutError as refused:
        if last is not None:
            raise last from None  # a retry that cannot happen in time: the attempt's error
        raise LimiterTimeoutError(
            f"{call.where}: {refused}", expected_wait=refused.expected_wait
        ) from None


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
