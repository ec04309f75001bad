"""Tracking at Postman's real limit: a steady OTP stream, each followed to its final status.

A mock limited to 10 TPS (Postman's default per campaign), whose messages reach
``success`` 3 s after creation, takes 5 OTP sends a second; each send is followed
with ``wait_for`` as soon as it returns, as an OTP service does.  Measured per run
(a fresh client each): status reads per tracked message (counted by the server),
and the time from a send's return to ``wait_for`` returning, against the 3 s the
mock's lifecycle takes.

The default policy runs three times (min/median/max); then one run per other
``TrackingPolicy.min_interval``, the knob that trades reads for latency, and the
trade-off is plotted to ``results/otp_tracking.png`` (with matplotlib, in the
``bench`` extra).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from postman_async import PostmanClient, PostmanError, TrackingPolicy

from ._measure import percentile
from ._mock import Mock, reads, running_mock
from ._raw import otp, recipient
from ._report import RESULTS_DIR, Outcome, Table, fmt_ms

TPS = 10
#: Tracked OTP sends per second.
RATE = 5.0
DURATION = 16.0
QUICK_DURATION = 4.0
ROUNDS = 3
QUICK_ROUNDS = 1
#: The mock's lifecycle: created to success, seconds (its ``fast`` profile).
LIFECYCLE = 3.0
DEFAULT_INTERVAL = TrackingPolicy().min_interval
#: Other values of the knob, one run each.
SWEEP = (1.0, 2.0, 5.0)
QUICK_SWEEP = (1.0,)
MOCK_FLAGS = ("--tps", str(TPS), "--rate-limit", "sliding", "--variables", "otp")
TRACK_TIMEOUT = 60.0


@dataclass
class Run:
    """One stream at one ``min_interval``."""

    interval: float
    to_final: list[float] = field(default_factory=list)
    failures: int = 0
    server_reads: int = 0
    rate_limited: int = 0

    @property
    def reads_per_message(self) -> float:
        """Server-counted status reads per message followed to its final status."""
        return self.server_reads / len(self.to_final) if self.to_final else float("nan")


async def _stream(mock: Mock, interval: float, duration: float) -> Run:
    await mock.reset()
    run = Run(interval)
    policy = TrackingPolicy(min_interval=interval, max_interval=max(30.0, interval))
    n = round(duration * RATE)
    async with PostmanClient(base_url=mock.base_url, tracking=policy) as client:
        campaign = client.campaign(mock.campaign_id, api_key=mock.api_key, tps=TPS)
        loop = asyncio.get_running_loop()
        origin = loop.time() + 0.2

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, origin + i / RATE - loop.time()))
            try:
                message = await campaign.send(recipient(i), {"otp": otp(i)})
                sent = time.perf_counter()
                await campaign.wait_for([message], timeout=TRACK_TIMEOUT)
            except PostmanError:
                run.failures += 1
                return
            run.to_final.append(time.perf_counter() - sent)

        await asyncio.wait_for(
            asyncio.gather(*(one(i) for i in range(n))), duration + TRACK_TIMEOUT + 10
        )
    stats = await mock.stats()
    run.server_reads = reads(stats)
    run.rate_limited = int(stats["rate_limited"])
    return run


def _plot(runs: list[Run]) -> Any:
    """Reads per message against p50/p99 time to a known final status; the PNG's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_interval: dict[float, list[Run]] = {}
    for r in runs:
        by_interval.setdefault(r.interval, []).append(r)
    xs = sorted(by_interval)
    reads_ = [statistics.median(r.reads_per_message for r in by_interval[x]) for x in xs]
    p50 = [statistics.median(percentile(r.to_final, 50) for r in by_interval[x]) for x in xs]
    p99 = [statistics.median(percentile(r.to_final, 99) for r in by_interval[x]) for x in xs]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(reads_, p50, "o-", label="p50 send -> final status known")
    ax.plot(reads_, p99, "s--", label="p99")
    ax.axhline(LIFECYCLE, color="grey", lw=0.8, ls=":", label="mock lifecycle (3 s)")
    for x, per, p in zip(xs, reads_, p50, strict=True):
        ax.annotate(f"min_interval={x:g}", (per, p), textcoords="offset points", xytext=(4, 6))
    ax.set_xlabel("status reads per tracked message")
    ax.set_ylabel("seconds from send to final status known")
    ax.set_title(f"Tracking {RATE:g} OTPs/s at {TPS} TPS: reads vs latency")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = RESULTS_DIR / "otp_tracking.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


