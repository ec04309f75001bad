"""Limit fidelity: how close each sender runs to a 10 TPS limit, and how often it breaks it.

Three contenders fan out the same OTP sends at once against a mock with a sliding
one-second window of 10 requests and 20-40 ms of answer latency:

* ``postman_async``: ``campaign(..., tps=10)``, every send started with ``gather``;
* ``aiohttp + AsyncLimiter(10, 1)``: ``async with limiter: await session.post(...)``,
  and after a 429 a 0.1 s sleep and another try;
* ``aiohttp + AsyncLimiter(1, 0.1)``: the same, pacing one request every 1/10 s;
* ``aiohttp + Semaphore(10)``: ten sends in flight, 429s retried with exponential
  backoff (full jitter).

Then bursts: 10 OTPs at once on an idle campaign (the last burst more than a window
ago), five times, for this client and both ``AsyncLimiter`` set-ups: how long each
OTP takes to leave and be answered.  The paced limiter never breaks the limit but
spaces a burst out over a second; this client lets a burst of up to the limit leave
at once.

Also counted without any server: how many acquisitions each limiter admits in its
first second on the real clock.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import aiolimiter

from postman_async import PostmanClient, Priority, SlidingWindowLimiter
from postman_async._transport import AiohttpTransport

from ._measure import max_in_window, per_second, percentile, sustained_rate
from ._mock import Mock, running_mock
from ._raw import AttemptLog, otp, recipient, send_body
from ._report import RESULTS_DIR, Outcome, Table, fmt_ms, fmt_pct

TPS = 10
SENDS = 200
QUICK_SENDS = 40
MOCK_FLAGS = (
    "--tps",
    str(TPS),
    "--rate-limit",
    "sliding",
    "--latency",
    "0.02",
    "--latency-jitter",
    "0.02",
    "--variables",
    "otp",
    "--speed",
    "10",
)
#: Attempts a raw contender makes per send before giving up (a bound, not a policy).
MAX_ATTEMPTS = 200
#: Sleep after a 429 for the AsyncLimiter contender, seconds.
RETRY_SLEEP = 0.1
#: Exponential backoff of the Semaphore contender: first delay and cap, seconds.
BACKOFF_BASE = 0.1
BACKOFF_CAP = 2.0

#: Sends ``n`` OTPs at once, logging every HTTP attempt; returns each send's latency or None.
Contender = Callable[[Mock, AttemptLog, int], Awaitable[list[float | None]]]


@dataclass
class Run:
    """One contender's run: what it did and what the server saw."""

    label: str
    log: AttemptLog
    latencies: list[float]
    failures: int
    wall: float
    server: dict[str, Any]


async def _client(mock: Mock, log: AttemptLog, n: int) -> list[float | None]:
    async with PostmanClient(base_url=mock.base_url) as client:
        campaign = client.campaign(mock.campaign_id, api_key=mock.api_key, tps=TPS)
        # Watch the client's own session (its request class reports departures of
        # body-less requests; passing session= would measure a slightly other client).
        config = log.trace_config()
        config.freeze()
        transport = client._requests.transport
        assert isinstance(transport, AiohttpTransport)
        transport._get_session().trace_configs.append(config)

        async def one(i: int) -> float:
            started = time.perf_counter()
            await campaign.send(recipient(i), {"otp": otp(i)}, timeout=n / TPS * 4 + 30)
            return time.perf_counter() - started

        return list(await asyncio.gather(*(one(i) for i in range(n))))


async def _post(mock: Mock, session: aiohttp.ClientSession, i: int) -> int:
    async with session.post(mock.messages_url, json=send_body(i), headers=mock.auth_headers) as r:
        await r.read()
        return r.status


def _aiolimiter(max_rate: float, period: float) -> Contender:
    async def contender(mock: Mock, log: AttemptLog, n: int) -> list[float | None]:
        return await _limited(aiolimiter.AsyncLimiter(max_rate, period), mock, log, n)

    return contender


async def _limited(
    limiter: aiolimiter.AsyncLimiter, mock: Mock, log: AttemptLog, n: int
) -> list[float | None]:
    session = aiohttp.ClientSession(trace_configs=[log.trace_config()])

    async def one(i: int) -> float | None:
        started = time.perf_counter()
        for _ in range(MAX_ATTEMPTS):
            async with limiter:
                status = await _post(mock, session, i)
            if status == 201:
                return time.perf_counter() - started
            await asyncio.sleep(RETRY_SLEEP)
        return None

    async with session:
        return list(await asyncio.gather(*(one(i) for i in range(n))))


async def _semaphore(mock: Mock, log: AttemptLog, n: int) -> list[float | None]:
    semaphore = asyncio.Semaphore(TPS)
    session = aiohttp.ClientSession(trace_configs=[log.trace_config()])
    rng = random.Random(1)

    async def one(i: int) -> float | None:
        started = time.perf_counter()
        async with semaphore:
            for attempt in range(MAX_ATTEMPTS):
                if await _post(mock, session, i) == 201:
                    return time.perf_counter() - started
                delay = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)
                await asyncio.sleep(rng.uniform(0, delay))
        return None

    async with session:
        return list(await asyncio.gather(*(one(i) for i in range(n))))


