"""One ``send_many`` run in a fresh process, for the scale scenario.

``python -m benchmarks._scale_child --base-url URL --campaign-id ID --api-key KEY
--rows N [--tracemalloc] [--raw]`` sends ``N`` generated rows (``--raw``: with
hand-written aiohttp + msgspec code and the same number of workers, for comparison)
and prints one JSON line:
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

import aiohttp
import msgspec

from postman_async import PostmanClient

from ._measure import vm_hwm_bytes
from ._raw import RawMessage, otp, recipient

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
    if args.raw:
        ok, failed = await _send_raw(args)
    else:
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


async def _send_raw(args: argparse.Namespace) -> tuple[int, int]:
    """The same rows by ``CONCURRENCY`` workers of plain aiohttp + msgspec."""
    encode = msgspec.json.Encoder().encode
    decode = msgspec.json.Decoder(RawMessage).decode
    url = f"{args.base_url}/campaigns/{args.campaign_id}/messages"
    headers = {"Authorization": f"Bearer {args.api_key}", "Content-Type": "application/json"}
    source = rows(args.rows)
    counts = [0, 0]
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            for row in source:
                body = {
                    "recipient": row["recipient"],
                    "language": "english",
                    "values": {"otp": row["otp"]},
                }
                async with session.post(url, data=encode(body), headers=headers) as resp:
                    data = await resp.read()
                    status = resp.status
                if status == 201:
                    decode(data)
                counts[status != 201] += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return counts[0], counts[1]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run, print the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._scale_child")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--campaign-id", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--raw", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(send_all(args))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
