"""OpenTelemetry spans and metrics, read from the SDK's in-memory exporters."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import postman_async._telemetry as telemetry_module
from postman_async import PostmanClient, RetryPolicy, ServerError
from postman_async.testing import MockTransport, Request, Response

KEY = "key_live_telemetry-Secret-7731"
PHONE = "6591234567"
OTP = "482913"
SEARCH = "9123"
CAMPAIGN = "campaign_tel"
MESSAGE = (
    b'{"id": "message_1", "latestStatus": "created", "recipient": "6591234567",'
    b' "values": {"otp": "482913"}}'
)
PAGE = b'{"data": [], "pageInfo": {"hasNextPage": false}}'


class Recorded:
    """The providers a client is given, and what they recorded."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self) -> tuple[ReadableSpan, ...]:
        return tuple(self.spans.get_finished_spans())

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name -> its data points."""
        data = self.reader.get_metrics_data()
        assert data is not None
        found: dict[str, list[Any]] = {}
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    rec = Recorded()
    yield rec
    rec.tracer_provider.shutdown()
    rec.meter_provider.shutdown()


def _run(recorded: Recorded, handler: Any, calls: Any, **options: Any) -> None:
    async def main() -> None:
        async with PostmanClient(
            base_url="https://postman.example:8443/api/v2",
            transport=MockTransport(handler),
            tracer_provider=recorded.tracer_provider,
            meter_provider=recorded.meter_provider,
            retry_policy=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001),
            **options,
        ) as client:
            await calls(client.campaign(CAMPAIGN, api_key=KEY))

    asyncio.run(main())


def test_a_call_span_with_a_child_per_attempt(recorded: Recorded) -> None:
    answers = [Response(status=503, body=b"{}"), Response(status=201, body=MESSAGE)]

    def handler(request: Request) -> Response:
        return answers.pop(0)

    async def calls(otp: Any) -> None:
        await otp.retry("message_1")

    _run(recorded, handler, calls)
    spans = recorded.finished()
    (call,) = [s for s in spans if s.kind is SpanKind.INTERNAL]
    attempts = sorted(
        (s for s in spans if s.kind is SpanKind.CLIENT), key=lambda s: s.start_time or 0
    )
    assert call.name == "postman_async POST /api/v2/campaigns/{id}/messages/{id}/retry"
    assert call.attributes is not None
    assert call.attributes["postman.campaign.id"] == CAMPAIGN
    assert call.attributes["postman.priority"] == "retry"
    budget_wait = call.attributes["postman.budget_wait"]
    assert isinstance(budget_wait, float) and budget_wait >= 0.0
    assert len(attempts) == 2
    for span in attempts:
        assert span.parent is not None
        assert span.parent.span_id == call.context.span_id
        assert span.name == "POST"
        assert span.attributes is not None
        assert span.attributes["http.request.method"] == "POST"
        assert span.attributes["server.address"] == "postman.example"
        assert span.attributes["server.port"] == 8443
        assert span.attributes["url.full"] == (
            "https://postman.example:8443/api/v2/campaigns/campaign_tel/messages/message_1/retry"
        )
    first, second = (s.attributes or {} for s in attempts)
    assert first["http.response.status_code"] == 503
    assert first["error.type"] == "503"
    assert "http.request.resend_count" not in first
    assert attempts[0].status.status_code is StatusCode.ERROR
    assert second["http.response.status_code"] == 201
    assert second["http.request.resend_count"] == 1
    assert "error.type" not in second

    metrics = recorded.metrics()
    durations = metrics["http.client.request.duration"]
    assert sorted(p.count for p in durations) == [1, 1]
    assert {p.attributes["http.response.status_code"] for p in durations} == {503, 201}
    (retries,) = metrics["postman.client.retries"]
    assert retries.value == 1
    assert dict(retries.attributes) == {"postman.retry.reason": "503"}
    (waits,) = metrics["postman.client.budget_wait"]
    assert waits.count == 2
    (waiting,) = metrics["postman.client.waiting_calls"]
    assert waiting.value == 0  # every wait ended


def test_a_failed_call_is_recorded_by_error_type_only(recorded: Recorded) -> None:
    secret_message = b'{"message": "recipient 6591234567 refused", "statusCode": 500}'

    def handler(request: Request) -> Response:
        return Response(status=500, body=secret_message)

    async def calls(otp: Any) -> None:
        with pytest.raises(ServerError):
            await otp.get_message("message_1")

    _run(recorded, handler, calls)
    (call,) = [s for s in recorded.finished() if s.kind is SpanKind.INTERNAL]
    assert call.attributes is not None
    assert call.attributes["error.type"] == "ServerError"
    assert call.status.status_code is StatusCode.ERROR
    assert call.status.description == "ServerError"
    assert call.events == ()  # no exception event: its message could hold a number
    assert PHONE not in repr([s.to_json() for s in recorded.finished()])


def test_429s_are_counted(recorded: Recorded) -> None:
    answers = [Response(status=429, body=b"{}"), Response(status=201, body=MESSAGE)]

    def handler(request: Request) -> Response:
        return answers.pop(0)

    async def calls(otp: Any) -> None:
        await otp.get_message("message_1")

    _run(recorded, handler, calls)
    (limited,) = recorded.metrics()["postman.client.rate_limited"]
    assert limited.value == 1


def test_no_attribute_carries_a_key_number_value_or_search(recorded: Recorded) -> None:
    def handler(request: Request) -> Response:
        if request.method == "GET":
            return Response(status=200, body=PAGE)
        return Response(status=201, body=MESSAGE)

    async def calls(otp: Any) -> None:
        await otp.send(f"+65 {PHONE[2:6]} {PHONE[6:]}", {"otp": OTP})
        await otp.list_messages(search=SEARCH, limit=5)

    _run(recorded, handler, calls)
    spans = recorded.finished()
    assert len(spans) == 4
    texts = [s.name for s in spans]
    for span in spans:
        texts += [f"{k}={v!s}" for k, v in (span.attributes or {}).items()]
        texts += [e.name for e in span.events]
        texts.append(span.status.description or "")
    for points in recorded.metrics().values():
        for point in points:
            texts += [f"{k}={v}" for k, v in point.attributes.items()]
    blob = "\n".join(texts)
    assert "url.full=https://postman.example:8443/api/v2/campaigns/campaign_tel/messages" in blob
    for secret in (KEY, "Secret-7731", PHONE, PHONE[2:], OTP, SEARCH, "search", "limit"):
        assert secret not in blob


def test_absent_opentelemetry_means_no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    telemetry_module._load.cache_clear()
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import fails
    try:
        client = PostmanClient(transport=MockTransport(lambda r: Response(status=201)))
        assert client._requests.telemetry is None
    finally:
        telemetry_module._load.cache_clear()


def test_route_names_hide_every_id() -> None:
    where = telemetry_module._Where(
        "https://user:pw@postman.gov.sg/api/v2/campaigns/c%2F1/batch/batch_9/messages"
    )
    assert where.route == "/api/v2/campaigns/{id}/batch/{id}/messages"
    assert where.campaign == "c/1"
    assert where.url == "https://postman.gov.sg/api/v2/campaigns/c%2F1/batch/batch_9/messages"
    assert (where.host, where.port) == ("postman.gov.sg", 443)
