"""Tables, JSON results and the machine line every result carries."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import pathlib
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Where results land: one JSON file (and maybe a PNG) per scenario.
RESULTS_DIR = pathlib.Path(__file__).resolve().parent / "results"


@dataclass
class Table:
    """One printed table: a title, a header row, data rows and notes below it."""

    title: str
    headers: Sequence[str]
    rows: list[Sequence[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        """Append one row."""
        self.rows.append(cells)

    def render(self) -> str:
        """Return the table as Markdown (readable in a terminal too)."""
        cells = [[str(c) for c in self.headers], *([_cell(c) for c in row] for row in self.rows)]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.headers))]

        def line(row: Sequence[str]) -> str:
            padded = (
                text.ljust(width) if i == 0 else text.rjust(width)
                for i, (text, width) in enumerate(zip(row, widths, strict=True))
            )
            return "| " + " | ".join(padded) + " |"

        rule = (
            "|"
            + "|".join(
                "-" * (w + 1) + ":" if i else ":" + "-" * (w + 1) for i, w in enumerate(widths)
            )
            + "|"
        )
        out = [f"### {self.title}", "", line(cells[0]), rule, *(line(r) for r in cells[1:])]
        if self.notes:
            out += ["", *(f"- {note}" for note in self.notes)]
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        """Return the table as plain data."""
        return {
            "title": self.title,
            "headers": list(self.headers),
            "rows": [[_cell(c) for c in row] for row in self.rows],
            "notes": self.notes,
        }


@dataclass
class Outcome:
    """What a scenario hands back: tables to print, data to save, files it wrote."""

    tables: list[Table]
    data: dict[str, Any]
    files: list[pathlib.Path] = field(default_factory=list)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def fmt_ms(seconds: float) -> str:
    """Seconds as milliseconds, e.g. ``'12.3 ms'``."""
    return f"{seconds * 1000:,.1f} ms"


def fmt_pct(share: float) -> str:
    """A share as a percentage, e.g. ``'98.1%'``."""
    return f"{share * 100:.1f}%"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (or what ``platform`` says)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_counters() -> tuple[int, int]:
    """``(steal, total)`` CPU ticks of the whole machine so far, from ``/proc/stat``.

    Steal is time the hypervisor gave this VM's CPUs to someone else: a run with
    much of it is noisy.
    """
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    # user nice system idle iowait irq softirq steal guest guest_nice; guests are in user.
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of CPU time stolen by the hypervisor between two :func:`cpu_counters`."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def source_revision() -> str:
    """The git commit of the code under test, noting local changes to the package."""
    root = RESULTS_DIR.parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(root), *args], check=False, capture_output=True, text=True, timeout=10
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "postman_async")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not commit:
        return "unknown"
    return f"{commit} + uncommitted changes to postman_async/" if dirty else commit


def machine_info() -> dict[str, Any]:
    """CPU, cores, OS, Python and library versions, the code's commit, and the time."""
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "postman_async": _version("postman-async"),
        "aiohttp": _version("aiohttp"),
        "msgspec": _version("msgspec"),
        "source": source_revision(),
    }


def machine_line(info: dict[str, Any]) -> str:
    """One line describing the machine, for the top of a report."""
    return (
        f"{info['cpu']}, {info['cores']} cores, Python {info['python']}, "
        f"aiohttp {info['aiohttp']}, msgspec {info['msgspec']}, "
        f"postman_async {info['postman_async']} at {info['source']} ({info['os']})"
    )


def write_json(name: str, payload: dict[str, Any]) -> pathlib.Path:
    """Write ``results/<name>.json``; return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return path
