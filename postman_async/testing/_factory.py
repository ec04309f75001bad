"""Starting shaped mocks on demand, for the ``postman_mock_factory`` fixture."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from ._environments import Environment
from ._faults import FaultConfig
from ._leniency import Leniency
from ._lifecycle import Profile
from ._server import MockServer, serve_mock
from ._state import MockPostman


class MockFactory(Protocol):
    """The ``postman_mock_factory`` fixture: starts a mock shaped by its arguments."""

    async def __call__(
        self,
        *,
        tps: int | Literal["auto"] | None = "auto",
        variables: Sequence[str] = ("otp",),
        languages: Sequence[str] = ("english",),
        environment: Environment | None = None,
        profile: Profile = "fast",
        faults: FaultConfig | None = None,
        speed: float = 1.0,
        leniency: Leniency | None = None,
        seed: int | None = None,
        **campaign: Any,
    ) -> MockServer:
        """Serve a new mock on a free loopback port until the test ends; return it.

        Args:
            tps: Requests per second of its campaign; ``"auto"``: the environment's default
                (10, or 200 on ``loadtest``); ``None``: no limit.
            variables: Template variables every send must fill.
            languages: Enabled languages.
            environment: ``test``, ``production`` or ``loadtest``; ``None``: from
                ``api_keys`` (test when none are given).
            profile: Lifecycle profile, ``fast`` or ``realistic``.
            faults: Random faults from the start.
            speed: Lifecycle speed (0 freezes it: only ``server.state.advance`` moves on).
            leniency: Relaxations of the mock's strict readings.
            seed: Seed of the realistic profile's draws.
            **campaign: Other options of ``MockPostman.add_campaign`` (``api_keys``,
                ``max_batch_rows``, ``allowed_ips``, ...).
        """
        ...


class MockStarter:
    """A ``MockFactory`` whose mocks stop when ``stack`` closes."""

    def __init__(self, stack: contextlib.AsyncExitStack) -> None:
        self._stack = stack

    async def __call__(
        self,
        *,
        tps: int | Literal["auto"] | None = "auto",
        variables: Sequence[str] = ("otp",),
        languages: Sequence[str] = ("english",),
        environment: Environment | None = None,
        profile: Profile = "fast",
        faults: FaultConfig | None = None,
        speed: float = 1.0,
        leniency: Leniency | None = None,
        seed: int | None = None,
        **campaign: Any,
    ) -> MockServer:
        state = MockPostman(speed, profile=profile, leniency=leniency, seed=seed)
        if faults is not None:
            state.faults = faults
        serving = serve_mock(
            state,
            tps=tps,
            variables=variables,
            languages=languages,
            environment=environment,
            **campaign,
        )
        return await self._stack.enter_async_context(serving)
