"""The seven API endpoints and the application that serves them."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import msgspec
from aiohttp import BodyPartReader, hdrs, web

from ._admin import REPORTS_PREFIX, add_admin_routes
from ._batch_csv import (
    FILE_TOO_LARGE,
    MAX_FILE_BYTES,
    CsvError,
    CsvTooLargeError,
    parse_batch_csv,
)
from ._checks import content_problem, language_problem, recipient_problem, values_problem
from ._email_app import add_email_routes
from ._gate import Gate, Handler, json_response
from ._leniency import Leniency
from ._mock_campaign import MockCampaign
from ._pagination import PageSlice, decode_cursor, paginate, parse_limit
from ._records import MockMessage
from ._refusals import invalid, not_found, route_not_found_body
from ._render import Renderer
from ._state import MockPostman
from ._wire import BatchCreatedOut, BatchReportOut

#: Prefix of every API path.
API_PREFIX = "/api/v2"

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def make_app(state: MockPostman) -> web.Application:
    """Return an ``aiohttp.web.Application`` serving the API and admin endpoints of ``state``.

    ``serve_mock`` runs it on a socket; use it directly with ``aiohttp.test_utils`` or your
    own ``web.AppRunner``.
    """
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
        leniency = self._state.leniency
        if not leniency.any_content_type and request.content_type != "application/json":
            raise invalid(
                "Content-Type must be application/json, got "
                + (request.headers.get(hdrs.CONTENT_TYPE) or "none")
            )
        try:
            payload = _decode(await request.read())
        except msgspec.DecodeError as exc:
            raise invalid("Request body must be a JSON object") from exc
        if not isinstance(payload, dict):
            raise invalid("Request body must be a JSON object")
        recipient = payload.get("recipient")
        language = payload.get("language")
        values = payload.get("values")
        shown: str | dict[str, str] | None = None
        if isinstance(recipient, dict):
            shown, recipient = _resolve_nric(recipient, campaign)
        problem = (
            recipient_problem(recipient)
            or language_problem(language, campaign.languages)
            or values_problem(values, campaign.variables)
        )
        if problem:
            raise invalid(problem)
        # The checks above make these a digit string, an enabled language and string values.
        filled = {name: cast("dict[str, str]", values)[name] for name in campaign.variables}
        problem = content_problem(
            str(language),
            filled,
            campaign.fill(str(language), filled),
            unsupported_allowed=leniency.unsupported_characters,
        )
        if problem:
            raise invalid(problem)
        message = self._state.create_message(
            campaign, str(recipient), str(language), filled, shown_recipient=shown
        )
        return json_response(_encode(self._renderer(campaign).created(message)), 201)

    async def retry(self, request: web.Request, campaign: MockCampaign) -> web.StreamResponse:
        """``POST /campaigns/{campaignId}/messages/{messageId}/retry``."""
        message = self._state.retry_message(campaign, request.match_info["message_id"])
        return json_response(_encode(self._renderer(campaign).created(message)), 201)

    async def get_message(self, request: web.Request, campaign: MockCampaign) -> web.StreamResponse:
        """``GET /campaigns/{campaignId}/messages/{messageId}``."""
        message = self._state.messages.get(request.match_info["message_id"])
        if message is None or message.campaign_id != campaign.id:
            raise not_found("message")
        return json_response(_encode(self._renderer(campaign).message(message)))

    async def list_messages(
        self, request: web.Request, campaign: MockCampaign
    ) -> web.StreamResponse:
        """``GET /campaigns/{campaignId}/messages``."""
        page = _page(request, campaign.keys, campaign.messages, self._state.leniency)
        renderer = self._renderer(campaign)
        return json_response(_encode(renderer.page(page, renderer.listed)))

    async def batch_send(self, request: web.Request, campaign: MockCampaign) -> web.StreamResponse:
        """``POST /campaigns/{campaignId}/batch/messages`` (multipart, CSV in ``file``)."""
        data, file_name = await _read_upload(request)
        leniency = self._state.leniency
        try:
            rows = parse_batch_csv(
                data,
                languages=campaign.languages,
                variables=campaign.variables,
                max_rows=campaign.max_batch_rows,
                fill=campaign.fill,
                unsupported_allowed=leniency.unsupported_characters,
            )
        except CsvTooLargeError as exc:
            raise invalid(str(exc)) from exc
        except CsvError as exc:
            if leniency.invalid_csv_as_400:
                raise invalid(str(exc)) from exc
            name = self._state.add_report(campaign, exc.report_csv())
            report = BatchReportOut(
                is_valid=False,
                report_url=f"{request.url.origin()}{REPORTS_PREFIX}/{name}",
                num_rows=exc.num_rows,
                num_errors=exc.num_errors,
                file_has_avoidable_expensive_character=exc.has_avoidable,
                file_has_unicode=exc.has_unicode,
            )
            return json_response(_encode(report), 201)
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
            raise not_found("batch")
        page = _page(request, batch.keys, batch.messages, self._state.leniency)
        renderer = self._renderer(campaign)
        return json_response(_encode(renderer.page(page, renderer.batch_message)))


def _page(
    request: web.Request,
    keys: list[tuple[str, str]],
    messages: list[MockMessage],
    leniency: Leniency,
) -> PageSlice[MockMessage]:
    query = request.query
    after = query.get("after")
    before = query.get("before")
    if after is not None and before is not None:
        raise invalid("Use either after or before, not both")
    try:
        limit = parse_limit(query.get("limit"), required=not leniency.limit_optional)
        after_key = decode_cursor(after) if after else None
        before_key = decode_cursor(before) if before else None
    except ValueError as exc:
        raise invalid(str(exc)) from exc
    search = query.get("search") or None
    match: Callable[[MockMessage], bool] | None = None
    if search is not None:

        def match(message: MockMessage) -> bool:
            return search in message.searchable

    return paginate(keys, messages, limit=limit, after=after_key, before=before_key, match=match)


def _resolve_nric(
    recipient: dict[str, object], campaign: MockCampaign
) -> tuple[dict[str, str], str]:
    """Return how an NRIC recipient is shown and the number it resolves to.

    Raises:
        MockApiError: If the campaign cannot send by NRIC or the NRIC maps to no number.
    """
    value = recipient.get("value")
    if not isinstance(value, str) or not all(isinstance(v, str) for v in recipient.values()):
        raise invalid("recipient must be a phone number string, or an object with a 'value'")
    if campaign.nric is None:
        raise invalid("This campaign cannot send by NRIC (a legacy feature for invited agencies)")
    number = campaign.nric.get(value.strip().upper())
    if number is None:
        raise invalid("No mobile number is registered for this NRIC: no message was sent")
    return cast("dict[str, str]", dict(recipient)), number


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
