"""Soak: the accounting scenario for minutes, under heavier faults, against the mock in a process.

``python -m benchmarks.soak [--duration 120] [--wave 1000] [--seed 1]``

Waves of concurrent single sends (one fresh recipient per call, the three
ambiguous-send policies taking turns wave by wave) go to the mock server in its
own process while it injects JSON 5xx, HTML 502 pages, failures after the message
was created, dropped connections, latency with jitter, and slow bodies that outlast
the client's timeout.  New waves stop after ``--duration`` seconds; the run is
bounded by it plus one wave.

Afterwards, faults off, the campaign's listing gives every message the server
created, with its recipient, to hold against what each caller was told:

* **lost**: a created message whose caller got neither it nor an error with
  ``message_may_exist=True``.  Must be 0.
* **duplicated**: messages beyond the first for one call.  Allowed only for calls
  that had an ambiguous attempt (a body that left without a 2xx coming back), and
  never under ``RAISE``.

Prints one figures line and exits 1 if an invariant broke.  Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import subprocess
import sys
import time
import types
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from postman_async import (
    AmbiguousSendPolicy,
    Message,
    PostmanClient,
    PostmanError,
    RetryPolicy,
)

#: Heavier than the test suite's: ~45% of requests fail one way or another.
FAULTS: dict[str, Any] = {
    "server_error_rate": 0.18,
    "html_error_rate": 0.05,
    "error_after_commit_rate": 0.22,
    "drop_rate": 0.06,
    "latency": 0.002,
    "latency_jitter": 0.04,
    "slow_body_rate": 0.02,
    "slow_body_seconds": 3.0,  # longer than the client's timeout: created, then timed out
}
CLIENT_TIMEOUT = 2.0
POLICIES = (AmbiguousSendPolicy.RAISE, AmbiguousSendPolicy.RESEND, AmbiguousSendPolicy.RECONCILE)


@dataclass
class Ledger:
    """What each caller was told, and what each attempt saw on the wire."""

    policy: dict[str, AmbiguousSendPolicy] = field(default_factory=dict)
    outcome: dict[str, object] = field(default_factory=dict)
    attempts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def trace(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()

        async def on_chunk(_: Any, ctx: types.SimpleNamespace, params: Any) -> None:
            found = re.search(rb'"recipient":"(\d+)"', params.chunk)
            if found:
                ctx.recipient = found.group(1).decode()

        async def on_end(_: Any, ctx: types.SimpleNamespace, params: Any) -> None:
            if hasattr(ctx, "recipient"):
                self.attempts[ctx.recipient].append(str(params.response.status))

        async def on_exception(_: Any, ctx: types.SimpleNamespace, params: Any) -> None:
            if hasattr(ctx, "recipient"):
                self.attempts[ctx.recipient].append(type(params.exception).__name__)

        config.on_request_chunk_sent.append(on_chunk)
        config.on_request_end.append(on_end)
        config.on_request_exception.append(on_exception)
        return config

    def ambiguous(self, recipient: str) -> int:
        return sum(1 for seen in self.attempts[recipient] if not seen.startswith("2"))


@contextlib.contextmanager
def mock_process(*flags: str) -> Iterator[dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "postman_async.testing", "--port", "0", "--json", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the mock logs every dropped connection; not ours to show
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


async def admin(
    session: aiohttp.ClientSession, root: str, method: str, path: str, **kw: Any
) -> Any:
    async with session.request(method, f"{root}/_mock{path}", **kw) as response:
        response.raise_for_status()
        return await response.json()


async def wave(
    info: dict[str, str],
    ledger: Ledger,
    policy: AmbiguousSendPolicy,
    first: int,
    size: int,
) -> None:
    retry = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.2, ambiguous_sends=policy)
    async with (
        aiohttp.ClientSession(trace_configs=[ledger.trace()]) as session,
        PostmanClient(
            base_url=info["base_url"], session=session, retry_policy=retry, timeout=CLIENT_TIMEOUT
        ) as client,
    ):
        otp = client.campaign(info["campaign_id"], api_key=info["api_key"], tps=None)
        recipients = [str(6580000000 + i) for i in range(first, first + size)]
        results = await asyncio.gather(
            *(otp.send(r, {"otp": f"S{i}"}) for i, r in enumerate(recipients, first)),
            return_exceptions=True,
        )
    for recipient, result in zip(recipients, results, strict=True):
        ledger.policy[recipient] = policy
        ledger.outcome[recipient] = result


async def created_messages(info: dict[str, str]) -> dict[str, list[str]]:
    """Every message the server holds, by recipient (read with faults off)."""
    created: dict[str, list[str]] = defaultdict(list)
    async with PostmanClient(base_url=info["base_url"], timeout=60) as client:
        otp = client.campaign(info["campaign_id"], api_key=info["api_key"], tps=None)
        async for message in otp.list_messages(limit=1000):
            created[message.recipient or "?"].append(message.id)
    return created


async def soak(duration: float, size: int, seed: int) -> int:
    ledger = Ledger()
    # The mock's timestamps follow its clock: at speed 1 they are wall-clock times, as
    # Postman's are, which RECONCILE compares with when the call began.
    with mock_process("--tps", "0", "--speed", "1") as info:
        root = info["base_url"].removesuffix("/api/v2")
        async with aiohttp.ClientSession() as session:
            await admin(session, root, "POST", "/faults", json={**FAULTS, "seed": seed})
            started = time.monotonic()
            waves = 0
            while time.monotonic() - started < duration:
                await wave(info, ledger, POLICIES[waves % 3], waves * size, size)
                waves += 1
            wall = time.monotonic() - started
            stats = (await admin(session, root, "GET", "/stats"))["total"]
            await admin(session, root, "POST", "/faults", json=dict.fromkeys(FAULTS, 0))
        created = await created_messages(info)

    errors: Counter[str] = Counter()
    foreign: Counter[str] = Counter()
    results = lost = 0
    duplicated: Counter[str] = Counter()
    bound: Counter[str] = Counter()  # ambiguous attempts: the most duplicates a policy may cause
    over = 0  # calls with more duplicates than ambiguous attempts
    for recipient, outcome in ledger.outcome.items():
        ids = created.get(recipient, [])
        policy = ledger.policy[recipient].name
        if isinstance(outcome, Message):
            results += 1
            if outcome.id not in ids:
                lost += 1  # a message the server never made: as bad as losing one
        elif isinstance(outcome, PostmanError):
            flag = "+may_exist" if outcome.message_may_exist else ""
            errors[type(outcome).__name__ + flag] += 1
            if ids and not outcome.message_may_exist:
                lost += 1
        else:
            foreign[type(outcome).__name__] += 1
        extra = max(0, len(ids) - 1)
        ambiguous = 0 if policy == "RAISE" else ledger.ambiguous(recipient)
        duplicated[policy] += extra
        bound[policy] += ambiguous
        over += extra > ambiguous
    stray = set(created) - set(ledger.outcome)

    calls = len(ledger.outcome)
    faults = (
        f"faults {stats['server_errors']} 5xx + {stats['dropped']} dropped "
        f"of {stats['total_requests']} requests"
    )
    dup_text = ", ".join(
        f"{p} {duplicated[p]} of at most {bound[p]}" for p in (p.name for p in POLICIES)
    )
    error_text = ", ".join(f"{name} {count}" for name, count in sorted(errors.items()))
    print(
        f"soak: {faults}; calls {calls} in {waves} waves; results {results}; "
        f"errors {sum(errors.values())} ({error_text}); lost {lost}; "
        f"duplicated {sum(duplicated.values())} ({dup_text}; beyond the bound {over}); "
        f"untyped {sum(foreign.values())}; stray {len(stray)}; wall {wall:.1f} s"
    )
    broken = lost or foreign or stray or over
    return 1 if broken else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of new waves")
    parser.add_argument("--wave", type=int, default=1000, help="concurrent sends per wave")
    parser.add_argument("--seed", type=int, default=1, help="seed of the mock's fault draws")
    args = parser.parse_args(argv)
    # RECONCILE logs each re-send at WARNING; thousands of them would bury the figures.
    logging.getLogger("postman_async").setLevel(logging.ERROR)
    return asyncio.run(soak(args.duration, args.wave, args.seed))


if __name__ == "__main__":
    sys.exit(main())
