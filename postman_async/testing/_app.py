"""The seven API endpoints and the application that serves them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import msgspec
from aiohttp import BodyPartReader, web

from ._admin import add_admin_routes
from ._batch_csv import FILE_TOO_LARGE, MAX_FILE_BYTES, CsvError, parse_batch_csv
from ._campaign import MockCampaign
from ._email_app import add_email_routes
from ._errors import ApiError, invalid, route_not_found_body
from ._gate import Gate, Handler, json_response
from ._pagination import decode_cursor, paginate, parse_limit
from ._records import MockMessage
from ._render import Renderer
from ._validation import language_problem, recipient_problem, values_problem
from ._wire import BatchCreatedOut

if TYPE_CHECKING:
    from ._pagination import Page
    from ._state import MockPostman

#: Prefix of every API path.
API_PREFIX = "/api/v2"

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def build_app(state: MockPostman) -> web.Application:
    """Return the application serving ``state`` (see ``MockPostman.make_app``)."""
    app = web.Application()
    api = _Api(state)
    gate = Gate(state)
    campaign = API_PREFIX + "/campaigns/{campaign_id}"
    routes: list[tuple[str, str, str, Handler]] = [
        ("POST", "/messages", "send", api.send),
        ("POST", "/messages/{message_id}/retry", "retry", api.retry),
        ("GET", "/messages/{message_id}", "get_message", api.get_message),
        ("GET", "/messages", "list_messages", api.list_messages),
        ("POST", "/batch/messages", "batch_send", api.batch_send),
        ("POST", "/batch/{batch_id}/retry", "batch_retry", api.batch_retry),
        ("GET", "/batch/{batch_id}/messages", "list_batch_messages", api.list_batch_messages),
    ]
    for method, path, endpoint, handler in routes:
        app.router.add_route(method, campaign + path, gate.wrap(endpoint, handler))
    add_admin_routes(app, state)
    add_email_routes(app, state)
    app.router.add_route("*", "/{tail:.*}", _route_not_found)
    return app


class _Api:
    """Handlers of the seven endpoints; each runs after the gate let its request through."""

    __slots__ = ("_state",)

    def __init__(self, state: MockPostman) -> None:
        self._state = state

    def _renderer(self, campaign: MockCampaign) -> Renderer:
        return Renderer(self._state.clock, campaign, self._state.now())

    async def send(self, request: web.Request, campaign: MockCampaign) -> web.StreamResponse:
        """``POST /campaigns/{campaignId}/messages``."""
        try:
            payload = _decode(await request.read())
        except msgspec.DecodeError as exc:
            raise invalid("Request body must be a JSON object") from exc
        if not isinstance(payload, dict):
            raise invalid("Request body must be a JSON object")
        recipient = payload.get("recipient")
        language = payload.get("language")
        values = payload.get("values")
        problem = (
            recipient_problem(recipient)
            or language_problem(language, campaign.languages)
            or values_problem(values, campaign.variables)
        )
        if problem:
            raise invalid(problem)
        # The checks above make these a digit string, an enabled language and string values.
        filled = {name: cast("dict[str, str]", values)[name] for name in campaign.variables}
        message = self._state.create_message(campaign, str(recipient), str(language), filled)
        return json_response(_encode(self._renderer(campaign).created(message)), 201)

    async def retry(self, request: web.Request, campaign: MockCampaign) -> web.StreamResponse:
        """``POST /campaigns/{campaignId}/messages/{messageId}/retry``."""
        message = self._state.retry_message(campaign, request.match_info["message_id"])
        return json_response(_encode(self._renderer(campaign).created(message)), 201)

    async def get_message(self, request: web.Request, campaign: MockCampaign) -> web.StreamResponse:
        """``GET /campaigns/{campaignId}/messages/{messageId}``."""
        message = self._state.messages.get(request.match_info["message_id"])
        if message is None or message.campaign_id != campaign.id:
            raise ApiError(404, "message_not_found", "Message not found")
        return json_response(_encode(self._renderer(campaign).message(message)))

    async def list_messages(
        self, request: web.Request, campaign: MockCampaign
    ) -> web.StreamResponse:
        """``GET /campaigns/{campaignId}/messages``."""
        page = _page(request, campaign.keys, campaign.messages)
        renderer = self._renderer(campaign)
        return json_response(_encode(renderer.page(page, renderer.listed)))

    async def batch_send(self, request: web.Request, campaign: MockCampaign) -> web.StreamResponse:
        """``POST /campaigns/{campaignId}/batch/messages`` (multipart, CSV in ``file``)."""
        data, file_name = await _read_upload(request)
        try:
            rows = parse_batch_csv(
                data,
                languages=campaign.languages,
                variables=campaign.variables,
                max_rows=campaign.max_batch_rows,
            )
        except CsvError as exc:
            raise invalid(str(exc)) from exc
        batch = self._state.create_batch(campaign, rows, file_name)
        return json_response(_encode(BatchCreatedOut(is_valid=True, batch_id=batch.id)), 201)

    async def batch_retry(self, request: web.Request, campaign: MockCampaign) -> web.StreamResponse:
        """``POST /campaigns/{campaignId}/batch/{batchId}/retry`` (201, empty body)."""
        self._state.retry_batch(campaign, request.match_info["batch_id"])
        return web.Response(status=201)

    async def list_batch_messages(
        self, request: web.Request, campaign: MockCampaign
    ) -> web.StreamResponse:
        """``GET /campaigns/{campaignId}/batch/{batchId}/messages``."""
        batch = campaign.batches.get(request.match_info["batch_id"])
        if batch is None:
            raise ApiError(404, "batch_not_found", "Batch not found")
        page = _page(request, batch.keys, batch.messages)
        renderer = self._renderer(campaign)
        return json_response(_encode(renderer.page(page, renderer.batch_message)))


def _page(
    request: web.Request, keys: list[tuple[str, str]], messages: list[MockMessage]
) -> Page[MockMessage]:
    query = request.query
    after = query.get("after")
    before = query.get("before")
    if after is not None and before is not None:
        raise invalid("Use either after or before, not both")
    try:
        limit = parse_limit(query.get("limit"))
        after_key = decode_cursor(after) if after else None
        before_key = decode_cursor(before) if before else None
    except ValueError as exc:
        raise invalid(str(exc)) from exc
    search = query.get("search") or None
    match: Callable[[MockMessage], bool] | None = None
    if search is not None:

        def match(message: MockMessage) -> bool:
            return search in message.recipient

    return paginate(keys, messages, limit=limit, after=after_key, before=before_key, match=match)


async def _read_upload(request: web.Request) -> tuple[bytes, str]:
    """Return the bytes and name of the ``file`` part, refusing more than 40 MB."""
    if not request.content_type.startswith("multipart/"):
        raise invalid("Expected multipart/form-data with the CSV file in the field 'file'")
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != "file":
                await part.release()
                continue
            file_name = part.filename or "upload.csv"
            if not file_name.lower().endswith(".csv"):
                raise invalid("Only .csv files are accepted")
            chunks: list[bytes] = []
            size = 0
            while chunk := await part.read_chunk():
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise invalid(FILE_TOO_LARGE)
                chunks.append(chunk)
            return b"".join(chunks), file_name
    except ValueError as exc:
        raise invalid(f"Malformed multipart body: {exc}") from exc
    raise invalid("Expected multipart/form-data with the CSV file in the field 'file'")


async def _route_not_found(request: web.Request) -> web.Response:
    return json_response(route_not_found_body(request.method, request.path), 404)
