"""What the contenders share: test data, a record of every HTTP attempt, a wire struct."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import aiohttp
import msgspec


def recipient(i: int) -> str:
    """A Singapore mobile number for row ``i`` (never one of the failing test numbers)."""
    return f"659{i % 10_000_000:07d}"


def otp(i: int) -> str:
    """A six-digit code for row ``i``."""
    return f"{(i * 7919) % 1_000_000:06d}"


def send_body(i: int) -> dict[str, object]:
    """The JSON body of a single send for row ``i``."""
    return {"recipient": recipient(i), "language": "english", "values": {"otp": otp(i)}}


class RawMessage(msgspec.Struct, rename="camel"):
    """A message as a hand-written client would decode it with msgspec."""

    id: str
    latest_status: str
    recipient: str | None = None
    language: str | None = None
    values: dict[str, str] | None = None
    full_message: str | None = None
    campaign_id: str | None = None
    template_body_id: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    creator_id: str | None = None


@dataclass
class AttemptLog:
    """Every HTTP request a session made: when it started (perf_counter) and its status.

    Attach :meth:`trace_config` to an ``aiohttp.ClientSession``; a request that
    ended without a response is logged with status 0.
    """

    attempts: list[tuple[float, int]] = field(default_factory=list)

    def trace_config(self) -> aiohttp.TraceConfig:
        """A trace config that fills this log."""
        config = aiohttp.TraceConfig()

        async def on_start(
            _: aiohttp.ClientSession, ctx: SimpleNamespace, __: aiohttp.TraceRequestStartParams
        ) -> None:
            ctx.started = time.perf_counter()

        async def on_end(
            _: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
        ) -> None:
            self.attempts.append((ctx.started, params.response.status))

        async def on_error(
            _: aiohttp.ClientSession,
            ctx: SimpleNamespace,
            __: aiohttp.TraceRequestExceptionParams,
        ) -> None:
            self.attempts.append((ctx.started, 0))

        config.on_request_start.append(on_start)
        config.on_request_end.append(on_end)
        config.on_request_exception.append(on_error)
        return config

    def times(self, status: int | None = None) -> list[float]:
        """Start times of all attempts, or of those answered with ``status``."""
        return [t for t, s in self.attempts if status is None or s == status]
