"""Pure arithmetic over timestamps and samples: percentiles, windows, rates."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100), interpolating linearly; NaN when empty."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def max_in_window(times: Sequence[float], width: float = 1.0) -> int:
    """Most events in any half-open window ``(t - width, t]``, as the mock counts them."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - width:
            start += 1
        best = max(best, end - start + 1)
    return best


def per_second(times: Sequence[float], origin: float) -> list[int]:
    """Counts of events in consecutive one-second bins starting at ``origin``."""
    if not times:
        return []
    bins = [0] * (math.floor(max(times) - origin) + 1)
    for t in times:
        bins[math.floor(t - origin)] += 1
    return bins


def sustained_rate(times: Sequence[float]) -> float:
    """Events per second, counting the last second in full: ``n / (last - first + 1)``.

    A sender that keeps a limit of ``tps`` exactly scores ``tps``: its first
    ``tps`` events fill the first second, each later second adds ``tps``.
    """
    if not times:
        return 0.0
    return len(times) / (max(times) - min(times) + 1.0)


def vm_hwm_bytes() -> int:
    """Peak resident memory of this process (``VmHWM`` in ``/proc/self/status``); 0 if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    match = re.search(r"(\d+)\s*kB", line)
                    return int(match.group(1)) * 1024 if match else 0
    except OSError:
        pass
    return 0
