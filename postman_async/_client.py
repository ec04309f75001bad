"""PostmanClient: the session, its lifecycle, and the per-campaign registry."""

from __future__ import annotations

__all__ = ["DEFAULT_TPS", "PostmanClient"]

import enum
import logging
from typing import TYPE_CHECKING, Any, Final

from ._batch import TEST_MAX_ROWS
from ._campaign import Campaign
from ._email import EmailAccount, email_limiter_id
from ._email_validate import check_email_key
from ._env import EnvConfig, read_env
from ._errors import ClientClosedError, ValidationError
from ._exchange import Transport
from ._limits import LimiterFactory, NoLimiter, RateLimiter, SlidingWindowLimiter
from ._loop_binding import creation_site
from ._request import RequestLoop
from ._retry import RetryPolicy
from ._shared import DEFAULT, CampaignSettings, Default, Shared
from ._telemetry import create as create_telemetry
from ._tracking import TrackingPolicy
from ._transport import AiohttpTransport, Session
from ._validate import Secret, check_api_key, check_base_url, check_timeout, check_tps, path_segment

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

logger = logging.getLogger(__name__)

#: Postman's default rate limit per campaign, requests per second.
DEFAULT_TPS: Final = 10


class _State(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class _DefaultLimiters:
    """The default factory: one in-process :class:`SlidingWindowLimiter` per campaign."""

    __slots__ = ("max_retry_after", "max_waiting")

    def __init__(self, *, max_waiting: int | None, max_retry_after: float) -> None:
        self.max_waiting = max_waiting
        self.max_retry_after = max_retry_after

    def __call__(self, campaign_id: str, tps: int) -> RateLimiter:
        return SlidingWindowLimiter(
            tps, max_waiting=self.max_waiting, max_retry_after=self.max_retry_after
        )


class PostmanClient:
    """An asyncio client for the Postman v2 SMS API.

    One client serves many campaigns; each campaign gets one rate limiter,
    shared by every endpoint and every :class:`Campaign` handle for it.

    Args:
        base_url: the API base; :attr:`PRODUCTION_URL` (default),
            :attr:`TEST_URL`, :attr:`LOADTEST_URL`, or a mock server's URL.
            Plain ``http`` is refused unless the host is loopback.
        session: an ``aiohttp.ClientSession`` to use; the client then does not
            close it.  By default the client creates and closes its own.
        timeout: seconds; the default deadline of one call, covering waiting for
            rate budget and every attempt.  Each call can override it.
        retry_policy: retry and backoff settings, including what a send does
            when its outcome is unknown (see :class:`RetryPolicy`).
        connect_timeout: seconds allowed to open one connection.
        limiter_factory: ``(campaign_id, tps) -> RateLimiter``, to share the rate
            budget beyond this process (see :mod:`postman_async.redis`); by
            default an in-process :class:`SlidingWindowLimiter`.  The client
            closes each limiter it obtained when it closes.
        tracking: how the status tracker polls (see :class:`TrackingPolicy`).
        transport: what performs each HTTP attempt; by default aiohttp
            (:class:`postman_async.testing.MockTransport` in unit tests).
            Excludes ``session`` and ``connect_timeout``.
        tracer_provider: an OpenTelemetry ``TracerProvider`` for the client's
            spans (default: the global one).  Spans and metrics are recorded
            only when ``opentelemetry-api`` is installed (the ``otel`` extra).
        meter_provider: an OpenTelemetry ``MeterProvider`` for its metrics
            (default: the global one).
        max_waiting: the most calls that may wait for one campaign's rate
            budget at once; later calls fail at once with
            :class:`LimiterTimeoutError` (``None``: no cap).  Applies to the
            default limiter; a ``limiter_factory`` sets its own.

    Example::

        async with PostmanClient(base_url=PostmanClient.TEST_URL) as client:
            otp = client.campaign("campaign_...", api_key=os.environ["POSTMAN_API_KEY"])
            msg = await otp.send("+65 9123 4567", {"otp": "123456"})
    """

    #: Production: real SMS to the public.  Never test here.
    PRODUCTION_URL: Final = "https://postman.gov.sg/api/v2"
    #: Test environment: send only to yourself; batches of at most 20 rows.
    TEST_URL: Final = "https://test.postman.gov.sg/api/v2"
    #: Load-test environment: book it first; messages never reach phones.
    LOADTEST_URL: Final = "https://loadtest.postman.gov.sg/api/v2"
    #: Postman's v1 ("Legacy") API, which sends transactional email (see :meth:`email`).
    EMAIL_PRODUCTION_URL: Final = "https://api.postman.gov.sg/v1"
    #: Staging of the v1 API.
    EMAIL_STAGING_URL: Final = "https://api-staging.postman.gov.sg/v1"

    def __init__(
        self,
        *,
        base_url: str = PRODUCTION_URL,
        session: Session | None = None,
        timeout: float = 30.0,
        retry_policy: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
        limiter_factory: LimiterFactory | None = None,
        tracking: TrackingPolicy | None = None,
        transport: Transport | None = None,
        max_waiting: int | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        #: The API base URL in use.
        self.base_url = check_base_url(base_url)
        #: Default deadline of one call, seconds.
        self.timeout = check_timeout(timeout)
        check_timeout(connect_timeout, "connect_timeout")
        if transport is None:
            transport = AiohttpTransport(session=session, connect_timeout=connect_timeout)
        elif session is not None:
            raise ValidationError("give either transport= or session=, not both")
        #: The retry policy in use.
        self.retry_policy = retry_policy or RetryPolicy()
        cap = self.retry_policy.max_retry_after
        self._requests = RequestLoop(
            transport=transport,
            retry=self.retry_policy,
            max_retry_after=cap,
            telemetry=create_telemetry(tracer_provider, meter_provider),
        )
        self._requests.binding.origin = creation_site()
        self._env: EnvConfig | None = None
        if max_waiting is not None and limiter_factory is not None:
            raise ValidationError(
                "give max_waiting to the limiters your limiter_factory makes, not to the client"
            )
        if max_waiting is not None and (
            isinstance(max_waiting, bool) or not isinstance(max_waiting, int) or max_waiting < 0
        ):
            raise ValidationError(f"max_waiting must be a whole number >= 0, got {max_waiting!r}")
        self._limiter_factory = limiter_factory or _DefaultLimiters(
            max_waiting=max_waiting, max_retry_after=cap
        )
        self._campaigns: dict[str, Shared] = {}
        #: How the status tracker polls.
        self.tracking = tracking or TrackingPolicy()
        self._state = _State.OPEN
        self._settings = CampaignSettings(
            base_url=self.base_url,
            timeout=self.timeout,
            batch_row_limit=TEST_MAX_ROWS if self.base_url == self.TEST_URL else None,
            tracking=self.tracking,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> PostmanClient:
        """A client for the API the environment names (the command line reads the same).

        ``POSTMAN_BASE_URL``, or ``POSTMAN_ENV`` (``production``, ``test`` or
        ``loadtest``), choose the API; neither means production.  The
        environment is read and checked now; :meth:`campaign_from_env` then
        gives the handle for ``POSTMAN_CAMPAIGN_ID`` and ``POSTMAN_API_KEY``.

        Args:
            environ: the variables to read (default ``os.environ``).
            **options: any other argument of :class:`PostmanClient`.

        Raises:
            ValidationError: a variable is malformed (the key is never echoed).

        Example::

            async with PostmanClient.from_env() as client:
                otp = client.campaign_from_env()
                await otp.send("+65 9123 4567", {"otp": "123456"})
        """
        if "base_url" in options:
            raise ValidationError(
                "from_env() reads the base URL from POSTMAN_BASE_URL or POSTMAN_ENV; "
                "to give it yourself, use PostmanClient(base_url=...)"
            )
        config = read_env(environ)
        client = cls(base_url=config.base_url, **options)
        client._env = config
        return client

    def campaign_from_env(self, *, tps: int | Default | None = DEFAULT) -> Campaign:
        """The handle for ``POSTMAN_CAMPAIGN_ID`` with ``POSTMAN_API_KEY``.

        Reads what :meth:`from_env` read, or ``os.environ`` now for a client
        made otherwise.  ``tps`` is as for :meth:`campaign`.

        Raises:
            ValidationError: a variable is unset or malformed, or the key is of
                another environment than the client's URL.
        """
        config = self._env if self._env is not None else read_env()
        campaign_id, key = config.require()
        return self.campaign(campaign_id, api_key=key.reveal(), tps=tps)

    def __repr__(self) -> str:
        return (
            f"<PostmanClient {self.base_url} campaigns={len(self._campaigns)} {self._state.value}>"
        )

    @property
    def batch_row_limit(self) -> int | None:
        """Most rows in one batch here: 20 on the test environment, else no local cap."""
        return self._settings.batch_row_limit

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._state is _State.CLOSED

    async def __aenter__(self) -> PostmanClient:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the client: waiting calls fail with ClientClosedError, the session closes.

        A session passed in by the caller is left open.  Closing twice is fine.

        Raises:
            WrongEventLoopError: called from another event loop while the
                client's own still runs (close it there).  After its loop has
                closed, closing from any loop closes the connections.
        """
        if self._state is _State.CLOSED:
            return
        binding = self._requests.binding
        bound = binding.foreign()
        if bound is not None and not bound.is_closed():
            raise binding.error(bound)
        self._state = _State.CLOSED
        # A copy, marked closed before the first await: a track() or wait_for() on any
        # handle while this runs is refused instead of starting a tracker nobody closes.
        shared = list(self._campaigns.values())
        for entry in shared:
            entry.closed = True
        for entry in shared:
            if entry.tracker is not None:
                await entry.tracker.close()
        for entry in shared:
            await entry.limiter.aclose()
        await self._requests.aclose()

    def _check_open(self) -> None:
        if self._state is _State.CLOSED:
            raise ClientClosedError("the client is closed; create a new PostmanClient")

    def campaign(
        self,
        campaign_id: str,
        *,
        api_key: str,
        tps: int | Default | None = DEFAULT,
    ) -> Campaign:
        """Return a handle for one campaign (cheap; make as many as you like).

        Args:
            campaign_id: the campaign's ID from the Postman portal.
            api_key: one of the campaign's API keys.
            tps: the campaign's rate limit, requests per second (``DEFAULT``:
                10, or what the campaign's first handle said); ``None`` turns
                client-side limiting off.  Every handle of the same campaign
                shares one limiter, so a later handle must agree with the first.

        Raises:
            ValidationError: a bad ID or key, a ``tps`` that disagrees with the
                campaign's existing limiter, or a test key pointed at
                production (or a live key at another environment).
        """
        self._check_open()
        path_segment("campaign_id", campaign_id)
        key = check_api_key(api_key)
        self._check_key_environment(key)
        shared = self._shared_for(campaign_id, tps)
        return Campaign(
            campaign_id, key=key, requests=self._requests, settings=self._settings, shared=shared
        )

    def _check_key_environment(self, key: Secret) -> None:
        value = key.reveal()
        if value.startswith("key_test_") and self.base_url == self.PRODUCTION_URL:
            raise ValidationError(
                "this is a test-environment key (key_test_...) but base_url is production; "
                "use base_url=PostmanClient.TEST_URL"
            )
        if value.startswith("key_live_") and self.base_url in {self.TEST_URL, self.LOADTEST_URL}:
            raise ValidationError(
                "this is a production key (key_live_...) but base_url is not production; "
                "testing with production keys is not allowed"
            )

    def _shared_for(self, campaign_id: str, tps: int | Default | None) -> Shared:
        existing = self._campaigns.get(campaign_id)
        if existing is not None:
            if not isinstance(tps, Default) and check_tps(tps) != existing.tps:
                raise ValidationError(
                    f"campaign {campaign_id} already has a limiter at tps={existing.tps}; every "
                    "handle of one campaign shares it, so pass the same tps or leave it out"
                )
            return existing
        rate = DEFAULT_TPS if isinstance(tps, Default) else check_tps(tps)
        limiter = NoLimiter() if rate is None else self._limiter_factory(campaign_id, rate)
        shared = self._campaigns[campaign_id] = Shared(rate, limiter)
        return shared

    def limiter(self, campaign_id: str) -> RateLimiter | None:
        """The rate limiter shared by a campaign's handles, or ``None`` before the first."""
        entry = self._campaigns.get(campaign_id)
        return None if entry is None else entry.limiter

    def email(
        self,
        *,
        api_key: str,
        base_url: str = EMAIL_PRODUCTION_URL,
        tps: int | Default | None = DEFAULT,
    ) -> EmailAccount:
        """Return a handle for transactional email through Postman's v1 API.

        Args:
            api_key: a v1 API key of your Postman account (``<name>_v1_...``).
            base_url: :attr:`EMAIL_PRODUCTION_URL` (default),
                :attr:`EMAIL_STAGING_URL`, or a mock server's ``email_base_url``.
            tps: sends per second the account may make (default 10); every
                key and handle of one account shares this budget (the limiter
                is keyed ``email:<name>``, never by the key).  ``None`` turns
                client-side limiting off.  Reads are never limited.

        Raises:
            ValidationError: a key that is not a v1 key, a bad ``base_url``, or
                a ``tps`` that disagrees with the account's existing limiter.

        Example::

            mail = client.email(api_key=os.environ["POSTMAN_EMAIL_API_KEY"])
            msg = await mail.send("tan@example.com", "Hello", "<p>Hi</p>")
        """
        self._check_open()
        key, account = check_email_key(api_key)
        url = check_base_url(base_url)
        shared = self._shared_for(email_limiter_id(account), tps)
        return EmailAccount(
            account,
            key=key,
            base_url=url,
            requests=self._requests,
            limiter=shared.limiter,
            tps=shared.tps,
            timeout=self.timeout,
        )
