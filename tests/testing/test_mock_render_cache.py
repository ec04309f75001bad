"""Bodies kept between reads: each read still shows the state at its own moment."""

from __future__ import annotations

import random
from datetime import datetime

from postman_async.testing import MockPostman
from postman_async.testing._clock import SGT, LifecycleClock
from tests.testing.conftest import Api


async def test_a_polled_message_shows_each_change(api: Api, state: MockPostman) -> None:
    status, created = await api.send("6522222222")  # a number whose attempts fail
    assert status == 201
    first = [await api.get(created["id"]) for _ in range(2)]
    assert first[0] == first[1]
    state.advance(10)
    _, later = await api.get(created["id"])
    assert later["latestStatus"] != first[0][1]["latestStatus"]
    assert later["updatedAt"] != first[0][1]["updatedAt"]
    assert len(later["attempts"]) == 1
    await api.retry(created["id"])
    _, retried = await api.get(created["id"])
    assert len(retried["attempts"]) == 2


async def test_a_listing_shows_each_change(api: Api, state: MockPostman) -> None:
    await api.send()
    _, before = await api.call("GET", "/messages", params={"limit": "10"})
    _, again = await api.call("GET", "/messages", params={"limit": "10"})
    assert before == again
    state.advance(10)
    _, after = await api.call("GET", "/messages", params={"limit": "10"})
    assert after["data"][0]["latestStatus"] != before["data"][0]["latestStatus"]


async def test_a_batch_listing_shows_later_attempts(api: Api, state: MockPostman) -> None:
    status, batch = await api.batch("recipient,language,otp\n6522222222,english,1\n")
    assert status == 201
    path = f"/batch/{batch['batchId']}/messages"
    _, before = await api.call("GET", path, params={"limit": "10"})
    state.advance(10)
    message_id = before["data"][0]["id"]
    await api.retry(message_id)
    _, after = await api.call("GET", path, params={"limit": "10"})
    assert before["data"][0]["numAttempts"] == 1
    assert after["data"][0]["numAttempts"] == 2
    assert len(after["data"][0]["messageAttempts"]) == 2


def test_timestamps_are_formatted_as_datetime_would() -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        epoch = 1_700_000_000.0 + rng.random() * 1e8
        at = rng.choice(
            [rng.random() * 1e5, rng.randint(0, 10**9) / 1e6, rng.randint(0, 10**5) + 0.9999995]
        )
        expected = datetime.fromtimestamp(epoch + at, SGT).isoformat(timespec="milliseconds")
        assert LifecycleClock(speed=0, epoch=epoch).isoformat(at) == expected