CONTENDERS: list[tuple[str, Contender]] = [
    ("postman_async (tps=10)", _client),
    (f"aiohttp + AsyncLimiter({TPS}, 1)", _aiolimiter(TPS, 1)),
    (f"aiohttp + AsyncLimiter(1, {1 / TPS:g})", _aiolimiter(1, 1 / TPS)),
    ("aiohttp + Semaphore(10) + backoff", _semaphore),
]


async def _measure(mock: Mock, label: str, contender: Contender, n: int) -> Run:
    await mock.reset()
    log = AttemptLog()
    started = time.perf_counter()
    results = await asyncio.wait_for(contender(mock, log, n), n / TPS * 6 + 60)
    wall = time.perf_counter() - started
    latencies = [r for r in results if r is not None]
    return Run(label, log, latencies, n - len(latencies), wall, await mock.stats())


#: Bursts of TPS OTPs at once, and the idle time before each (more than one window).
BURSTS = 5
QUICK_BURSTS = 2
BURST_IDLE = 1.5
BurstSender = Callable[[int], Awaitable[None]]


async def _bursts(send: BurstSender, bursts: int) -> list[float]:
    """Latencies of ``bursts`` bursts of ``TPS`` sends at once, each after an idle spell."""
    latencies: list[float] = []

    async def one(i: int) -> None:
        started = time.perf_counter()
        await send(i)
        latencies.append(time.perf_counter() - started)

    for b in range(bursts):
        await asyncio.sleep(BURST_IDLE)
        await asyncio.gather(*(one(b * TPS + i) for i in range(TPS)))
    return latencies


async def _burst_client(mock: Mock, bursts: int) -> list[float]:
    async with PostmanClient(base_url=mock.base_url) as client:
        campaign = client.campaign(mock.campaign_id, api_key=mock.api_key, tps=TPS)
        await campaign.send(recipient(999_999), {"otp": otp(0)})  # open a connection

        async def send(i: int) -> None:
            await campaign.send(recipient(i), {"otp": otp(i)})

        return await _bursts(send, bursts)


async def _burst_aiolimiter(mock: Mock, bursts: int, max_rate: float, period: float) -> list[float]:
    limiter = aiolimiter.AsyncLimiter(max_rate, period)
    async with aiohttp.ClientSession() as session:
        await _post(mock, session, 999_999)  # open a connection

        async def send(i: int) -> None:
            for _ in range(MAX_ATTEMPTS):
                async with limiter:
                    status = await _post(mock, session, i)
                if status == 201:
                    return
                await asyncio.sleep(RETRY_SLEEP)

        return await _bursts(send, bursts)


async def _burst_table(mock: Mock, bursts: int) -> tuple[Table, list[dict[str, Any]]]:
    cases: list[tuple[str, Callable[[], Awaitable[list[float]]]]] = [
        (f"postman_async (tps={TPS})", lambda: _burst_client(mock, bursts)),
        (f"aiohttp + AsyncLimiter({TPS}, 1)", lambda: _burst_aiolimiter(mock, bursts, TPS, 1)),
        (
            f"aiohttp + AsyncLimiter(1, {1 / TPS:g})",
            lambda: _burst_aiolimiter(mock, bursts, 1, 1 / TPS),
        ),
    ]
    table = Table(
        f"Bursts: {TPS} OTPs at once on an idle campaign, {bursts} times, mock limit {TPS} TPS",
        ["contender", "sends", "p50 latency", "p99 latency", "max", "429s (server)"],
    )
    data: list[dict[str, Any]] = []
    for label, run_case in cases:
        print(f"  fidelity: bursts, {label} ...", flush=True)
        await mock.reset()
        latencies = await run_case()
        stats = await mock.stats()
        table.add(
            label,
            len(latencies),
            fmt_ms(percentile(latencies, 50)),
            fmt_ms(percentile(latencies, 99)),
            fmt_ms(max(latencies, default=0.0)),
            stats["rate_limited"],
        )
        data.append(
            {
                "contender": label,
                "latencies_s": latencies,
                "p50_s": percentile(latencies, 50),
                "p99_s": percentile(latencies, 99),
                "rate_limited": stats["rate_limited"],
            }
        )
    table.notes.append(
        "Latency: from the send starting until its 201 (limiter wait and answer latency of "
        f"20-40 ms included); {BURST_IDLE:g} s of idle before each burst."
    )
    return table, data


async def _first_second(acquire: Callable[[], Awaitable[object]], callers: int) -> list[float]:
    """Start ``callers`` acquisitions at once; return grant times, relative, over 1.5 s."""
    loop = asyncio.get_running_loop()
    granted: list[float] = []
    start = loop.time()

    async def one() -> None:
        await acquire()
        granted.append(loop.time() - start)

    tasks = [loop.create_task(one()) for _ in range(callers)]
    await asyncio.sleep(1.5)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return granted


