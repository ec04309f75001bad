"""Scale of work: ``send_many`` over 10k and 100k generated rows, memory staying flat.

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
MOCK_FLAGS = ("--tps", "0", "--variables", "otp")
_MB = 1024 * 1024


async def _child(mock: Mock, rows: int, *, traced: bool) -> dict[str, Any]:
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
    async with running_mock(*MOCK_FLAGS) as mock:
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
    data = {
        "concurrency": 64,
        "plain": {str(k): v for k, v in plain.items()},
        "traced": {str(k): v for k, v in traced.items()},
        "tracemalloc_growth": growth,
        "rss_growth": rss_growth,
    }
    return Outcome(tables=[table], data=data)
