"""postman_async: an asyncio client for Singapore's Postman v2 SMS API.

Per-campaign rate limiting that never overshoots, typed errors and safe
retries, delivery tracking that costs almost no rate budget, and a mock
server (:mod:`postman_async.testing`) to test against.
"""

from ._batch import BatchRows
from ._bulk import SendResult
from ._campaign import Campaign
from ._client import PostmanClient
from ._email import EmailAccount
from ._email_models import (
    AttachmentInfo,
    EmailClassification,
    EmailMessage,
    EmailPage,
    EmailParams,
    EmailStatus,
)
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchRejectedError,
    ClientClosedError,
    GoneError,
    LimiterTimeoutError,
    LimiterUnavailableError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PostmanError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    TrackingTimeoutError,
    ValidationError,
    WrongEventLoopError,
)
from ._limits import (
    Admission,
    Grant,
    LimiterFactory,
    LimiterSnapshot,
    NoLimiter,
    Priority,
    RateLimiter,
    SlidingWindowLimiter,
)
from ._models import Attempt, BatchReceipt, Language, Message, MessageStatus, Page, PageInfo
from ._paging import Paginator, RepeatedPageError
from ._retry import AmbiguousSendPolicy, RetryPolicy
from ._shared import DEFAULT
from ._tracking import TrackingPolicy
from ._version import __version__

__all__ = [
    "DEFAULT",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "Admission",
    "AmbiguousSendPolicy",
    "AttachmentInfo",
    "Attempt",
    "AuthenticationError",
    "BadRequestError",
    "BatchReceipt",
    "BatchRejectedError",
    "BatchRows",
    "Campaign",
    "ClientClosedError",
    "EmailAccount",
    "EmailClassification",
    "EmailMessage",
    "EmailPage",
    "EmailParams",
    "EmailStatus",
    "GoneError",
    "Grant",
    "Language",
    "LimiterFactory",
    "LimiterSnapshot",
    "LimiterTimeoutError",
    "LimiterUnavailableError",
    "Message",
    "MessageStatus",
    "NoLimiter",
    "NotFoundError",
    "Page",
    "PageInfo",
    "Paginator",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PostmanClient",
    "PostmanError",
    "Priority",
    "RateLimitError",
    "RateLimiter",
    "RepeatedPageError",
    "ResponseDecodeError",
    "RetryPolicy",
    "SendResult",
    "ServerError",
    "SlidingWindowLimiter",
    "TrackingPolicy",
    "TrackingTimeoutError",
    "ValidationError",
    "WrongEventLoopError",
    "__version__",
]
