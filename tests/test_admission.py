"""Deadline-aware admission on a virtual clock: hopeless calls fail at once, not at their deadline."""

from __future__ import annotations

import asyncio
import math

import pytest

from postman_async import (
    Admission,
    Grant,
    LimiterSnapshot,
    LimiterTimeoutError,
    PostmanClient,
    Priority,
    SlidingWindowLimiter,
    ValidationError,
)
from postman_async.testing import MockTransport, Request, Response

from .conftest import run_virtual

CAMPAIGN = "campaign_admission"
KEY = "key_test_admission-secret"
CREATED = b'{"id": "message_1", "latestStatus": "created", "recipient": "6591234567"}'


class Plain:
    """A third party's limiter: acquire, slow_down, aclose, and nothing more."""

    def __init__(self, tps: int) -> None:
        self.inner = SlidingWindowLimiter(tps)

    async def acquire(self, priority: Priority, *, timeout: float | None = None) -> Grant | None:
        return await self.inner.acquire(priority, timeout=timeout)

    def slow_down(self, retry_after: float | None) -> None:
        self.inner.slow_down(retry_after)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _created(request: Request) -> Response:
    return Response(status=201, body=CREATED)


def _client(**kwargs: object) -> PostmanClient:
    return PostmanClient(
        base_url=PostmanClient.TEST_URL,
        transport=MockTransport(_created),
        **kwargs,  # type: ignore[arg-type]
    )


async def _burst(
    n: int, **kwargs: object
) -> tuple[list[float], list[tuple[float, LimiterTimeoutError]]]:
    """``n`` OTP sends at once at tps 10; return success times and (time, error) of failures."""
    loop = asyncio.get_running_loop()
    ok: list[float] = []
    failed: list[tuple[float, LimiterTimeoutError]] = []
    async with _client(**kwargs) as client:
        otp = client.campaign(CAMPAIGN, api_key=KEY, tps=10)

        async def one() -> None:
            try:
                await otp.send("6591234567", {"otp": "123456"})
            except LimiterTimeoutError as exc:
                failed.append((loop.time(), exc))
            else:
                ok.append(loop.time())

        await asyncio.gather(*(one() for _ in range(n)))
    return ok, failed


def test_hopeless_calls_fail_at_once_with_the_expected_wait() -> None:
    """400 OTPs at tps 10 with the 30 s default: the 100 that cannot make it fail at t=0."""
    ok, failed = run_virtual(lambda: _burst(400))
    assert len(ok) == 300
    assert len(failed) == 100
    assert max(ok) < 30.0
    assert {t for t, _ in failed} == {0.0}  # at once, not after 30 s of waiting
    waits = sorted(exc.expected_wait or 0.0 for _, exc in failed)
    assert waits[0] > 30.0
    assert waits[0] == pytest.approx(30 * 1.02)
    message = str(failed[0][1])
    assert "POST /api/v2/campaigns/campaign_admission/messages" in message
    assert "would wait about" in message
    assert "nothing was sent" in message


def test_max_waiting_caps_the_queue() -> None:
    ok, failed = run_virtual(lambda: _burst(60, max_waiting=25))
    # 10 granted at once, 25 queue, the other 25 are refused at once.
    assert len(ok) == 35
    assert len(failed) == 25
    assert {t for t, _ in failed} == {0.0}
    assert all("max_waiting=25" in str(exc) for _, exc in failed)
    assert all(exc.expected_wait is not None and exc.expected_wait > 0 for _, exc in failed)


def test_a_call_that_can_make_it_is_not_refused() -> None:
    """The estimate errs towards admitting: the last call that fits before its deadline waits."""

    async def main() -> tuple[list[float], list[tuple[float, LimiterTimeoutError]]]:
        return await _burst(300)

    ok, failed = run_virtual(main)
    assert failed == []
    assert len(ok) == 300


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_max_waiting_is_checked(bad: object) -> None:
    with pytest.raises(ValidationError, match="max_waiting"):
        _client(max_waiting=bad)
    with pytest.raises(ValueError, match="max_waiting"):
        SlidingWindowLimiter(10, max_waiting=bad)  # type: ignore[arg-type]


def test_max_waiting_with_a_factory_is_refused() -> None:
    with pytest.raises(ValidationError, match="limiter_factory"):
        _client(max_waiting=5, limiter_factory=lambda cid, tps: SlidingWindowLimiter(tps))


