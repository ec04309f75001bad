"""The exception tree of postman_async.

Every failure a call can meet ends in one of these; no aiohttp or msgspec
exception ever reaches the caller::

    PostmanError
    ├── ValidationError            (also ValueError) input refused locally, nothing sent
    ├── ClientClosedError          the client was closed before or during the call
    ├── WrongEventLoopError        the client was used from another event loop than its own
    ├── LimiterTimeoutError        the deadline ran out waiting for the campaign's rate budget
    ├── LimiterUnavailableError    a shared (Redis) rate budget could not be reached
    ├── BatchRejectedError         Postman checked a batch CSV and refused it (isValid: false)
    ├── TrackingTimeoutError       wait_for ran out of time before every message was final
    ├── APIConnectionError         no usable HTTP response (refused, reset, TLS failure)
    │   └── APITimeoutError        the server did not answer in time
    ├── ResponseDecodeError        a 2xx response whose body is not what the API documents
    └── APIError                   a non-2xx HTTP response
        ├── BadRequestError        400
        ├── AuthenticationError    401
        ├── PermissionDeniedError  403
        ├── NotFoundError          404
        ├── GoneError              410
        ├── PayloadTooLargeError   413
        ├── RateLimitError         429
        └── ServerError            5xx

``PostmanError.message_may_exist`` answers the question that matters after a
failed send: could the SMS have been created anyway?  It is ``True`` only when
the request body reached the server and the outcome is unknown (a 5xx, a
timeout or a dropped connection after sending, or an unreadable 2xx body).
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchRejectedError",
    "ClientClosedError",
    "GoneError",
    "LimiterTimeoutError",
    "LimiterUnavailableError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PostmanError",
    "RateLimitError",
    "ResponseDecodeError",
    "ServerError",
    "TrackingTimeoutError",
    "ValidationError",
    "WrongEventLoopError",
]

import typing

if typing.TYPE_CHECKING:
    from ._models import BatchReceipt

#: The message type a tracking timeout carries (an SMS ``Message`` or an ``EmailMessage``).
_M = typing.TypeVar("_M")

#: How much of a response body an exception keeps (bodies can be large HTML pages).
_BODY_LIMIT = 2048


class PostmanError(Exception):
    """Root of every error raised by postman_async.

    Attributes:
        message_may_exist: ``True`` when the request that failed was a send whose
            body reached Postman and whose outcome is unknown: the SMS may have
            been created.  Reconcile (for example with ``Campaign.list_messages``
            and ``search=``) before sending again.
    """

    #: Whether the failed call may nevertheless have created an SMS.
    message_may_exist: bool

    def __init__(self, message: str, *, message_may_exist: bool = False) -> None:
        super().__init__(message)
        self.message_may_exist = message_may_exist

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments would be lost by Exception's default pickling.
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(
    cls: type[PostmanError], args: tuple[object, ...], state: dict[str, object]
) -> PostmanError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ValidationError(PostmanError, ValueError):
    """Input was refused locally, before any request was made or rate budget spent."""


class ClientClosedError(PostmanError):
    """The :class:`~postman_async.PostmanClient` was closed before or during the call."""


class LimiterUnavailableError(PostmanError):
    """The shared rate budget in Redis could not be reached in time; nothing was sent.

    Redis refused the connection, did not answer within the limiter's
    ``timeout``, or answered with an error.  The call may be tried again
    once Redis is back.
    """


class WrongEventLoopError(PostmanError):
    """The client was used from another event loop than the one it first ran on.

    A client's connections, rate limiters and trackers belong to one event
    loop.  Create one :class:`~postman_async.PostmanClient` per loop (per
    thread, or per ``asyncio.run``).  Nothing was sent.
    """


class LimiterTimeoutError(PostmanError):
    """The call's deadline ran out (or would have) while waiting for the campaign's rate budget.

    No request was sent.  Raised at once, without waiting, when the limiter
    can tell that the call would not get budget before its deadline, or when
    the campaign's queue of waiting calls is full.  Raise the call's
    ``timeout=``, send less at once, or tell your own caller to come back later.

    Attributes:
        expected_wait: seconds the call would have had to wait for budget, as
            estimated when it was refused (``None`` when it did wait and the
            limiter gives no estimate).  A web endpoint can answer
            ``Retry-After`` with it.
    """

    def __init__(
        self,
        message: str,
        *,
        expected_wait: float | None = None,
        message_may_exist: bool = False,
    ) -> None:
        super().__init__(message, message_may_exist=message_may_exist)
        self.expected_wait = expected_wait


class BatchRejectedError(PostmanError):
    """Postman validated a batch CSV and refused it; no message was sent.

    Attributes:
        receipt: the :class:`~postman_async.BatchReceipt` Postman returned, with
            ``report_url``, ``num_rows`` and ``num_errors`` when it gave them.
    """

    def __init__(self, message: str, *, receipt: BatchReceipt) -> None:
        super().__init__(message)
        self.receipt = receipt


class TrackingTimeoutError(PostmanError, typing.Generic[_M]):
    """``wait_for`` ran out of time before every message was final.

    Attributes:
        messages: the latest known state of every message seen so far
            (:class:`~postman_async.Message` or :class:`~postman_async.EmailMessage`).
        pending: IDs that were not final yet (or never seen).
    """

    def __init__(self, message: str, *, messages: dict[str, _M], pending: set[str]) -> None:
        super().__init__(message)
        self.messages = messages
        self.pending = pending


class APIConnectionError(PostmanError):
    """No usable HTTP response: connection refused or reset, DNS or TLS failure."""


class APITimeoutError(APIConnectionError):
    """The server did not answer within the call's deadline."""


