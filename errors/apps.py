"""The `errors` Django app."""

from __future__ import annotations

import logging

from django.apps import AppConfig
from django.core.signals import got_request_exception


class ErrorsConfig(AppConfig):
    """Registers the system checks, the exception receiver and the duplicate-log filter."""

    name = "errors"
    verbose_name = "Error handling"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
        from .logging import DuplicateRequestLogFilter
        from .metrics import forget_dead_processes
        from .middleware import remember_exception

        got_request_exception.connect(remember_exception, dispatch_uid="errors.remember")
        forget_dead_processes()

        from .external import instrument_http_clients

        instrument_http_clients()
        # Django logs "Not Found" / "Internal Server Error" for every error response; ours already
        # logged those requests once. This covers projects that keep their own LOGGING too.
        for name in ("django.request", "django.security.csrf"):
            django_logger = logging.getLogger(name)
            if not any(isinstance(f, DuplicateRequestLogFilter) for f in django_logger.filters):
                django_logger.addFilter(DuplicateRequestLogFilter())
