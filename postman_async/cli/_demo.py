"""The demo: fan out OTP sends to the embedded mock server and follow them to the end.

``postman-async demo`` starts a mock Postman on loopback, sends a few hundred
OTPs through one campaign at its rate limit, follows every message to a final
status with a live display of counts and rate budget, and prints what happened,
including what the server itself saw.
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
from collections.abc import Sequence

from .._client import PostmanClient
from .._errors import PostmanError
from .._models import Message, MessageStatus
from .._tracking import TrackingPolicy
from ..testing import serve_mock
from ._meter import RateMeter
from ._output import Output
from ._progress import Progress, Tally

#: Test numbers that the mock (like Postman's test environment) fails on purpose.
_FAILING_NUMBERS = ("6511111111", "6511112222", "6511113333", "6511119999")
#: Requests that read statuses, as the mock counts them.
_READS = ("get_message", "list_messages", "list_batch_messages")


def _recipients(count: int, failing_share: float, rng: random.Random) -> list[str]:
    numbers = []
    for i in range(count):
        if rng.random() < failing_share:
            numbers.append(rng.choice(_FAILING_NUMBERS))
        else:
            numbers.append(f"659{i % 10_000_000:07d}")
    return numbers


async def run_demo(
    *,
    sends: int = 200,
    tps: int = 10,
    speed: float = 4.0,
    seed: int = 7,
    out: Output | None = None,
) -> int:
    """Run the demo; return a process exit code (0 when every call ended as expected)."""
    out = out or Output()
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    recipients = _recipients(sends, 0.05, rng)
    policy = TrackingPolicy(min_interval=0.5, max_interval=4.0)
    meter = RateMeter()
    out.print(f"Starting a mock Postman (rate limit {tps} requests/s per campaign)...")
    async with serve_mock(tps=tps, variables=("otp",)) as server:
        server.state.speed = speed
        out.print(f"  {server.base_url}  campaign {server.campaign_id}")
        out.print(f"Sending {sends} OTPs through one campaign at tps={tps}; tracking every one.")
        started = time.perf_counter()
        tally = Tally(expected=sends)
        sent_at: list[float] = []
        async with (
            PostmanClient(
                base_url=server.base_url, tracking=policy, limiter_factory=meter.factory
            ) as client,
            Progress("demo", tally, out.stdout, meter=meter) as progress,
        ):
            otp = client.campaign(server.campaign_id, api_key=server.api_key, tps=tps)

            async def send_and_follow(number: str) -> Message | PostmanError:
                try:
                    code = f"{rng.randrange(10**6):06d}"
                    message = await otp.send(number, {"otp": code}, timeout=sends / tps + 30)
                    sent_at.append(time.perf_counter())
                    tally.update(message)
                    progress.changed()
                    async for update in otp.track([message]):
                        tally.update(update)
                        progress.changed()
                        message = update
                except PostmanError as exc:
                    return exc
                return message

            outcomes = await asyncio.gather(*(send_and_follow(n) for n in recipients))
        wall = time.perf_counter() - started
        stats = server.campaign.stats
        out.print(_summary(outcomes, sent_at=sent_at, wall=wall, tps=tps, stats=stats))
        errors = [o for o in outcomes if isinstance(o, PostmanError)]
        return 1 if errors or stats.rate_limited else 0


def _summary(
    outcomes: Sequence[Message | PostmanError],
    *,
    sent_at: list[float],
    wall: float,
    tps: int,
    stats: object,
) -> str:
    messages = [o for o in outcomes if isinstance(o, Message)]
    errors = [o for o in outcomes if isinstance(o, PostmanError)]
    delivered = sum(1 for m in messages if m.latest_status is MessageStatus.SUCCESS)
    failed = [m for m in messages if m.latest_status is MessageStatus.FAILURE]
    reasons = collections.Counter(m.error_code or "unknown" for m in failed)
    # Sends per second over the sending span, counting the last second in full
    # (so bursts of `tps` at the start of each window read as at most `tps`).
    span = (max(sent_at) - min(sent_at) + 1.0) if sent_at else 0.0
    achieved = len(sent_at) / span if span else 0.0
    requests: dict[str, int] = getattr(stats, "requests", {})
    reads = sum(requests.get(name, 0) for name in _READS)
    lines = [
        "Summary",
        f"  sent (created)          {len(sent_at)}",
        f"  delivered (success)     {delivered}",
        f"  failed                  {len(failed)}"
        + (f"  ({', '.join(f'{k}: {v}' for k, v in sorted(reasons.items()))})" if reasons else ""),
        f"  call errors             {len(errors)}"
        + (f"  ({', '.join(sorted({type(e).__name__ for e in errors}))})" if errors else ""),
        f"  send rate (sustained)   {achieved:.2f} requests/s against a limit of {tps}"
        f" ({achieved / tps:.0%})",
        f"  status reads            {reads} calls for {len(messages)} messages"
        f" ({reads / max(1, len(messages)):.3f} per message)",
        f"  server: 429s            {getattr(stats, 'rate_limited', '?')}",
        f"  server: busiest second  {getattr(stats, 'max_received_in_window', '?')} requests"
        f" (limit {tps})",
        f"  server: requests        {sum(requests.values()) if requests else '?'}"
        f" ({', '.join(f'{k} {v}' for k, v in requests.items() if v)})",
        f"  wall time               {wall:.1f} s",
    ]
    return "\n".join(lines)
