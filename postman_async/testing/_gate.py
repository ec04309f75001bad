"""The gate every API request passes: counting, auth, rate limit and faults."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from ._faults import NO_FAULT, FaultPlan
from ._mock_campaign import MockCampaign
from ._refusals import (
    BAD_GATEWAY_HTML,
    IP_NOT_WHITELISTED,
    TOO_MANY_REQUESTS_BODY,
    UNAUTHORIZED_BODY,
    MockApiError,
    envelope,
    server_error,
)
from ._script import UNREADABLE_BODY, ScriptedFault
from ._state import MockPostman
from ._stats import Stats

#: An endpoint handler, called once the gate has let the request through.
Handler = Callable[[web.Request, MockCampaign], Awaitable[web.StreamResponse]]
_JSON = "application/json; charset=utf-8"


def json_response(body: bytes, status: int = 200) -> web.Response:
    """Return a JSON answer with an already-encoded body."""
    return web.Response(body=body, status=status, headers={hdrs.CONTENT_TYPE: _JSON})


class Gate:
    """Puts every API request through counting, auth, the rate limit and faults, in order.

    Requests refused by auth (401) or the rate limit (429) are never processed and never
    faulted; the handler runs only for requests that get through.
    """

    __slots__ = ("_state",)

    def __init__(self, state: MockPostman) -> None:
        self._state = state

    def wrap(
        self, endpoint: str, handler: Handler
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap ``handler`` so that requests to ``endpoint`` pass the gate first."""

        async def gated(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, endpoint, handler)

        return gated

    async def _serve(
        self, request: web.Request, endpoint: str, handler: Handler
    ) -> web.StreamResponse:
        state = self._state
        total = state.stats
        total.requests[endpoint] += 1
        campaign = state.campaigns.get(request.match_info["campaign_id"])
        if campaign is not None:
            campaign.stats.requests[endpoint] += 1
        if campaign is None or not campaign.accepts(request.headers.get(hdrs.AUTHORIZATION)):
            _count(total, campaign, "unauthorized")
            return json_response(UNAUTHORIZED_BODY, 401)
        if not campaign.allows_ip(request.remote):
            return json_response(envelope(*IP_NOT_WHITELISTED), 400)
        now = state.monotonic()
        total.note_received(now)
        campaign.stats.note_received(now)
        if not campaign.rate_window.try_acquire(now):
            _count(total, campaign, "rate_limited")
            return self._too_many_requests()
        total.note_accepted(now)
        campaign.stats.note_accepted(now)
        scripted = state.script.take(endpoint)
        if scripted is not None:
            return await self._serve_scripted(request, campaign, handler, scripted)
        plan = state.injector.plan(endpoint)
        if plan is NO_FAULT:
            return await _run(handler, request, campaign)
        return await self._serve_faulty(request, campaign, handler, plan)

    async def _serve_scripted(
        self, request: web.Request, campaign: MockCampaign, handler: Handler, fault: ScriptedFault
    ) -> web.StreamResponse:
        total = self._state.stats
        if fault.kind == "drop":
            _count(total, campaign, "dropped")
            return _drop(request)
        if fault.kind in ("after_create", "unreadable_body"):
            response = await _run(handler, request, campaign)
            if not 200 <= response.status <= 299:
                return response  # refused before anything was created: nothing to fake
        if fault.kind == "unreadable_body":
            return web.Response(
                body=UNREADABLE_BODY, status=response.status, headers={hdrs.CONTENT_TYPE: _JSON}
            )
        status, body, content_type = fault.answer_body()
        if status >= 500:
            _count(total, campaign, "server_errors")
        elif status == 429:
            _count(total, campaign, "rate_limited")
        answer = web.Response(body=body, status=status, headers={hdrs.CONTENT_TYPE: content_type})
        answer.headers.update(fault.headers)
        return answer

    async def _serve_faulty(
        self, request: web.Request, campaign: MockCampaign, handler: Handler, plan: FaultPlan
    ) -> web.StreamResponse:
        config = self._state.faults
        total = self._state.stats
        if plan.delay:
            await asyncio.sleep(plan.delay)
        if plan.drop:
            _count(total, campaign, "dropped")
            return _drop(request)
        if plan.error is not None:
            _count(total, campaign, "server_errors")
            if plan.error == "html":
                return web.Response(body=BAD_GATEWAY_HTML, status=502, content_type="text/html")
            error = server_error(config.server_error_status)
            return json_response(error.body(), error.status)
        response = await _run(handler, request, campaign)
        if plan.after_commit and response.status == 201:
            _count(total, campaign, "server_errors")
            error = server_error(500)
            response = json_response(error.body(), error.status)
        elif plan.unreadable and 200 <= response.status <= 299:
            response = web.Response(
                body=UNREADABLE_BODY, status=response.status, headers={hdrs.CONTENT_TYPE: _JSON}
            )
        if plan.slow and isinstance(response, web.Response):
            return await _trickle(request, response, config.slow_body_seconds)
        return response

    def _too_many_requests(self) -> web.Response:
        response = json_response(TOO_MANY_REQUESTS_BODY, 429)
        retry_after = self._state.faults.retry_after
        if retry_after is not None:
            response.headers[hdrs.RETRY_AFTER] = str(retry_after)
        return response


def _drop(request: web.Request) -> web.Response:
    if request.transport is not None:
        request.transport.close()
    # Never sent: writing to the closed transport fails and aiohttp gives up quietly.
    return web.Response(status=500)


async def _run(
    handler: Handler, request: web.Request, campaign: MockCampaign
) -> web.StreamResponse:
    try:
        return await handler(request, campaign)
    except MockApiError as exc:
        return json_response(exc.body(), exc.status)


def _count(total: Stats, campaign: MockCampaign | None, counter: str) -> None:
    for stats in (total, campaign.stats if campaign is not None else None):
        if stats is not None:
            setattr(stats, counter, getattr(stats, counter) + 1)


async def _trickle(
    request: web.Request, response: web.Response, seconds: float
) -> web.StreamResponse:
    """Send ``response`` with its headers at once and its body spread over ``seconds``."""
    body = response.body if isinstance(response.body, bytes) else b""
    stream = web.StreamResponse(status=response.status)
    stream.content_type = response.content_type
    if response.charset:
        stream.charset = response.charset
    stream.content_length = len(body)
    await stream.prepare(request)
    pieces = max(1, min(10, len(body)))
    size = -(-len(body) // pieces)
    for index in range(pieces):
        await asyncio.sleep(seconds / pieces)
        await stream.write(body[index * size : (index + 1) * size])
    await stream.write_eof()
    return stream
