"""One ``send_many`` run in a fresh process, for the scale scenario.

``python -m benchmarks._scale_child --base-url URL --campaign-id ID --api-key KEY
--rows N [--tracemalloc]`` sends ``N`` generated rows and prints one JSON line:
rows, ok, failed, wall and CPU seconds, peak RSS (``VmHWM``) before and after,
and the tracemalloc peak when asked.  A process of its own makes ``VmHWM`` the
peak of this run alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from typing import Any

from postman_async import PostmanClient

from ._measure import vm_hwm_bytes
from ._raw import otp, recipient

CONCURRENCY = 64


def rows(n: int) -> Iterator[dict[str, str]]:
    """``n`` rows made one at a time, never held in a list."""
    for i in range(n):
        yield {"recipient": recipient(i), "otp": otp(i)}


async def send_all(args: argparse.Namespace) -> dict[str, Any]:
    """Send every row through ``Campaign.send_many``; return the measurements."""
    hwm_before = vm_hwm_bytes()
    if args.tracemalloc:
        tracemalloc.start()
    ok = failed = 0
    cpu = time.process_time()
    started = time.perf_counter()
    async with PostmanClient(base_url=args.base_url) as client:
        campaign = client.campaign(args.campaign_id, api_key=args.api_key, tps=None)
        async for result in campaign.send_many(rows(args.rows), concurrency=CONCURRENCY):
            if result.ok:
                ok += 1
            else:
                failed += 1
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
    tracemalloc.stop()
    return {
        "rows": args.rows,
        "ok": ok,
        "failed": failed,
        "wall_s": wall,
        "cpu_s": cpu,
        "tracemalloc_peak_bytes": peak,
        "vm_hwm_before_bytes": hwm_before,
        "vm_hwm_bytes": vm_hwm_bytes(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run, print the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._scale_child")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--campaign-id", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(send_all(args))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
