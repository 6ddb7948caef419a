"""Settings of the `errors` app, read from Django settings at the moment they are needed.

Every property reads `django.conf.settings` on access, so `override_settings` works in tests.
"""

from __future__ import annotations

import logging

from django.conf import settings


class ErrorsSettings:
    """Typed access to the `ERRORS_*` settings, with their defaults."""

    @property
    def include_exception_details(self) -> bool:
        """Add `debug_info` to error bodies; only honoured while DEBUG is on as well."""
        return bool(getattr(settings, "ERRORS_INCLUDE_EXCEPTION_DETAILS", False))

    @property
    def debug_info_enabled(self) -> bool:
        """True only when both DEBUG and ERRORS_INCLUDE_EXCEPTION_DETAILS are on."""
        return bool(settings.DEBUG) and self.include_exception_details

    @property
    def correlation_id_header(self) -> str:
        """The HTTP header that carries the correlation id, in and out."""
        return str(getattr(settings, "ERRORS_CORRELATION_ID_HEADER", "X-Correlation-ID"))

    @property
    def request_log_level(self) -> int:
        """The level of the one line logged for each completed request (DEBUG by default)."""
        value = getattr(settings, "ERRORS_REQUEST_LOG_LEVEL", "DEBUG")
        if isinstance(value, int):
            return value
        return logging.getLevelNamesMapping().get(str(value).upper(), logging.DEBUG)

    @property
    def db_retry_after(self) -> int:
        """Seconds a client is told to wait (Retry-After) when the database is unreachable."""
        return int(getattr(settings, "ERRORS_DB_RETRY_AFTER", 5))

    @property
    def problem_type_base(self) -> str:
        """Prefix of the `type` URI of problem details; the error code is appended."""
        return str(getattr(settings, "ERRORS_PROBLEM_TYPE_BASE", "/api/errors/"))

    @property
    def problem_details_default(self) -> bool:
        """Render errors as RFC 9457 application/problem+json even when the client did not ask."""
        return bool(getattr(settings, "ERRORS_PROBLEM_DETAILS", False))


    @property
    def monitoring_enabled(self) -> bool:
        """Count requests and errors in Prometheus metrics and watch the error rate."""
        return bool(getattr(settings, "ERRORS_ENABLE_MONITORING", True))

    @property
    def alert_threshold(self) -> int:
        """Handled errors within 60 s that raise an "error threshold exceeded" alert."""
        return int(getattr(settings, "ERRORS_ALERT_THRESHOLD", 10))


errors_settings = ErrorsSettings()
