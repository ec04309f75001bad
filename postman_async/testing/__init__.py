"""A mock Postman v2 server for testing SMS clients, in process or as a separate process.

It serves every endpoint of the v2 API over real HTTP (``aiohttp.web``), with per-campaign
bearer keys, the per-campaign rate limit, validation errors in the documented shapes, the
message lifecycle on a clock tests can speed up or advance, the documented test numbers,
cursor pagination, and injectable faults. Counters on ``MockPostman.stats`` let a test
check what the server saw.

Example:
    >>> async with serve_mock(tps=10, variables=("otp",)) as server:  # doctest: +SKIP
    ...     headers = {"Authorization": f"Bearer {server.api_key}"}
    ...     url = f"{server.base_url}/campaigns/{server.campaign_id}/messages"
    ...     body = {"recipient": "6591234567", "language": "english", "values": {"otp": "1"}}
    ...     async with session.post(url, json=body, headers=headers) as response:
    ...         assert response.status == 201
    ...     server.state.advance(5)  # the message is now "success"

The v1 email API is served beside it at ``server.email_base_url`` (key:
``server.email_api_key``; state: ``server.state.email``).

From a shell: ``python -m postman_async.testing --port 8080``.
"""

from ._campaign import MockCampaign
from ._email_state import (
    EMAIL_TEST_ADDRESSES,
    EmailOutcome,
    MockEmail,
    MockEmailAccount,
    MockEmailMessage,
)
from ._faults import FaultConfig
from ._lifecycle import TEST_NUMBERS, DeliveryError
from ._records import MockAttempt, MockBatch, MockMessage
from ._server import CampaignOptions, MockServer, serve_mock
from ._state import MockPostman
from ._stats import ENDPOINTS, Stats

__all__ = [
    "EMAIL_TEST_ADDRESSES",
    "ENDPOINTS",
    "TEST_NUMBERS",
    "CampaignOptions",
    "DeliveryError",
    "EmailOutcome",
    "FaultConfig",
    "MockAttempt",
    "MockBatch",
    "MockCampaign",
    "MockEmail",
    "MockEmailAccount",
    "MockEmailMessage",
    "MockMessage",
    "MockPostman",
    "MockServer",
    "Stats",
    "serve_mock",
]
