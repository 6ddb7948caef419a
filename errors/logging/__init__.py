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
from .urls import SENSITIVE_PARAMETER_WORDS, is_sensitive_parameter, redact_url

__all__ = [
    "CONSOLE_FORMAT",
    "DEFAULT_SENSITIVE_KEYS",
    "QUIET_LOGGERS",
    "REDACTED",
    "SENSITIVE_PARAMETER_WORDS",
    "ConsoleFormatter",
    "CorrelationIdFilter",
    "DuplicateRequestLogFilter",
    "JsonFormatter",
    "RedactingFilter",
    "build_logging_config",
    "is_sensitive_parameter",
    "redact_url",
]
