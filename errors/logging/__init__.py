"""Structured logging: JSON lines, correlation ids, redaction; usable from `settings.py`."""

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
