"""W3C Trace Context: the trace a request or task belongs to (docs/tracing.md)."""

from __future__ import annotations

import contextlib
import functools
import re
import secrets
import sys
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Final

from .context import reset_correlation_id, set_correlation_id

TRACEPARENT: Final = "traceparent"
TRACESTATE: Final = "tracestate"
TRACERESPONSE: Final = "traceresponse"

# version-traceid-parentid-flags; the version's own rules are checked in continue_trace.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE_ID: Final = "0" * 32
_ZERO_SPAN_ID: Final = "0" * 16
# tracestate is passed on as it came: at most 512 printable ASCII characters (the spec's limit).
_TRACESTATE = re.compile(r"[\x20-\x7e]{1,512}")


def new_span_id() -> str:
    """A fresh span id from the OS's generator: 16 lowercase hex digits, never all zeros."""
    span_id = secrets.token_hex(8)
    return span_id if span_id != _ZERO_SPAN_ID else new_span_id()


@dataclass(frozen=True, slots=True)
class TraceContext:
    """The span of the work in progress: its trace, its own id, the flags and tracestate."""

    trace_id: str
    span_id: str
    flags: str = "01"
    state: str | None = None

    @property
    def traceparent(self) -> str:
        """This span as a `traceparent` value: the parent of the calls it makes."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def headers(self) -> dict[str, str]:
        """`traceparent` (and `tracestate`, when there is one) for a call made in this span."""
        if self.state:
            return {TRACEPARENT: self.traceparent, TRACESTATE: self.state}
        return {TRACEPARENT: self.traceparent}


def continue_trace(traceparent: str | None, tracestate: str | None = None) -> TraceContext | None:
    """The span a caller started with these headers; None unless `traceparent` is valid."""
    value = (traceparent or "").strip(" \t")
    match = _TRACEPARENT.match(value)
    if match is None:
        return None
    version, trace_id, parent_id, flags = match.groups()
    if version == "ff" or trace_id == _ZERO_TRACE_ID or parent_id == _ZERO_SPAN_ID:
        return None
    rest = value[match.end() :]
    if rest and (version == "00" or not rest.startswith("-")):
        return None
    if version != "00":  # a later version's flags may mean something else: keep `sampled` only
        flags = "01" if int(flags, 16) & 1 else "00"
    state = tracestate.strip(" \t") if tracestate else None
    if state and _TRACESTATE.fullmatch(state) is None:
        state = None  # a tracestate that could not be passed on safely is dropped
    return TraceContext(trace_id, new_span_id(), flags, state or None)


_trace: ContextVar[TraceContext | None] = ContextVar("trace", default=None)


def set_trace(trace: TraceContext | None) -> Token[TraceContext | None]:
    """Make `trace` the current span; pass the token to `reset_trace`."""
    return _trace.set(trace)


def reset_trace(token: Token[TraceContext | None]) -> None:
    """Restore the span that was current before the matching `set_trace`."""
    _trace.reset(token)


@contextlib.contextmanager
def working_under(correlation_id: str | None, trace: TraceContext | None = None) -> Iterator[None]:
    """Make `correlation_id` and `trace` current while the block runs; None keeps the current."""
    id_token = None if correlation_id is None else set_correlation_id(correlation_id)
    trace_token = None if trace is None else set_trace(trace)
    try:
        yield
    finally:
        if trace_token is not None:
            reset_trace(trace_token)
        if id_token is not None:
            reset_correlation_id(id_token)


# --- OpenTelemetry ----------------------------------------------------------------------------


@functools.cache
def _opentelemetry() -> Any:
    """The opentelemetry.trace module, looked up once; None when it is not installed."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace


def _otel_span() -> Any:
    """OpenTelemetry's current span when one is recording, else None."""
    trace = _opentelemetry()
    if trace is None:
        return None
    span = trace.get_current_span()
    return span if span.is_recording() else None


def current_trace() -> TraceContext | None:
    """The span of the work in progress: OpenTelemetry's recording span, else ours, else None."""
    span = _otel_span()
    if span is not None:
        context = span.get_span_context()
        if context.is_valid:
            return TraceContext(
                format(context.trace_id, "032x"),
                format(context.span_id, "016x"),
                format(context.trace_flags, "02x"),
                context.trace_state.to_header() or None,
            )
    return _trace.get()


# Where opentelemetry-instrumentation-django 0.66b2 keeps an exception it records itself.
_OTEL_DJANGO_EXCEPTION_KEY: Final = "opentelemetry-instrumentor-django.exception_key"


def record_exception(sender: Any, request: Any = None, **kwargs: Any) -> None:
    """`got_request_exception` receiver: record a 5xx's exception on OpenTelemetry's span."""
    exc = sys.exc_info()[1]
    if exc is None:
        return
    meta = getattr(request, "META", None)
    if isinstance(meta, dict) and meta.get(_OTEL_DJANGO_EXCEPTION_KEY) is exc:
        return
    span = _otel_span()
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


__all__ = [
    "TRACEPARENT",
    "TRACERESPONSE",
    "TRACESTATE",
    "TraceContext",
    "continue_trace",
    "current_trace",
    "new_span_id",
    "record_exception",
    "reset_trace",
    "set_trace",
    "working_under",
]
