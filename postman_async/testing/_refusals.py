"""Error answers in the shapes the real service uses.

Where Postman documents the text of an answer, the mock uses it. Where it documents only the
status (404, 429, content refusals), the mock's text ends with ``INVENTED``, so a test that
matches on it is seen to match on something Postman never promised.
"""

from __future__ import annotations

import re
import uuid

import msgspec

_encode = msgspec.json.Encoder().encode

#: Ends every error text the mock made up because Postman's own is not documented.
INVENTED = " [mock: Postman's wording is undocumented]"

#: The flat body of the documented 401 answer.
UNAUTHORIZED_BODY = _encode({"message": "Unauthorized", "statusCode": 401})
#: The flat body of a 429 answer (no 429 body is documented).
TOO_MANY_REQUESTS_BODY = _encode({"message": "Too Many Requests" + INVENTED, "statusCode": 429})
#: Answer to a request from an IP address not whitelisted for the campaign (code as the public
#: integration tests for it; the text is not documented).
IP_NOT_WHITELISTED = ("invalid_ip_address_used", "IP address is not whitelisted" + INVENTED)
#: What the edge in front of Postman answers with HTTP 403 when it blocks a caller: the docs
#: say to contact the Postman team about "error code 1010".
FORBIDDEN_1010_BODY = b"error code: 1010"
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


#: ``parameter_invalid`` texts Postman documents word for word.
DOCUMENTED_INVALID = frozenset(
    {
        "Invalid recipient, ensure it is a valid normalized phone number, eg 6591112222.",
        "Validation failed (expected type is object)",
        "File too large, max file size is 40MB",
    }
)
_DOCUMENTED_LANGUAGE = re.compile(
    r".* is not supported\. available language\(s\) for this campaign: "
)


def invalid(message: str) -> MockApiError:
    """Return the 400 ``parameter_invalid`` error with ``message``.

    A text Postman does not document gets ``INVENTED`` appended.
    """
    documented = message in DOCUMENTED_INVALID or _DOCUMENTED_LANGUAGE.match(message)
    if not documented and not message.endswith(INVENTED):
        message += INVENTED
    return MockApiError(400, "parameter_invalid", message)


def server_error(status: int) -> MockApiError:
    """Return an injected server error with status ``status``."""
    code, message = _SERVER_ERROR_CODES.get(status, ("server_error", "Server error"))
    return MockApiError(status, code, message + INVENTED, kind="server_error")


def not_found(what: str) -> MockApiError:
    """Return the 404 for an unknown message or batch (its body is not documented)."""
    return MockApiError(404, f"{what}_not_found", f"{what.capitalize()} not found" + INVENTED)


def envelope(code: str, message: str, kind: str = "domain_error") -> bytes:
    """Encode the ``{"error": {code, message, type, id}}`` envelope."""
    return _encode(
        {"error": {"code": code, "message": message, "type": kind, "id": uuid.uuid4().hex}}
    )


def route_not_found_body(method: str, path: str) -> bytes:
    """Encode the framework's answer for a path no endpoint serves."""
    return _encode(
        {"message": f"Cannot {method} {path}" + INVENTED, "error": "Not Found", "statusCode": 404}
    )
