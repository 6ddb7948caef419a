"""Structured logging for the `errors` app: JSON lines, correlation ids, redaction.

Imports nothing from Django, so `settings.py` can build LOGGING with it. See docs/logging.md."""

from .config import QUIET_LOGGERS, build_logging_config
from .filters import (
    DEFAULT_SENSITIVE_KEYS,
    REDACTED,
    CorrelationIdFilter,
    DuplicateRequestLogFilter,
    RedactingFilter,
)
from .formatters import CONSOLE_FORMAT, ConsoleFormatter, JsonFormatter

__all__ = [
    "CONSOLE_FORMAT",
    "DEFAULT_SENSITIVE_KEYS",
    "QUIET_LOGGERS",
    "REDACTED",
    "ConsoleFormatter",
    "CorrelationIdFilter",
    "DuplicateRequestLogFilter",
    "JsonFormatter",
    "RedactingFilter",
    "build_logging_config",
]
