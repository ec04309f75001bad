"""The Redis side of the fleet limiter: keys, the Lua script, one round trip per call.

Every decision on a campaign's shared budget is one ``EVALSHA`` of
``_redis_script.lua`` (read it for the algorithm).  The script is loaded on
first use and again after a ``NOSCRIPT`` answer (a restart, a failover or
``SCRIPT FLUSH``).  Any Redis failure or timeout becomes
:class:`LimiterUnavailableError`.
"""

from __future__ import annotations

__all__ = [
    "LimiterUnavailableError",
    "NoBackoff",
    "Redis",
    "Reply",
    "Retry",
    "Store",
    "campaign_keys",
]

import asyncio
import hashlib
import importlib.resources
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

try:
    from redis import exceptions as redis_errors
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "postman_async.redis needs redis-py >= 5: pip install 'postman-async[redis]'"
    ) from exc

from ._errors import LimiterUnavailableError

#: The script's source, read once.
SCRIPT = importlib.resources.files(__package__).joinpath("_redis_script.lua").read_text("utf-8")
#: Its SHA-1, as Redis names it.
SCRIPT_SHA = hashlib.sha1(SCRIPT.encode(), usedforsecurity=False).hexdigest()

#: Script statuses.
RESERVED, BUSY, NOTHING_ASKED = 1, 0, -1


def campaign_keys(prefix: str, campaign_id: str) -> tuple[str, str, str, str]:
    """The four keys of a campaign, in one Redis Cluster hash slot.

    The campaign ID is hashed: keys have one shape whatever the ID holds, and
    the ``{...}`` hash tag cannot be broken by braces in it.
    """
    tag = hashlib.sha256(campaign_id.encode()).hexdigest()[:20]
    base = f"{prefix}:{{{tag}}}"
    return (f"{base}:log", f"{base}:held", f"{base}:lease", f"{base}:state")


@dataclass(frozen=True)
class Reply:
    """What the script answered."""

    #: ``RESERVED``, ``BUSY`` or ``NOTHING_ASKED``.
    status: int
    #: Seconds until the reserved slot (``RESERVED``), or until asking again (``BUSY``).
    wait: float
    #: The server's clock, seconds since the epoch.
    server_time: float


class Store:
    """One Redis connection (pool) and the script, shared by a factory's limiters."""

    __slots__ = ("redis", "round_trips", "timeout")

    def __init__(self, redis: Redis, *, timeout: float) -> None:
        #: The asyncio client.
        self.redis = redis
        #: Seconds one call (with a script reload) may take before it fails.
        self.timeout = timeout
        #: Commands sent to Redis so far (script calls and loads).
        self.round_trips = 0

    async def run(self, keys: Sequence[str], args: Sequence[str | int | float]) -> Reply:
        """Run the script once; raise :class:`LimiterUnavailableError` on any failure."""
        try:
            raw = await asyncio.wait_for(self._run(keys, args), self.timeout)
        except (TimeoutError, redis_errors.TimeoutError) as exc:
            raise LimiterUnavailableError(
                f"Redis did not answer within {self.timeout:g} s; no request was sent"
            ) from exc
        except (redis_errors.ConnectionError, OSError) as exc:
            raise LimiterUnavailableError(
                f"Redis is unreachable ({type(exc).__name__}); no request was sent"
            ) from exc
        except redis_errors.RedisError as exc:
            raise LimiterUnavailableError(
                f"Redis refused the rate-limit script ({type(exc).__name__}: {exc}); "
                "no request was sent"
            ) from exc
        status, wait_us, now_us = (int(x) for x in raw)
        return Reply(status, wait_us / 1e6, now_us / 1e6)

    async def _run(self, keys: Sequence[str], args: Sequence[str | int | float]) -> list[int]:
        self.round_trips += 1
        try:
            return await self._evalsha(keys, args)
        except redis_errors.NoScriptError:
            pass
        self.round_trips += 2
        await self.redis.script_load(SCRIPT)
        return await self._evalsha(keys, args)

    async def _evalsha(self, keys: Sequence[str], args: Sequence[str | int | float]) -> list[int]:
        # redis-py types its commands for the sync and asyncio clients at once.
        pending: Any = self.redis.evalsha(SCRIPT_SHA, len(keys), *keys, *args)
        reply: list[int] = await pending
        return reply
