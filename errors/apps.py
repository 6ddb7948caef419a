"""The `errors` Django app."""

from __future__ import annotations

import functools
import sys
from typing import Any

from django.apps import AppConfig
from django.core.signals import got_request_exception


class ErrorsConfig(AppConfig):
    """Checks, own receivers, metrics; integrations only as named (docs/integrations.md)."""

    name = "errors"
    verbose_name = "Error handling"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
        from .conf import errors_settings
        from .metrics import forget_dead_processes, metrics
        from .middleware import remember_exception
        from .tracing import record_exception

        got_request_exception.connect(remember_exception, dispatch_uid="errors.remember")
        # A no-op unless OpenTelemetry is installed and a span is recording.
        got_request_exception.connect(record_exception, dispatch_uid="errors.trace")
        # Built here, before any request, so that concurrent first requests find it ready.
        metrics()
        named = errors_settings.integrations
        if "prometheus_multiprocess" in named:
            forget_dead_processes()
        http_clients = tuple(name for name in ("httpx", "requests") if name in named)
        if http_clients:
            from .external import instrument_http_clients

            instrument_http_clients(http_clients)
        if "commands" in named:
            _give_commands_correlation_ids()
        if "sentry" in named and "sentry_sdk" in sys.modules:
            from sentry_sdk.integrations.logging import ignore_logger

            ignore_logger("errors")
        # Looked up, not imported: a project that loads Celery later calls connect() itself.
        if "celery" in named and "celery" in sys.modules:
            from .celery import connect

            connect()
        if "django_tasks" in named:
            from .tasks import connect as connect_tasks

            connect_tasks()  # nothing without a tasks module


def _give_commands_correlation_ids() -> None:
    """Run every management command under a correlation id of its own, unless one is current."""
    from django.core.management.base import BaseCommand

    from .context import get_correlation_id, new_correlation_id
    from .tracing import working_under

    execute = BaseCommand.execute
    if getattr(execute, "_errors_correlated", False):
        return

    @functools.wraps(execute)
    def execute_with_id(self: BaseCommand, *args: Any, **options: Any) -> Any:
        with working_under(get_correlation_id() or new_correlation_id()):
            return execute(self, *args, **options)

    execute_with_id._errors_correlated = True  # type: ignore[attr-defined]
    BaseCommand.execute = execute_with_id  # type: ignore[method-assign]
