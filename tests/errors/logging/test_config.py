"""errors.logging.config: build_logging_config and the logging it sets up.

No database and no Django settings are needed: `build_logging_config` is applied with the
logging state saved and restored around it.
"""

from __future__ import annotations

import io
import json
import logging
import logging.config
import logging.handlers
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from errors.logging import build_logging_config
from tests.errors.logging.helpers import Request

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
