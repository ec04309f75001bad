"""Admin endpoints under ``/_mock`` for driving a mock that runs in another process.

They need no key and are never rate limited or faulted:

* ``GET /_mock/stats``: counters, ``{"total": {...}, "campaigns": {id: {...}}}``.
* ``GET /_mock/campaigns``: campaign IDs, keys and limits.
* ``GET /_mock/faults`` / ``POST /_mock/faults``: read, or replace the fields named in a
  JSON object (``FaultConfig`` field names), answering the new configuration.
* ``GET /_mock/leniency`` / ``POST /_mock/leniency``: read, or replace the ``Leniency``
  switches named in a JSON object.
* ``GET /_mock/script`` / ``POST /_mock/script`` / ``DELETE /_mock/script``: read the
  scripted faults, queue one (a JSON object of ``ScriptedFault`` fields, the body as text),
  or clear them.
* ``POST /_mock/reset``: forget messages, batches, counters and rate-limit history
  (``?stats_only=1``: counters only).
* ``POST /_mock/advance?seconds=N``: move the lifecycle clock forward.
* ``GET /_mock/validation-reports/{campaign id}/{name}.csv``: the report of a refused CSV.
"""

from __future__ import annotations

from typing import Any

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
    admin = _Admin(state)
    app.router.add_get(REPORTS_PREFIX + "/{name:.+}", admin.report)
    app.router.add_get(ADMIN_PREFIX + "/stats", admin.stats)
    app.router.add_get(ADMIN_PREFIX + "/campaigns", admin.campaigns)
    app.router.add_get(ADMIN_PREFIX + "/faults", admin.get_faults)
    app.router.add_post(ADMIN_PREFIX + "/faults", admin.set_faults)
    app.router.add_get(ADMIN_PREFIX + "/leniency", admin.get_leniency)
    app.router.add_post(ADMIN_PREFIX + "/leniency", admin.set_leniency)
    app.router.add_get(ADMIN_PREFIX + "/script", admin.get_script)
    app.router.add_post(ADMIN_PREFIX + "/script", admin.add_script)
    app.router.add_delete(ADMIN_PREFIX + "/script", admin.clear_script)
    app.router.add_post(ADMIN_PREFIX + "/reset", admin.reset)
    app.router.add_post(ADMIN_PREFIX + "/advance", admin.advance)


class _Admin:
    """The admin handlers of one mock."""

    __slots__ = ("_state",)

    def __init__(self, state: MockPostman) -> None:
        self._state = state

    async def stats(self, _: web.Request) -> web.Response:
        campaigns = {
            cid: campaign.stats.to_dict() for cid, campaign in self._state.campaigns.items()
        }
        return _json({"total": self._state.stats.to_dict(), "campaigns": campaigns})

    async def campaigns(self, _: web.Request) -> web.Response:
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
                for campaign in self._state.campaigns.values()
            ]
        )

    async def get_faults(self, _: web.Request) -> web.Response:
        return _json(self._state.faults.to_dict())

    async def set_faults(self, request: web.Request) -> web.Response:
        changes = await _json_object(request, "a JSON object of FaultConfig fields")
        if isinstance(changes, web.Response):
            return changes
        try:
            self._state.faults = self._state.faults.replace(**changes)
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json(self._state.faults.to_dict())

    async def get_leniency(self, _: web.Request) -> web.Response:
        return _json(self._state.leniency.to_dict())

    async def set_leniency(self, request: web.Request) -> web.Response:
        expected = "a JSON object of Leniency switches: true/false"
        changes = await _json_object(request, expected)
        if isinstance(changes, web.Response):
            return changes
        if not all(isinstance(value, bool) for value in changes.values()):
            return _json({"error": f"expected {expected}"}, 400)
        try:
            self._state.leniency = self._state.leniency.replace(**changes)
        except TypeError as exc:
            return _json({"error": str(exc)}, 400)
        return _json(self._state.leniency.to_dict())

    async def get_script(self, _: web.Request) -> web.Response:
        return _json([fault.to_dict() for fault in self._state.script.pending])

    async def add_script(self, request: web.Request) -> web.Response:
        fields = await _json_object(request, "a JSON object of ScriptedFault fields")
        if isinstance(fields, web.Response):
            return fields
        body = fields.get("body")
        if isinstance(body, str):
            fields["body"] = body.encode()
        try:
            self._state.script.add(ScriptedFault(**fields))
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        return await self.get_script(request)

    async def clear_script(self, request: web.Request) -> web.Response:
        self._state.script.clear()
        return await self.get_script(request)

    async def reset(self, request: web.Request) -> web.Response:
        if request.query.get("stats_only", "").lower() in _TRUE:
            self._state.reset_stats()
        else:
            self._state.reset()
        return _json({"ok": True})

    async def advance(self, request: web.Request) -> web.Response:
        try:
            self._state.advance(float(request.query["seconds"]))
        except (KeyError, ValueError) as exc:
            return _json({"error": f"seconds must be a non-negative number: {exc}"}, 400)
        return _json({"now": self._state.now()})

    async def report(self, request: web.Request) -> web.Response:
        body = self._state.reports.get(request.match_info["name"])
        if body is None:
            return _json({"error": "no such report"}, 404)
        return web.Response(body=body, headers={hdrs.CONTENT_TYPE: "text/csv; charset=utf-8"})


async def _json_object(request: web.Request, expected: str) -> dict[str, Any] | web.Response:
    """The request's body as a JSON object, or the 400 answer saying what was ``expected``."""
    try:
        data = msgspec.json.decode(await request.read())
    except msgspec.DecodeError as exc:
        return _json({"error": str(exc)}, 400)
    if not isinstance(data, dict):
        return _json({"error": f"expected {expected}"}, 400)
    return data


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        body=_encode(data), status=status, headers={hdrs.CONTENT_TYPE: "application/json"}
    )
