"""The status tracker: what following thousands of messages costs in rate budget and latency.

Against a mock limited to 200 TPS (the load-test environment's ceiling) whose
messages reach ``success`` about 3 s after creation, each phase on a fresh client:

1. bursts of 20 OTP sends on an idle, warmed-up client (the baseline), then 5,000
   OTPs by single send (``send_many``) with no tracking;
2. the same 5,000 sends, each followed with ``wait_for`` as soon as its send
   returns, as an OTP service does; the status-read calls that costs are counted
   by the tracker and by the server; once the sends have left the limiter's
   window, the same bursts of 20 sends while that tracking is still running;
3. the naive way, for comparison, on fewer messages: one loop that, every
   second, calls ``get_message`` for each message not yet final.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from postman_async import Campaign, Message, PostmanClient, TrackingPolicy

from ._measure import percentile
from ._mock import Mock, reads, running_mock
from ._raw import otp, recipient
from ._report import Outcome, Table, fmt_ms

TPS = 200
SPEED = 1.0
MESSAGES = 5_000
QUICK_MESSAGES = 600
NAIVE_MESSAGES = 300
QUICK_NAIVE_MESSAGES = 100
BURST = 20
BURSTS = 5
#: Seconds between bursts.
BURST_GAP = 0.4
CONCURRENCY = 64
MOCK_FLAGS = (
    "--tps",
    str(TPS),
    "--rate-limit",
    "sliding",
    "--speed",
    str(SPEED),
    "--variables",
    "otp",
)
#: Seconds tracking may take at most, after the last send.
TRACK_TIMEOUT = 120.0
#: Seconds for the limiter's window (1 s + its margin) to forget earlier sends.
WINDOW_CLEAR = 1.1
#: The naive poller's round interval, seconds (the tracker's minimum too).
NAIVE_INTERVAL = TrackingPolicy().min_interval


@dataclass
class Bursts:
    """Latencies of every send in a series of bursts, and what each burst ran into."""

    latencies: list[float] = field(default_factory=list)
    #: Bursts that started while some tracked message was not final yet.
    during_tracking: int = 0
    #: Bursts that started while the limiter was slowed down by a recent 429.
    in_cooldown: int = 0


def _cooling_down(campaign: Campaign) -> bool:
    # Private, read only for the report: whether a recent 429 has shrunk the budget.
    until = getattr(campaign.limiter, "_cooldown_until", -math.inf)
    return bool(until > asyncio.get_running_loop().time())


async def _bursts(campaign: Campaign, first: int, tracking: list[asyncio.Task[Any]]) -> Bursts:
    out = Bursts()

    async def one(i: int) -> None:
        started = time.perf_counter()
        await campaign.send(recipient(i), {"otp": otp(i)})
        out.latencies.append(time.perf_counter() - started)

    for b in range(BURSTS):
        out.during_tracking += any(not t.done() for t in tracking)
        out.in_cooldown += _cooling_down(campaign)
        await asyncio.gather(*(one(first + b * BURST + i) for i in range(BURST)))
        await asyncio.sleep(BURST_GAP)
    return out


@dataclass
class SendPhase:
    """``n`` sends through ``send_many``, with or without a ``wait_for`` per message."""

    sent: int = 0
    failed: int = 0
    final: int = 0
    seconds: float = 0.0
    tail_seconds: float = 0.0
    tracker_calls: int = 0
    bursts: Bursts = field(default_factory=Bursts)
    server: dict[str, Any] = field(default_factory=dict)


async def _send_phase(mock: Mock, n: int, *, track: bool) -> SendPhase:
    """Send ``n`` OTPs on a fresh client; with ``track``, follow each and burst meanwhile.

    Without ``track`` the idle client first sends the baseline bursts.
    """
    await mock.reset()
    out = SendPhase()
    async with PostmanClient(base_url=mock.base_url) as client:
        campaign = client.campaign(mock.campaign_id, api_key=mock.api_key, tps=TPS)
        if not track:
            # One burst unmeasured first: later bursts then find warm connections, as
            # they do after the send phase of the tracked run.
            await asyncio.gather(
                *(campaign.send(recipient(i), {"otp": otp(i)}) for i in range(BURST))
            )
            await asyncio.sleep(WINDOW_CLEAR)
            out.bursts = await _bursts(campaign, 1_000_000, [])
            await asyncio.sleep(WINDOW_CLEAR)
            await mock.reset()
        loop = asyncio.get_running_loop()
        waits: list[asyncio.Task[dict[str, Message]]] = []
        rows = ({"recipient": recipient(i), "otp": otp(i)} for i in range(n))
        started = time.perf_counter()
        async for result in campaign.send_many(rows, concurrency=CONCURRENCY):
            if result.message is None:
                out.failed += 1
                continue
            out.sent += 1
            if track:
                wait = campaign.wait_for([result.message], timeout=TRACK_TIMEOUT)
                waits.append(loop.create_task(wait))
        sent_at = time.perf_counter()
        out.seconds = sent_at - started
        if track:
            # Let the last sends leave the limiter's window: the bursts then wait for
            # nothing but what tracking itself does.
            await asyncio.sleep(WINDOW_CLEAR)
            out.bursts = await _bursts(campaign, 2_000_000, list(waits))
            finals = await asyncio.gather(*waits, return_exceptions=True)
            out.tail_seconds = time.perf_counter() - sent_at
            out.final = sum(1 for f in finals if isinstance(f, dict))
            out.tracker_calls = campaign.status_reads
    out.server = await mock.stats()
    return out


@dataclass
class Naive:
    """The per-message polling run."""

    sent: int = 0
    calls: int = 0
    seconds: float = 0.0
    server: dict[str, Any] = field(default_factory=dict)


async def _naive(mock: Mock, n: int) -> Naive:
    await mock.reset()
    out = Naive()
    async with PostmanClient(base_url=mock.base_url) as client:
        campaign = client.campaign(mock.campaign_id, api_key=mock.api_key, tps=TPS)
        pending: dict[str, Message] = {}
        sending = True

        async def send() -> None:
            nonlocal sending
            rows = ({"recipient": recipient(i), "otp": otp(i)} for i in range(n))
            async for result in campaign.send_many(rows, concurrency=CONCURRENCY):
                if result.message is not None:
                    out.sent += 1
                    pending[result.message.id] = result.message
            sending = False

        async def poll() -> None:
            # Bounded: each round either finds messages final or the wait_for below gives up.
            while sending or pending:
                await asyncio.sleep(NAIVE_INTERVAL)
                ids = list(pending)
                out.calls += len(ids)
                messages = await asyncio.gather(*(campaign.get_message(i) for i in ids))
                for message in messages:
                    if message.is_final:
                        pending.pop(message.id, None)

        started = time.perf_counter()
        jobs: list[Awaitable[None]] = [send(), poll()]
        await asyncio.wait_for(asyncio.gather(*jobs), n / TPS * 10 + TRACK_TIMEOUT)
        out.seconds = time.perf_counter() - started
    out.server = await mock.stats()
    return out


def _phase_dict(phase: SendPhase) -> dict[str, Any]:
    return {
        "sent": phase.sent,
        "failed": phase.failed,
        "final": phase.final,
        "send_seconds": phase.seconds,
        "tail_seconds": phase.tail_seconds,
        "tracker_calls": phase.tracker_calls,
        "server_reads": reads(phase.server),
        "bursts_s": phase.bursts.latencies,
        "bursts_during_tracking": phase.bursts.during_tracking,
        "bursts_in_cooldown": phase.bursts.in_cooldown,
        "server": phase.server,
    }


async def run(quick: bool) -> Outcome:
    """Run the scenario; ``quick`` sends 600 messages instead of 5,000."""
    n = QUICK_MESSAGES if quick else MESSAGES
    naive_n = QUICK_NAIVE_MESSAGES if quick else NAIVE_MESSAGES
    async with running_mock(*MOCK_FLAGS) as mock:
        print(f"  tracking: idle bursts, then {n} sends without tracking ...", flush=True)
        plain = await _send_phase(mock, n, track=False)
        print(f"  tracking: {n} sends, each followed with wait_for ...", flush=True)
        tracked = await _send_phase(mock, n, track=True)
        print(f"  tracking: naive per-message polling of {naive_n} ...", flush=True)
        naive = await _naive(mock, naive_n)
    cost = Table(
        f"Status tracking: {n:,} OTPs by single send at {TPS} TPS (lifecycle ~3 s)",
        [
            "run",
            "messages",
            "final",
            "status reads (server)",
            "reads per message",
            "429s",
            "send phase",
            "sends/s",
            "last send to all final",
        ],
    )
    cost.add(
        "sends only, no tracking",
        plain.sent,
        "-",
        reads(plain.server),
        "-",
        plain.server["rate_limited"],
        f"{plain.seconds:.1f} s",
        f"{plain.sent / (plain.seconds + 1):.0f}",
        "-",
    )
    tracked_reads = reads(tracked.server)
    cost.add(
        "sends + wait_for per message",
        tracked.sent,
        tracked.final,
        tracked_reads,
        f"{tracked_reads / max(tracked.sent, 1):.4f}",
        tracked.server["rate_limited"],
        f"{tracked.seconds:.1f} s",
        f"{tracked.sent / (tracked.seconds + 1):.0f}",
        f"{tracked.tail_seconds:.1f} s",
    )
    naive_reads = reads(naive.server)
    cost.add(
        f"naive: get_message per pending msg every {NAIVE_INTERVAL:g} s",
        naive.sent,
        naive.sent,
        naive_reads,
        f"{naive_reads / max(naive.sent, 1):.4f}",
        naive.server["rate_limited"],
        "-",
        "-",
        f"{naive.seconds:.1f} s from first send",
    )
    requests = tracked.server["requests"]
    cost.notes += [
        f"Tracker's own count: {tracked.tracker_calls} calls; server saw get_message "
        f"{requests['get_message']}, list_messages {requests['list_messages']}.",
        f"Failed sends: {plain.failed + tracked.failed}. The naive run sends {naive.sent:,} "
        "messages (its cost per message does not depend on the count).",
        "sends/s = messages / (send phase + 1 s), the last second counted in full as in "
        "fidelity; every 429 makes the client's limiter run at half rate for 5 s.",
    ]
    bursts = Table(
        f"Burst latency: {BURSTS} bursts of {BURST} OTP sends, {BURST_GAP:g} s apart",
        [
            "when",
            "sends",
            "p50",
            "p99",
            "max",
            "bursts while tracking",
            "bursts in 429 slow-down",
        ],
    )
    for label, b in (
        ("idle client (baseline)", plain.bursts),
        (f"tracking runs ({WINDOW_CLEAR:g} s after the last send)", tracked.bursts),
    ):
        bursts.add(
            label,
            len(b.latencies),
            fmt_ms(percentile(b.latencies, 50)),
            fmt_ms(percentile(b.latencies, 99)),
            fmt_ms(max(b.latencies, default=0.0)),
            b.during_tracking,
            b.in_cooldown,
        )
    extra50 = percentile(tracked.bursts.latencies, 50) - percentile(plain.bursts.latencies, 50)
    extra99 = percentile(tracked.bursts.latencies, 99) - percentile(plain.bursts.latencies, 99)
    bursts.notes += [
        f"Extra latency while tracking: p50 {fmt_ms(extra50)}, p99 {fmt_ms(extra99)}.",
        "Bursts in 429 slow-down: the limiter was still at half rate after a 429 "
        "(read from its private state, for diagnosis).",
    ]
    data = {
        "tps": TPS,
        "messages": n,
        "plain": _phase_dict(plain),
        "tracked": _phase_dict(tracked),
        "reads_per_message": tracked_reads / max(tracked.sent, 1),
        "naive": {
            "sent": naive.sent,
            "calls": naive.calls,
            "server_reads": naive_reads,
            "reads_per_message": naive_reads / max(naive.sent, 1),
            "seconds": naive.seconds,
            "server": naive.server,
        },
        "burst_extra_p50_s": extra50,
        "burst_extra_p99_s": extra99,
    }
    return Outcome(tables=[cost, bursts], data=data)
