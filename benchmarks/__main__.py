"""``python -m benchmarks [scenario ...] [--quick]``: run scenarios, print tables, save JSON."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from ._report import (
    RESULTS_DIR,
    Outcome,
    cpu_counters,
    machine_info,
    machine_line,
    steal_share,
    write_json,
)

Scenario = Callable[[bool], Coroutine[Any, Any, Outcome]]

#: Every scenario (a module of this package with ``async def run(quick)``), in run order.
SCENARIOS = (
    "fidelity",
    "fairness",
    "mixed",
    "tracking",
    "otp_tracking",
    "overhead",
    "scale",
    "fleet",
)


def _scenario(name: str) -> Scenario:
    run: Scenario = importlib.import_module(f"{__package__}.{name}").run
    return run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks of postman_async against the mock server (loopback only).",
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="scenario",
        help=f"which to run (default: all): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen scenarios; return the exit status."""
    args = _parser().parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
        return 2
    names = args.scenarios or list(SCENARIOS)
    # The client logs every 429 as a warning; the tables count them instead.
    logging.getLogger("postman_async").setLevel(logging.ERROR)
    machine = machine_info()
    command = "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None else argv)
    print(f"{command.strip()}\n{machine['date']}\n{machine_line(machine)}\n", flush=True)
    report = [f"`{command.strip()}`", "", machine["date"], "", machine_line(machine)]
    started = time.perf_counter()
    failed: list[str] = []
    for name in names:
        print(f"== {name}", flush=True)
        began, ticks = time.perf_counter(), cpu_counters()
        try:
            outcome = asyncio.run(_scenario(name)(args.quick))
        except Exception:  # report it, run the other scenarios, exit non-zero
            traceback.print_exc()
            failed.append(name)
            report += ["", f"## {name}: FAILED (see the console)"]
            continue
        seconds = time.perf_counter() - began
        steal = steal_share(ticks, cpu_counters())
        payload = {
            "scenario": name,
            "quick": args.quick,
            "command": command.strip(),
            "seconds": seconds,
            "cpu_steal_share": steal,
            "machine": machine,
            "tables": [t.to_dict() for t in outcome.tables],
            "results": outcome.data,
            "files": [str(p.relative_to(RESULTS_DIR.parent)) for p in outcome.files],
        }
        path = write_json(name, payload)
        report += ["", f"## {name} ({seconds:.0f} s, CPU steal {steal:.0%})"]
        for table in outcome.tables:
            text = table.render()
            print(f"\n{text}", flush=True)
            report += ["", text]
        written = ", ".join(str(p.relative_to(RESULTS_DIR.parent)) for p in [path, *outcome.files])
        print(f"\n({seconds:.1f} s, CPU steal {steal:.0%}; wrote {written})\n", flush=True)
    total = time.perf_counter() - started
    report += ["", f"Total: {total:.0f} s"]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "latest.md").write_text("\n".join(report) + "\n", encoding="utf-8")
    print(f"total {total:.1f} s; tables also in {RESULTS_DIR.name}/latest.md")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
