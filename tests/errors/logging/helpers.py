"""Plain helpers shared by the tests of errors.logging."""

from __future__ import annotations

import io
import json
import logging
from typing import Any


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
