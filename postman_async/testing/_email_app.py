"""The v1 email endpoints of the mock, with the real server's check order and error codes.

``POST /v1/transactional/email/send``, ``GET /v1/transactional/email/{emailId}`` and
``GET /v1/transactional/email``. Every error body is ``{"code", "message"}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import BodyPartReader, hdrs, web

from ._email_checks import (
    MAX_ATTACHMENT_BYTES,
    MAX_COPIES,
    MAX_TOTAL_ATTACHMENT_BYTES,
    ListQuery,
    SendInput,
    attachment_type_ok,
    check_list_query,
    check_send,
    empty_after_sanitising,
    sender_address,
    time_matches,
)
from ._email_state import DEFAULT_FROM, DEFAULT_FROM_ADDRESSES, MockEmailAccount, RateWindow
from ._faults import NO_FAULT
from ._refusals import BAD_GATEWAY_HTML

if TYPE_CHECKING:
    from ._state import MockPostman

#: Prefix of every v1 path.
EMAIL_PREFIX = "/v1"
#: Largest JSON or form body the server parses.
MAX_PARSED_BODY = 10 * 1024 * 1024
#: Most bytes of a multipart body the mock reads (the proxy in front answers 413 beyond).
MAX_MULTIPART_BODY = 51 * 1024 * 1024
_JSON = "application/json; charset=utf-8"
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode

EmailHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class EmailError(Exception):
    """A refused email request, answered ``{"code", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> web.Response:
        """The answer for this error."""
        return _json({"code": self.code, "message": self.message}, self.status)


UNAUTHENTICATED = EmailError(
    401,
    "unauthenticated",
    "Unauthenticated request. Please try again with correct authentication",
)
RATE_LIMITED = EmailError(429, "rate_limit", "Too many requests. Please try again later.")
MALFORMED = EmailError(400, "malformed", "Malformed request body")
ATTACHMENT_TOO_BIG = EmailError(
    413, "attachment_limit", "Size of one or more attachments exceeds limit"
)
ATTACHMENTS_TOO_BIG = EmailError(
    413, "attachment_limit", "Cumulative attachment size exceeds limit"
)
ATTACHMENT_FORMAT = EmailError(400, "attachment_format", "Attachments must be sent via form-data")
DEFAULT_FROM_ATTACHMENTS = EmailError(
    403, "unauthorized", "Attachments are not allowed for Postman default from email address"
)
TOO_MANY_RECIPIENTS = EmailError(400, "too_many_recipients", "Maximum of 50 recipients allowed")
INTERNAL = EmailError(500, "internal_server", "Internal server error")


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encode(body), status=status, headers={hdrs.CONTENT_TYPE: _JSON})


def add_email_routes(app: web.Application, state: MockPostman) -> None:
    """Mount the v1 email endpoints of ``state`` on ``app``."""
    api = _EmailApi(state)
    base = EMAIL_PREFIX + "/transactional/email"
    app.router.add_route("POST", base + "/send", api.send)
    app.router.add_route("GET", base + "/{email_id}", api.get_email)
    app.router.add_route("GET", base, api.list_emails)


class _Upload:
    """One attachment as received."""

    __slots__ = ("data", "filename")

    def __init__(self, filename: str, data: bytes) -> None:
        self.filename = filename
        self.data = data


