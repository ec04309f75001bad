"""Scale of work: ``send_many`` over 10k and 100k generated rows, memory staying flat.

Throughput first: 100k rows by ``send_many`` and by hand-written aiohttp + msgspec
code with as many workers, side by side, three rounds (min/median/max).

Limiter off, mock at full speed with no limit.  Each size runs in a fresh process
(``benchmarks._scale_child``) so that its peak RSS is its own: once plain, for
wall time, sends/s and peak RSS (``VmHWM``), and once under ``tracemalloc`` for
the peak of Python allocations (tracemalloc slows sending about fivefold, so it is
timed apart).  If a large run would take much more than a minute here, judged from
the small run's rate, the largest multiple of the small size that fits is used
instead, and the table says so.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from statistics import median
from typing import Any

from ._mock import Mock, running_mock
from ._report import RESULTS_DIR, Outcome, Table

SIZES = (10_000, 100_000)
QUICK_SIZES = (1_000, 5_000)
#: Seconds a large run may take, judged from the small run's rate (``--quick``: 5).
BUDGET = 60.0
#: Less for the traced run, to keep the whole suite within about five minutes.
TRACED_BUDGET = 45.0
QUICK_BUDGET = 5.0
#: Throughput rounds: rows per contender per round, and rounds.
THROUGHPUT_ROWS = 100_000
QUICK_THROUGHPUT_ROWS = 3_000
THROUGHPUT_ROUNDS = 3
MOCK_FLAGS = ("--tps", "0", "--variables", "otp")
_MB = 1024 * 1024


async def _child(mock: Mock, rows: int, *, traced: bool, raw: bool = False) -> dict[str, Any]:
    await mock.reset()
    mock_cpu = mock.cpu_seconds()
    args = [
        "-m",
        f"{__package__}._scale_child",
        "--base-url",
        mock.base_url,
        "--campaign-id",
        mock.campaign_id,
        "--api-key",
        mock.api_key,
        "--rows",
        str(rows),
    ]
    if traced:
        args.append("--tracemalloc")
    if raw:
        args.append("--raw")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=RESULTS_DIR.parent.parent,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), BUDGET * 5)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"the scale child exited with {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    result["mock_busy"] = (mock.cpu_seconds() - mock_cpu) / result["wall_s"]
    return result


def _fit(size: int, run: dict[str, Any], small: int, budget: float) -> int:
    """The largest multiple of ``small`` up to ``size`` that fits ``budget`` at ``run``'s rate."""
    rate = float(run["ok"] / run["wall_s"])
    if size / rate <= budget * 1.1:
        return size
    return max(small, math.floor(rate * budget / small) * small)


