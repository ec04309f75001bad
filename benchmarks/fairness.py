"""Fair shares of one campaign's budget: sends behind reads, and polls behind sends.

Two measurements against the mock in its own process (strict sliding window):

* **Send behind reads** (tps 10 and 50): 300 status reads are queued at once; then an
  OTP send arrives every 0.5 s (or 0.25 s) while they drain.  Without a send reserve,
  every OTP waits for the window to move (0.85 s in the old limiter); with it, OTPs
  within the reserve's rate (a fifth of tps) leave at once, and faster ones wait for
  the reads' next slot.
* **Polls behind sends** (tps 10): OTPs arrive at 9 per second for 15 s, each followed
  with ``wait_for`` (the tracker's polls compete with the sends); the same at 1 send per
  second is the idle baseline.  Reported: status reads the server saw per 10 s, and the
  time from a send's answer to its known final status (p50, p99).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from postman_async import PostmanClient, PostmanError

from ._measure import percentile
from ._mock import Mock, reads, running_mock
from ._raw import otp, recipient
from ._report import Outcome, Table, fmt_ms

READS = 300
SENDS_BEHIND_READS = 8
STREAM_SECONDS = 15.0
QUICK_STREAM_SECONDS = 6.0


async def _sends_behind_reads(mock: Mock, tps: int, every: float) -> dict[str, float]:
    await mock.reset()
    async with PostmanClient(base_url=mock.base_url, timeout=120) as client:
        campaign = client.campaign(mock.campaign_id, api_key=mock.api_key, tps=tps)
        first = await campaign.send(recipient(0), {"otp": otp(0)})
        await asyncio.sleep(1.1)  # let the window empty
        reads_ = [asyncio.ensure_future(campaign.get_message(first.id)) for _ in range(READS)]
        await asyncio.sleep(0.2)
        latencies: list[float] = []
        for i in range(SENDS_BEHIND_READS):
            started = time.perf_counter()
            await campaign.send(recipient(i + 1), {"otp": otp(i + 1)})
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(every)
        await asyncio.gather(*reads_)
    stats = await mock.stats()
    return {
        "tps": tps,
        "every": every,
        "worst": max(latencies),
        "p50": percentile(latencies, 50),
        "429s": stats["rate_limited"],
        "busiest": stats["max_received_in_window"],
    }


async def _polls_behind_sends(mock: Mock, rate: float, seconds: float) -> dict[str, float]:
    await mock.reset()
    n = round(rate * seconds)
    to_final: list[float] = []
    failures = 0
    async with PostmanClient(base_url=mock.base_url, timeout=120) as client:
        campaign = client.campaign(mock.campaign_id, api_key=mock.api_key, tps=10)
        loop = asyncio.get_running_loop()
        origin = loop.time() + 0.1

        async def one(i: int) -> None:
            nonlocal failures
            await asyncio.sleep(max(0.0, origin + i / rate - loop.time()))
            try:
                message = await campaign.send(recipient(1000 + i), {"otp": otp(i)})
                answered = time.perf_counter()
                await campaign.wait_for([message], timeout=120)
            except PostmanError:
                failures += 1
                return
            to_final.append(time.perf_counter() - answered)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        wall = time.perf_counter() - started
    stats = await mock.stats()
    return {
        "rate": rate,
        "sends": n,
        "failures": failures,
        "reads_per_10s": reads(stats) / wall * 10,
        "final_p50": percentile(to_final, 50),
        "final_p99": percentile(to_final, 99),
        "429s": stats["rate_limited"],
        "busiest": stats["max_received_in_window"],
    }


async def run(quick: bool) -> Outcome:
    """Run both measurements; ``quick`` streams for 6 s instead of 15."""
    seconds = QUICK_STREAM_SECONDS if quick else STREAM_SECONDS
    behind_reads = []
    for tps in (10, 50):
        flags = ("--tps", str(tps), "--rate-limit", "sliding", "--variables", "otp")
        async with running_mock(*flags) as mock:
            for every in (0.5, 0.25):
                print(f"  fairness: {READS} reads, OTP every {every} s, tps {tps}", flush=True)
                behind_reads.append(await _sends_behind_reads(mock, tps, every))
    flags = ("--tps", "10", "--rate-limit", "sliding", "--variables", "otp")
    async with running_mock(*flags) as mock:
        print("  fairness: idle baseline, 1 send/s with wait_for ...", flush=True)
        idle = await _polls_behind_sends(mock, 1.0, seconds)
        print("  fairness: 9 sends/s of 10 with wait_for ...", flush=True)
        busy = await _polls_behind_sends(mock, 9.0, seconds)
    first = Table(
        f"OTPs behind {READS} queued reads ({SENDS_BEHIND_READS} sends while they drain)",
        ["tps", "one send every", "send latency worst", "p50", "429s", "busiest 1-s window"],
    )
    for r in behind_reads:
        first.add(
            int(r["tps"]),
            f"{r['every']:g} s",
            fmt_ms(r["worst"]),
            fmt_ms(r["p50"]),
            int(r["429s"]),
            int(r["busiest"]),
        )
    second = Table(
        f"Status polls while sends use the budget (tps 10, {seconds:g} s, wait_for on each)",
        [
            "sends/s",
            "sends",
            "failed",
            "status reads per 10 s",
            "send -> final p50",
            "send -> final p99",
            "429s",
            "busiest 1-s window",
        ],
    )
    for r in (idle, busy):
        second.add(
            f"{r['rate']:g}",
            int(r["sends"]),
            int(r["failures"]),
            f"{r['reads_per_10s']:.1f}",
            fmt_ms(r["final_p50"]),
            fmt_ms(r["final_p99"]),
            int(r["429s"]),
            int(r["busiest"]),
        )
    data: dict[str, Any] = {"behind_reads": behind_reads, "idle": idle, "busy": busy}
    return Outcome([first, second], data)
