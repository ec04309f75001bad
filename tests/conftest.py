"""Shared fixtures and helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import looptime

T = TypeVar("T")


def run_virtual(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main`` on an event loop whose clock starts at 0 and jumps when idle.

    ``asyncio.sleep(10)`` returns at once in real time while ``loop.time()``
    advances by exactly 10: timing logic is tested without sleeping.
    """
    with asyncio.Runner(loop_factory=lambda: looptime.new_event_loop(start=0.0)) as runner:
        return runner.run(main())


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Most events in any half-open window ``[t, t + window)``.

    Times are compared to the virtual clock's resolution (1 microsecond), so
    float rounding in ``t + 1.0`` does not count as a shorter gap.
    """
    times = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window - 1e-7:
            start += 1
        best = max(best, end - start + 1)
    return best
