"""Cancellation and shutdown: nothing leaks, nothing hangs, nothing escapes untyped.

* Cancelling thousands of calls queued in the limiter leaves no waiter, no slot
  and no task behind.
* Closing the client while calls are in flight (queued in the limiter, queued
  for a pooled connection, on the wire) ends each of them with its result or a
  ``ClientClosedError``; a send whose body already reached Postman says so
  with ``message_may_exist``.
* No "Unclosed client session", "Task was destroyed" or unraisable warning,
  even after ``gc.collect()``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest

from postman_async import (
    AmbiguousSendPolicy,
    ClientClosedError,
    Message,
    PostmanClient,
    PostmanError,
    RetryPolicy,
    SlidingWindowLimiter,
    TrackingPolicy,
)
from postman_async._limits import Priority
from postman_async.testing import FaultConfig, MockPostman, MockServer, serve_mock

from ..conftest import run_virtual
from .conftest import InstantTransport, LoopProblems, logging_to, outcome_kinds, phone

pytestmark = pytest.mark.slow


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    state = MockPostman(speed=0)
    async with serve_mock(state, tps=None, variables=("otp",)) as running:
        yield running


async def until(condition: Callable[[], bool], *, give_up: float = 60.0) -> None:
    """Run the loop, one iteration at a time, until ``condition()`` holds.

    ``give_up`` only turns a hang into a failure; it is no claim about speed.
    """
    deadline = time.monotonic() + give_up
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0)


def client_tasks() -> set[asyncio.Task[Any]]:
    """The loop's tasks, less the mock server's connection handlers.

    A handler whose client has just closed the connection may still be finishing
    its answer: that is the server's business, not something the client left.
    """
    return {
        task
        for task in asyncio.all_tasks()
        if not getattr(task.get_coro(), "__qualname__", "").startswith("RequestHandler.")
    }


async def ended_at_once(tasks: Sequence[asyncio.Task[Any]]) -> list[object]:
    """Every task's outcome, checking that all ended within a few loop iterations.

    Run right after ``close()``: a call still waiting for a timer (its deadline,
    a backoff, a slow body) is not done after them, however fast the machine.
    """
    for _ in range(20):
        if all(task.done() for task in tasks):
            break
        await asyncio.sleep(0)
    running = sum(not task.done() for task in tasks)
    assert running == 0, f"{running} calls still running after close()"
    return [task.exception() or task.result() for task in tasks]


@contextmanager
def retry_logged() -> Iterator[asyncio.Event]:
    """An event set when the client logs that a call backs off before retrying."""
    event = asyncio.Event()

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "retrying in" in record.msg:
                event.set()

    with logging_to(Handler(logging.INFO), "postman_async", logging.INFO):
        yield event


# ----------------------------------------------------------------------------- the limiter


def test_cancelling_thousands_of_queued_acquires_leaks_nothing() -> None:
    async def main() -> None:
        baseline = len(asyncio.all_tasks())
        limiter = SlidingWindowLimiter(10)
        tracemalloc.start()

        async def leave(priority: Priority) -> None:
            """Wait for a slot, then send at once (the grant counts from now)."""
            grant = await limiter.acquire(priority, timeout=None)
            assert grant is not None
            grant.sent()

        tasks = [asyncio.create_task(leave(Priority(i % 4))) for i in range(5000)]
        await asyncio.sleep(0)  # everyone is queued; 10 got a slot at once
        assert limiter.granted == 10
        assert limiter.waiting == 4990
        await asyncio.sleep(2.5)  # two more windows: 20 more slots handed out
        done = [t for t in tasks if t.done()]
        assert len(done) == 30 == limiter.granted
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        cancelled = sum(isinstance(r, asyncio.CancelledError) for r in results)
        assert cancelled == 4970
        assert limiter.waiting == 0
        assert limiter.granted == 30  # no slot leaked to, or taken from, a cancelled waiter
        del tasks, results, done
        await asyncio.sleep(0)  # the step that resumed us still holds gather's future
        gc.collect()
        try:
            snapshot = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        limiter_file = tracemalloc.Filter(True, "*" + os.sep + "_limits.py")
        kept = sum(t.size for t in snapshot.filter_traces([limiter_file]).traces)
        # The queue itself is empty, not just full of dead entries: what the limiter's
        # module allocated for the 4,970 cancelled waiters (some 700 KB while they
        # waited) is gone.
        assert kept < 20 * 1024, f"the limiter still holds {kept} bytes"
        assert len(asyncio.all_tasks()) == baseline
        # Capacity is whole again: the next window grants a full burst at once.
        await asyncio.sleep(1.1)
        grants = [await limiter.acquire(Priority.SEND, timeout=0) for _ in range(11)]
        assert sum(g is not None for g in grants) == 10

    run_virtual(main)


def test_cancelling_thousands_of_queued_client_calls_leaks_nothing() -> None:
    """The same through the client: sends queued behind tps=10, cancelled in mid-flight."""

    async def main() -> None:
        baseline = len(asyncio.all_tasks())
        transport = InstantTransport()
        async with PostmanClient(
            base_url="http://127.0.0.1:9/api/v2",
            transport=transport,
            timeout=10_000,
        ) as client:
            otp = client.campaign("campaign_1", api_key="key_test_1", tps=10)
            limiter = otp.limiter
            assert isinstance(limiter, SlidingWindowLimiter)
            tasks = [asyncio.create_task(otp.send(phone(i), {"otp": "1"})) for i in range(3000)]
            await asyncio.sleep(5.5)
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            sent = [r for r in results if isinstance(r, Message)]
            assert len(sent) == len(transport.times) == limiter.granted
            assert 50 <= len(sent) <= 60
            assert sum(isinstance(r, asyncio.CancelledError) for r in results) == 3000 - len(sent)
            assert limiter.waiting == 0
        assert len(asyncio.all_tasks()) == baseline

    run_virtual(main)


# ----------------------------------------------------------------------------- closing


async def test_close_ends_calls_queued_in_the_limiter(
    server: MockServer, loop_problems: LoopProblems
) -> None:
    baseline = client_tasks()
    # A deadline long enough for all 500 at 5 a second: none is refused up front.
    client = PostmanClient(base_url=server.base_url, timeout=300)
    otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=5)
    calls = [asyncio.create_task(otp.send(phone(i), {"otp": "1"})) for i in range(500)]
    await until(lambda: server.campaign.stats.requests["send"] >= 5)
    await client.close()
    results = await ended_at_once(calls)
    limiter = otp.limiter
    assert isinstance(limiter, SlidingWindowLimiter)
    assert limiter.waiting == 0
    left = limiter.granted  # the sends that left before close (5, unless the box is slow)
    assert left >= 5
    kinds = outcome_kinds(results)
    assert set(kinds) <= {"Message", "ClientClosedError", "ClientClosedError+may_exist"}, kinds
    # Queued in the limiter: they never left, and say so.
    assert kinds["ClientClosedError"] == len(calls) - left, kinds
    # On the wire: answered, or "may exist"; never a silent loss, never a phantom.
    assert kinds["Message"] + kinds["ClientClosedError+may_exist"] == left, kinds
    assert kinds["Message"] <= len(server.state.messages) <= left
    gc.collect()
    assert client_tasks() == baseline
    assert not loop_problems.messages()


async def test_close_ends_calls_waiting_for_a_pooled_connection(
    server: MockServer, loop_problems: LoopProblems
) -> None:
    """More calls than aiohttp's 100 pooled connections: the rest wait in the pool.

    Closing the session cancels those waits inside aiohttp; the caller must see
    ``ClientClosedError``, never a bare ``CancelledError`` it did not ask for.
    """
    server.state.faults = FaultConfig(latency=0.3, seed=1)
    client = PostmanClient(base_url=server.base_url)
    otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=None)
    calls = [asyncio.create_task(otp.get_message(f"message_{i}")) for i in range(300)]
    await until(lambda: server.campaign.stats.requests["get_message"] >= 100)
    await client.close()
    results = await ended_at_once(calls)
    assert not any(c.cancelled() for c in calls)
    kinds = outcome_kinds(results)
    assert set(kinds) == {"ClientClosedError"}, kinds
    gc.collect()
    assert not loop_problems.messages()


async def test_close_during_a_send_on_the_wire_says_the_message_may_exist(
    server: MockServer,
) -> None:
    """The mock creates each message, then trickles its answer; the client closes meanwhile."""
    server.state.faults = FaultConfig(slow_body_rate=1.0, slow_body_seconds=5.0, seed=1)
    client = PostmanClient(base_url=server.base_url)
    otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=None)
    calls = [asyncio.create_task(otp.send(phone(i), {"otp": "1"})) for i in range(20)]
    await until(lambda: len(server.state.messages) == 20)
    await client.close()
    # aiohttp alone leaves a half-read body waiting for the call's 30 s deadline.
    results = await ended_at_once(calls)
    for result in results:
        assert isinstance(result, ClientClosedError), result
        # Every one of these SMS exists: saying otherwise would be a silent loss.
        assert result.message_may_exist


async def test_close_during_backoff_keeps_what_earlier_attempts_learned(
    server: MockServer,
) -> None:
    """A send that already had an ambiguous attempt stays 'may exist' when closed later."""
    server.state.faults = FaultConfig(error_after_commit_rate=1.0, seed=1)
    client = PostmanClient(base_url=server.base_url, retry_policy=LongBackoff())
    otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=None)
    with retry_logged() as backing_off:
        call = asyncio.create_task(otp.send(phone(1), {"otp": "1"}))
        await backing_off.wait()  # the 500 came; the call now sleeps 5 s before resending
    assert len(server.state.messages) == 1
    await client.close()
    (result,) = await ended_at_once([call])  # not after the backoff
    assert isinstance(result, ClientClosedError), result
    assert result.message_may_exist


class LongBackoff(RetryPolicy, frozen=True):
    """Resends ambiguous sends after exactly 5 s (no jitter), so close() must cut the wait."""

    ambiguous_sends: AmbiguousSendPolicy = AmbiguousSendPolicy.RESEND

    def delay(self, retry: int, *, rand: Callable[[], float] = random.random) -> float:
        return 5.0


async def test_a_closed_borrowed_session_gives_a_typed_error() -> None:
    session = aiohttp.ClientSession()
    await session.close()
    async with PostmanClient(base_url="http://127.0.0.1:9/api/v2", session=session) as client:
        otp = client.campaign("campaign_1", api_key="key_test_1")
        with pytest.raises(ClientClosedError, match="session"):
            await otp.get_message("message_1")
        with pytest.raises(ClientClosedError) as info:
            await otp.send(phone(1), {"otp": "1"})
        assert not info.value.message_may_exist  # nothing left the process


async def test_closing_a_borrowed_session_under_load_gives_typed_errors(
    server: MockServer,
) -> None:
    server.state.faults = FaultConfig(latency=0.3, seed=1)
    session = aiohttp.ClientSession()
    async with PostmanClient(base_url=server.base_url, session=session) as client:
        otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=None)
        calls = [asyncio.create_task(otp.get_message(f"message_{i}")) for i in range(300)]
        await until(lambda: server.campaign.stats.requests["get_message"] >= 100)
        await session.close()
        results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, PostmanError) for r in results), outcome_kinds(results)
    assert not any(c.cancelled() for c in calls)


async def test_unused_and_used_clients_leave_nothing_for_the_garbage_collector(
    server: MockServer, loop_problems: LoopProblems
) -> None:
    baseline = len(asyncio.all_tasks())
    tracking = TrackingPolicy(min_interval=0.01, max_interval=0.05)
    for _ in range(3):
        async with PostmanClient(base_url=server.base_url, tracking=tracking) as client:
            otp = client.campaign(server.campaign_id, api_key=server.api_key)
            msg = await otp.send(phone(1), {"otp": "1"})
            server.state.advance(60)
            await otp.wait_for([msg], timeout=10)
        PostmanClient(base_url=server.base_url)  # never used, never closed: owns nothing yet
    del client, otp
    gc.collect()
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == baseline
    assert not loop_problems.messages()