def test_a_limiter_without_admit_is_not_asked() -> None:
    """A third party's limiter: the call waits for its deadline, as before."""

    assert not isinstance(Plain(1), Admission)
    assert isinstance(SlidingWindowLimiter(1), Admission)

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        times: list[float] = []
        waits: list[float | None] = []
        async with PostmanClient(
            base_url=PostmanClient.TEST_URL,
            transport=MockTransport(_created),
            limiter_factory=lambda cid, tps: Plain(tps),
        ) as client:
            otp = client.campaign(CAMPAIGN, api_key=KEY, tps=1)

            async def one() -> None:
                try:
                    await otp.send("6591234567", {"otp": "1"}, timeout=1.5)
                except LimiterTimeoutError as exc:
                    waits.append(exc.expected_wait)
                    times.append(loop.time())

            await asyncio.gather(*(one() for _ in range(5)))
        assert waits == [None] * 3
        return times

    times = run_virtual(main)
    assert times == [pytest.approx(1.5)] * 3  # waited the full deadline


def test_snapshot_for_an_endpoint() -> None:
    async def main() -> tuple[LimiterSnapshot | None, LimiterSnapshot | None]:
        async with _client() as client:
            otp = client.campaign(CAMPAIGN, api_key=KEY, tps=10)
            idle = otp.limiter_snapshot()
            tasks = [asyncio.create_task(otp.send("6591234567", {"otp": "1"})) for _ in range(35)]
            await asyncio.sleep(0)
            busy = otp.limiter_snapshot()
            await asyncio.gather(*tasks)
        return idle, busy

    idle, busy = run_virtual(main)
    assert idle is not None
    assert idle.waiting == {}
    assert idle.expected_wait == 0.0
    assert idle.capacity == 10
    assert idle.window == pytest.approx(1.02)
    assert busy is not None
    assert busy.waiting == {"SEND": 25}
    assert busy.grants_in_window == 10
    # 25 wait: the window frees at 1.02, then two more windows drain 20 of them.
    assert busy.expected_wait == pytest.approx(3 * 1.02)


def test_snapshot_is_none_for_a_limiter_without_one() -> None:
    async def main() -> LimiterSnapshot | None:
        async with PostmanClient(
            base_url=PostmanClient.TEST_URL,
            transport=MockTransport(_created),
            limiter_factory=lambda cid, tps: Plain(tps),
        ) as client:
            return client.campaign(CAMPAIGN, api_key=KEY).limiter_snapshot()

    assert run_virtual(main) is None


def test_pending_grants_do_not_make_the_estimate_infinite() -> None:
    """Granted requests that have not left yet count as leaving now, not forever."""
    limiter = SlidingWindowLimiter(2, margin=0.0)

    async def main() -> float:
        await limiter.acquire(Priority.SEND)
        await limiter.acquire(Priority.SEND)  # both granted, neither sent
        return limiter.expected_wait(Priority.SEND)

    wait = run_virtual(main)
    assert not math.isinf(wait)
    assert wait == pytest.approx(1.0)


def test_polls_age_ahead_of_a_send_queue() -> None:
    """A poll is served after max_poll_wait even behind many sends: its estimate says so."""
    limiter = SlidingWindowLimiter(10, margin=0.0, max_poll_wait=1.0)

    async def main() -> tuple[float, float]:
        for _ in range(10):
            (await limiter.acquire(Priority.SEND)).sent()  # type: ignore[union-attr]
        sends = [asyncio.create_task(limiter.acquire(Priority.SEND)) for _ in range(200)]
        await asyncio.sleep(0)
        estimate = limiter.expected_wait(Priority.POLL)
        loop = asyncio.get_running_loop()
        grant = await limiter.acquire(Priority.POLL)
        assert grant is not None
        served = loop.time()
        await limiter.aclose()
        await asyncio.gather(*sends, return_exceptions=True)
        return estimate, served

    estimate, served = run_virtual(main)
    assert served == pytest.approx(1.0)
    assert estimate == pytest.approx(1.0)


def test_the_estimate_counts_the_cooldown_after_a_429_then_the_full_rate() -> None:
    """After a 429 the rate halves for 5 s: the estimate uses both rates, and it holds."""
    limiter = SlidingWindowLimiter(10, margin=0.0, cooldown=5.0, slowdown=0.5)

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        for _ in range(10):
            (await limiter.acquire(Priority.SEND)).sent()  # type: ignore[union-attr]
        limiter.slow_down(None)  # 5 a window for 5 s

        async def leave() -> None:
            (await limiter.acquire(Priority.SEND)).sent()  # type: ignore[union-attr]

        waiters = [asyncio.create_task(leave()) for _ in range(60)]
        await asyncio.sleep(0)
        estimate = limiter.expected_wait(Priority.SEND)
        grant = await limiter.acquire(Priority.SEND)
        assert grant is not None
        served = loop.time()
        await asyncio.gather(*waiters)
        return estimate, served

    estimate, served = run_virtual(main)
    # 60 ahead: 5 windows at 5 (25), then 35 at 10 a window (3 more whole windows).
    assert estimate == pytest.approx(1.0 + 8 * 1.0)
    assert served == pytest.approx(estimate, abs=1.0)
