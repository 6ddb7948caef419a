"""The `errors` Django app."""

from __future__ import annotations

import functools
import logging
from typing import Any

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
        _give_commands_correlation_ids()
        # Django logs "Not Found" / "Internal Server Error" for every error response; ours already
        # logged those requests once. This covers projects that keep their own LOGGING too.
        for name in ("django.request", "django.security.csrf"):
            django_logger = logging.getLogger(name)
            if not any(isinstance(f, DuplicateRequestLogFilter) for f in django_logger.filters):
                django_logger.addFilter(DuplicateRequestLogFilter())


def _give_commands_correlation_ids() -> None:
    """Run every management command under a fresh correlation id of its own (once installed).

    Django has no hook around commands, so BaseCommand.execute is wrapped: the lines a command
    logs then group together like a request's. A command called from code that already has an
    id (call_command inside a request or a task) keeps that id.
    """
    from django.core.management.base import BaseCommand

    from .context import (
        get_correlation_id,
        new_correlation_id,
        reset_correlation_id,
        set_correlation_id,
    )

    execute = BaseCommand.execute
    if getattr(execute, "_errors_correlated", False):
        return

    @functools.wraps(execute)
    def execute_with_id(self: BaseCommand, *args: Any, **options: Any) -> Any:
        if get_correlation_id() is not None:
            return execute(self, *args, **options)
        token = set_correlation_id(new_correlation_id())
        try:
            return execute(self, *args, **options)
        finally:
            reset_correlation_id(token)

    execute_with_id._errors_correlated = True  # type: ignore[attr-defined]
    BaseCommand.execute = execute_with_id  # type: ignore[method-assign]