class ResponseDecodeError(PostmanError):
    """A 2xx response whose body is not what the API documents.

    Attributes:
        status: the HTTP status of the response.
        body: the start of the raw body (at most 2 KiB).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: bytes,
        message_may_exist: bool = False,
    ) -> None:
        super().__init__(message, message_may_exist=message_may_exist)
        self.status = status
        self.body = body[:_BODY_LIMIT]


class APIError(PostmanError):
    """Postman answered with a non-2xx status.

    Attributes:
        status: the HTTP status code.
        code: Postman's error code (for example ``"parameter_invalid"``), or ``None``.
        message: Postman's human-readable message (or a summary of the body).
        trace_id: Postman's trace ID to quote to support, or ``None``.
        body: the start of the raw response body (at most 2 KiB).
        retry_after: seconds from a ``Retry-After`` header, when one was sent.
        request: the call that failed, e.g. ``"POST /campaigns/campaign_1/messages"``.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request: str | None = None,
        code: str | None = None,
        trace_id: str | None = None,
        body: bytes = b"",
        retry_after: float | None = None,
        message_may_exist: bool = False,
    ) -> None:
        super().__init__(message, message_may_exist=message_may_exist)
        self.status = status
        self.code = code
        self.message = message
        self.trace_id = trace_id
        self.body = body[:_BODY_LIMIT]
        self.retry_after = retry_after
        self.request = request

    def __str__(self) -> str:
        parts = [self.request] if self.request else []
        parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        text = f"{': '.join(parts)}: {self.message}"
        if self.trace_id:
            text += f" (trace id {self.trace_id})"
        if self.message_may_exist:
            text += "; the message may have been created, reconcile before sending again"
        return text


class BadRequestError(APIError):
    """400: Postman refused the request's content or the resource's state."""


class AuthenticationError(APIError):
    """401: the API key is missing, wrong, for another campaign, or the IP is not whitelisted."""


class PermissionDeniedError(APIError):
    """403: the key may not do this (error code 1010: contact the Postman team)."""


class NotFoundError(APIError):
    """404: the campaign, message or batch does not exist."""


class GoneError(APIError):
    """410: the resource existed but is gone."""


class PayloadTooLargeError(APIError):
    """413: the request body (usually a batch CSV) is too large."""


class RateLimitError(APIError):
    """429: the campaign's rate limit was exceeded; the request was dropped, not queued."""


class ServerError(APIError):
    """5xx: Postman or a gateway in front of it failed; the request was not queued."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    410: GoneError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}


def error_class_for(status: int) -> type[APIError]:
    """Return the :class:`APIError` subclass for an HTTP status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)