async def _limiters_alone() -> Table:
    table = Table(
        f"Limiters alone: acquisitions admitted at {TPS}/s, 3 x {TPS} callers at once",
        ["limiter", "admitted in first second", "busiest 1-s window", "limit"],
    )
    leaky = aiolimiter.AsyncLimiter(TPS, 1)
    sliding = SlidingWindowLimiter(TPS)
    cases: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        (f"aiolimiter.AsyncLimiter({TPS}, 1)", leaky.acquire),
        (f"SlidingWindowLimiter({TPS})", lambda: sliding.acquire(Priority.SEND)),
    ]
    for label, acquire in cases:
        granted = await _first_second(acquire, 3 * TPS)
        first = sum(1 for t in granted if t < 1.0)
        table.add(label, first, max_in_window(granted), TPS)
    sliding.close()
    table.notes.append("Real clock, no server; grants counted over the first 1.5 s.")
    return table


def _plot(runs: list[Run]) -> Any:
    import matplotlib  # imported here, to pick the backend before pyplot loads

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    path = RESULTS_DIR / "fidelity.png"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7.5), sharex=True)
    peak = max((max(per_second(t, min(t))) for r in runs if (t := r.log.times())), default=TPS)
    for index, run in enumerate(runs):
        times = run.log.times()
        if not times:
            continue
        origin = min(times)
        style = {"linewidth": 2.5, "zorder": 3} if index == 0 else {"linewidth": 1.5}
        for axis, series in ((top, times), (bottom, run.log.times(201))):
            counts = per_second(series, origin)
            if not counts:
                continue
            # One extra point so that the last one-second bin is drawn with its width.
            axis.step(range(len(counts) + 1), [*counts, counts[-1]], where="post", **style)
            axis.lines[-1].set_label(run.label)
    for axis, title in (
        (top, "every HTTP request sent (429s included), log scale"),
        (bottom, "requests answered 201"),
    ):
        axis.axhline(TPS, color="black", linestyle="--", linewidth=1, label=f"limit {TPS}/s")
        axis.set_ylabel("requests per 1-s window")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    top.set_yscale("log")
    top.set_yticks([t for t in (2, 5, 10, 20, 50, 100, 200, 500) if t <= 2 * peak])
    top.yaxis.set_major_formatter(ScalarFormatter())
    top.yaxis.set_minor_formatter(NullFormatter())
    bottom.set_xlabel("seconds since the contender's first request")
    handles, labels = top.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    fig.suptitle("Limit fidelity: requests per second against a 10 TPS sliding window")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


async def run(quick: bool) -> Outcome:
    """Run the scenario; ``quick`` sends 40 per contender instead of 200."""
    n = QUICK_SENDS if quick else SENDS
    limiters = await _limiters_alone()
    runs: list[Run] = []
    async with running_mock(*MOCK_FLAGS) as mock:
        for label, contender in CONTENDERS:
            print(f"  fidelity: {label}, {n} sends ...", flush=True)
            runs.append(await _measure(mock, label, contender, n))
        bursts, burst_data = await _burst_table(mock, QUICK_BURSTS if quick else BURSTS)
    table = Table(
        f"Limit fidelity: {n} OTP sends at once, mock limit {TPS} TPS (sliding window), "
        "latency 20-40 ms",
        [
            "contender",
            "sent",
            "failed",
            "wall",
            "sends/s",
            "share of limit",
            "requests",
            "429s (server)",
            "busiest 1-s window (server)",
            "p50 latency",
            "p99 latency",
        ],
    )
    data: list[dict[str, Any]] = []
    for r in runs:
        ok_times = r.log.times(201)
        rate = sustained_rate(ok_times)
        table.add(
            r.label,
            len(r.latencies),
            r.failures,
            f"{r.wall:.1f} s",
            f"{rate:.2f}",
            fmt_pct(rate / TPS),
            len(r.log.attempts),
            r.server["rate_limited"],
            r.server["max_received_in_window"],
            fmt_ms(percentile(r.latencies, 50)),
            fmt_ms(percentile(r.latencies, 99)),
        )
        data.append(
            {
                "contender": r.label,
                "sent": len(r.latencies),
                "failed": r.failures,
                "wall_s": r.wall,
                "sends_per_s": rate,
                "share_of_limit": rate / TPS,
                "requests": len(r.log.attempts),
                "server": r.server,
                "latency_p50_s": percentile(r.latencies, 50),
                "latency_p99_s": percentile(r.latencies, 99),
                "requests_per_second": per_second(r.log.times(), min(r.log.times(), default=0)),
            }
        )
    table.notes += [
        "sends/s = sends answered 201 / (last 201's start - first 201's start + 1 s), "
        "client-side request start times.",
        "latency: from the call starting until its final success (queueing, 429s and "
        "retries included).",
        "429s and busiest window are the server's counters (/_mock/stats).",
    ]
    plot = _plot(runs)
    return Outcome(
        tables=[table, bursts, limiters],
        data={
            "tps": TPS,
            "sends": n,
            "contenders": data,
            "bursts": burst_data,
            "limiters": limiters.to_dict(),
        },
        files=[plot],
    )
