"""OpenTelemetry spans and metrics, when ``opentelemetry-api`` is installed (else nothing).

Install the extra (``pip install postman-async[otel]``) and configure an SDK
as usual; with the API absent, :func:`create` returns ``None`` once and the
request loop skips every hook (one ``is None`` test per call).

Spans, one per call with one child per attempt (the stable HTTP client
semantic conventions):

- the call: ``INTERNAL``, named ``postman_async {METHOD} {route}`` (IDs in the
  route replaced by ``{id}``), with ``postman.campaign.id``,
  ``postman.priority`` and ``postman.budget_wait`` (seconds waited for rate
  budget, all attempts);
- each attempt: ``CLIENT``, named the HTTP method, with
  ``http.request.method``, ``server.address``, ``server.port``, ``url.full``
  (scheme, host and path: never the query, which can hold a phone number),
  ``http.response.status_code``, ``error.type`` and
  ``http.request.resend_count`` (from the second attempt).

Metrics: ``http.client.request.duration`` (s, per attempt),
``postman.client.budget_wait`` (s), ``postman.client.rate_limited`` (429
answers), ``postman.client.retries`` (by ``postman.retry.reason``) and
``postman.client.waiting_calls`` (calls waiting for budget now).

No attribute ever holds a key, a phone number, a template value, a search
or an error message (Postman's messages can echo a number): errors are
recorded by type only.
"""

from __future__ import annotations

__all__ = ["CallSpan", "Telemetry", "create"]

import contextlib
import functools
import time
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ._version import __version__

if TYPE_CHECKING:
    from ._exchange import Request
    from ._limits import Priority


class _Call(Protocol):
    """What telemetry reads of a :class:`~postman_async._request.Call`."""

    @property
    def method(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def priority(self) -> Priority: ...


_SCOPE = "postman_async"
#: Path segments kept as they are in span names; any other segment is an ID.
_ROUTE_WORDS = frozenset(
    {"api", "v1", "v2", "campaigns", "messages", "batch", "retry", "transactional", "email"}
)
#: Bucket bounds of the duration histograms, seconds (the HTTP conventions' advice).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60)


@functools.cache
def _load() -> Any:
    """The ``opentelemetry`` API modules, or ``None`` when not installed (looked for once)."""
    try:
        from opentelemetry import metrics, trace  # noqa: PLC0415 - optional, on demand
    except ImportError:
        return None
    return trace, metrics


def create(tracer_provider: Any = None, meter_provider: Any = None) -> Telemetry | None:
    """The telemetry of one client, or ``None`` when ``opentelemetry-api`` is absent.

    ``tracer_provider``/``meter_provider``: OpenTelemetry providers to use
    instead of the global ones.
    """
    api = _load()
    if api is None:
        return None
    trace, metrics = api
    tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider=tracer_provider)
    meter = metrics.get_meter(_SCOPE, __version__, meter_provider=meter_provider)
    return Telemetry(trace, tracer, meter)


class Telemetry:
    """One client's tracer and instruments."""

    def __init__(self, trace: Any, tracer: Any, meter: Any) -> None:
        self._trace = trace
        self.tracer = tracer
        self.duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests (one per attempt).",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        self.budget_wait = meter.create_histogram(
            "postman.client.budget_wait",
            unit="s",
            description="Time a call waited for its campaign's rate budget, per attempt.",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        self.rate_limited = meter.create_counter(
            "postman.client.rate_limited",
            unit="{response}",
            description="HTTP 429 answers from Postman.",
        )
        self.retries = meter.create_counter(
            "postman.client.retries",
            unit="{retry}",
            description="Attempts made again, by reason.",
        )
        self.waiting = meter.create_up_down_counter(
            "postman.client.waiting_calls",
            unit="{call}",
            description="Calls waiting for their campaign's rate budget now.",
        )

    @contextlib.contextmanager
    def call(self, call: _Call) -> Iterator[CallSpan]:
        """The span of one call, current while the call runs."""
        where = _Where(call.url)
        attributes = {"postman.priority": call.priority.name.lower()}
        if where.campaign is not None:
            attributes["postman.campaign.id"] = where.campaign
        span = self.tracer.start_span(
            f"postman_async {call.method} {where.route}",
            kind=self._trace.SpanKind.INTERNAL,
            attributes=attributes,
        )
        record = CallSpan(self, span, call, where)
        with self._trace.use_span(
            span, end_on_exit=True, record_exception=False, set_status_on_exception=False
        ) as current:
            try:
                yield record
            except BaseException as exc:
                current.set_attribute("error.type", _error_type(exc))
                current.set_status(self._trace.StatusCode.ERROR, _error_type(exc))
                raise
            finally:
                current.set_attribute("postman.budget_wait", record.waited)


