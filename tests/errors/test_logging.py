"""errors.logging: what ends up in a log line.

No database and no Django settings are needed: every test builds its own handler (or applies
`build_logging_config` with the logging state saved and restored around it).
"""

from __future__ import annotations

import asyncio
import calendar
import copy
import datetime as dt
import io
import json
import logging
import logging.config
import logging.handlers
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from errors.context import get_correlation_id, reset_correlation_id, set_correlation_id
from errors.logging import (
    ConsoleFormatter,
    CorrelationIdFilter,
    DuplicateRequestLogFilter,
    JsonFormatter,
    RedactingFilter,
    build_logging_config,
)

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
# 2026-11-28T15:20:32Z
BASE_SECOND = calendar.timegm((2026, 11, 28, 15, 20, 32, 0, 0, 0))


# --- helpers ---------------------------------------------------------------------------------


class Capture:
    """A logger whose handler writes to a buffer through the given formatter and filters."""

    def __init__(
        self, name: str, formatter: logging.Formatter, filters: list[logging.Filter]
    ) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        for f in filters:
            self.handler.addFilter(f)
        self.logger = logging.getLogger(name)
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False

    def emit_only_here(self, msg: Any, *args: Any) -> None:
        """Log at INFO through our handler alone.

        For records that other handlers cannot format: pytest attaches its own capture
        handlers even to non-propagating loggers, and those would raise on them.
        """
        record = self.logger.makeRecord(
            self.logger.name, logging.INFO, __file__, 1, msg, args, None, "emit_only_here"
        )
        self.handler.handle(record)

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]

    def one(self) -> dict[str, Any]:
        (record,) = self.records()
        return record

    def close(self) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.propagate = True
        self.logger.setLevel(logging.NOTSET)


@pytest.fixture
def capture(request: pytest.FixtureRequest) -> Iterator[Capture]:
    """JSON lines of logger `test.errors.logging.<test name>`, with the id and redact filters."""
    cap = Capture(
        f"test.errors.logging.{request.node.name}",
        JsonFormatter(),
        [CorrelationIdFilter(), RedactingFilter()],
    )
    yield cap
    cap.close()


@pytest.fixture
def correlation_id() -> Iterator[str]:
    """Make "req-123" the current correlation id for the test."""
    token = set_correlation_id("req-123")
    yield "req-123"
    reset_correlation_id(token)


