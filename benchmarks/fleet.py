"""Fleet: 1, 2, 4 and 8 worker processes sending with one campaign's key.

The mock runs in its own process with a strict sliding window of 10 requests
per second and answers after 0-15 ms.  Each worker is a fresh process
(``benchmarks._fleet_child``) with its own ``PostmanClient``; together they
start ``SENDS`` OTP sends at once, split evenly.  Three ways to limit:

* ``in-process``: every worker has the default limiter at ``tps=10``, as a
  user who runs several workers without thinking of it would;
* ``static split``: every worker gets ``tps // N`` (at least 1);
* ``redis``: every worker uses ``RedisLimiterFactory`` on one local server.

Reported: 429s and the busiest one-second window as the server counted them,
the share of the limit the fleet used, send latency (from the start until
success, queueing included) and Redis round trips per request.  Each
configuration runs ``RUNS`` times; the table shows the median, with min and
max where they differ.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
from typing import Any

from ._measure import percentile, sustained_rate
from ._mock import Mock, running_mock
from ._redis_server import running_redis
from ._report import RESULTS_DIR, Outcome, Table, fmt_pct

TPS = 10
PROCESSES = (1, 2, 4, 8)
SENDS = 40
QUICK_SENDS = 16
RUNS = 3
QUICK_RUNS = 1
LIMITERS = ("in-process", "split", "redis")
LABELS = {
    "in-process": "in-process tps=10",
    "split": "static split",
    "redis": "RedisLimiterFactory",
}
MOCK_FLAGS = (
    "--tps",
    str(TPS),
    "--rate-limit",
    "sliding",
    "--latency",
    "0",
    "--latency-jitter",
    "0.015",
    "--variables",
    "otp",
    "--speed",
    "10",
)
#: Seconds one configuration may take before its workers are killed.
RUN_BUDGET = 240.0


async def _workers(
    mock: Mock, limiter: str, processes: int, sends: int, redis_url: str
) -> list[dict[str, Any]]:
    tps = max(1, TPS // processes) if limiter == "split" else TPS
    procs = []
    for index in range(processes):
        args = [
            "-m",
            f"{__package__}._fleet_child",
            "--base-url",
            mock.base_url,
            "--campaign-id",
            mock.campaign_id,
            "--api-key",
            mock.api_key,
            "--sends",
            str(sends // processes),
            "--index",
            str(index),
            "--tps",
            str(tps),
            "--limiter",
            limiter,
            "--redis-url",
            redis_url,
        ]
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                *args,
                cwd=RESULTS_DIR.parent.parent,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        )
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            if line.strip() != b"ready":
                raise RuntimeError(f"a fleet worker did not start: {line!r}")
        await mock.reset()
        outs = await asyncio.wait_for(
            asyncio.gather(*(proc.communicate(b"go\n") for proc in procs)), RUN_BUDGET
        )
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    if any(proc.returncode != 0 for proc in procs):
        raise RuntimeError("a fleet worker failed")
    return [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outs]


async def _measure(
    mock: Mock, limiter: str, processes: int, sends: int, redis_url: str
) -> dict[str, Any]:
    workers = await _workers(mock, limiter, processes, sends, redis_url)
    server = await mock.stats()
    latencies = [x for w in workers for x in w["latencies"]]
    ok = [x for x in latencies if x is not None]
    successes = [t for w in workers for t in w["successes"]]
    rate = sustained_rate(successes)
    requests = sum(server["requests"].values())
    trips = [w["redis_round_trips"] for w in workers if w["redis_round_trips"] is not None]
    return {
        "limiter": limiter,
        "processes": processes,
        "sends": len(latencies),
        "failed": len(latencies) - len(ok),
        "requests": requests,
        "rate_limited": server["rate_limited"],
        "busiest_window": server["max_received_in_window"],
        "share_of_limit": rate / TPS,
        "latency_p50_s": percentile(ok, 50),
        "latency_p99_s": percentile(ok, 99),
        "redis_round_trips_per_request": sum(trips) / requests if trips and requests else None,
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def _spread(values: list[float], show: Any) -> str:
    """Median, with ``(min-max)`` when the runs differ."""
    middle = show(statistics.median(values))
    low, high = show(min(values)), show(max(values))
    return middle if low == high else f"{middle} ({low}-{high})"


def _table(runs: list[dict[str, Any]], sends: int, repeats: int) -> Table:
    table = Table(
        f"Fleet: {sends} OTP sends at once from N worker processes on one campaign, mock limit "
        f"{TPS} TPS (sliding window), answers in 0-15 ms",
        [
            "limiter",
            "N",
            "failed",
            "429s",
            "busiest 1-s window",
            "share of limit",
            "p50 latency (ms)",
            "p99 latency (ms)",
            "Redis trips / request",
        ],
    )
    for limiter in LIMITERS:
        for n in PROCESSES:
            group = [r for r in runs if r["limiter"] == limiter and r["processes"] == n]
            if not group:
                continue

            def col(key: str, show: Any, group: list[dict[str, Any]] = group) -> str:
                values = [r[key] for r in group if r[key] is not None]
                return _spread(values, show) if values else "-"

            table.add(
                LABELS[limiter] if limiter != "split" else f"static split (tps // {n})",
                n,
                col("failed", str),
                col("rate_limited", str),
                col("busiest_window", str),
                col("share_of_limit", fmt_pct),
                col("latency_p50_s", _ms),
                col("latency_p99_s", _ms),
                col("redis_round_trips_per_request", lambda x: f"{x:.2f}"),
            )
    table.notes += [
        f"Median of {repeats} run(s) per row, (min-max) where they differ.",
        "429s and busiest window: the server's counters (/_mock/stats), every request counted.",
        "share of limit = sends answered 201 / (last 201 - first 201 + 1 s) / limit, "
        "fleet-wide (wall clock).",
        "latency: from all sends starting together until each one's success; "
        "it is mostly the queue for the budget.",
        "Redis trips / request: commands sent to Redis by all workers / HTTP requests "
        "the server saw.",
    ]
    return table


async def run(quick: bool) -> Outcome:
    """Run the scenario; ``quick`` sends 16 per configuration, once, instead of 40, three times."""
    sends = QUICK_SENDS if quick else SENDS
    repeats = QUICK_RUNS if quick else RUNS
    runs: list[dict[str, Any]] = []
    with running_redis() as redis_url:
        async with running_mock(*MOCK_FLAGS) as mock:
            for _ in range(repeats):
                for n in PROCESSES:
                    for limiter in LIMITERS:
                        print(f"  fleet: {limiter}, {n} process(es), {sends} sends ...", flush=True)
                        runs.append(await _measure(mock, limiter, n, sends, redis_url))
    table = _table(runs, sends, repeats)
    return Outcome(tables=[table], data={"tps": TPS, "sends": sends, "runs": runs})