async def run(quick: bool) -> Outcome:
    """Run the scenario; ``quick`` uses 1k and 5k rows and a 5 s budget."""
    small, large = QUICK_SIZES if quick else SIZES
    notes: list[str] = []
    plain: dict[int, dict[str, Any]] = {}
    traced: dict[int, dict[str, Any]] = {}
    rounds = 1 if quick else THROUGHPUT_ROUNDS
    through_rows = QUICK_THROUGHPUT_ROWS if quick else THROUGHPUT_ROWS
    rates: dict[str, list[float]] = {"send_many": [], "aiohttp + msgspec": []}
    cpu: dict[str, list[float]] = {"send_many": [], "aiohttp + msgspec": []}
    async with running_mock(*MOCK_FLAGS) as mock:
        for round_no in range(rounds):
            order = list(rates) if round_no % 2 == 0 else list(reversed(rates))
            for name in order:
                print(
                    f"  scale: throughput round {round_no + 1} of {rounds}, {name} ...",
                    flush=True,
                )
                result = await _child(mock, through_rows, traced=False, raw=name != "send_many")
                rates[name].append(result["ok"] / result["wall_s"])
                cpu[name].append(result["cpu_s"] / through_rows * 1e6)
        for kind, results, is_traced in (("plain", plain, False), ("traced", traced, True)):
            print(f"  scale: {small:,} rows, {kind} ...", flush=True)
            results[small] = await _child(mock, small, traced=is_traced)
            budget = QUICK_BUDGET if quick else TRACED_BUDGET if is_traced else BUDGET
            size = _fit(large, results[small], small, budget)
            if size != large:
                rate = results[small]["ok"] / results[small]["wall_s"]
                notes.append(
                    f"{kind}: {large:,} rows would take about {large / rate:.0f} s here "
                    f"(> {budget:.0f} s), so the large {kind} run has {size:,} rows."
                )
            print(f"  scale: {size:,} rows, {kind} ...", flush=True)
            results[size] = await _child(mock, size, traced=is_traced)
    table = Table(
        "Scale: Campaign.send_many(generator, concurrency=64), limiter off, mock unlimited",
        [
            "run",
            "rows",
            "ok",
            "wall",
            "sends/s",
            "client CPU per send",
            "peak RSS (VmHWM)",
            "RSS growth in run",
            "tracemalloc peak",
            "mock CPU busy",
        ],
    )
    for kind, results in (("plain", plain), ("tracemalloc", traced)):
        for size, r in results.items():
            peak = r["tracemalloc_peak_bytes"]
            table.add(
                kind,
                f"{size:,}",
                r["ok"],
                f"{r['wall_s']:.1f} s",
                f"{r['ok'] / r['wall_s']:,.0f}",
                f"{r['cpu_s'] / size * 1e6:.0f} us",
                f"{r['vm_hwm_bytes'] / _MB:.1f} MB",
                f"{(r['vm_hwm_bytes'] - r['vm_hwm_before_bytes']) / _MB:.1f} MB",
                "-" if peak is None else f"{peak / _MB:.2f} MB",
                f"{r['mock_busy'] * 100:.0f}%",
            )
    sizes = sorted(traced)
    growth = (
        traced[sizes[-1]]["tracemalloc_peak_bytes"] / traced[sizes[0]]["tracemalloc_peak_bytes"]
    )
    rss = sorted(plain)
    rss_growth = plain[rss[-1]]["vm_hwm_bytes"] / plain[rss[0]]["vm_hwm_bytes"]
    notes += [
        f"Peak RSS at {rss[-1]:,} rows is {rss_growth:.2f}x the peak at {rss[0]:,}; "
        f"tracemalloc peak at {sizes[-1]:,} rows is {growth:.2f}x the peak at {sizes[0]:,}.",
        "Every run is a fresh process.  tracemalloc slows sending about fivefold, so its "
        "peaks come from separate runs; wall time and sends/s of those runs are not the "
        "client's speed.",
        "RSS growth in run: VmHWM at the end minus VmHWM before the client was created "
        "(the interpreter and imports).",
    ]
    table.notes += notes
    through = Table(
        f"send_many throughput: {through_rows:,} rows, concurrency 64, limiter off, mock "
        f"unlimited, {rounds} rounds side by side",
        ["contender", "sends/s min / median / max", "client CPU per send (median)", "vs raw"],
    )
    ratios = [a / b for a, b in zip(rates["send_many"], rates["aiohttp + msgspec"], strict=True)]
    for name in rates:
        through.add(
            name,
            " / ".join(
                f"{x:,.0f}" for x in (min(rates[name]), median(rates[name]), max(rates[name]))
            ),
            f"{median(cpu[name]):.0f} us",
            " / ".join(f"{x:.2f}x" for x in (min(ratios), median(ratios), max(ratios)))
            if name == "send_many"
            else "1.00x",
        )
    through.notes.append(
        "vs raw: per round, send_many's sends/s over the raw code's (target >= 0.85x). "
        "Both share the machine's two cores with the mock: the client's CPU per send "
        "sets its throughput."
    )
    data = {
        "throughput": {"rows": through_rows, "sends_per_s": rates, "cpu_us": cpu, "ratios": ratios},
        "concurrency": 64,
        "plain": {str(k): v for k, v in plain.items()},
        "traced": {str(k): v for k, v in traced.items()},
        "tracemalloc_growth": growth,
        "rss_growth": rss_growth,
    }
    return Outcome(tables=[through, table], data=data)