async def run(quick: bool) -> Outcome:
    """Run the scenario; ``quick`` streams 4 s, once, with one other interval."""
    duration = QUICK_DURATION if quick else DURATION
    rounds = QUICK_ROUNDS if quick else ROUNDS
    sweep = QUICK_SWEEP if quick else SWEEP
    runs: list[Run] = []
    async with running_mock(*MOCK_FLAGS) as mock:
        for round_no in range(rounds):
            print(
                f"  otp_tracking: default policy, round {round_no + 1} of {rounds} ...",
                flush=True,
            )
            runs.append(await _stream(mock, DEFAULT_INTERVAL, duration))
        for interval in sweep:
            print(f"  otp_tracking: min_interval={interval:g} ...", flush=True)
            runs.append(await _stream(mock, interval, duration))
    default = [r for r in runs if r.interval == DEFAULT_INTERVAL]
    table = Table(
        f"Tracking at the real limit: {RATE:g} OTPs/s for {duration:g} s, each followed with "
        f"wait_for, mock limit {TPS} TPS, lifecycle {LIFECYCLE:g} s",
        [
            "min_interval",
            "runs",
            "tracked",
            "failed",
            "reads per message (min / median / max)",
            "send -> final p50",
            "p99",
            "p50 minus lifecycle",
            "429s",
        ],
    )

    def spread(values: list[float], fmt: str) -> str:
        return " / ".join(
            format(v, fmt) for v in (min(values), statistics.median(values), max(values))
        )

    data: dict[str, Any] = {"tps": TPS, "rate": RATE, "duration_s": duration, "runs": []}
    for interval in sorted({r.interval for r in runs}):
        group = [r for r in runs if r.interval == interval]
        p50 = statistics.median(percentile(r.to_final, 50) for r in group)
        table.add(
            f"{interval:g} s" + (" (default)" if interval == DEFAULT_INTERVAL else ""),
            len(group),
            sum(len(r.to_final) for r in group),
            sum(r.failures for r in group),
            spread([r.reads_per_message for r in group], ".3f"),
            fmt_ms(p50),
            fmt_ms(statistics.median(percentile(r.to_final, 99) for r in group)),
            fmt_ms(p50 - LIFECYCLE),
            sum(r.rate_limited for r in group),
        )
    for r in runs:
        data["runs"].append(
            {
                "min_interval": r.interval,
                "tracked": len(r.to_final),
                "failed": r.failures,
                "server_reads": r.server_reads,
                "reads_per_message": r.reads_per_message,
                "to_final_p50_s": percentile(r.to_final, 50),
                "to_final_p99_s": percentile(r.to_final, 99),
                "rate_limited": r.rate_limited,
            }
        )
    best = statistics.median(r.reads_per_message for r in default)
    p50 = statistics.median(percentile(r.to_final, 50) for r in default)
    data["default_reads_per_message"] = best
    data["default_to_final_p50_s"] = p50
    table.notes += [
        f"Default policy: {best:.3f} reads per tracked message (target <= 0.10), p50 send -> "
        f"final known {fmt_ms(p50)}, {fmt_ms(p50 - LIFECYCLE)} after the lifecycle "
        "(target: within 2 s).",
        "Reads: status-read requests the mock served (single GETs and list pages) during the "
        "run, over the messages followed to their final status.",
        "Time to final: from the send returning to wait_for returning.",
    ]
    files = []
    try:
        files.append(_plot(runs))
    except ImportError:
        table.notes.append("matplotlib is not installed: no plot (pip install '.[bench]').")
    return Outcome(tables=[table], data=data, files=files)
