"""`errors` under OpenTelemetry: the real SDK with an in-memory exporter and the Django
instrumentation. Log lines carry the recording span's ids, the exception of a 5xx is recorded on
the span once, and outgoing calls name that span as their parent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import Client
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import JsonLog
from tests.support.upstream import UpstreamServer

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    DjangoInstrumentor().instrument(tracer_provider=provider)
    try:
        yield exporter
    finally:
        DjangoInstrumentor().uninstrument()
        provider.shutdown()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> Any:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("tests")


def ids(span: ReadableSpan) -> tuple[str, str]:
    context = span.get_span_context()
    assert context is not None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def exception_events(span: ReadableSpan) -> list[Any]:
    return [event for event in span.events if event.name == "exception"]


@pytest.mark.parametrize("view", ["/t/drf/raise/internal", "/t/plain/raise/internal"])
def test_an_error_in_an_instrumented_request(
    exporter: InMemorySpanExporter, json_log: JsonLog, view: str
) -> None:
    response = Client(raise_request_exception=False).get(view)

    (span,) = exporter.get_finished_spans()
    (event,) = exception_events(span)
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "RuntimeError"
    assert span.status.status_code.name == "ERROR"

    trace_id, span_id = ids(span)
    (line,) = [r for r in json_log.records() if r["logger"] == "errors"]
    assert line["level"] == "ERROR"
    assert (line["trace_id"], line["span_id"]) == (trace_id, span_id)

    assert response.status_code == 500
    correlation_id = response["X-Correlation-ID"]
    assert response.json()["error"]["correlation_id"] == correlation_id == line["correlation_id"]
    assert trace_id not in response.content.decode()


def test_the_callers_trace_is_the_spans_and_the_correlation_id(
    exporter: InMemorySpanExporter, json_log: JsonLog
) -> None:
    response = Client(raise_request_exception=False).get(
        "/t/drf/raise/internal", HTTP_TRACEPARENT=TRACEPARENT
    )
    (span,) = exporter.get_finished_spans()
    trace_id, span_id = ids(span)
    assert trace_id == TRACE_ID
    assert response["X-Correlation-ID"] == TRACE_ID
    (line,) = [r for r in json_log.records() if r["logger"] == "errors"]
    assert (line["correlation_id"], line["trace_id"], line["span_id"]) == (
        TRACE_ID,
        TRACE_ID,
        span_id,
    )
    assert len(exception_events(span)) == 1


def test_a_handled_4xx_records_no_exception(exporter: InMemorySpanExporter) -> None:
    response = Client().get("/t/drf/raise/drf_not_found")
    assert response.status_code == 404
    (span,) = exporter.get_finished_spans()
    assert exception_events(span) == []


def test_outgoing_calls_name_the_recording_span_as_their_parent(
    tracer: Any, upstream: UpstreamServer
) -> None:
    with tracer.start_as_current_span("work") as span:
        httpx.get(upstream.url, timeout=5)
    context = span.get_span_context()
    (received,) = upstream.received()
    assert received.headers["traceparent"] == (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    )
