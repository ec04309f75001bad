"""One command run: its arguments, configuration, output, and the client it opens."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import IO

from .._campaign import Campaign
from .._client import PostmanClient
from .._tracking import TrackingPolicy
from .._transport import AiohttpTransport
from ._calllog import LoggedTransport
from ._config import Config
from ._meter import RateMeter
from ._output import Output
from ._progress import Progress, Tally

#: How the commands poll statuses: soon at first, never less often than every 10 s.
TRACKING = TrackingPolicy(min_interval=1.0, max_interval=10.0)


@dataclass
class Context:
    """What every command gets."""

    #: The parsed arguments.
    args: argparse.Namespace
    #: Where to write.
    out: Output
    #: Where calls go (``None`` for commands that make none).
    config: Config | None = None
    #: The rate budget in use.
    meter: RateMeter = field(default_factory=RateMeter)

    @property
    def unmask(self) -> bool:
        """Whether to show full phone numbers."""
        return bool(getattr(self.args, "unmask", False))

    @property
    def json(self) -> bool:
        """Whether to print JSON lines."""
        return getattr(self.args, "format", None) == "json"

    def progress(self, title: str, tally: Tally, stream: IO[str]) -> Progress:
        """A progress display; plain lines with ``--verbose``, whose log would tear a live one."""
        live = False if getattr(self.args, "verbose", False) else None
        return Progress(title, tally, stream, meter=self.meter, live=live)

    @contextlib.asynccontextmanager
    async def campaign(self) -> AsyncIterator[Campaign]:
        """Open a client and yield the configured campaign; the client closes on the way out."""
        if self.config is None:  # pragma: no cover - the parser gives API commands a config
            raise RuntimeError("this command has no configuration")
        timeout: float = self.args.timeout
        tps: int = self.args.tps
        verbose = bool(getattr(self.args, "verbose", False))
        async with PostmanClient(
            base_url=self.config.base_url,
            timeout=timeout,
            limiter_factory=self.meter.factory,
            tracking=TRACKING,
            transport=LoggedTransport(AiohttpTransport()) if verbose else None,
        ) as client:
            yield client.campaign(self.config.campaign_id, api_key=self.config.api_key, tps=tps)
