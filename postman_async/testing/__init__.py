"""A mock Postman v2 server for testing SMS clients, in process or as a separate process.

It serves every endpoint of the v2 API over real HTTP (``aiohttp.web``), with per-campaign
bearer keys, the per-campaign rate limit, validation errors in the documented shapes (and
Postman's refusals: numbers without a country code, unsupported characters, long bodies,
bodies that are not labelled JSON), environments chosen by the key prefix, the message
lifecycle on a clock tests can speed up or advance (``fast`` or ``realistic`` profile), the
documented test numbers, cursor pagination, and random or scripted faults. Where Postman's
behaviour is undocumented it is strict unless a ``Leniency`` switch says otherwise. Counters
on ``MockPostman.stats`` let a test check what the server saw. With ``pytest-asyncio``, the
``postman_mock`` and ``postman_mock_factory`` fixtures come with the package.

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

From a shell: ``python -m postman_async.testing --port 8080`` (``--tls`` for HTTPS).
"""

from ._app import make_app
from ._email_state import (
    EMAIL_TEST_ADDRESSES,
    EmailOutcome,
    MockEmail,
    MockEmailAccount,
    MockEmailMessage,
)
from ._environments import ENVIRONMENTS
from ._factory import MockFactory
from ._faults import FaultConfig
from ._leniency import Leniency
from ._lifecycle import PROFILES, TEST_NUMBERS, DeliveryError
from ._mock_campaign import MockCampaign
from ._records import MockAttempt, MockBatch, MockMessage
from ._script import FaultScript, ScriptedFault
from ._server import CampaignOptions, MockServer, serve_mock
from ._state import MockPostman
from ._stats import ENDPOINTS, Stats
from ._transport import MockTransport, Request, Response, TransportError

__all__ = [
    "EMAIL_TEST_ADDRESSES",
    "ENDPOINTS",
    "ENVIRONMENTS",
    "PROFILES",
    "TEST_NUMBERS",
    "CampaignOptions",
    "DeliveryError",
    "EmailOutcome",
    "FaultConfig",
    "FaultScript",
    "Leniency",
    "MockAttempt",
    "MockBatch",
    "MockCampaign",
    "MockEmail",
    "MockEmailAccount",
    "MockEmailMessage",
    "MockFactory",
    "MockMessage",
    "MockPostman",
    "MockServer",
    "MockTransport",
    "Request",
    "Response",
    "ScriptedFault",
    "Stats",
    "TransportError",
    "make_app",
    "serve_mock",
]