class CallSpan:
    """What the request loop reports about one call."""

    __slots__ = ("_attributes", "_call", "_span", "_telemetry", "_where", "waited")

    def __init__(self, telemetry: Telemetry, span: Any, call: _Call, where: _Where) -> None:
        self._telemetry = telemetry
        self._span = span
        self._call = call
        self._where = where
        #: Seconds waited for budget so far.
        self.waited = 0.0
        self._attributes: dict[str, str | int] = {
            "http.request.method": call.method,
            "server.address": where.host,
            "server.port": where.port,
        }

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """Around one wait for budget: the waiting-calls gauge and the wait's length."""
        telemetry = self._telemetry
        labels = {"postman.priority": self._call.priority.name.lower()}
        if self._where.campaign is not None:
            labels["postman.campaign.id"] = self._where.campaign
        telemetry.waiting.add(1, labels)
        started = time.perf_counter()
        try:
            yield
        finally:
            waited = time.perf_counter() - started
            telemetry.waiting.add(-1, labels)
            telemetry.budget_wait.record(waited, labels)
            self.waited += waited

    async def attempt(self, number: int, send: Any, request: Request) -> Any:
        """Run ``send(request)`` (one attempt) in its own span; record its duration."""
        telemetry, trace = self._telemetry, self._telemetry._trace
        attributes: dict[str, str | int] = dict(self._attributes)
        span = telemetry.tracer.start_span(
            self._call.method,
            kind=trace.SpanKind.CLIENT,
            attributes={**attributes, "url.full": self._where.url},
        )
        if number > 1:
            span.set_attribute("http.request.resend_count", number - 1)
        started = time.perf_counter()
        try:
            with trace.use_span(
                span, end_on_exit=True, record_exception=False, set_status_on_exception=False
            ):
                try:
                    response = await send(request)
                except BaseException as exc:
                    error = getattr(exc, "error", exc)  # a TransportError's PostmanError
                    attributes["error.type"] = _error_type(error)
                    span.set_attribute("error.type", attributes["error.type"])
                    span.set_status(trace.StatusCode.ERROR, attributes["error.type"])
                    raise
                status = int(response.status)
                attributes["http.response.status_code"] = status
                span.set_attribute("http.response.status_code", status)
                if status >= 400:
                    attributes["error.type"] = str(status)
                    span.set_attribute("error.type", str(status))
                    span.set_status(trace.StatusCode.ERROR, str(status))
                if status == 429:
                    telemetry.rate_limited.add(1, {"server.address": self._where.host})
                return response
        finally:
            telemetry.duration.record(time.perf_counter() - started, attributes)

    def retry(self, reason: str) -> None:
        """An attempt is made again for ``reason`` (a status code or an error type)."""
        self._telemetry.retries.add(1, {"postman.retry.reason": reason})


class _Where:
    """What telemetry may say about a URL: no query, IDs out of the route."""

    __slots__ = ("campaign", "host", "port", "route", "url")

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        netloc = parts.netloc.rpartition("@")[2]  # never user:password
        self.url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        segments = parts.path.split("/")
        self.campaign: str | None = None
        if "campaigns" in segments:
            at = segments.index("campaigns") + 1
            if at < len(segments) and segments[at]:
                self.campaign = urllib.parse.unquote(segments[at])
        self.route = "/".join(s if not s or s in _ROUTE_WORDS else "{id}" for s in segments)


def _error_type(exc: BaseException) -> str:
    return type(exc).__name__


def retry_reason(status: int | None, error: BaseException) -> str:
    """The ``postman.retry.reason`` of a failed attempt: its status, or its error's type."""
    return str(status) if status is not None else _error_type(error)
