"""Message lifecycle on the lifecycle clock, and the documented test numbers."""

from __future__ import annotations

import random
from typing import Any

import aiohttp
import pytest

from postman_async.testing import PROFILES, TEST_NUMBERS, MockPostman, serve_mock
from postman_async.testing._clock import LifecycleClock
from postman_async.testing._lifecycle import schedule_for
from tests.testing.conftest import Api

STATUSES = ["created", "enqueued", "sending", "sent", "sent_to_telco", "success"]


def test_schedule_of_a_delivered_message() -> None:
    schedule = schedule_for(None, hold_sent_to_telco=False)
    ages = [0.0, 0.2, 0.5, 1.0, 2.0, 3.0]
    assert [schedule.at(age)[0] for age in ages] == STATUSES
    assert schedule.at(0.19) == ("created", 0.0)
    assert schedule.at(2.5) == ("sent_to_telco", 2.0)
    assert schedule.at(1e9) == ("success", 3.0)


def test_schedules_of_failures_and_hold() -> None:
    server = schedule_for(TEST_NUMBERS["6522222222"], hold_sent_to_telco=False)
    assert [server.at(a)[0] for a in (0.5, 0.99, 1.0)] == ["sending", "sending", "failure"]
    delivery = schedule_for(TEST_NUMBERS["6511111111"], hold_sent_to_telco=False)
    assert [delivery.at(a)[0] for a in (2.0, 2.99, 3.0)] == ["sent_to_telco"] * 2 + ["failure"]
    held = schedule_for(None, hold_sent_to_telco=True)
    assert held.at(1e9)[0] == "sent_to_telco"
    assert schedule_for(TEST_NUMBERS["6511111111"], hold_sent_to_telco=True).at(1e9)[0] == (
        "sent_to_telco"
    )
    assert server.final_status == "failure"


def test_clock_speed_and_advance() -> None:
    now = [100.0]
    clock = LifecycleClock(speed=2.0, monotonic=lambda: now[0], epoch=0.0)
    assert clock.now() == 0.0
    now[0] = 101.0
    assert clock.now() == 2.0
    clock.advance(5)
    assert clock.now() == 7.0
    clock.speed = 0
    now[0] = 200.0
    assert clock.now() == 7.0
    assert clock.isoformat(0.5) == "1970-01-01T08:00:00.500+08:00"
    with pytest.raises(ValueError, match="negative"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="speed"):
        clock.speed = -1


async def test_message_goes_through_every_status_to_success(api: Api, state: MockPostman) -> None:
    _, created = await api.send()
    seen = []
    for step in (0.0, 0.2, 0.3, 0.5, 1.0, 1.0):
        state.advance(step)
        _, body = await api.get(created["id"])
        seen.append(body["latestStatus"])
    assert seen == STATUSES
    attempt = body["attempts"][0]
    assert attempt["status"] == "success"
    assert attempt["sentAt"] > attempt["createdAt"]
    assert attempt["deliveredAt"] > attempt["sentAt"]
    assert "error" not in attempt
    assert body["updatedAt"] == attempt["deliveredAt"]
    assert state.messages[created["id"]].latest_status == "success"


@pytest.mark.parametrize(("number", "expected"), sorted(TEST_NUMBERS.items()))
async def test_test_numbers_fail_with_their_error(
    api: Api, state: MockPostman, number: Any, expected: Any
) -> None:
    _, created = await api.send(recipient=number)
    state.advance(0.9)
    _, body = await api.get(created["id"])
    assert body["latestStatus"] == "sending"
    state.advance(10)
    _, body = await api.get(created["id"])
    assert body["latestStatus"] == "failure"
    attempt = body["attempts"][0]
    assert attempt["status"] == "failure"
    assert attempt["error"] == {"type": expected.type, "code": expected.code}
    assert attempt["sentAt"] is not None
    assert attempt["deliveredAt"] is None


