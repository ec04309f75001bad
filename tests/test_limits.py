"""The per-campaign limiter: never over ``rate`` in any one-second window, by priority."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postman_async import ClientClosedError, NoLimiter, Priority, RateLimiter, SlidingWindowLimiter

from .conftest import max_in_window, run_virtual


async def _grant_times(
    limiter: SlidingWindowLimiter, arrivals: list[tuple[float, Priority]]
) -> list[tuple[float, float, Priority]]:
    """Start one request per arrival; return (arrival, departure, priority) of each."""
    loop = asyncio.get_running_loop()
    done: list[tuple[float, float, Priority]] = []

    async def one(at: float, priority: Priority) -> None:
        await asyncio.sleep(at)
        await limiter.acquire(priority)
        done.append((at, loop.time(), priority))

    await asyncio.gather(*(one(at, p) for at, p in arrivals))
    return done


def test_burst_then_waits_a_full_window() -> None:
    limiter = SlidingWindowLimiter(10, margin=0.02)

    async def main() -> list[float]:
        done = await _grant_times(limiter, [(0.0, Priority.SEND)] * 25)
        return sorted(t for _, t, _ in done)

    times = run_virtual(main)
    assert times[:10] == [0.0] * 10
    assert times[10:20] == [pytest.approx(1.02)] * 10
    assert times[20:] == [pytest.approx(2.04)] * 5
    assert max_in_window(times) == 10


def test_aiolimiter_style_double_burst_cannot_happen() -> None:
    """A leaky bucket admits ~2x rate in the first second; this limiter admits exactly rate."""
    limiter = SlidingWindowLimiter(10, margin=0.0)

    async def main() -> list[float]:
        arrivals = [(i * 0.05, Priority.READ) for i in range(40)]  # 20/s offered for 2 s
        return [t for _, t, _ in await _grant_times(limiter, arrivals)]

    times = run_virtual(main)
    assert max_in_window(times) == 10
    assert sum(1 for t in times if t < 1.0) == 10


arrival_patterns = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=5.0, allow_nan=False).map(lambda x: round(x, 4)),
        st.sampled_from(list(Priority)),
    ),
    min_size=1,
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(
    rate=st.integers(min_value=1, max_value=25),
    margin=st.sampled_from([0.0, 0.01, 0.02, 0.1]),
    arrivals=arrival_patterns,
)
def test_property_no_window_exceeds_rate_and_backlog_runs_at_rate(
    rate: int, margin: float, arrivals: list[tuple[float, Priority]]
) -> None:
    limiter = SlidingWindowLimiter(rate, margin=margin)
    done = run_virtual(lambda: _grant_times(limiter, arrivals))
    departures = sorted(t for _, t, _ in done)

    # Every request got through, none before it arrived.
    assert len(done) == len(arrivals)
    assert all(dep >= arr for arr, dep, _ in done)
    # The promise: no half-open one-second window sees more than `rate` departures.
    assert max_in_window(departures, 1.0) <= rate
    # Sustained: a request never waits longer than the backlog ahead of it needs.
    # (Polls may leave part of a window unused on purpose: see the poll-reserve test.)
    window = 1.0 + margin
    for arrival, departure, priority in done:
        if priority is Priority.POLL:
            continue
        ahead = sum(1 for a, d, _ in done if d <= departure and d >= arrival - window)
        assert departure - arrival <= math.ceil(ahead / rate) * window + 1e-6


@settings(max_examples=80, deadline=None)
@given(rate=st.integers(min_value=1, max_value=10), arrivals=arrival_patterns)
def test_property_sends_never_wait_behind_lower_priorities(
    rate: int, arrivals: list[tuple[float, Priority]]
) -> None:
    limiter = SlidingWindowLimiter(rate)
    done = run_virtual(lambda: _grant_times(limiter, arrivals))
    # No request of lower priority left while a higher-priority one, arrived earlier, waited.
    for arr_hi, dep_hi, pri_hi in done:
        for _, dep_lo, pri_lo in done:
            if pri_lo > pri_hi and arr_hi < dep_lo < dep_hi:
                pytest.fail(f"{pri_lo.name} left at {dep_lo} while {pri_hi.name} waited")


def test_waiting_send_gets_next_slot_before_earlier_reads() -> None:
    limiter = SlidingWindowLimiter(2, margin=0.0)

    async def main() -> list[tuple[float, float, Priority]]:
        arrivals = [(0.0, Priority.READ)] * 6 + [(0.5, Priority.SEND), (0.6, Priority.POLL)]
        return await _grant_times(limiter, arrivals)

    done = run_virtual(main)
    order = [p for _, _, p in sorted(done, key=lambda x: (x[1], x[2]))]
    # Two reads at 0; at t=1 the send (arrived at 0.5) goes first, then reads, poll last.
    assert order[:3] == [Priority.READ, Priority.READ, Priority.SEND]
    assert order[-1] is Priority.POLL
    send_time = next(d for _, d, p in done if p is Priority.SEND)
    assert send_time == pytest.approx(1.0)


def test_cancelled_waiters_leak_no_capacity() -> None:
    limiter = SlidingWindowLimiter(5, margin=0.0)

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        for _ in range(5):
            await limiter.acquire(Priority.READ)  # window full until t=1
        doomed = [asyncio.create_task(limiter.acquire(Priority.SEND)) for _ in range(1000)]
        await asyncio.sleep(0.5)
        assert limiter.waiting == 1000
        for task in doomed:
            task.cancel()
        await asyncio.gather(*doomed, return_exceptions=True)
        assert limiter.waiting == 0
        assert limiter.granted == 5
        times: list[float] = []
        for _ in range(5):
            await limiter.acquire(Priority.READ)
            times.append(loop.time())
        return times

    assert run_virtual(main) == [pytest.approx(1.0)] * 5


def test_slot_granted_to_a_cancelled_waiter_is_given_back() -> None:
    limiter = SlidingWindowLimiter(1, margin=0.0)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        await limiter.acquire(Priority.READ)
        first = asyncio.create_task(limiter.acquire(Priority.SEND))
        second = asyncio.create_task(limiter.acquire(Priority.READ))
        await asyncio.sleep(1.0)  # the timer fires at t=1 and grants `first` its slot
        # `first` was granted at t=1 but is cancelled before it runs.
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await second
        return loop.time()

    # The slot `first` never used went to `second` at once, not a window later.
    assert run_virtual(main) == pytest.approx(1.0)
    assert limiter.granted == 2


def test_slow_down_after_429_halves_rate_and_honours_retry_after() -> None:
    limiter = SlidingWindowLimiter(10, margin=0.0, slowdown=0.5, cooldown=5.0)

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        await limiter.acquire(Priority.READ)
        limiter.slow_down(retry_after=2.0)
        times = []
        for _ in range(10):
            await limiter.acquire(Priority.SEND)
            times.append(loop.time())
        return times

    times = run_virtual(main)
    assert times[0] == pytest.approx(2.0)  # nothing before Retry-After passed
    assert max_in_window(times) == 5  # half the rate during cooldown


def test_close_fails_waiters_and_later_calls() -> None:
    limiter = SlidingWindowLimiter(1)

    async def main() -> None:
        await limiter.acquire(Priority.READ)
        waiter = asyncio.create_task(limiter.acquire(Priority.READ))
        await asyncio.sleep(0.1)
        limiter.close()
        with pytest.raises(ClientClosedError):
            await waiter
        with pytest.raises(ClientClosedError):
            await limiter.acquire(Priority.SEND)

    run_virtual(main)


async def test_no_limiter_never_waits_and_closes() -> None:
    limiter = NoLimiter()
    assert isinstance(limiter, RateLimiter)
    for _ in range(100):
        await limiter.acquire(Priority.SEND)
    limiter.close()
    with pytest.raises(ClientClosedError):
        await limiter.acquire(Priority.SEND)


@pytest.mark.parametrize("rate", [0, -1, 1.5, True, "10"])
def test_rejects_bad_rate(rate: object) -> None:
    with pytest.raises(ValueError, match="rate"):
        SlidingWindowLimiter(rate)  # type: ignore[arg-type]


def test_acquire_timeout_returns_false_and_leaks_nothing() -> None:
    limiter = SlidingWindowLimiter(1, margin=0.0)

    async def main() -> tuple[float | None, float | None, float]:
        loop = asyncio.get_running_loop()
        assert await limiter.acquire(Priority.READ, timeout=0.1) == 0.0
        timed_out = await limiter.acquire(Priority.SEND, timeout=0.5)
        assert loop.time() == pytest.approx(0.5)
        assert limiter.waiting == 0
        granted = await limiter.acquire(Priority.READ, timeout=5.0)
        return timed_out, granted, loop.time()

    timed_out, granted, at = run_virtual(main)
    assert timed_out is None
    assert granted == pytest.approx(1.0)
    assert at == pytest.approx(1.0)  # the timed-out waiter did not take the t=1 slot
    assert limiter.granted == 2


def test_late_departures_push_the_next_window_back() -> None:
    """A request held up by connection set-up counts from when it really left."""
    limiter = SlidingWindowLimiter(2, margin=0.0)

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        first = await limiter.acquire(Priority.SEND)
        await limiter.acquire(Priority.SEND)
        assert first is not None
        limiter.sent(first, 0.3)  # the first one's TLS handshake took 300 ms
        times = []
        for _ in range(2):
            await limiter.acquire(Priority.SEND)
            times.append(loop.time())
        return times

    # The second grant (t=0) frees its slot at t=1; the first only at t=1.3.
    assert run_virtual(main) == [pytest.approx(1.0), pytest.approx(1.3)]


def test_sent_ignores_unknown_or_earlier_times() -> None:
    limiter = SlidingWindowLimiter(1, margin=0.0)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        granted = await limiter.acquire(Priority.SEND)
        assert granted is not None
        limiter.sent(granted + 123.0, 5.0)  # no such grant: nothing moves
        limiter.sent(granted, granted - 1.0)  # cannot leave before its grant
        await limiter.acquire(Priority.SEND)
        return loop.time()

    assert run_virtual(main) == pytest.approx(1.0)


def test_polls_leave_room_in_every_window_for_a_send() -> None:
    limiter = SlidingWindowLimiter(10, margin=0.0)  # polls may use 8 of 10 slots a second

    async def main() -> tuple[list[float], float]:
        loop = asyncio.get_running_loop()
        polls: list[float] = []

        async def poll() -> None:
            await limiter.acquire(Priority.POLL)
            polls.append(loop.time())

        tasks = [asyncio.create_task(poll()) for _ in range(30)]
        await asyncio.sleep(0.5)
        await limiter.acquire(Priority.SEND)  # arrives while polls saturate their share
        sent = loop.time()
        await asyncio.gather(*tasks)
        return polls, sent

    polls, sent = run_virtual(main)
    assert sent == pytest.approx(0.5)  # no wait for the window to move
    assert max_in_window(polls) == 8
    assert max_in_window([*polls, sent]) <= 10
