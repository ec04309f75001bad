"""Client overhead: CPU per request of this client against hand-written HTTP code.

The mock runs with no rate limit and the client's limiter is off (``tps=None``), so
each contender sends as fast as it can at a fixed concurrency.  Contenders take
turns, in a rotating order, over several rounds:

* ``postman_async``: ``Campaign.send`` (validation, limiter, retries, typed Message);
* the same with ``session=`` given (a caller's own aiohttp session; departures are
  then reported by the request body alone);
* ``aiohttp + msgspec``: ``session.post`` and a msgspec Struct decode of the body;
* ``aiohttp + json``: ``session.post(json=...)`` and ``json.loads``;
* ``httpx``: ``httpx.AsyncClient.post(json=...)`` and ``response.json()``.

The main figure is CPU microseconds per request in the client process
(``time.process_time``), which does not depend on how fast the mock (another
process) answers.  Requests per second are shown too, with the mock's own CPU
use so that a server-bound throughput is visible as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import msgspec

from postman_async import PostmanClient

from ._mock import Mock, running_mock
from ._raw import RawMessage, otp, recipient, send_body
from ._report import Outcome, Table

ROUNDS = 3
SENDS = 2_000
QUICK_ROUNDS = 1
QUICK_SENDS = 300
#: httpx is some fifty times slower here: its rounds send this share of ``SENDS``.
HTTPX_SHARE = 0.05
CONCURRENCY = 50
WARMUP = 100
MOCK_FLAGS = ("--tps", "0", "--variables", "otp")

Send = Callable[[int], Awaitable[None]]
ContenderFactory = Callable[[Mock], contextlib.AbstractAsyncContextManager[Send]]


@contextlib.asynccontextmanager
async def _client(mock: Mock) -> AsyncIterator[Send]:
    async with PostmanClient(base_url=mock.base_url) as client:
        campaign = client.campaign(mock.campaign_id, api_key=mock.api_key, tps=None)

        async def send(i: int) -> None:
            await campaign.send(recipient(i), {"otp": otp(i)})

        yield send


@contextlib.asynccontextmanager
async def _client_given_session(mock: Mock) -> AsyncIterator[Send]:
    async with (
        aiohttp.ClientSession() as session,
        PostmanClient(base_url=mock.base_url, session=session) as client,
    ):
        campaign = client.campaign(mock.campaign_id, api_key=mock.api_key, tps=None)

        async def send(i: int) -> None:
            await campaign.send(recipient(i), {"otp": otp(i)})

        yield send


def _check(status: int) -> None:
    if status != 201:
        raise RuntimeError(f"the mock answered HTTP {status} to a send")


@contextlib.asynccontextmanager
async def _aiohttp_msgspec(mock: Mock) -> AsyncIterator[Send]:
    encode = msgspec.json.Encoder().encode
    decode = msgspec.json.Decoder(RawMessage).decode
    headers = {**mock.auth_headers, "Content-Type": "application/json"}
    url = mock.messages_url
    async with aiohttp.ClientSession() as session:

        async def send(i: int) -> None:
            async with session.post(url, data=encode(send_body(i)), headers=headers) as resp:
                body = await resp.read()
                _check(resp.status)
            decode(body)

        yield send


@contextlib.asynccontextmanager
async def _aiohttp_json(mock: Mock) -> AsyncIterator[Send]:
    headers = mock.auth_headers
    url = mock.messages_url
    async with aiohttp.ClientSession() as session:

        async def send(i: int) -> None:
            async with session.post(url, json=send_body(i), headers=headers) as resp:
                body = await resp.read()
                _check(resp.status)
            json.loads(body)

        yield send


@contextlib.asynccontextmanager
async def _httpx(mock: Mock) -> AsyncIterator[Send]:
    headers = mock.auth_headers
    url = mock.messages_url
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(limits=limits) as client:

        async def send(i: int) -> None:
            resp = await client.post(url, json=send_body(i), headers=headers)
            _check(resp.status_code)
            resp.json()

        yield send


CONTENDERS: dict[str, ContenderFactory] = {
    "postman_async Campaign.send": _client,
    "postman_async, session= given": _client_given_session,
    "aiohttp + msgspec": _aiohttp_msgspec,
    "aiohttp + json.loads": _aiohttp_json,
    "httpx.AsyncClient": _httpx,
}
#: Share of ``SENDS`` per round, where not all of it.
SHARES = {"httpx.AsyncClient": HTTPX_SHARE}
BASELINE = "aiohttp + msgspec"


@dataclass
class Samples:
    """Per-round measurements of one contender."""

    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    mock_cpu_us: list[float] = field(default_factory=list)
    mock_busy: list[float] = field(default_factory=list)


def _ratios(ours: list[float], base: list[float]) -> tuple[float, float, float]:
    """Min, median and max of the per-round ratios ``ours / base``."""
    ratios = [a / b for a, b in zip(ours, base, strict=True)]
    return min(ratios), statistics.median(ratios), max(ratios)


async def _drive(send: Send, first: int, n: int) -> None:
    indices = iter(range(first, first + n))

    async def worker() -> None:
        for i in indices:
            await send(i)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def _round(mock: Mock, factory: ContenderFactory, n: int, samples: Samples) -> None:
    await mock.reset()
    async with factory(mock) as send:
        await _drive(send, 10_000_000, WARMUP)  # open connections, warm caches
        mock_cpu = mock.cpu_seconds()
        cpu = time.process_time()
        started = time.perf_counter()
        await _drive(send, 0, n)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        mock_cpu = mock.cpu_seconds() - mock_cpu
    samples.rps.append(n / wall)
    samples.cpu_us.append(cpu / n * 1e6)
    samples.mock_cpu_us.append(mock_cpu / n * 1e6)
    samples.mock_busy.append(mock_cpu / wall)


async def run(quick: bool) -> Outcome:
    """Run the scenario; ``quick`` does one round of 300 sends per contender."""
    rounds, n = (QUICK_ROUNDS, QUICK_SENDS) if quick else (ROUNDS, SENDS)
    names = list(CONTENDERS)
    results = {name: Samples() for name in names}
    async with running_mock(*MOCK_FLAGS) as mock:
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            print(f"  overhead: round {r + 1} of {rounds} ({n} sends each) ...", flush=True)
            for name in order:
                sends = round(n * SHARES.get(name, 1.0))
                await _round(mock, CONTENDERS[name], sends, results[name])
    base_cpu = statistics.median(results[BASELINE].cpu_us)
    table = Table(
        f"Client overhead: {rounds} rounds x {len(names)} contenders x {n:,} sends, "
        f"concurrency {CONCURRENCY}, no rate limit (medians; min / median / max)",
        [
            "contender",
            "client CPU per request",
            f"vs {BASELINE}",
            "requests/s",
            "mock CPU per request",
            "mock CPU busy",
            "CPU per request, min / median / max",
            f"vs {BASELINE}, min / median / max",
        ],
    )
    data: dict[str, Any] = {"rounds": rounds, "sends": n, "concurrency": CONCURRENCY}
    for name in names:
        s = results[name]
        cpu = statistics.median(s.cpu_us)
        table.add(
            name,
            f"{cpu:.0f} us",
            f"{(cpu / base_cpu - 1) * 100:+.1f}%",
            f"{statistics.median(s.rps):,.0f}",
            f"{statistics.median(s.mock_cpu_us):.0f} us",
            f"{statistics.median(s.mock_busy) * 100:.0f}%",
            " / ".join(f"{x:.0f}" for x in (min(s.cpu_us), cpu, max(s.cpu_us))),
            " / ".join(f"{x:.2f}x" for x in _ratios(s.cpu_us, results[BASELINE].cpu_us)),
        )
        data[name] = {
            "cpu_us_per_request": s.cpu_us,
            "requests_per_s": s.rps,
            "mock_cpu_us_per_request": s.mock_cpu_us,
            "mock_busy": s.mock_busy,
            "median_cpu_us": cpu,
            "median_rps": statistics.median(s.rps),
        }
    overhead = statistics.median(results[names[0]].cpu_us) / base_cpu - 1
    data["client_overhead_vs_baseline"] = overhead
    data["client_ratio_per_round"] = [
        a / b for a, b in zip(results[names[0]].cpu_us, results[BASELINE].cpu_us, strict=True)
    ]
    table.notes += [
        f"postman_async costs {overhead + 1:.2f}x the CPU per request of {BASELINE} "
        "(target: <= 1.15x); ratios min / median / max are of the rounds' ratios, each "
        "round running every contender once, in rotating order.",
        f"httpx rounds send {HTTPX_SHARE:.0%} of the others' count (it is far slower; CPU per "
        "request does not depend on the count).",
        "Client CPU: time.process_time() of this process over the timed sends, per request. "
        "Mock CPU busy: the server process's CPU seconds per wall second (100% = one core "
        "saturated: requests/s is then bound by the mock, CPU per request is not).",
    ]
    return Outcome(tables=[table], data=data)
