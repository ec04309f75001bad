"""Where the client's CPU per request goes, layer by layer (not part of the default run).

``python -m benchmarks.layers`` sends 2,000 OTPs per round, five rounds in rotating
order, concurrency 50, no rate limit, through four stacks against the mock, and
prints the client's CPU per request for each (min / median / max):

* ``aiohttp + msgspec``: the overhead scenario's baseline;
* ``+ the client's aiohttp options``: the same with the client's session headers,
  a per-request timeout, ``allow_redirects=False``;
* ``AiohttpTransport.handle``: the client's transport alone (departure hooks, body
  cap), decoding with msgspec as the baseline does;
* ``Campaign.send``: the whole client (validation, request loop, limiter off, decode
  into the public ``Message``).

Each difference is what one layer costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import AsyncIterator

import aiohttp
import msgspec

from postman_async._exchange import Request
from postman_async._limits import NoLimiter, Priority
from postman_async._transport import AiohttpTransport
from postman_async._validate import Secret

from . import overhead
from ._mock import Mock, running_mock
from ._raw import RawMessage, send_body

ROUNDS = 5
SENDS = 2_000


@contextlib.asynccontextmanager
async def _with_client_options(mock: Mock) -> AsyncIterator[overhead.Send]:
    encode = msgspec.json.Encoder().encode
    decode = msgspec.json.Decoder(RawMessage).decode
    url = mock.messages_url
    default = {"User-Agent": "postman-async", "Accept": "application/json"}
    async with aiohttp.ClientSession(headers=default) as session:

        async def send(i: int) -> None:
            async with session.request(
                "POST",
                url,
                data=encode(send_body(i)),
                headers={**mock.auth_headers, "Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=30, connect=10),
                allow_redirects=False,
                raise_for_status=False,
            ) as resp:
                body = await resp.read()
            decode(body)

        yield send


@contextlib.asynccontextmanager
async def _transport_alone(mock: Mock) -> AsyncIterator[overhead.Send]:
    transport = AiohttpTransport()
    encode = msgspec.json.Encoder().encode
    decode = msgspec.json.Decoder(RawMessage).decode
    key = Secret(mock.api_key)
    url = mock.messages_url
    limiter = NoLimiter()

    async def send(i: int) -> None:
        grant = await limiter.acquire(Priority.SEND)
        assert grant is not None
        request = Request(
            method="POST",
            url=url,
            api_key=key,
            json=encode(send_body(i)),
            timeout=30.0,
            grant=grant,
        )
        response = await transport.handle(request)
        decode(response.body)

    try:
        yield send
    finally:
        await transport.aclose()


STACKS: dict[str, overhead.ContenderFactory] = {
    "aiohttp + msgspec": overhead.CONTENDERS["aiohttp + msgspec"],
    "+ the client's aiohttp options": _with_client_options,
    "AiohttpTransport.handle": _transport_alone,
    "Campaign.send": overhead.CONTENDERS["postman_async Campaign.send"],
}


async def main() -> None:
    """Run the rounds and print the table."""
    names = list(STACKS)
    results = {name: overhead.Samples() for name in names}
    async with running_mock(*overhead.MOCK_FLAGS) as mock:
        for r in range(ROUNDS):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                await overhead._round(mock, STACKS[name], SENDS, results[name])
    base = statistics.median(results[names[0]].cpu_us)
    print("| stack | client CPU per request (min / median / max) | vs baseline |")
    print("|:--|--:|--:|")
    for name in names:
        cpu = results[name].cpu_us
        median = statistics.median(cpu)
        print(
            f"| {name} | {min(cpu):.0f} / {median:.0f} / {max(cpu):.0f} us | {median / base:.2f}x |"
        )


if __name__ == "__main__":
    asyncio.run(main())
