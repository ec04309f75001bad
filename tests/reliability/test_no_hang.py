"""No hang: against servers that misbehave at the socket level, every call ends in time.

Each raw server breaks HTTP in one way.  Every kind of call (a read, a send under
each ambiguous-send policy, a batch upload, a listing, a wait) runs against it
at once with a short ``timeout``; each must return or raise a typed
``PostmanError`` by its deadline.  Client and servers share one event loop on
a virtual clock (real loopback sockets, time that jumps while every socket is
idle), so "by its deadline" is exact and does not depend on the machine's speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from postman_async import (
    AmbiguousSendPolicy,
    APIConnectionError,
    Campaign,
    PostmanClient,
    PostmanError,
    RetryPolicy,
    SlidingWindowLimiter,
    TrackingPolicy,
)

from ..conftest import run_virtual
from .conftest import CAMPAIGN, KEY, Exchange, Respond, raw_server, settle

pytestmark = pytest.mark.slow

TIMEOUT = 0.6
#: Virtual seconds a call may end after its deadline: the loop's timer resolution.
SLACK = 0.001
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


async def silent(ex: Exchange) -> None:
    await ex.stop.wait()


async def trickle_status_line(ex: Exchange) -> None:
    for byte in HEAD + b"Content-Length: 2\r\n\r\n{}":
        if not await ex.write(bytes([byte])) or await ex.pause(0.05):
            return


async def trickle_body(ex: Exchange) -> None:
    await ex.write(HEAD + b"Content-Length: 100000\r\n\r\n")
    while await ex.write(b" ") and not await ex.pause(0.05):
        pass


async def close_mid_body(ex: Exchange) -> None:
    await ex.write(HEAD + b'Content-Length: 1000\r\n\r\n{"id": "mess')


async def headers_then_stall(ex: Exchange) -> None:
    await ex.write(HEAD + b"Content-Length: 100\r\n\r\n")
    await ex.stop.wait()


async def chunked_then_stall(ex: Exchange) -> None:
    await ex.write(HEAD + b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"id"\r\n')
    await ex.stop.wait()


async def close_without_answer(ex: Exchange) -> None:
    return


SERVERS: dict[str, tuple[Respond, bool]] = {
    "accepts, reads, never answers": (silent, True),
    "accepts, never reads": (silent, False),
    "trickles the status line": (trickle_status_line, True),
    "trickles the body": (trickle_body, True),
    "closes mid-body": (close_mid_body, True),
    "headers, then stalls": (headers_then_stall, True),
    "one chunk, then stalls": (chunked_then_stall, True),
    "closes without answering": (close_without_answer, True),
}

Operation = Callable[[Campaign], Awaitable[object]]


async def _list_all(otp: Campaign) -> object:
    return [m async for m in otp.list_messages(timeout=TIMEOUT)]


OPERATIONS: dict[str, tuple[AmbiguousSendPolicy, Operation]] = {
    "get_message": (AmbiguousSendPolicy.RAISE, lambda c: c.get_message("m1", timeout=TIMEOUT)),
    "retry": (AmbiguousSendPolicy.RAISE, lambda c: c.retry("m1", timeout=TIMEOUT)),
    "list_messages": (AmbiguousSendPolicy.RAISE, _list_all),
    "send/RAISE": (
        AmbiguousSendPolicy.RAISE,
        lambda c: c.send("6591234567", {"otp": "1"}, timeout=TIMEOUT),
    ),
    "send/RESEND": (
        AmbiguousSendPolicy.RESEND,
        lambda c: c.send("6591234567", {"otp": "1"}, timeout=TIMEOUT),
    ),
    "send/RECONCILE": (
        AmbiguousSendPolicy.RECONCILE,
        lambda c: c.send("6591234567", {"otp": "1"}, timeout=TIMEOUT),
    ),
    "send_batch": (
        AmbiguousSendPolicy.RAISE,
        lambda c: c.send_batch([{"recipient": "6591234567", "otp": "1"}], timeout=TIMEOUT),
    ),
    "wait_for": (AmbiguousSendPolicy.RAISE, lambda c: c.wait_for(["m1"], timeout=TIMEOUT)),
}


async def timed(operation: Operation, otp: Campaign) -> tuple[float, object]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await settle(operation(otp))
    return loop.time() - started, result


@pytest.mark.parametrize("server_kind", list(SERVERS))
def test_every_call_ends_within_its_timeout(server_kind: str) -> None:
    results, connections = run_virtual(lambda: _every_call(server_kind))
    assert connections > 0
    for name, (elapsed, result) in results.items():
        assert elapsed <= TIMEOUT + SLACK, f"{name} took {elapsed:.3f} s"
        assert isinstance(result, PostmanError), f"{name}: {result!r}"
        if name.startswith("send"):
            # The body went out and no answer came back: the SMS may exist.
            assert result.message_may_exist, f"{name}: {result!r}"
    # Transport failures surface as the connection family, not as something generic.
    for name in ("get_message", "send/RAISE", "send/RESEND", "send/RECONCILE", "send_batch"):
        assert isinstance(results[name][1], APIConnectionError), (name, results[name][1])


async def _every_call(server_kind: str) -> tuple[dict[str, tuple[float, object]], int]:
    respond, read_request = SERVERS[server_kind]
    async with raw_server(respond, read_request=read_request) as server:
        clients = {
            policy: PostmanClient(
                base_url=server.base_url,
                retry_policy=RetryPolicy(ambiguous_sends=policy),
                tracking=TrackingPolicy(min_interval=0.05, max_interval=0.1),
            )
            for policy in AmbiguousSendPolicy
        }
        try:
            runs = [
                timed(op, clients[policy].campaign(CAMPAIGN, api_key=KEY))
                for policy, op in OPERATIONS.values()
            ]
            results = dict(zip(OPERATIONS, await asyncio.gather(*runs), strict=True))
        finally:
            for client in clients.values():
                await client.close()
    return results, server.connections


def test_waiting_for_rate_budget_is_inside_the_deadline() -> None:
    """Calls queued behind a stalled one at tps=1 give up at their deadline, not later."""

    async def main() -> list[tuple[float, object]]:
        async with raw_server(silent) as server, PostmanClient(base_url=server.base_url) as client:
            otp = client.campaign(CAMPAIGN, api_key=KEY, tps=1)
            runs = [timed(lambda c: c.get_message("m1", timeout=TIMEOUT), otp) for _ in range(20)]
            results = await asyncio.gather(*runs)
            limiter = otp.limiter
            assert isinstance(limiter, SlidingWindowLimiter)
            assert limiter.waiting == 0
        return results

    results = run_virtual(main)
    for elapsed, result in results:
        assert elapsed <= TIMEOUT + SLACK
        assert isinstance(result, PostmanError)
    names = {type(result).__name__ for _, result in results}
    assert names == {"APITimeoutError", "LimiterTimeoutError"}
