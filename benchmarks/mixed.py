"""Mixed load on one campaign: an OTP stream, its tracking and a batch, sharing one budget.

A steady stream of OTP sends (8 a second for 15 s) runs twice against a mock limited to
20 TPS whose lifecycle runs 10 times faster than real time:

* baseline: the sends alone;
* mixed: every send is followed to its final status with ``wait_for`` (as an
  OTP service would), and a batch of 20 rows is uploaded a quarter of the way
  in and followed with ``wait_for_batch``.

The difference in send latency is what tracking costs the sends.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from postman_async import Campaign, PostmanClient, PostmanError

from ._measure import percentile
from ._mock import Mock, reads, running_mock
from ._raw import otp, recipient
from ._report import Outcome, Table, fmt_ms

TPS = 20
#: OTP sends per second in the stream.
RATE = 8.0
DURATION = 15.0
QUICK_DURATION = 4.0
BATCH_ROWS = 20
MOCK_FLAGS = ("--tps", str(TPS), "--rate-limit", "sliding", "--speed", "10", "--variables", "otp")
#: Seconds a wait_for may take at most.
TRACK_TIMEOUT = 60.0


@dataclass
class StreamRun:
    """One run of the stream, with or without tracking."""

    label: str
    sends: int
    started: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    to_final: list[float] = field(default_factory=list)
    failures: int = 0
    tracked: int = 0
    tracker_calls: int = 0
    batch_seconds: float | None = None
    server: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Sends completed per second over the stream's span."""
        if not self.finished:
            return 0.0
        return len(self.finished) / (max(self.finished) - min(self.started))


async def _stream(mock: Mock, label: str, duration: float, *, mixed: bool) -> StreamRun:
    await mock.reset()
    n = round(duration * RATE)
    result = StreamRun(label, n)
    async with PostmanClient(base_url=mock.base_url) as client:
        campaign = client.campaign(mock.campaign_id, api_key=mock.api_key, tps=TPS)
        loop = asyncio.get_running_loop()
        origin = loop.time() + 0.1

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, origin + i / RATE - loop.time()))
            started = time.perf_counter()
            try:
                message = await campaign.send(recipient(i), {"otp": otp(i)})
            except PostmanError:
                result.failures += 1
                return
            finished = time.perf_counter()
            result.started.append(started)
            result.finished.append(finished)
            result.latencies.append(finished - started)
            if mixed:
                await campaign.wait_for([message], timeout=TRACK_TIMEOUT)
                result.to_final.append(time.perf_counter() - finished)

        jobs = [one(i) for i in range(n)]
        if mixed:
            jobs.append(_batch(campaign, result, origin + duration / 4))
        await asyncio.wait_for(asyncio.gather(*jobs), duration + TRACK_TIMEOUT + 30)
        result.tracker_calls = campaign.status_reads
    result.tracked = len(result.to_final) + (BATCH_ROWS if result.batch_seconds else 0)
    result.server = await mock.stats()
    return result


async def _batch(campaign: Campaign, result: StreamRun, at: float) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, at - loop.time()))
    started = time.perf_counter()
    rows = [{"recipient": recipient(100_000 + i), "otp": otp(i)} for i in range(BATCH_ROWS)]
    receipt = await campaign.send_batch(rows)
    await campaign.wait_for_batch(receipt, timeout=TRACK_TIMEOUT)
    result.batch_seconds = time.perf_counter() - started


async def run(quick: bool) -> Outcome:
    """Run the scenario; ``quick`` streams for 4 s instead of 15."""
    duration = QUICK_DURATION if quick else DURATION
    async with running_mock(*MOCK_FLAGS) as mock:
        print(f"  mixed: baseline, {RATE:g} sends/s for {duration:g} s ...", flush=True)
        base = await _stream(mock, "sends only (baseline)", duration, mixed=False)
        print("  mixed: sends + wait_for each + batch ...", flush=True)
        mixed = await _stream(mock, "sends + tracking + batch", duration, mixed=True)
    table = Table(
        f"Mixed load: {RATE:g} OTP sends/s for {duration:g} s on one campaign, mock limit "
        f"{TPS} TPS, lifecycle x10",
        [
            "run",
            "sends ok",
            "failed",
            "sends/s",
            "send p50",
            "send p99",
            "send max",
            "tracked msgs",
            "status reads (server)",
            "reads per tracked msg",
            "429s",
            "busiest 1-s window",
        ],
    )
    data: dict[str, Any] = {"tps": TPS, "rate": RATE, "duration_s": duration, "runs": []}
    for r in (base, mixed):
        server_reads = reads(r.server)
        per_msg = f"{server_reads / r.tracked:.3f}" if r.tracked else "-"
        table.add(
            r.label,
            len(r.latencies),
            r.failures,
            f"{r.rate:.2f}",
            fmt_ms(percentile(r.latencies, 50)),
            fmt_ms(percentile(r.latencies, 99)),
            fmt_ms(max(r.latencies, default=0.0)),
            r.tracked,
            server_reads,
            per_msg,
            r.server["rate_limited"],
            r.server["max_received_in_window"],
        )
        data["runs"].append(
            {
                "run": r.label,
                "sends_ok": len(r.latencies),
                "failed": r.failures,
                "sends_per_s": r.rate,
                "send_p50_s": percentile(r.latencies, 50),
                "send_p99_s": percentile(r.latencies, 99),
                "send_max_s": max(r.latencies, default=0.0),
                "tracked": r.tracked,
                "tracker_calls": r.tracker_calls,
                "server_reads": server_reads,
                "to_final_p50_s": percentile(r.to_final, 50),
                "to_final_p99_s": percentile(r.to_final, 99),
                "batch_seconds": r.batch_seconds,
                "server": r.server,
            }
        )
    extra50 = percentile(mixed.latencies, 50) - percentile(base.latencies, 50)
    extra99 = percentile(mixed.latencies, 99) - percentile(base.latencies, 99)
    data["extra_delay_p50_s"], data["extra_delay_p99_s"] = extra50, extra99
    requests = mixed.server["requests"]
    batch = f"{mixed.batch_seconds:.2f} s" if mixed.batch_seconds else "did not finish"
    table.notes += [
        f"Extra send delay from tracking: p50 {fmt_ms(extra50)}, p99 {fmt_ms(extra99)}.",
        f"Tracker's own count: {mixed.tracker_calls} status-read calls; server saw "
        f"get_message {requests['get_message']}, list_messages {requests['list_messages']}, "
        f"list_batch_messages {requests['list_batch_messages']}, batch_send "
        f"{requests['batch_send']}.",
        f"Send to final status known (wait_for): p50 {fmt_ms(percentile(mixed.to_final, 50))}, "
        f"p99 {fmt_ms(percentile(mixed.to_final, 99))} (lifecycle to success: 0.3 s).",
        f"Batch of {BATCH_ROWS}: upload to every row final: {batch}.",
        "Send latency: from the call starting to its return (limiter wait included).",
    ]
    return Outcome(tables=[table], data=data)
