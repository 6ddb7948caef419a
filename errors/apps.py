"""The `errors` Django app."""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

from django.apps import AppConfig
from django.core.signals import got_request_exception


class ErrorsConfig(AppConfig):
    """Connects the exception receiver, the duplicate-log filter and the checks; sets up metrics.

    What it changes outside `errors`, each with a setting to turn it off (README, "What `errors`
    changes at start-up"):

    - `BaseCommand.execute` runs every management command under a correlation id
      (ERRORS_CORRELATE_COMMANDS);
    - `httpx.Client.send`, `httpx.AsyncClient.send` and `requests.Session.send` add the
      correlation id to outgoing requests (ERRORS_INSTRUMENT_HTTP_CLIENTS);
    - the live gauges of dead processes are dropped from PROMETHEUS_MULTIPROC_DIR
      (ERRORS_FORGET_DEAD_PROCESSES);
    - with sentry-sdk set up, the `errors` logger is ignored by Sentry's logging integration,
      since every 5xx already reaches Sentry once through `got_request_exception`;
    - with Celery loaded, `errors.celery.connect()` runs (ERRORS_CORRELATE_CELERY);
    - with Django's tasks importable (`django.tasks`, or `django_tasks` on 5.2), the failure
      receiver of `errors.tasks` is connected and Django's own line for a failed task dropped.
    """

    name = "errors"
    verbose_name = "Error handling"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
        from .conf import errors_settings
        from .logging import DuplicateRequestLogFilter
        from .metrics import forget_dead_processes, metrics
        from .middleware import remember_exception
        from .tracing import record_exception

        got_request_exception.connect(remember_exception, dispatch_uid="errors.remember")
        # A no-op unless OpenTelemetry is installed and a span is recording.
        got_request_exception.connect(record_exception, dispatch_uid="errors.trace")
        # Built here, before any request, so that concurrent first requests find it ready.
        metrics()
        if errors_settings.forget_dead_processes:
            forget_dead_processes()
        if errors_settings.instrument_http_clients:
            from .external import instrument_http_clients

            instrument_http_clients()
        if errors_settings.correlate_commands:
            _give_commands_correlation_ids()
        # Django logs "Not Found" / "Internal Server Error" for every error response; ours already
        # logged those requests once. This covers projects that keep their own LOGGING too.
        django_logger = logging.getLogger("django.request")
        if not any(isinstance(f, DuplicateRequestLogFilter) for f in django_logger.filters):
            django_logger.addFilter(DuplicateRequestLogFilter())
        if "sentry_sdk" in sys.modules:
            from sentry_sdk.integrations.logging import ignore_logger

            ignore_logger("errors")
        # Looked up, not imported: a project that uses Celery has loaded it by now (its Celery
        # app is usually imported by the project package); one that loads it later calls
        # errors.celery.connect() itself.
        if errors_settings.correlate_celery and "celery" in sys.modules:
            from .celery import connect

            connect()
        from .tasks import connect as connect_tasks

        connect_tasks()  # nothing without a tasks module


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