class _EmailApi:
    __slots__ = ("_state",)

    def __init__(self, state: MockPostman) -> None:
        self._state = state

    # ------------------------------------------------------------------ send

    async def send(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/transactional/email/send``."""
        email = self._state.email
        email.stats.requests["email_send"] += 1
        multipart = request.content_type.startswith("multipart/")
        payload: Any = None
        if not multipart:
            try:
                payload = await _parse_body(request)
            except EmailError as exc:  # the body parser runs before authentication
                return exc.response()
        account = email.authenticate(request.headers.get(hdrs.AUTHORIZATION))
        if account is None:
            email.stats.unauthorized += 1
            return UNAUTHENTICATED.response()
        window = email.count_send(account)
        if not window.allowed:
            refused = RATE_LIMITED.response()
            refused.headers[hdrs.RETRY_AFTER] = "1"
            return _with_rate_headers(refused, window, email.wall())
        fault = await self._fault(request, "email_send")
        if fault is not None:
            return fault
        response: web.StreamResponse
        try:
            if multipart:
                payload, files = await _parse_multipart(request)
            else:
                files = []
            payload = {} if payload is None else payload
            response = await self._send(request, account, payload, files, multipart)
        except EmailError as exc:
            response = exc.response()
        return _with_rate_headers(response, window, email.wall())

    async def _send(
        self,
        request: web.Request,
        account: MockEmailAccount,
        payload: Any,
        files: list[_Upload],
        multipart: bool,
    ) -> web.StreamResponse:
        checked = check_send(payload)
        if isinstance(checked, str):
            raise EmailError(400, "api_validation", checked)
        if checked.has_attachments_field and not multipart:
            raise ATTACHMENT_FORMAT
        address = None if checked.sender is None else sender_address(checked.sender)
        if files and (checked.sender is None or address in DEFAULT_FROM_ADDRESSES):
            raise DEFAULT_FROM_ATTACHMENTS
        if sum(len(f.data) for f in files) > MAX_TOTAL_ATTACHMENT_BYTES:
            raise ATTACHMENTS_TOO_BIG
        if len(checked.cc) + len(checked.bcc) > MAX_COPIES:
            raise TOO_MANY_RECIPIENTS
        email = self._state.email
        message = email.store(
            account,
            recipient=checked.recipient,
            sender=checked.sender or DEFAULT_FROM,
            params=_params(checked),
            attachments_metadata=[
                {
                    "fileName": f.filename,
                    "fileSize": len(f.data),
                    "hash": hashlib.md5(f.data, usedforsecurity=False).hexdigest(),
                }
                for f in files
            ]
            or None,
            classification=checked.classification,
            tag=checked.tag,
            cc=[a for a in checked.cc if not email.is_blacklisted(a)],
            bcc=[a for a in checked.bcc if not email.is_blacklisted(a)],
            disable_tracking=checked.disable_tracking,
        )
        own = account.email if account.sender_verified else None
        if checked.sender is not None and (
            address is None or (address not in DEFAULT_FROM_ADDRESSES and address != own)
        ):
            email.fail(message, "Error 400: Invalid from address")
            raise EmailError(400, "invalid_from_address", "Invalid `from` email address")
        if email.is_blacklisted(checked.recipient):
            email.fail(message, "Error 400: Blacklisted recipient")
            raise EmailError(400, "invalid_template", "Recipient email is blacklisted")
        if empty_after_sanitising(checked.subject) or empty_after_sanitising(checked.body):
            email.fail(message, "Error 400: Empty subject or body")
            raise EmailError(
                400,
                "invalid_template",
                "Email subject and/or body empty after removing invalid HTML tags",
            )
        if not all(attachment_type_ok(f.filename, f.data[:16]) for f in files):
            email.fail(message, "Error 400: Unsupported attachment type")
            raise EmailError(400, "invalid_template", "Unsupported attachment type")
        if email.provider_failures > 0:
            email.provider_failures -= 1
            email.fail(message, "Error 500: Mail provider failure")
            raise INTERNAL
        email.accept(message)
        if email.drops_after_commit > 0:
            email.drops_after_commit -= 1
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)  # never reaches the caller
        return _json(email.render(message), 201)

    # ------------------------------------------------------------------ reads

    async def get_email(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/transactional/email/{emailId}``."""
        email = self._state.email
        account = await self._admit_read(request, "email_get")
        if not isinstance(account, MockEmailAccount):
            return account
        email_id = request.match_info["email_id"]
        if not email_id.isascii() or not email_id.isdigit():
            return EmailError(400, "api_validation", '"emailId" must be a number').response()
        message = email.messages.get(str(int(email_id)))
        if message is None or message.account != account.name:
            return EmailError(
                404, "not_found", f"Email message with ID {email_id} not found."
            ).response()
        return _json(email.render(message))

    async def list_emails(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/transactional/email``: offset listing with filters, newest first."""
        email = self._state.email
        account = await self._admit_read(request, "email_list")
        if not isinstance(account, MockEmailAccount):
            return account
        query = check_list_query(list(request.query.items()))
        if isinstance(query, str):
            return EmailError(400, "api_validation", query).response()
        rows = self._matching(account, query)
        page = rows[query.offset : query.offset + query.limit]
        data = [email.render(m, include_params=not query.exclude_params) for m in page]
        return _json({"has_more": query.offset + len(page) < len(rows), "data": data})

    async def _admit_read(
        self, request: web.Request, endpoint: str
    ) -> MockEmailAccount | web.StreamResponse:
        """Count a read, authenticate it and apply faults: its account, or the answer instead."""
        email = self._state.email
        email.stats.requests[endpoint] += 1
        account = email.authenticate(request.headers.get(hdrs.AUTHORIZATION))
        if account is None:
            email.stats.unauthorized += 1
            return UNAUTHENTICATED.response()
        fault = await self._fault(request, endpoint)
        return account if fault is None else fault

    def _matching(self, account: MockEmailAccount, query: ListQuery) -> list[Any]:
        email = self._state.email
        now = email.clock.now()
        rows = [
            m
            for m in email.messages.values()
            if m.account == account.name
            and (query.status is None or m.status_at(now) == query.status)
            and (query.tag is None or m.tag == query.tag)
            and time_matches(email.datetime(m.created_at), query.created_at)
        ]

        def key(message: Any) -> tuple[float, int]:
            at = message.created_at if query.sort_key == "created_at" else message.updated_at(now)
            return at, int(message.id)

        rows.sort(key=key, reverse=query.descending)
        return rows

    # ------------------------------------------------------------------ faults

    async def _fault(self, request: web.Request, endpoint: str) -> web.StreamResponse | None:
        """Apply the mock's injected faults (latency, drops, 5xx) to an authorised request."""
        plan = self._state.injector.plan(endpoint)
        if plan is NO_FAULT:
            return None
        if plan.delay:
            await asyncio.sleep(plan.delay)
        if plan.drop:
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)  # never reaches the caller
        if plan.error == "html":
            return web.Response(body=BAD_GATEWAY_HTML, status=502, content_type="text/html")
        if plan.error is not None:
            return INTERNAL.response()
        return None


def _params(checked: SendInput) -> dict[str, str]:
    params = {"subject": checked.subject, "body": checked.body}
    if checked.sender is not None:
        params["from"] = checked.sender
    if checked.reply_to is not None:
        params["reply_to"] = checked.reply_to
    return params


async def _parse_body(request: web.Request) -> Any:
    """Parse a JSON or urlencoded body as the server's body parser does."""
    if request.content_length is not None and request.content_length > MAX_PARSED_BODY:
        raise MALFORMED
    raw = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        raw += chunk
        if len(raw) > MAX_PARSED_BODY:
            raise MALFORMED
    if not raw:
        return None
    if request.content_type == "application/json":
        try:
            data = _decode(bytes(raw))
        except (msgspec.DecodeError, RecursionError):
            raise MALFORMED from None
        if not isinstance(data, (dict, list)):  # the parser's strict mode
            raise MALFORMED
        return data
    if request.content_type == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qsl  # noqa: PLC0415 - used on this path only

        try:
            return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise MALFORMED from None
    return None


async def _parse_multipart(request: web.Request) -> tuple[dict[str, Any], list[_Upload]]:
    """Read text fields and ``attachments`` files; refuse an attachment of 10 MiB or more."""
    fields: dict[str, Any] = {}
    files: list[_Upload] = []
    too_big = False
    read = 0
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                await part.release()
                continue
            name = part.name or ""
            if part.filename is None:
                fields[name] = (await part.read(decode=False)).decode("utf-8", "replace")
                continue
            if name != "attachments":
                fields[name] = part.filename
            chunks: list[bytes] = []
            size = 0
            while chunk := await part.read_chunk():
                size += len(chunk)
                read += len(chunk)
                if read > MAX_MULTIPART_BODY:
                    raise ATTACHMENT_TOO_BIG
                if size >= MAX_ATTACHMENT_BYTES:
                    too_big = True  # keep reading, so the caller gets the answer, not a reset
                else:
                    chunks.append(chunk)
            if name == "attachments":
                files.append(_Upload(part.filename, b"".join(chunks)))
    except ValueError as exc:
        raise MALFORMED from exc
    if too_big:
        raise ATTACHMENT_TOO_BIG
    return fields, files


def _with_rate_headers(
    response: web.StreamResponse, window: RateWindow, wall: float
) -> web.StreamResponse:
    """Add the rate-limit headers every authenticated send answer carries."""
    if window.limit:
        reset_in = max(0, math.ceil(window.reset_in))
        response.headers["X-RateLimit-Limit"] = str(window.limit)
        response.headers["X-RateLimit-Remaining"] = str(window.remaining)
        response.headers["X-RateLimit-Reset"] = str(math.ceil(wall + window.reset_in))
        response.headers["RateLimit-Limit"] = str(window.limit)
        response.headers["RateLimit-Remaining"] = str(window.remaining)
        response.headers["RateLimit-Reset"] = str(reset_in)
    return response
