"""Following email statuses: the pure rules, and the follower on a virtual clock."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from postman_async._email_models import EmailMessage, EmailPage, EmailStatus
from postman_async._email_tracking import EmailFollower, forward, settled

from ..conftest import run_virtual

T0 = dt.datetime(2026, 1, 22, 3, 0, tzinfo=dt.UTC)


def _msg(
    email_id: str, status: str, *, error_code: str | None = None, minute: int = 0
) -> EmailMessage:
    return EmailMessage(
        id=email_id,
        status=EmailStatus(status),
        error_code=error_code,
        created_at=T0 + dt.timedelta(minutes=minute),
    )


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("known", "seen", "moves"),
    [
        (None, "ACCEPTED", True),
        ("ACCEPTED", "SENT", True),
        ("SENT", "DELIVERED", True),
        ("DELIVERED", "OPENED", True),
        ("DELIVERED", "SENT", False),  # a late event overwrote the status
        ("OPENED", "DELIVERED", False),
        ("DELIVERED", "DELIVERED", False),
        ("OPENED", "COMPLAINT", True),
        ("SENT", "BOUNCED", True),
        ("BOUNCED", "COMPLAINT", False),  # the first bad ending stays
        ("BOUNCED", "DELIVERED", False),
        ("ACCEPTED", "DEFERRED", False),  # unknown ranks as ACCEPTED
        ("UNSENT", "DEFERRED", True),
        ("DEFERRED", "SENT", True),
    ],
)
def test_forward(known: str | None, seen: str, moves: bool) -> None:
    old = None if known is None else _msg("1", known)
    new = _msg("1", seen)
    assert (forward(old, new) is new) is moves


@pytest.mark.parametrize(
    ("status", "until", "error_code", "expected"),
    [
        ("ACCEPTED", "DELIVERED", None, False),
        ("SENT", "DELIVERED", None, False),
        ("DELIVERED", "DELIVERED", None, True),
        ("OPENED", "DELIVERED", None, True),
        ("DELIVERED", "OPENED", None, False),
        ("BOUNCED", "OPENED", "Hard bounce", True),
        ("COMPLAINT", "DELIVERED", None, True),
        ("UNSENT", "DELIVERED", "Error 400: Blacklisted recipient", True),
        ("UNSENT", "DELIVERED", None, False),
        ("SENT", "SENT", None, True),
    ],
)
def test_settled(status: str, until: str, error_code: str | None, expected: bool) -> None:
    assert settled(_msg("1", status, error_code=error_code), EmailStatus(until)) is expected


# --------------------------------------------------------------------------- the follower


class FakeReader:
    """Serves scripted statuses by lifecycle time; records every read."""

    def __init__(
        self,
        timelines: dict[str, list[tuple[float, str]]],
        minutes: dict[str, int],
        page_size: int = 1000,
    ) -> None:
        self.page_size = page_size
        self.timelines = timelines
        self.minutes = minutes
        self.calls: list[tuple[str, object]] = []
        self.extra: list[EmailMessage] = []

    def _now(self, email_id: str) -> EmailMessage:
        now = asyncio.get_running_loop().time()
        status = "ACCEPTED"
        for at, name in self.timelines[email_id]:
            if at <= now:
                status = name
        return _msg(email_id, status, minute=self.minutes[email_id])

    async def read_one(self, email_id: str) -> EmailMessage:
        self.calls.append(("get", email_id))
        return self._now(email_id)

    async def read_since(self, since: dt.datetime, offset: int) -> EmailPage:
        self.calls.append(("list", offset))
        rows = sorted(
            [*(self._now(i) for i in self.timelines), *self.extra],
            key=lambda m: (m.created_at or T0, int(m.id)),
        )
        rows = [m for m in rows if m.created_at is not None and m.created_at >= since]
        page = rows[offset : offset + self.page_size]
        return EmailPage(tuple(page), offset + len(page) < len(rows), offset)


def test_follower_lists_and_reports_each_forward_move_once() -> None:
    timelines: dict[str, list[tuple[float, str]]] = {
        "1": [(10, "SENT"), (20, "DELIVERED"), (25, "SENT"), (40, "OPENED")],
        "2": [(10, "SENT"), (15, "BOUNCED")],
        "3": [(30, "DELIVERED"), (45, "OPENED")],
    }
    reader = FakeReader(timelines, {"1": 0, "2": 1, "3": 2})
    start = [_msg(i, "ACCEPTED", minute=m) for i, m in (("1", 0), ("2", 1), ("3", 2))]

    async def main() -> list[tuple[float, str, str]]:
        follower = EmailFollower(reader, start, until=EmailStatus.OPENED, interval=10)
        loop = asyncio.get_running_loop()
        return [(loop.time(), m.id, m.status.value) async for m in follower.follow()]

    moves = run_virtual(main)
    assert moves == [
        (10.0, "1", "SENT"),
        (10.0, "2", "SENT"),
        (20.0, "1", "DELIVERED"),
        (20.0, "2", "BOUNCED"),
        (30.0, "3", "DELIVERED"),
        (40.0, "1", "OPENED"),
        (50.0, "3", "OPENED"),
    ]
    # "1" read SENT again at 30 s (a late event) and nothing was reported backwards.
    # While several were pending, a round was one listing; the last one alone, one GET.
    assert reader.calls[-1] == ("get", "3")
    assert {kind for kind, _ in reader.calls[:-1]} == {"list"}


def test_follower_reads_bare_ids_once_then_lists() -> None:
    reader = FakeReader({"7": [(5, "DELIVERED")], "8": [(5, "DELIVERED")]}, {"7": 0, "8": 0})

    async def main() -> list[str]:
        follower = EmailFollower(reader, ["7", "8"], until=EmailStatus.DELIVERED, interval=5)
        return [m.status.value async for m in follower.follow()]

    assert run_virtual(main) == ["ACCEPTED", "ACCEPTED", "DELIVERED", "DELIVERED"]
    assert reader.calls == [("get", "7"), ("get", "8"), ("list", 0)]


def test_follower_switches_to_gets_when_listing_costs_more() -> None:
    # Twenty other emails were sent between the two followed ones.
    reader = FakeReader(
        {"1": [(5, "DELIVERED")], "2": [(5, "DELIVERED")]}, {"1": 0, "2": 2}, page_size=2
    )
    reader.extra = [_msg(str(100 + i), "SENT", minute=1) for i in range(20)]
    start = [_msg("1", "ACCEPTED", minute=0), _msg("2", "ACCEPTED", minute=2)]

    async def main() -> int:
        follower = EmailFollower(reader, start, until=EmailStatus.DELIVERED, interval=5)
        async for _ in follower.follow():
            pass
        return follower.reads

    # The first page held "1"; ten more pages to reach "2" would cost more than one GET.
    assert run_virtual(main) == 2
    assert reader.calls == [("list", 0), ("get", "2")]


def test_single_email_is_read_by_get() -> None:
    reader = FakeReader({"1": [(5, "DELIVERED")]}, {"1": 0})

    async def main() -> None:
        follower = EmailFollower(
            reader, [_msg("1", "ACCEPTED")], until=EmailStatus.DELIVERED, interval=5
        )
        async for _ in follower.follow():
            pass

    run_virtual(main)
    assert reader.calls == [("get", "1")]


def test_already_settled_emails_cost_no_read() -> None:
    reader = FakeReader({}, {})

    async def main() -> list[EmailMessage]:
        done = [_msg("1", "BOUNCED", error_code="Hard bounce"), _msg("2", "OPENED")]
        follower = EmailFollower(reader, done, until=EmailStatus.DELIVERED, interval=5)
        assert follower.pending == set()
        return [m async for m in follower.follow()]

    assert run_virtual(main) == []
    assert reader.calls == []
