"""Running the mock on a real socket: ``serve_mock`` and the ``MockServer`` it yields."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypedDict

from aiohttp import web

from ._app import make_app
from ._environments import Environment
from ._mock_campaign import MockCampaign
from ._rate_windows import RateLimitModel
from ._state import MockPostman

if TYPE_CHECKING:
    from typing_extensions import Unpack


class CampaignOptions(TypedDict, total=False):
    """Keyword arguments of ``MockPostman.add_campaign``."""

    campaign_id: str | None
    api_keys: Sequence[str] | None
    environment: Environment | None
    tps: int | Literal["auto"] | None
    rate_limit: RateLimitModel
    languages: Sequence[str]
    variables: Sequence[str]
    max_batch_rows: int | Literal["auto"] | None
    hold_sent_to_telco: bool
    templates: Mapping[str, str] | None
    allowed_ips: Sequence[str] | None
    nric: Mapping[str, str] | None


@dataclass(frozen=True)
class MockServer:
    """A running mock, as yielded by ``serve_mock``."""

    #: All state of the mock.
    state: MockPostman
    #: The campaign ready for use.
    campaign: MockCampaign
    #: Address the server listens on.
    host: str
    #: Port the server listens on (the one picked, when 0 was asked for).
    port: int
    #: Whether it serves HTTPS.
    tls: bool = False

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:8080`` (admin paths start at ``/_mock``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """API base URL, e.g. ``http://127.0.0.1:8080/api/v2``."""
        return self.url + "/api/v2"

    @property
    def campaign_id(self) -> str:
        """ID of ``campaign``."""
        return self.campaign.id

    @property
    def api_key(self) -> str:
        """First API key of ``campaign``."""
        return self.campaign.api_keys[0]

    @property
    def email_base_url(self) -> str:
        """The v1 email API's base URL, e.g. ``http://127.0.0.1:8080/v1``."""
        return self.url + "/v1"

    @property
    def email_api_key(self) -> str:
        """First v1 API key of the first email account."""
        return next(iter(self.state.email.accounts.values())).api_keys[0]


@contextlib.asynccontextmanager
async def serve_mock(
    state: MockPostman | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    **campaign: Unpack[CampaignOptions],
) -> AsyncIterator[MockServer]:
    """Serve a mock Postman on ``host:port`` for the duration of the ``async with`` block.

    Args:
        state: The state to serve; a new ``MockPostman()`` when ``None``.
        host: Address to listen on.
        port: Port to listen on; 0 picks a free one (see ``MockServer.port``).
        ssl_context: Serve HTTPS with this server context (see the command line's ``--tls``
            for one made with a throwaway CA).
        **campaign: Options of ``MockPostman.add_campaign``. A campaign is added with them
            when any are given or ``state`` has no campaign; otherwise the server's
            ``campaign`` is the first one of ``state``.

    Yields:
        The running server.

    Example:
        >>> async with serve_mock(tps=10) as server:  # doctest: +SKIP
        ...     url = f"{server.base_url}/campaigns/{server.campaign_id}/messages"
    """
    state = MockPostman() if state is None else state
    if campaign or not state.campaigns:
        ready = state.add_campaign(**campaign)
    else:
        ready = next(iter(state.campaigns.values()))
    if not state.email.accounts:
        state.email.add_account()
    runner = web.AppRunner(make_app(state), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        bound_port = int(runner.addresses[0][1])
        yield MockServer(
            state=state, campaign=ready, host=host, port=bound_port, tls=ssl_context is not None
        )
    finally:
        await runner.cleanup()
