"""errors.logging.formatters: JsonFormatter and ConsoleFormatter, what ends up in a log line.

No database and no Django settings are needed: every test builds its own handler.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import logging
import os
import re
import sys
import threading
from typing import Any

import pytest

from errors.logging import ConsoleFormatter, JsonFormatter
from tests.errors.logging.helpers import Capture, Request, make_record

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
# 2026-11-28T15:20:32Z
BASE_SECOND = calendar.timegm((2026, 11, 28, 15, 20, 32, 0, 0, 0))


# --- JsonFormatter: fields -------------------------------------------------------------------


def test_line_has_all_fields_with_their_types(capture: Capture) -> None:
    capture.logger.info("order %s placed by %s", 7, "alice")
    line = capture.lines()[0]
    record = json.loads(line)

    assert "\n" not in line
    assert list(record)[:10] == [
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
    ]
    assert TIMESTAMP.fullmatch(record["timestamp"])
    assert record["level"] == "INFO"
    assert record["message"] == "order 7 placed by alice"
    assert record["logger"] == capture.logger.name
    assert record["module"] == "test_formatters"
    assert record["function"] == "test_line_has_all_fields_with_their_types"
    assert isinstance(record["line"], int) and record["line"] > 0
    assert record["process_id"] == os.getpid()
    assert record["thread_id"] == threading.get_ident()
    assert record["correlation_id"] is None
    assert "exception" not in record and "stack_info" not in record


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        (BASE_SECOND + 0.1234, "2026-11-28T15:20:32.123Z"),
        (BASE_SECOND + 0.0004, "2026-11-28T15:20:32.000Z"),
        (BASE_SECOND + 0.9996, "2026-11-28T15:20:32.999Z"),  # truncated, never rounded up
        (BASE_SECOND + 1.5, "2026-11-28T15:20:33.500Z"),
        (0.25, "1970-01-01T00:00:00.250Z"),
        (-0.5, "1969-12-31T23:59:59.500Z"),
    ],
)
def test_timestamp_is_utc_millisecond_z(created: float, expected: str) -> None:
    record = make_record(created=created)
    assert json.loads(JsonFormatter().format(record))["timestamp"] == expected


def test_timestamp_of_a_live_record_matches_its_created_time(capture: Capture) -> None:
    capture.logger.info("now")
    timestamp = capture.one()["timestamp"]
    parsed = dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    now = dt.datetime.now(dt.UTC)
    assert dt.timedelta(0) <= now - parsed < dt.timedelta(seconds=5)


def test_timestamp_agrees_with_record_created() -> None:
    formatter = JsonFormatter()
    record = logging.makeLogRecord({"msg": "x"})
    line = json.loads(formatter.format(record))
    second = int(record.created)
    millis = int((record.created - second) * 1000)
    expected = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert line["timestamp"] == f"{expected}.{millis:03d}Z"


def test_extras_are_top_level_fields_with_their_json_types(capture: Capture) -> None:
    capture.logger.info(
        "placed",
        extra={
            "order_id": 7,
            "total": 59.9,
            "user": "alice",
            "paid": True,
            "ctx": {"cart": {"items": 3}, "tags": ["a", "b"]},
            "nothing": None,
        },
    )
    record = capture.one()
    assert record["order_id"] == 7
    assert record["total"] == 59.9
    assert record["user"] == "alice"
    assert record["paid"] is True
    assert record["ctx"] == {"cart": {"items": 3}, "tags": ["a", "b"]}
    assert record["nothing"] is None
    # Standard LogRecord attributes are not repeated as extras.
    for internal in ("msg", "args", "levelno", "pathname", "created", "msecs", "exc_text"):
        assert internal not in record


def test_extra_named_like_a_field_does_not_overwrite_it(capture: Capture) -> None:
    capture.logger.warning("real message", extra={"level": "fake", "timestamp": 0})
    record = capture.one()
    assert record["level"] == "WARNING"
    assert TIMESTAMP.fullmatch(record["timestamp"])
    assert record["extra_level"] == "fake"
    assert record["extra_timestamp"] == 0


def test_request_extra_is_method_and_path_not_the_whole_object(capture: Capture) -> None:
    capture.logger.error("Internal Server Error", extra={"request": Request("POST", "/pay")})
    capture.logger.error("no http request", extra={"request": object()})
    first, second = capture.records()
    assert first["request"] == "POST /pay"
    assert "do not dump me" not in capture.stream.getvalue()
    assert second["request"] == "<object>"


def test_exc_info_becomes_an_exception_object(capture: Capture) -> None:
    try:
        raise ValueError("quantity must be positive")
    except ValueError:
        capture.logger.exception("could not place order")
    record = capture.one()
    exception = record["exception"]
    assert record["level"] == "ERROR"
    assert record["message"] == "could not place order"
    assert exception["type"] == "ValueError"
    assert exception["message"] == "quantity must be positive"
    assert exception["traceback"].startswith("Traceback (most recent call last):\n")
    assert exception["traceback"].endswith("ValueError: quantity must be positive")
    assert 'raise ValueError("quantity must be positive")' in exception["traceback"]


class OrderError(Exception):
    pass


def _nested_failure() -> None:
    try:
        {"a": 1}["b"]
    except KeyError as exc:
        raise OrderError("lookup failed") from exc


def test_exception_traceback_is_what_logging_would_print_and_is_cached() -> None:
    try:
        _nested_failure()
    except OrderError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), exc_info)
    formatter = JsonFormatter()

    first = json.loads(formatter.format(record))["exception"]
    expected = logging.Formatter().formatException(exc_info)
    assert first["traceback"] == expected
    assert "The above exception was the direct cause" in first["traceback"]
    assert first["type"] == f"{OrderError.__module__}.OrderError"
    # Cached on the record like logging.Formatter does, and reused by the next format.
    assert record.exc_text == expected
    record.exc_text = "cached text"
    assert json.loads(formatter.format(record))["exception"]["traceback"] == "cached text"
    # And a fresh format of the same exception is still identical.
    record.exc_text = None
    assert json.loads(formatter.format(record))["exception"]["traceback"] == expected


def test_exc_info_true_outside_an_except_block(capture: Capture) -> None:
    capture.logger.error("no exception here", exc_info=True)
    record = capture.one()
    assert record["message"] == "no exception here"
    assert record["exception"]["type"] is None


def test_stack_info_is_included(capture: Capture) -> None:
    capture.logger.info("where am I", stack_info=True)
    record = capture.one()
    assert record["stack_info"].startswith("Stack (most recent call last):")
    assert "test_stack_info_is_included" in record["stack_info"]


# --- JsonFormatter: never raises -------------------------------------------------------------


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


class OnlyRepr:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        return "<OnlyRepr>"


def test_unserializable_extras_are_stringified(capture: Capture) -> None:
    when = dt.datetime(2026, 11, 28, 15, 20, 32, tzinfo=dt.UTC)
    circular: list[Any] = []
    circular.append(circular)
    capture.logger.info(
        "odd values",
        extra={
            "unprintable": Unprintable(),
            "only_repr": OnlyRepr(),
            "tags": {"b"},
            "when": when,
            "raw": b"caf\xc3\xa9 \xff",
            "huge": 2**80,
            "surrogate": "bad \ud800 text",
            "int_keys": {1: "one"},
            "circular": circular,
            "plain": object(),
        },
    )
    (line,) = capture.lines()
    record = json.loads(line)  # still one valid JSON line
    assert record["message"] == "odd values"
    assert record["unprintable"] == "<unprintable Unprintable>"
    assert record["only_repr"] == "<OnlyRepr>"
    assert record["tags"] == ["b"]
    assert record["when"] == "2026-11-28T15:20:32+00:00"
    assert record["raw"] == "café \\xff"
    assert record["huge"] == str(2**80)
    assert record["surrogate"] == "bad \\ud800 text"
    assert record["int_keys"] == {"1": "one"}
    assert isinstance(record["circular"], (str, list))
    assert record["plain"].startswith("<object object at")


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        ("%d orders", ("many",)),  # wrong type
        ("%s and %s", ("one",)),  # too few
        ("%s", ("one", "two")),  # too many
        ("%(name)s", ("positional",)),  # mapping expected
    ],
)
def test_broken_percent_args_keep_the_raw_message(
    capture: Capture, msg: str, args: tuple[Any, ...]
) -> None:
    capture.emit_only_here(msg, *args)
    record = capture.one()
    assert record["message"].startswith(msg)
    assert "formatting failed" in record["message"]
    assert record["level"] == "INFO"


def test_unprintable_msg_does_not_raise(capture: Capture) -> None:
    capture.emit_only_here(Unprintable())
    record = capture.one()
    assert "formatting failed" in record["message"]


def test_even_a_corrupt_record_gives_a_json_line(correlation_id: str) -> None:
    record = make_record()
    record.created = "not a number"  # type: ignore[assignment]
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello"
    assert line["logger"] == "app.orders"
    assert line["correlation_id"] == correlation_id
    assert "formatter_error" in line


# --- correlation id --------------------------------------------------------------------------


def test_formatter_alone_reads_the_context_too(correlation_id: str) -> None:
    line = json.loads(JsonFormatter().format(make_record()))
    assert line["correlation_id"] == correlation_id


# --- ConsoleFormatter ------------------------------------------------------------------------


def test_console_formatter_shows_a_dash_without_an_id_and_leaves_the_record_alone() -> None:
    record = make_record()
    line = ConsoleFormatter().format(record)
    assert re.fullmatch(r"\S+ \S+ INFO     \[-\] app\.orders: hello", line)
    assert not hasattr(record, "correlation_id")
    assert json.loads(JsonFormatter().format(record))["correlation_id"] is None


def test_console_formatter_alone_reads_the_context(correlation_id: str) -> None:
    line = ConsoleFormatter().format(make_record())
    assert line.endswith(" INFO     [req-123] app.orders: hello")


def test_console_formatter_survives_broken_args() -> None:
    record = make_record()
    record.msg, record.args = "%d", ("x",)
    line = ConsoleFormatter().format(record)
    assert "formatting failed" in line and "%d" in line
