"""Scripted faults: what the next requests to an endpoint get, decided by the test.

Random faults (``FaultConfig``) model an unreliable service; a script says exactly which
requests fail and how: "the next 2 sends answer 502", "the next batch upload creates its
messages and then answers 500", "the next read answers 200 with a body that is not JSON".
Scripted faults come before random ones and, like them, after authentication, the IP
whitelist and the rate limit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._refusals import (
    FORBIDDEN_1010_BODY,
    IP_NOT_WHITELISTED,
    TOO_MANY_REQUESTS_BODY,
    UNAUTHORIZED_BODY,
    envelope,
    server_error,
)
from ._stats import ENDPOINTS

#: What a scripted fault does.
ScriptedKind = Literal[
    "answer", "after_create", "unreadable_body", "drop", "ip_not_whitelisted", "forbidden_1010"
]
SCRIPTED_KINDS: tuple[ScriptedKind, ...] = (
    "answer",
    "after_create",
    "unreadable_body",
    "drop",
    "ip_not_whitelisted",
    "forbidden_1010",
)
#: A body that starts like a message object and stops: no JSON parser reads it.
UNREADABLE_BODY = b'{"createdAt":"2024-05-16T10:30:50.904+08:00","id":"message_'
_JSON = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class ScriptedFault:
    """One scripted fault and how many more requests it applies to.

    Build them with the methods of ``FaultScript`` rather than by hand.
    """

    #: ``answer``: answer without processing. ``after_create``: process (messages are
    #: created), then answer ``status``. ``unreadable_body``: process, then answer the usual
    #: 2xx with a body no JSON parser reads. ``drop``: close the connection unanswered.
    #: ``ip_not_whitelisted``: 400 ``invalid_ip_address_used``. ``forbidden_1010``: 403 with
    #: the edge's "error code: 1010".
    kind: ScriptedKind
    #: Endpoint name (see ``ENDPOINTS``) it applies to; ``None`` for any.
    endpoint: str | None = None
    #: Requests left to apply to.
    times: int = 1
    #: Status of the answer (``answer`` and ``after_create``; 500 when ``None``).
    status: int | None = None
    #: Body of the answer; ``None`` for the usual body of ``status``.
    body: bytes | None = None
    #: ``Content-Type`` of ``body``.
    content_type: str = _JSON
    #: Extra headers of the answer, e.g. ``{"Retry-After": "3"}``.
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in SCRIPTED_KINDS:
            raise ValueError(f"kind must be one of {', '.join(SCRIPTED_KINDS)}, got {self.kind!r}")
        if self.endpoint is not None and self.endpoint not in ENDPOINTS:
            names = ", ".join(ENDPOINTS)
            raise ValueError(f"endpoint must be one of {names} (or None), got {self.endpoint!r}")
        if self.times < 1:
            raise ValueError(f"times must be at least 1, got {self.times}")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status, got {self.status}")

    def answer_body(self) -> tuple[int, bytes, str]:
        """Return the status, body and content type to answer with (not for ``drop``)."""
        if self.kind == "ip_not_whitelisted":
            code, message = IP_NOT_WHITELISTED
            return 400, envelope(code, message), _JSON
        if self.kind == "forbidden_1010":
            return 403, FORBIDDEN_1010_BODY, "text/plain; charset=utf-8"
        status = self.status if self.status is not None else 500
        if self.body is not None:
            return status, self.body, self.content_type
        return status, default_body(status), _JSON

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as plain JSON-ready data (the body as text)."""
        data = dataclasses.asdict(self)
        data["headers"] = dict(self.headers)
        data["body"] = None if self.body is None else self.body.decode("utf-8", "replace")
        return data


def default_body(status: int) -> bytes:
    """Return the body the mock answers ``status`` with when a script gives none."""
    if status == 401:
        return UNAUTHORIZED_BODY
    if status == 429:
        return TOO_MANY_REQUESTS_BODY
    if status >= 500:
        return server_error(status).body()
    return envelope("scripted_fault", f"Scripted HTTP {status}", "domain_error")


class FaultScript:
    """The queue of scripted faults of a mock (``MockPostman.script``).

    Example:
        >>> state.script.answer(502, endpoint="send", times=2)  # doctest: +SKIP
        >>> state.script.after_create(endpoint="batch_send")  # doctest: +SKIP
    """

    __slots__ = ("_queue",)

    def __init__(self) -> None:
        self._queue: list[ScriptedFault] = []

    @property
    def pending(self) -> list[ScriptedFault]:
        """The faults still to happen, in order, with the requests each has left."""
        return list(self._queue)

    def add(self, fault: ScriptedFault) -> None:
        """Queue ``fault`` behind those already scripted."""
        self._queue.append(fault)

    def answer(
        self,
        status: int,
        *,
        endpoint: str | None = None,
        times: int = 1,
        body: bytes | str | None = None,
        content_type: str = _JSON,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """The next ``times`` requests to ``endpoint`` answer ``status`` without processing.

        Without ``body``, the answer has the mock's usual body for ``status``.
        """
        self.add(
            ScriptedFault(
                "answer",
                endpoint,
                times,
                status,
                _bytes(body),
                content_type,
                dict(headers or {}),
            )
        )

    def after_create(
        self,
        status: int = 500,
        *,
        endpoint: str = "send",
        times: int = 1,
        body: bytes | str | None = None,
        content_type: str = _JSON,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """The next ``times`` requests to ``endpoint`` are processed, then answer ``status``.

        On sends, the message exists although the caller was told it failed.
        """
        fault = ScriptedFault(
            "after_create", endpoint, times, status, _bytes(body), content_type, dict(headers or {})
        )
        self.add(fault)

    def unreadable_body(self, *, endpoint: str = "send", times: int = 1) -> None:
        """The next ``times`` requests to ``endpoint`` succeed with a body that is not JSON."""
        self.add(ScriptedFault("unreadable_body", endpoint, times))

    def drop(self, *, endpoint: str | None = None, times: int = 1) -> None:
        """The next ``times`` requests to ``endpoint`` get their connection closed unanswered."""
        self.add(ScriptedFault("drop", endpoint, times))

    def ip_not_whitelisted(self, *, endpoint: str | None = None, times: int = 1) -> None:
        """The next ``times`` requests answer 400 ``invalid_ip_address_used``."""
        self.add(ScriptedFault("ip_not_whitelisted", endpoint, times))

    def forbidden_1010(self, *, endpoint: str | None = None, times: int = 1) -> None:
        """The next ``times`` requests answer 403 ``error code: 1010`` from the edge."""
        self.add(ScriptedFault("forbidden_1010", endpoint, times))

    def clear(self) -> None:
        """Forget every scripted fault still pending."""
        self._queue.clear()

    def take(self, endpoint: str) -> ScriptedFault | None:
        """Return the first pending fault for ``endpoint``, counting this request against it."""
        for index, fault in enumerate(self._queue):
            if fault.endpoint is None or fault.endpoint == endpoint:
                if fault.times == 1:
                    del self._queue[index]
                else:
                    self._queue[index] = dataclasses.replace(fault, times=fault.times - 1)
                return fault
        return None


def _bytes(body: bytes | str | None) -> bytes | None:
    return body.encode() if isinstance(body, str) else body
