"""The per-campaign limiter: never over ``rate`` departures in any window, by priority."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postman_async import (
    ClientClosedError,
    Grant,
    NoLimiter,
    Priority,
    RateLimiter,
    SlidingWindowLimiter,
)

from .conftest import max_in_window, run_virtual


async def _leave(limiter: SlidingWindowLimiter, priority: Priority) -> float:
    """Acquire a slot and leave at once; return the departure time."""
    grant = await limiter.acquire(priority)
    assert grant is not None
    grant.sent()
    return asyncio.get_running_loop().time()


async def _grant_times(
    limiter: SlidingWindowLimiter, arrivals: list[tuple[float, Priority]]
) -> list[tuple[float, float, Priority]]:
    """Start one request per arrival; return (arrival, departure, priority) of each."""
    loop = asyncio.get_running_loop()
    done: list[tuple[float, float, Priority]] = []

    async def one(at: float, priority: Priority) -> None:
        await asyncio.sleep(at)
        grant = await limiter.acquire(priority)
        assert grant is not None
        grant.sent()  # leaves at once
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
        arrivals = [(i * 0.05, Priority.SEND) for i in range(40)]  # 20/s offered for 2 s
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
    # No reserve and no ageing: the pure sliding window, every priority at full capacity.
    limiter = SlidingWindowLimiter(rate, margin=margin, send_reserve=0.0, max_poll_wait=1e9)
    done = run_virtual(lambda: _grant_times(limiter, arrivals))
    departures = sorted(t for _, t, _ in done)

    # Every request got through, none before it arrived.
    assert len(done) == len(arrivals)
    assert all(dep >= arr for arr, dep, _ in done)
    # The promise: no half-open one-second window sees more than `rate` departures.
    assert max_in_window(departures, 1.0) <= rate
    # Sustained: a request never waits longer than the backlog ahead of it needs.
    window = 1.0 + margin
    for arrival, departure, _ in done:
        ahead = sum(1 for a, d, _ in done if d <= departure and d >= arrival - window)
        assert departure - arrival <= math.ceil(ahead / rate) * window + 1e-6


@settings(max_examples=80, deadline=None)
@given(rate=st.integers(min_value=1, max_value=10), arrivals=arrival_patterns)
def test_property_sends_never_wait_behind_lower_priorities(
    rate: int, arrivals: list[tuple[float, Priority]]
) -> None:
    limiter = SlidingWindowLimiter(rate, max_poll_wait=1e9)  # ageing is tested on its own
    done = run_virtual(lambda: _grant_times(limiter, arrivals))
    # No request of lower priority left while a higher-priority one, arrived earlier, waited.
    for arr_hi, dep_hi, pri_hi in done:
        for _, dep_lo, pri_lo in done:
            if pri_lo > pri_hi and arr_hi < dep_lo < dep_hi:
                pytest.fail(f"{pri_lo.name} left at {dep_lo} while {pri_hi.name} waited")


def test_waiting_send_gets_next_slot_before_earlier_reads() -> None:
    limiter = SlidingWindowLimiter(2, margin=0.0, send_reserve=0.0, max_poll_wait=1e9)

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
            await _leave(limiter, Priority.SEND)  # window full until t=1
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
            await _leave(limiter, Priority.SEND)
            times.append(loop.time())
        return times

    assert run_virtual(main) == [pytest.approx(1.0)] * 5


def test_slot_granted_to_a_cancelled_waiter_is_given_back() -> None:
    limiter = SlidingWindowLimiter(1, margin=0.0)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        await _leave(limiter, Priority.SEND)
        first = asyncio.create_task(limiter.acquire(Priority.SEND))
        second = asyncio.create_task(limiter.acquire(Priority.SEND))
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
        await _leave(limiter, Priority.SEND)
        limiter.slow_down(retry_after=2.0)
        times = []
        for _ in range(10):
            await _leave(limiter, Priority.SEND)
            times.append(loop.time())
        return times

    times = run_virtual(main)
    assert times[0] == pytest.approx(2.0)  # nothing before Retry-After passed
    assert max_in_window(times) == 5  # half the rate during cooldown


def test_close_fails_waiters_and_later_calls() -> None:
    limiter = SlidingWindowLimiter(1)

    async def main() -> None:
        await _leave(limiter, Priority.SEND)
        waiter = asyncio.create_task(limiter.acquire(Priority.SEND))
        await asyncio.sleep(0.1)
        await limiter.aclose()
        with pytest.raises(ClientClosedError):
            await waiter
        with pytest.raises(ClientClosedError):
            await limiter.acquire(Priority.SEND)

    run_virtual(main)


async def test_no_limiter_never_waits_and_closes() -> None:
    limiter = NoLimiter()
    assert isinstance(limiter, RateLimiter)
    for _ in range(100):
        grant = await limiter.acquire(Priority.SEND)
        assert isinstance(grant, Grant)
        grant.sent()
    await limiter.aclose()
    with pytest.raises(ClientClosedError):
        await limiter.acquire(Priority.SEND)


@pytest.mark.parametrize("rate", [0, -1, 1.5, True, "10", 10**400])
def test_rejects_bad_rate(rate: object) -> None:
    with pytest.raises(ValueError, match="rate"):
        SlidingWindowLimiter(rate)  # type: ignore[arg-type]


def test_acquire_timeout_returns_none_and_leaks_nothing() -> None:
    limiter = SlidingWindowLimiter(1, margin=0.0)

    async def main() -> tuple[Grant | None, float, float]:
        loop = asyncio.get_running_loop()
        first = await limiter.acquire(Priority.SEND, timeout=0.1)
        assert first is not None
        first.sent()
        timed_out = await limiter.acquire(Priority.SEND, timeout=0.5)
        assert loop.time() == pytest.approx(0.5)
        assert limiter.waiting == 0
        granted = await limiter.acquire(Priority.SEND, timeout=5.0)
        assert granted is not None
        return timed_out, loop.time(), limiter.granted

    timed_out, at, granted = run_virtual(main)
    assert timed_out is None
    assert at == pytest.approx(1.0)  # the timed-out waiter did not take the t=1 slot
    assert granted == 2


def test_late_departures_push_the_next_window_back() -> None:
    """A request held up by connection set-up counts from when it really left."""
    limiter = SlidingWindowLimiter(2, margin=0.0)

    async def main() -> list[float]:
        first = await limiter.acquire(Priority.SEND)
        assert first is not None
        await _leave(limiter, Priority.SEND)
        await asyncio.sleep(0.3)
        first.sent()  # the first one's TLS handshake took 300 ms
        return [await _leave(limiter, Priority.SEND) for _ in range(2)]

    # The second (left at t=0) frees its slot at t=1; the first only at t=1.3.
    assert run_virtual(main) == [pytest.approx(1.0), pytest.approx(1.3)]


def test_a_grant_that_has_not_left_holds_its_slot_in_every_window() -> None:
    """The pool stall: granted requests that cannot leave must not leave later in a burst."""
    limiter = SlidingWindowLimiter(10, margin=0.0)

    async def main() -> tuple[list[float], float | None]:
        loop = asyncio.get_running_loop()
        stuck = [await limiter.acquire(Priority.SEND) for _ in range(10)]  # no connection
        late = asyncio.create_task(_leave(limiter, Priority.SEND))
        await asyncio.sleep(10.0)  # the pool stays stalled for 10 s
        assert not late.done(), "a new request left while 10 granted ones were still waiting"
        departures = []
        for grant in stuck:  # the pool frees: all ten leave now
            assert grant is not None
            grant.sent()
            departures.append(loop.time())
        departures.append(await late)
        return departures, None

    departures, _ = run_virtual(main)
    assert departures[:10] == [pytest.approx(10.0)] * 10
    assert departures[10] == pytest.approx(11.0)  # a full window after the ten left
    assert max_in_window(departures) == 10


def test_release_gives_the_slot_back_at_once() -> None:
    limiter = SlidingWindowLimiter(1, margin=0.0)

    async def main() -> float:
        grant = await limiter.acquire(Priority.SEND)
        assert grant is not None
        waiter = asyncio.create_task(_leave(limiter, Priority.SEND))
        await asyncio.sleep(0.2)
        grant.release()  # failed before leaving (connection refused)
        grant.sent()  # too late: does nothing
        return await waiter

    assert run_virtual(main) == pytest.approx(0.2)
    assert limiter.granted == 1


@settings(max_examples=60, deadline=None)
@given(
    rate=st.integers(min_value=1, max_value=12),
    delays=st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=3.0).map(lambda x: round(x, 3)),
            st.floats(min_value=0.0, max_value=2.0).map(lambda x: round(x, 3)),
        ),
        min_size=1,
        max_size=60,
    ),
)
def test_property_departures_never_exceed_rate_whatever_the_delay_after_the_grant(
    rate: int, delays: list[tuple[float, float]]
) -> None:
    """Requests arrive at random and leave a random time after their grant (pool, TLS, loop)."""
    limiter = SlidingWindowLimiter(rate, margin=0.0)

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        departures: list[float] = []

        async def one(at: float, stall: float) -> None:
            await asyncio.sleep(at)
            grant = await limiter.acquire(Priority.SEND)
            assert grant is not None
            await asyncio.sleep(stall)
            grant.sent()
            departures.append(loop.time())

        await asyncio.gather(*(one(at, stall) for at, stall in delays))
        return departures

    departures = run_virtual(main)
    assert len(departures) == len(delays)
    assert max_in_window(departures, 1.0) <= rate


def test_huge_burst_of_waiters_keeps_the_limit_and_the_order() -> None:
    limiter = SlidingWindowLimiter(10, margin=0.02)

    async def main() -> list[float]:
        return [t for _, t, _ in await _grant_times(limiter, [(0.0, Priority.SEND)] * 5000)]

    departures = run_virtual(main)
    assert max_in_window(departures) == 10
    assert max(departures) == pytest.approx(499 * 1.02)


def test_reads_leave_a_fifth_of_the_window_to_sends() -> None:
    limiter = SlidingWindowLimiter(10, margin=0.0)

    async def main() -> tuple[list[float], float]:
        loop = asyncio.get_running_loop()
        reads = [asyncio.create_task(_leave(limiter, Priority.READ)) for _ in range(300)]
        await asyncio.sleep(0.5)
        await _leave(limiter, Priority.SEND)  # an OTP behind 300 queued reads
        sent = loop.time()
        done = await asyncio.gather(*reads)
        return list(done), sent

    reads, sent = run_virtual(main)
    assert sent == pytest.approx(0.5)  # no wait for the window to move
    assert max_in_window(reads) <= 8


def test_polls_age_into_the_next_slot_while_sends_use_most_of_the_budget() -> None:
    """At 9 sends a second of 10, status polls still get through."""
    limiter = SlidingWindowLimiter(10, margin=0.0)

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        polls: list[float] = []

        async def sender() -> None:
            for _ in range(90):
                asyncio.get_running_loop().create_task(_leave(limiter, Priority.SEND))
                await asyncio.sleep(1 / 9)

        async def poller() -> None:
            while loop.time() < 10.0:
                polls.append(await _leave(limiter, Priority.POLL))
                await asyncio.sleep(1.0)  # the tracker's interval

        await asyncio.gather(sender(), poller())
        return polls

    polls = run_virtual(main)
    assert len(polls) >= 5


def test_polls_get_the_full_budget_on_an_idle_campaign() -> None:
    limiter = SlidingWindowLimiter(10, margin=0.0)

    async def main() -> list[float]:
        return [await _leave(limiter, Priority.POLL) for _ in range(8)]

    assert run_virtual(main) == [0.0] * 8


def test_snapshot_and_expected_wait() -> None:
    limiter = SlidingWindowLimiter(10, margin=0.0)

    async def main() -> None:
        snap = limiter.snapshot()
        assert snap.waiting == {}
        assert snap.capacity == 10
        for _ in range(10):
            await _leave(limiter, Priority.SEND)
        tasks = [asyncio.create_task(_leave(limiter, Priority.SEND)) for _ in range(25)]
        polls = [asyncio.create_task(_leave(limiter, Priority.POLL)) for _ in range(2)]
        await asyncio.sleep(0)
        snap = limiter.snapshot()
        assert snap.waiting == {"SEND": 25, "POLL": 2}
        assert snap.grants_in_window == 10
        # 25 sends queue ahead of a new one: the window frees at t=1, then two more windows.
        assert snap.expected_wait == pytest.approx(1.0 + 2 * 1.0)
        await asyncio.gather(*tasks, *polls)

    run_virtual(main)


def test_retry_after_is_capped() -> None:
    limiter = SlidingWindowLimiter(10, margin=0.0, max_retry_after=60.0)

    async def main() -> float:
        await _leave(limiter, Priority.SEND)
        limiter.slow_down(retry_after=999_999.0)
        return await _leave(limiter, Priority.SEND)

    assert run_virtual(main) == pytest.approx(60.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"period": 0},
        {"period": math.inf},
        {"margin": math.nan},
        {"margin": -1},
        {"slowdown": 0},
        {"send_reserve": 1.0},
        {"max_poll_wait": math.inf},
        {"max_retry_after": -1},
    ],
)
def test_rejects_bad_options(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SlidingWindowLimiter(10, **kwargs)
