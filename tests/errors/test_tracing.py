"""W3C Trace Context: parsing `traceparent`, continuing the caller's trace in a request, its ids
on every log line, and `traceparent` on outgoing httpx and requests calls."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client
from pytest_django.fixtures import Settings

from errors.context import reset_correlation_id, set_correlation_id
from errors.external import correlation_headers
from errors.tracing import (
    TraceContext,
    continue_trace,
    current_trace,
    new_span_id,
    reset_trace,
    set_trace,
)
from tests.conftest import JsonLog
from tests.support.upstream import UpstreamServer

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"

# (header value, valid?) — the rules of W3C Trace Context, section 3.2 and 4.3 (versioning).
PARSING_RULES = [
    (TRACEPARENT, True),
    (f"00-{TRACE_ID}-{PARENT_ID}-00", True),  # not sampled: still a trace
    (f"00-{TRACE_ID}-{PARENT_ID}-ff", True),  # unknown flags are kept, not refused
    (f"  {TRACEPARENT}\t", True),  # HTTP's optional whitespace around the value
    (f"cc-{TRACE_ID}-{PARENT_ID}-01", True),  # a later version, read as version 00
    (f"cc-{TRACE_ID}-{PARENT_ID}-01-what-the-future-holds", True),  # …with more fields
    (f"ff-{TRACE_ID}-{PARENT_ID}-01", False),  # version ff is forbidden
    (f"00-{TRACE_ID}-{PARENT_ID}-01-extra", False),  # version 00 ends with the flags
    (f"cc-{TRACE_ID}-{PARENT_ID}-01.extra", False),  # more fields follow a "-"
    (f"00-{'0' * 32}-{PARENT_ID}-01", False),  # all-zero trace id
    (f"00-{TRACE_ID}-{'0' * 16}-01", False),  # all-zero parent id
    (TRACEPARENT.upper(), False),  # hex digits are lowercase
    (f"00-{TRACE_ID.upper()}-{PARENT_ID}-01", False),
    (f"0-{TRACE_ID}-{PARENT_ID}-01", False),  # bad lengths, field by field
    (f"000-{TRACE_ID}-{PARENT_ID}-01", False),
    (f"00-{TRACE_ID[:-1]}-{PARENT_ID}-01", False),
    (f"00-{TRACE_ID}0-{PARENT_ID}-01", False),
    (f"00-{TRACE_ID}-{PARENT_ID[:-1]}-01", False),
    (f"00-{TRACE_ID}-{PARENT_ID}0-01", False),
    (f"00-{TRACE_ID}-{PARENT_ID}-1", False),
    (f"00-{TRACE_ID}-{PARENT_ID}-001", False),
    (f"00-{TRACE_ID}-{PARENT_ID}", False),  # no flags
    (f"00_{TRACE_ID}_{PARENT_ID}_01", False),  # wrong separator
    (f"00-{TRACE_ID[:-1]}g-{PARENT_ID}-01", False),  # not hex
    (f"{TRACEPARENT},{TRACEPARENT}", False),  # two headers folded into one
    ("", False),
    ("garbage\r\nX-Injected: 1", False),
]


@pytest.mark.parametrize(("value", "valid"), PARSING_RULES)
def test_traceparent_parsing_follows_the_w3c_rules(value: str, valid: bool) -> None:
    trace = continue_trace(value)
    assert (trace is not None) is valid
    if trace is not None:
        assert trace.trace_id == TRACE_ID
        assert trace.span_id != PARENT_ID  # a span of our own


def test_span_ids_are_hex_and_do_not_come_from_the_seedable_process_generator() -> None:
    random.seed(0)
    first = new_span_id()
    random.seed(0)
    second = new_span_id()
    assert first != second
    assert all(re.fullmatch(r"[0-9a-f]{16}", value) for value in (first, second))


def test_continuing_a_trace_keeps_its_id_and_flags_with_a_span_of_our_own() -> None:
    trace = continue_trace(f"00-{TRACE_ID}-{PARENT_ID}-00", "vendor=abc,other=1")
    assert trace is not None
    assert (trace.trace_id, trace.flags, trace.state) == (TRACE_ID, "00", "vendor=abc,other=1")
    assert len(trace.span_id) == 16 and trace.span_id not in {PARENT_ID, "0" * 16}
    assert continue_trace(TRACEPARENT, "bad\nstate").state is None  # type: ignore[union-attr]
    # A later version's flags may mean something else: only "sampled" is carried on.
    assert continue_trace(f"cc-{TRACE_ID}-{PARENT_ID}-ff").flags == "01"  # type: ignore[union-attr]


# --- incoming requests -----------------------------------------------------------------------


def request_lines(log: JsonLog) -> list[dict[str, Any]]:
    return [r for r in log.records() if r["logger"].startswith(("errors", "tests"))]


def test_a_traceparent_without_correlation_id_gives_the_trace_id_as_correlation_id(
    client: Client, json_log: JsonLog
) -> None:
    response = client.get("/t/async/echo", HTTP_TRACEPARENT=TRACEPARENT)
    assert response["X-Correlation-ID"] == TRACE_ID
    assert response.json()["correlation_id"] == TRACE_ID
    lines = request_lines(json_log)
    assert lines, "the request logged nothing"
    span_ids = {line["span_id"] for line in lines}
    assert {line["trace_id"] for line in lines} == {TRACE_ID}
    assert len(span_ids) == 1 and PARENT_ID not in span_ids  # the request's own span


def test_a_request_with_both_keeps_its_correlation_id_and_logs_the_trace(
    json_log: JsonLog,
) -> None:
    response = Client(raise_request_exception=False).get(
        "/t/drf/raise/internal", HTTP_TRACEPARENT=TRACEPARENT, HTTP_X_CORRELATION_ID="mine-1"
    )
    assert response.status_code == 500
    assert response["X-Correlation-ID"] == "mine-1"
    error = response.json()["error"]
    assert error["correlation_id"] == "mine-1"
    assert TRACE_ID not in response.content.decode()  # never in the envelope
    (line,) = [r for r in json_log.records() if r["logger"] == "errors"]
    assert (line["correlation_id"], line["trace_id"]) == ("mine-1", TRACE_ID)
    assert "traceresponse" not in response  # only when a setting asks for it


def test_an_invalid_correlation_id_gives_way_to_the_trace_id(client: Client) -> None:
    response = client.get(
        "/t/async/echo", HTTP_TRACEPARENT=TRACEPARENT, HTTP_X_CORRELATION_ID="no spaces please"
    )
    assert response["X-Correlation-ID"] == TRACE_ID


@pytest.mark.parametrize(
    "bad", [f"00-{'0' * 32}-{PARENT_ID}-01", f"ff-{TRACE_ID}-{PARENT_ID}-01", "INJECTED-value"]
)
def test_an_invalid_traceparent_is_ignored_never_echoed_nor_logged(
    json_log: JsonLog, settings: Settings, bad: str
) -> None:
    settings.ERRORS_TRACE_RESPONSE_HEADER = True
    settings.ERRORS_REQUEST_LOG_LEVEL = "INFO"
    client = Client(raise_request_exception=False)
    response = client.get("/t/plain/raise/internal", HTTP_TRACEPARENT=bad)
    assert response.status_code == 500
    assert response["X-Correlation-ID"] not in bad
    assert "traceresponse" not in response
    assert bad not in str(response.headers) and bad not in response.content.decode()
    lines = json_log.records()
    assert len(lines) >= 2  # the error and the request line
    assert all("trace_id" not in line for line in lines)
    assert bad not in json_log.stream.getvalue()


def test_traceresponse_is_sent_when_asked_for(client: Client, settings: Settings) -> None:
    settings.ERRORS_TRACE_RESPONSE_HEADER = True
    response = client.get("/t/async/echo", HTTP_TRACEPARENT=TRACEPARENT)
    version, trace_id, span_id, flags = response["traceresponse"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert span_id != PARENT_ID
    assert "traceresponse" not in client.get("/t/async/echo")  # no trace, no header


def test_the_async_path_continues_the_trace_too(json_log: JsonLog) -> None:
    response = async_to_sync(AsyncClient().get)(
        "/t/async/echo", headers={"traceparent": TRACEPARENT}
    )
    assert response["X-Correlation-ID"] == TRACE_ID
    assert {r["trace_id"] for r in request_lines(json_log)} == {TRACE_ID}


def test_the_trace_ends_with_the_request(client: Client) -> None:
    client.get("/t/async/echo", HTTP_TRACEPARENT=TRACEPARENT)
    assert current_trace() is None


# --- outgoing calls --------------------------------------------------------------------------


@pytest.fixture
def in_trace() -> Iterator[TraceContext]:
    trace = continue_trace(TRACEPARENT, "vendor=abc")
    assert trace is not None
    token, trace_token = set_correlation_id("out-1"), set_trace(trace)
    try:
        yield trace
    finally:
        reset_trace(trace_token)
        reset_correlation_id(token)


def assert_continues(headers: dict[str, str], trace: TraceContext) -> None:
    version, trace_id, parent_id, flags = headers["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert parent_id == trace.span_id != PARENT_ID  # our span is the callee's parent
    assert headers["tracestate"] == "vendor=abc"
    assert headers["x-correlation-id"] == "out-1"


def test_httpx_and_requests_calls_carry_traceparent(
    upstream: UpstreamServer, in_trace: TraceContext
) -> None:
    httpx.get(upstream.url, timeout=5)
    requests.get(upstream.url, timeout=5)
    with httpx.Client(timeout=5) as client:  # a request's own traceparent is left alone
        client.get(upstream.url, headers={"traceparent": TRACEPARENT})
    first, second, own = upstream.received()
    assert_continues(first.headers, in_trace)
    assert_continues(second.headers, in_trace)
    assert own.headers["traceparent"] == TRACEPARENT


def test_async_httpx_calls_carry_traceparent(
    upstream: UpstreamServer, in_trace: TraceContext
) -> None:
    async def call() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            await client.get(upstream.url)

    async_to_sync(call)()
    (received,) = upstream.received()
    assert_continues(received.headers, in_trace)


def test_the_propagation_setting_turns_traceparent_off_too(
    upstream: UpstreamServer, in_trace: TraceContext, settings: Settings
) -> None:
    settings.ERRORS_PROPAGATE_CORRELATION_ID = False
    httpx.get(upstream.url, timeout=5)
    (received,) = upstream.received()
    assert not {"traceparent", "tracestate", "x-correlation-id"} & set(received.headers)
    assert correlation_headers() == {}


def test_no_trace_no_traceparent(upstream: UpstreamServer) -> None:
    token = set_correlation_id("out-2")
    try:
        httpx.get(upstream.url, timeout=5)
        assert correlation_headers() == {"X-Correlation-ID": "out-2"}
    finally:
        reset_correlation_id(token)
    (received,) = upstream.received()
    assert "traceparent" not in received.headers
    assert json.loads(received.body or b"null") is None
