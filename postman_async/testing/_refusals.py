"""Error answers in the shapes the real service uses."""

from __future__ import annotations

import uuid

import msgspec

_encode = msgspec.json.Encoder().encode

#: The flat body of the documented 401 answer.
UNAUTHORIZED_BODY = _encode({"message": "Unauthorized", "statusCode": 401})
#: The flat body of a 429 answer (the NestJS throttler's wording).
TOO_MANY_REQUESTS_BODY = _encode(
    {"message": "ThrottlerException: Too Many Requests", "statusCode": 429}
)
#: What a gateway in front of the service answers when the service is down.
BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)

_SERVER_ERROR_CODES = {
    500: ("internal_server_error", "Internal server error"),
    502: ("bad_gateway", "Bad gateway"),
    503: ("service_unavailable", "Service unavailable"),
    504: ("gateway_timeout", "Gateway timeout"),
}


class MockApiError(Exception):
    """A request the service refuses, answered with the ``{"error": {...}}`` envelope."""

    def __init__(self, status: int, code: str, message: str, *, kind: str = "domain_error") -> None:
        super().__init__(message)
        #: HTTP status of the answer.
        self.status = status
        #: The snake_case ``error.code``.
        self.code = code
        #: The human-readable ``error.message``.
        self.message = message
        #: The ``error.type``.
        self.kind = kind

    def body(self) -> bytes:
        """Return the JSON envelope, with a fresh trace ID."""
        return envelope(self.code, self.message, self.kind)


def invalid(message: str) -> MockApiError:
    """Return the 400 ``parameter_invalid`` error with ``message``."""
    return MockApiError(400, "parameter_invalid", message)


def server_error(status: int) -> MockApiError:
    """Return an injected server error with status ``status``."""
    code, message = _SERVER_ERROR_CODES.get(status, ("server_error", "Server error"))
    return MockApiError(status, code, message, kind="server_error")


def envelope(code: str, message: str, kind: str = "domain_error") -> bytes:
    """Encode the ``{"error": {code, message, type, id}}`` envelope."""
    return _encode(
        {"error": {"code": code, "message": message, "type": kind, "id": uuid.uuid4().hex}}
    )


def route_not_found_body(method: str, path: str) -> bytes:
    """Encode the framework's answer for a path no endpoint serves."""
    return _encode({"message": f"Cannot {method} {path}", "error": "Not Found", "statusCode": 404})
