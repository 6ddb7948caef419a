"""The JSON and console formatters."""

from __future__ import annotations

import copy
import logging
import time
from typing import Any, Final

import orjson

from errors.context import get_correlation_id

from .filters import CorrelationIdFilter
from .safe import (
    STANDARD_ATTRS,
    broken_message,
    describe_request,
    exception_type_name,
    json_default,
    safe_str,
    sanitize,
)

# The formatter renders the correlation id and the trace as fields of their own, not as extras.
_FORMATTER_SKIP: Final[frozenset[str]] = STANDARD_ATTRS | {
    "correlation_id",
    "trace_id",
    "span_id",
}

# Fields the formatter writes itself: an extra of that name goes under `extra_<name>`.
_OUTPUT_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "timestamp",
        "level",
        "message",
        "logger",
        "module",
        "function",
        "line",
        "process_id",
        "thread_id",
        "correlation_id",
        "trace_id",
        "span_id",
        "exception",
        "stack_info",
    }
)

CONSOLE_FORMAT: Final[str] = (
    "%(asctime)s %(levelname)-8s [%(correlation_id)s] %(name)s: %(message)s"
)
"""The line format of `ConsoleFormatter` as configured by `build_logging_config`."""

_correlate = CorrelationIdFilter()


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object on one line (orjson); never raises."""

    def format_timestamp(self, created: float) -> str:
        """Return `created` as e.g. `2026-11-28T15:20:32.123Z` (milliseconds truncated)."""
        second, fraction = divmod(created, 1)  # floor division: right before 1970 too
        millis = min(int(fraction * 1000), 999)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{millis:03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        """Return the JSON line for `record` (without the trailing newline)."""
        try:
            try:
                message = record.getMessage()
            except Exception as exc:
                message = broken_message(record, exc)
            # Like logging.Formatter, so `%(message)s` works for handlers formatting later.
            record.message = message

            # Without the filter in the handler, as it would: the context is still current.
            _correlate.filter(record)
            attrs = record.__dict__
            data: dict[str, Any] = {
                "timestamp": self.format_timestamp(record.created),
                "level": record.levelname,
                "message": message,
                "logger": record.name,
                "module": record.module,
                "function": record.funcName,
                "line": record.lineno,
                "process_id": record.process,
                "thread_id": record.thread,
                "correlation_id": attrs["correlation_id"],
            }
            if attrs["trace_id"] is not None:
                data["trace_id"] = attrs["trace_id"]
                data["span_id"] = attrs.get("span_id")
            if record.exc_info or record.exc_text:
                data["exception"] = self._exception(record)
            if record.stack_info:
                data["stack_info"] = self.formatStack(record.stack_info)

            for key, value in attrs.items():
                if key in _FORMATTER_SKIP:
                    continue
                if key == "request":
                    value = describe_request(value)
                elif key in _OUTPUT_FIELDS:
                    key = "extra_" + key
                data[key] = value

            try:
                return orjson.dumps(data, default=json_default).decode()
            except Exception:
                # orjson refused something even with the default hook (docs/logging.md).
                return orjson.dumps(sanitize(data), default=json_default).decode()
        except Exception as exc:
            return self._emergency_line(record, exc)

    def _exception(self, record: logging.LogRecord) -> dict[str, Any]:
        exc_info = record.exc_info
        if exc_info and exc_info[0] is not None:
            # Cached on the record, as logging.Formatter does.
            if not record.exc_text:
                record.exc_text = self.formatException(exc_info)
            return {
                "type": exception_type_name(exc_info[0]),
                "message": safe_str(exc_info[1]),
                "traceback": record.exc_text,
            }
        # exc_info may be (None, None, None); a record from a pickle has only exc_text.
        return {"type": None, "message": None, "traceback": record.exc_text or None}

    def _emergency_line(self, record: logging.LogRecord, error: BaseException) -> str:
        # Every value a str safe_str made (UTF-8 encodable) or None: orjson cannot refuse them.
        fields = {
            "timestamp": safe_str(getattr(record, "created", None)),
            "level": safe_str(getattr(record, "levelname", None)),
            "message": safe_str(getattr(record, "msg", None)),
            "logger": safe_str(getattr(record, "name", None)),
            "correlation_id": safe_str(cid) if (cid := get_correlation_id()) else None,
            "formatter_error": f"{type(error).__qualname__}: {safe_str(error)}",
        }
        return orjson.dumps(fields).decode()


class ConsoleFormatter(logging.Formatter):
    """Human-readable formatter whose format may use `%(correlation_id)s` (`-` without one)."""

    def __init__(self, fmt: str | None = CONSOLE_FORMAT, *args: Any, **kwargs: Any) -> None:
        """Accept the arguments of logging.Formatter, with `CONSOLE_FORMAT` as the default."""
        super().__init__(fmt, *args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        """Format like logging.Formatter, but broken %-arguments do not raise."""
        try:
            return super().format(record)
        except Exception as exc:
            # Most likely the %-arguments: the copy explains, the caller's record is kept.
            shadow = copy.copy(record)
            shadow.msg, shadow.args = broken_message(record, exc), ()
            try:
                return super().format(shadow)
            except Exception:
                return safe_str(shadow.msg)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (stdlib name)
        """Substitute the record into the format, with `-` for a missing correlation id."""
        if record.__dict__.get("correlation_id") is None:
            shadow = copy.copy(record)
            shadow.correlation_id = get_correlation_id() or "-"
            return super().formatMessage(shadow)
        return super().formatMessage(record)
