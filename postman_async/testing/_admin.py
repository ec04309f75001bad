"""Admin endpoints under ``/_mock`` for driving a mock that runs in another process.

They need no key and are never rate limited or faulted:

* ``GET /_mock/stats``: counters, ``{"total": {...}, "campaigns": {id: {...}}}``.
* ``GET /_mock/campaigns``: campaign IDs, keys and limits.
* ``GET /_mock/faults`` / ``POST /_mock/faults``: read, or replace the fields named in a
  JSON object (``FaultConfig`` field names), answering the new configuration.
* ``GET /_mock/script`` / ``POST /_mock/script`` / ``DELETE /_mock/script``: read the
  scripted faults, queue one (a JSON object of ``ScriptedFault`` fields, the body as text),
  or clear them.
* ``POST /_mock/reset``: forget messages, batches, counters and rate-limit history
  (``?stats_only=1``: counters only).
* ``POST /_mock/advance?seconds=N``: move the lifecycle clock forward.
* ``GET /_mock/validation-reports/{campaign id}/{name}.csv``: the report of a refused CSV.
"""

from __future__ import annotations

import msgspec
from aiohttp import hdrs, web

from ._script import ScriptedFault
from ._state import MockPostman

#: Prefix of the admin paths.
ADMIN_PREFIX = "/_mock"
#: Where batch validation reports are served (``reportURL`` of an invalid CSV).
REPORTS_PREFIX = ADMIN_PREFIX + "/validation-reports"

_encode = msgspec.json.Encoder().encode
_TRUE = frozenset({"1", "true", "yes"})


def add_admin_routes(app: web.Application, state: MockPostman) -> None:
    """Register the admin endpoints of ``state`` on ``app``."""

    async def stats(_: web.Request) -> web.Response:
        campaigns = {cid: campaign.stats.to_dict() for cid, campaign in state.campaigns.items()}
        return _json({"total": state.stats.to_dict(), "campaigns": campaigns})

    async def campaigns(_: web.Request) -> web.Response:
        return _json(
            [
                {
                    "campaign_id": campaign.id,
                    "api_keys": campaign.api_keys,
                    "tps": campaign.tps,
                    "rate_limit": campaign.rate_limit,
                    "languages": campaign.languages,
                    "variables": campaign.variables,
                    "max_batch_rows": campaign.max_batch_rows,
                    "hold_sent_to_telco": campaign.hold_sent_to_telco,
                    "environment": campaign.environment,
                }
                for campaign in state.campaigns.values()
            ]
        )

    async def get_faults(_: web.Request) -> web.Response:
        return _json(state.faults.to_dict())

    async def set_faults(request: web.Request) -> web.Response:
        try:
            changes = msgspec.json.decode(await request.read())
        except msgspec.DecodeError as exc:
            return _json({"error": str(exc)}, 400)
        if not isinstance(changes, dict):
            return _json({"error": "expected a JSON object of FaultConfig fields"}, 400)
        try:
            state.faults = state.faults.replace(**changes)
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json(state.faults.to_dict())

    async def get_script(_: web.Request) -> web.Response:
        return _json([fault.to_dict() for fault in state.script.pending])

    async def add_script(request: web.Request) -> web.Response:
        try:
            fields = msgspec.json.decode(await request.read())
        except msgspec.DecodeError as exc:
            return _json({"error": str(exc)}, 400)
        if not isinstance(fields, dict):
            return _json({"error": "expected a JSON object of ScriptedFault fields"}, 400)
        body = fields.get("body")
        if isinstance(body, str):
            fields["body"] = body.encode()
        try:
            state.script.add(ScriptedFault(**fields))
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        return await get_script(request)

    async def clear_script(request: web.Request) -> web.Response:
        state.script.clear()
        return await get_script(request)

    async def reset(request: web.Request) -> web.Response:
        if request.query.get("stats_only", "").lower() in _TRUE:
            state.reset_stats()
        else:
            state.reset()
        return _json({"ok": True})

    async def advance(request: web.Request) -> web.Response:
        try:
            state.advance(float(request.query["seconds"]))
        except (KeyError, ValueError) as exc:
            return _json({"error": f"seconds must be a non-negative number: {exc}"}, 400)
        return _json({"now": state.now()})

    async def report(request: web.Request) -> web.Response:
        body = state.reports.get(request.match_info["name"])
        if body is None:
            return _json({"error": "no such report"}, 404)
        return web.Response(body=body, headers={hdrs.CONTENT_TYPE: "text/csv; charset=utf-8"})

    app.router.add_get(REPORTS_PREFIX + "/{name:.+}", report)
    app.router.add_get(ADMIN_PREFIX + "/stats", stats)
    app.router.add_get(ADMIN_PREFIX + "/campaigns", campaigns)
    app.router.add_get(ADMIN_PREFIX + "/faults", get_faults)
    app.router.add_post(ADMIN_PREFIX + "/faults", set_faults)
    app.router.add_get(ADMIN_PREFIX + "/script", get_script)
    app.router.add_post(ADMIN_PREFIX + "/script", add_script)
    app.router.add_delete(ADMIN_PREFIX + "/script", clear_script)
    app.router.add_post(ADMIN_PREFIX + "/reset", reset)
    app.router.add_post(ADMIN_PREFIX + "/advance", advance)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        body=_encode(data), status=status, headers={hdrs.CONTENT_TYPE: "application/json"}
    )