_CONFIGURED = ["django", "errors", "daphne", "asyncio", "django.db.backends", "redis"]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger and the loggers dictConfig touches back as they were."""
    root = logging.getLogger()
    saved_root = (root.level, root.handlers[:], root.filters[:])
    saved = {}
    for name in _CONFIGURED:
        lg = logging.getLogger(name)
        saved[name] = (lg.level, lg.handlers[:], lg.propagate, lg.disabled)
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in saved_root[1]:
                handler.close()
        root.setLevel(saved_root[0])
        root.handlers[:] = saved_root[1]
        root.filters[:] = saved_root[2]
        for name, (level, handlers, propagate, disabled) in saved.items():
            lg = logging.getLogger(name)
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate = propagate
            lg.disabled = disabled


def make_record(**extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("app.orders", logging.INFO, __file__, 42, "hello", (), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


class Request:
    """Stands in for a Django HttpRequest (only the attributes the code looks at)."""

    def __init__(self, method: str = "GET", path: str = "/orders/7", **attrs: Any) -> None:
        self.method = method
        self.path = path
        self.secret_body = "do not dump me"
        for key, value in attrs.items():
            setattr(self, key, value)


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
    assert record["module"] == "test_logging"
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
    formatter = JsonFormatter()
    # Same formatter for a neighbouring second first: the per-second cache must not leak.
    formatter.format(make_record(created=created - 1))
    record = make_record(created=created)
    assert json.loads(formatter.format(record))["timestamp"] == expected


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
    # And a fresh format of the same exception (frame texts reused) is still identical.
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


# --- RedactingFilter -------------------------------------------------------------------------


def test_sensitive_keys_are_masked_at_any_depth_without_touching_the_original(
    capture: Capture,
) -> None:
    payload = {
        "user": "alice",
        "items": [{"sku": "A1", "card": {"cvv_token": "cvv-secret-999", "last4": "4242"}}],
        "auth": ({"Authorization": "Bearer abc"}, "plain"),
        "meta": {
            "Session-Id": "session-secret-s1",
            "csrfmiddlewaretoken": "csrf-secret-c1",
            "Password2": "p",
        },
    }
    original = copy.deepcopy(payload)
    capture.logger.info("login", extra={"payload": payload})

    logged = capture.one()["payload"]
    assert logged == {
        "user": "alice",
        "items": [{"sku": "A1", "card": {"cvv_token": "[REDACTED]", "last4": "4242"}}],
        "auth": [{"Authorization": "[REDACTED]"}, "plain"],
        "meta": {
            "Session-Id": "[REDACTED]",
            "csrfmiddlewaretoken": "[REDACTED]",
            "Password2": "[REDACTED]",
        },
    }
    assert payload == original
    # Distinctive values: digits alone could also occur in a timestamp or a thread id.
    for secret in ("Bearer abc", "cvv-secret-999", "session-secret-s1", "csrf-secret-c1"):
        assert secret not in capture.stream.getvalue()


def test_top_level_sensitive_extra_is_masked(capture: Capture) -> None:
    capture.logger.info(
        "auth", extra={"token": "abc", "api_key": "k", "user_password": "p", "user": "alice"}
    )
    record = capture.one()
    assert record["token"] == "[REDACTED]"
    assert record["api_key"] == "[REDACTED]"
    assert record["user_password"] == "[REDACTED]"
    assert record["user"] == "alice"


def test_redaction_copies_only_what_changes() -> None:
    clean = {"a": [1, 2, {"b": 3}]}
    sibling = [{"x": 1}]
    dirty = {"keep": sibling, "secret": "s"}
    record = make_record(clean=clean, dirty=dirty, number=5)

    assert RedactingFilter().filter(record) is True
    assert record.__dict__["clean"] is clean  # nothing to mask: not copied
    assert record.__dict__["dirty"] is not dirty
    assert record.__dict__["dirty"] == {"keep": sibling, "secret": "[REDACTED]"}
    assert record.__dict__["dirty"]["keep"] is sibling
    assert dirty == {"keep": sibling, "secret": "s"}
    assert record.__dict__["number"] == 5


def test_custom_sensitive_keys() -> None:
    record = make_record(ssn="123", password="kept", ctx={"SSN_HASH": "x"})
    RedactingFilter(keys=["ssn"]).filter(record)
    assert record.__dict__["ssn"] == "[REDACTED]"
    assert record.__dict__["password"] == "kept"
    assert record.__dict__["ctx"] == {"SSN_HASH": "[REDACTED]"}


def test_redaction_does_not_touch_standard_attributes_or_the_message() -> None:
    record = make_record()
    record.msg = "token=%s"
    record.args = ("abc",)
    RedactingFilter().filter(record)
    assert record.getMessage() == "token=abc"


class ExplodingDict(dict[str, Any]):
    def items(self) -> Any:
        raise RuntimeError("boom")


def test_redaction_never_raises_and_fails_closed() -> None:
    record = make_record(weird=ExplodingDict(password="p"), token="t", user="alice")
    assert RedactingFilter().filter(record) is True
    assert record.__dict__["weird"] == "[REDACTED]"
    assert record.__dict__["token"] == "[REDACTED]"
    assert record.__dict__["user"] == "alice"


def test_self_referencing_structure_is_handled() -> None:
    loop: dict[str, Any] = {"password": "p"}
    loop["self"] = loop
    record = make_record(loop=loop)
    assert RedactingFilter().filter(record) is True
    assert record.__dict__["loop"]["password"] == "[REDACTED]"
    assert loop["password"] == "p"
    json.loads(JsonFormatter().format(record))


# --- correlation id --------------------------------------------------------------------------


def test_correlation_id_comes_from_the_context(capture: Capture, correlation_id: str) -> None:
    capture.logger.info("with id")
    assert capture.one()["correlation_id"] == correlation_id


def test_formatter_alone_reads_the_context_too(correlation_id: str) -> None:
    line = json.loads(JsonFormatter().format(make_record()))
    assert line["correlation_id"] == correlation_id


def test_filter_keeps_an_id_the_record_already_has(correlation_id: str) -> None:
    record = make_record(correlation_id="from-a-worker")
    assert CorrelationIdFilter().filter(record) is True
    assert record.__dict__["correlation_id"] == "from-a-worker"


def test_filter_sets_none_without_an_id() -> None:
    assert get_correlation_id() is None
    record = make_record()
    assert CorrelationIdFilter().filter(record) is True
    assert record.__dict__["correlation_id"] is None


def test_concurrent_threads_each_log_their_own_id(capture: Capture) -> None:
    count = 50
    barrier = threading.Barrier(count)

    def work(index: int) -> None:
        set_correlation_id(f"thread-{index}")
        barrier.wait()  # everyone has set an id before anyone logs
        capture.logger.info("from %d", index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    records = capture.records()
    assert len(records) == count
    for record in records:
        index = int(record["message"].removeprefix("from "))
        assert record["correlation_id"] == f"thread-{index}"
    assert get_correlation_id() is None


def test_concurrent_tasks_each_log_their_own_id(capture: Capture) -> None:
    async def work(index: int) -> None:
        set_correlation_id(f"task-{index}")
        await asyncio.sleep(0)  # let the other tasks set theirs
        capture.logger.info("from %d", index)

    async def main() -> None:
        await asyncio.gather(*(work(i) for i in range(50)))

    asyncio.run(main())
    records = capture.records()
    assert len(records) == 50
    for record in records:
        assert record["correlation_id"] == "task-" + record["message"].removeprefix("from ")


# --- DuplicateRequestLogFilter ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("logger", "request_obj", "kept"),
    [
        ("django.request", Request(_errors_reported=True), False),
        # Security records say what errors does not (the CSRF reason): always kept.
        ("django.security.csrf", Request(_errors_reported=True), True),
        ("django.security.DisallowedHost", Request(_errors_reported=True), True),
        # An id alone does not mean that errors logged the request.
        ("django.request", Request(correlation_id="abc"), True),
        ("django.request", Request(), True),  # never went through the middleware
        ("django.request", None, True),  # no request attribute at all
        ("errors.request", Request(_errors_reported=True), True),  # ours: always kept
        ("django.server", Request(_errors_reported=True), True),
        ("django.requests", Request(_errors_reported=True), True),  # not a prefix match
    ],
)
def test_duplicate_request_log_filter(logger: str, request_obj: Any, kept: bool) -> None:
    record = logging.LogRecord(logger, logging.ERROR, __file__, 1, "Not Found: /x", (), None)
    if request_obj is not None:
        record.request = request_obj
    assert DuplicateRequestLogFilter().filter(record) is kept


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


# --- build_logging_config --------------------------------------------------------------------


@pytest.mark.usefixtures("restore_logging")
def test_config_writes_json_lines_with_the_correlation_id(correlation_id: str) -> None:
    buf = io.StringIO()
    logging.config.dictConfig(build_logging_config(level="DEBUG", stream=buf))

    logging.getLogger("errors.request").debug("GET /orders 200", extra={"token": "t"})
    logging.getLogger("app").info("plain")
    # Django's duplicate of an error the middleware already logged is dropped.
    logging.getLogger("django.request").error(
        "Not Found: /x",
        extra={"request": Request(correlation_id=correlation_id, _errors_reported=True)},
    )

    records = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [r["message"] for r in records] == ["GET /orders 200", "plain"]
    assert all(r["correlation_id"] == correlation_id for r in records)
    assert records[0]["logger"] == "errors.request"
    assert records[0]["level"] == "DEBUG"
    assert records[0]["token"] == "[REDACTED]"


@pytest.mark.usefixtures("restore_logging")
def test_config_levels() -> None:
    buf = io.StringIO()
    logging.config.dictConfig(build_logging_config(level="INFO", stream=buf))

    assert logging.getLogger().level == logging.INFO
    assert logging.getLogger("errors").level == logging.INFO
    assert logging.getLogger("django").level == logging.INFO
    assert logging.getLogger("django").propagate is True
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django.db.backends").level == logging.WARNING
    assert logging.getLogger("asyncio").level == logging.WARNING

    logging.getLogger("errors").debug("below the level")
    logging.getLogger("django.db.backends").info("SELECT 1")
    logging.getLogger("django.db.backends").warning("slow query")
    assert [json.loads(x)["message"] for x in buf.getvalue().splitlines()] == ["slow query"]


def test_config_quiet_loggers_are_never_louder_than_the_level() -> None:
    config = build_logging_config(level="ERROR")
    assert config["loggers"]["daphne"]["level"] == "ERROR"
    assert config["loggers"]["errors"] == {"level": "ERROR", "handlers": [], "propagate": True}


def test_config_attaches_all_filters_to_every_handler(tmp_path: Path) -> None:
    config = build_logging_config(log_file=str(tmp_path / "app.log"))
    assert set(config["filters"]) == {"correlation_id", "redact", "dedupe"}
    assert set(config["handlers"]) == {"console", "file"}
    for handler in config["handlers"].values():
        assert set(handler["filters"]) == {"correlation_id", "redact", "dedupe"}
    assert config["handlers"]["console"]["stream"] == "ext://sys.stderr"
    assert config["root"]["handlers"] == ["console", "file"]
    assert config["version"] == 1
    assert config["disable_existing_loggers"] is False


@pytest.mark.usefixtures("restore_logging")
def test_config_console_format(correlation_id: str) -> None:
    buf = io.StringIO()
    logging.config.dictConfig(build_logging_config(fmt="console", stream=buf))

    logging.getLogger("app.orders").warning("stock low: %d left", 2)

    line = buf.getvalue().splitlines()[0]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING  \[req-123\] app\.orders: stock low: 2 left",
        line,
    )


@pytest.mark.usefixtures("restore_logging")
def test_config_console_format_without_an_id_shows_a_dash() -> None:
    buf = io.StringIO()
    logging.config.dictConfig(build_logging_config(fmt="console", stream=buf))
    logging.getLogger("app").error("no id")
    assert " ERROR    [-] app: no id" in buf.getvalue()


@pytest.mark.usefixtures("restore_logging")
def test_config_log_file_is_rotating_and_json(tmp_path: Path, correlation_id: str) -> None:
    path = tmp_path / "app.log"
    buf = io.StringIO()
    config = build_logging_config(
        fmt="console", stream=buf, log_file=str(path), max_bytes=4096, backup_count=2
    )
    logging.config.dictConfig(config)

    logging.getLogger("app").info("to both")
    handler = next(
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.handlers.RotatingFileHandler)
    )
    handler.flush()
    assert handler.maxBytes == 4096
    assert handler.backupCount == 2

    (line,) = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)  # JSON although the console is human-readable
    assert record["message"] == "to both"
    assert record["correlation_id"] == correlation_id
    assert "[req-123] app: to both" in buf.getvalue()


def test_config_empty_log_file_means_none() -> None:
    assert set(build_logging_config(log_file="")["handlers"]) == {"console"}


def test_config_level_is_case_insensitive() -> None:
    assert build_logging_config(level="debug")["root"]["level"] == "DEBUG"


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"level": "VERBOSE"}, "VERBOSE"),
        ({"level": "NOTSET"}, "NOTSET"),
        ({"fmt": "xml"}, "xml"),
        ({"fmt": "JSON "}, "JSON "),
    ],
)
def test_config_rejects_unknown_values(kwargs: dict[str, Any], bad: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        build_logging_config(**kwargs)


# --- redact_url -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        # Secret-looking parameters lose their value, keep their name and position.
        (
            "/healthz?token=abc&password=hunter2",
            "/healthz?token=[REDACTED]&password=[REDACTED]",
        ),
        ("/p?page=2&api_key=k1&sort=name", "/p?page=2&api_key=[REDACTED]&sort=name"),
        (
            "/p?apiKey=k1&key=k2&sig=s&signature=s2",
            "/p?apiKey=[REDACTED]&key=[REDACTED]&sig=[REDACTED]&signature=[REDACTED]",
        ),
        (
            "/p?ticket=t&passwd=p&pwd=p&secret=s&client_secret=s",
            "/p?ticket=[REDACTED]"
            "&passwd=[REDACTED]&pwd=[REDACTED]&secret=[REDACTED]&client_secret=[REDACTED]",
        ),
        (
            "/p?access_token=a&refresh_token=r&sessionid=s&csrftoken=c",
            "/p?access_token=[REDACTED]"
            "&refresh_token=[REDACTED]&sessionid=[REDACTED]&csrftoken=[REDACTED]",
        ),
        ("/cb?code=oauth-code&state=xyz", "/cb?code=[REDACTED]&state=xyz"),
        (
            "/p?auth=a&Authorization=b&jwt=c&otp=1",
            "/p?auth=[REDACTED]&Authorization=[REDACTED]&jwt=[REDACTED]&otp=[REDACTED]",
        ),
        # Signed URLs (S3), any case, ";" as a separator, percent-encoded names.
        (
            "https://b.s3.amazonaws.com/o?X-Amz-Credential=c&X-Amz-Signature=s&X-Amz-Expires=60",
            "https://b.s3.amazonaws.com/o?X-Amz-Credential=[REDACTED]"
            "&X-Amz-Signature=[REDACTED]&X-Amz-Expires=60",
        ),
        ("/p?TOKEN=a;Password=b", "/p?TOKEN=[REDACTED];Password=[REDACTED]"),
        ("/p?%74oken=a&pass%77ord=b", "/p?%74oken=[REDACTED]&pass%77ord=[REDACTED]"),
        # Every occurrence of a repeated parameter.
        ("/p?token=a&token=b", "/p?token=[REDACTED]&token=[REDACTED]"),
        # Words, not fragments of words: these are not secrets.
        ("/p?keyword=k&monkey=m&author=a&zipcode=z", "/p?keyword=k&monkey=m&author=a&zipcode=z"),
        # Nothing to hide: empty values, bare flags, no query at all; kept byte for byte.
        ("/p?token=&debug", "/p?token=&debug"),
        ("/p?q=a%20b+c&x=%E2%82%AC", "/p?q=a%20b+c&x=%E2%82%AC"),
        ("/api/workspaces/", "/api/workspaces/"),
        ("", ""),
        # A value with "=" in it goes as a whole.
        ("/p?token=a=b=c&n=1", "/p?token=[REDACTED]&n=1"),
        # Fragments (OAuth's implicit flow) and a URL's user info.
        ("/cb#access_token=a&expires_in=3600", "/cb#access_token=[REDACTED]&expires_in=3600"),
        ("/docs#section-2", "/docs#section-2"),
        ("https://user:s3cret@example.com/x?a=1", "https://user:[REDACTED]@example.com/x?a=1"),
        ("https://user:p@ss@example.com/", "https://user:[REDACTED]@example.com/"),
        ("https://user@example.com/", "https://user@example.com/"),
    ],
)
def test_redact_url(url: str, logged: str) -> None:
    from errors.logging import redact_url

    assert redact_url(url) == logged


def test_redact_url_never_raises() -> None:
    from errors.logging import REDACTED, redact_url

    class Hostile(str):
        def partition(self, sep: str) -> tuple[str, str, str]:
            raise RuntimeError("no")

    # Whatever defeats it is masked as a whole rather than logged as it is.
    assert redact_url(Hostile("/p?token=secret")) == REDACTED
    assert redact_url("/p?tok\udcffen=a") == "/p?tok\udcffen=a"