async def test_retried_test_number_fails_again(api: Api, state: MockPostman) -> None:
    _, created = await api.send(recipient="6511114444")
    state.advance(5)
    await api.retry(created["id"])
    _, body = await api.get(created["id"])
    assert body["latestStatus"] == "created"
    assert [a["status"] for a in body["attempts"]] == ["created", "failure"]
    state.advance(5)
    _, body = await api.get(created["id"])
    assert [a["error"]["code"] for a in body["attempts"]] == ["routing_error"] * 2


async def test_hold_sent_to_telco(api: Api, state: MockPostman) -> None:
    held = state.add_campaign(tps=None, hold_sent_to_telco=True)
    status, created = await api.send(key=held.api_key, campaign_id=held.id)
    assert status == 201
    state.advance(3600)
    _, body = await api.get(created["id"], key=held.api_key, campaign_id=held.id)
    assert body["latestStatus"] == "sent_to_telco"


async def test_speed_scales_the_real_clock() -> None:
    fake = [0.0]
    state = MockPostman(speed=10)
    state.clock = LifecycleClock(speed=10, monotonic=lambda: fake[0])
    campaign = state.add_campaign()
    message = state.create_message(campaign, "6591234567", "english", {"otp": "1"})
    fake[0] = 0.25  # 2.5 lifecycle seconds
    assert message.status_at(state.now()) == "sent_to_telco"
    state.speed = 0
    fake[0] = 100.0
    assert message.status_at(state.now()) == "sent_to_telco"
    assert state.speed == 0


def test_realistic_profile_draws_long_tailed_delays_and_holds_some() -> None:
    rng = random.Random(5)
    schedules = [
        schedule_for(None, hold_sent_to_telco=False, profile="realistic", rng=rng)
        for _ in range(2000)
    ]
    finals = [s.final_status for s in schedules]
    held = finals.count("sent_to_telco") / len(finals)
    assert 0.005 < held < 0.04
    ends = sorted(s.ages[-1] for s in schedules if s.final_status == "success")
    median = ends[len(ends) // 2]
    assert 3.0 < median < 10.0  # "typically within 10 seconds"
    assert ends[-1] > 30.0  # ... and sometimes much longer
    assert len({round(end, 6) for end in ends}) == len(ends)  # drawn, not fixed
    for schedule in schedules:
        assert list(schedule.ages) == sorted(schedule.ages)
        assert schedule.statuses[:5] == tuple(STATUSES[:5])


def test_realistic_failures_keep_their_stage() -> None:
    rng = random.Random(1)
    server = schedule_for(
        TEST_NUMBERS["6522222222"], hold_sent_to_telco=False, profile="realistic", rng=rng
    )
    assert server.statuses == ("created", "enqueued", "sending", "failure")
    assert server.sent_age == server.ages[-1]
    delivery = schedule_for(
        TEST_NUMBERS["6511111111"], hold_sent_to_telco=True, profile="realistic", rng=rng
    )
    assert delivery.final_status == "sent_to_telco"


def test_profiles_are_checked() -> None:
    with pytest.raises(ValueError, match="profile must be one of fast, realistic"):
        MockPostman(profile="slow")  # type: ignore[arg-type]
    assert PROFILES == ("fast", "realistic")


async def test_realistic_profile_over_http_is_repeatable_with_a_seed(
    session: aiohttp.ClientSession,
) -> None:
    seen = []
    for _ in range(2):
        state = MockPostman(speed=0, profile="realistic", seed=11)
        async with serve_mock(state, tps=None) as server:
            api = Api(session, server)
            ids = [(await api.send())[1]["id"] for _ in range(20)]
            state.advance(8)
            statuses = [(await api.get(i))[1]["latestStatus"] for i in ids]
        seen.append(statuses)
    assert seen[0] == seen[1]
    assert "success" in seen[0]
    assert set(seen[0]) != {"success"}  # some are still on their way after 8 s
