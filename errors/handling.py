"""Answering an error: normalise it, roll back, log it once, render it.

Every entry point (the DRF exception handler, the middleware, the Django error views) comes
through here, so an error is handled the same way wherever it was raised.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.views import set_rollback

from . import alerting, metrics
from .conf import errors_settings
from .context import get_correlation_id, new_correlation_id
from .normalize import ErrorInfo, normalize
from .render import render

logger = logging.getLogger("errors")


def request_correlation_id(request: HttpRequest | None) -> str:
    """The correlation id of `request`: the context's, the request's, or a new one for both."""
    correlation_id = get_correlation_id() or getattr(request, "correlation_id", None)
    if correlation_id is None:
        correlation_id = new_correlation_id()
        if request is not None:
            request.correlation_id = correlation_id  # type: ignore[attr-defined]
    return correlation_id


def report_error(info: ErrorInfo, request: Any) -> None:
    """Log one line for a handled error (at its severity's level; 5xx with the traceback), count
    it in the metrics and, if it is the service's fault, feed it to the error-rate alert.

    `request` is anything with `method` and `path` (an HttpRequest, or a stand-in for ASGI).
    """
    if errors_settings.monitoring_enabled:
        metrics.record_error(info.code, info.status)
        if info.level >= logging.ERROR:
            alerting.record_error(info.code)
    if not logger.isEnabledFor(info.level):
        return
    method = getattr(request, "method", None)
    path = getattr(request, "path", None)
    logger.log(
        info.level,
        "%s %s -> %s %s",
        method,
        path,
        info.status,
        info.code,
        exc_info=info.exc if info.is_server_error and info.exc is not None else None,
        extra={
            "error_code": info.code,
            "status_code": info.status,
            "error_message": info.message,
            "method": method,
            "path": path,
        },
    )


def respond(info: ErrorInfo, request: HttpRequest | None) -> HttpResponse:
    """Log `info` once and render it as the response for `request`."""
    correlation_id = request_correlation_id(request)
    report_error(info, request)
    return render(info, request, correlation_id)


def handle_exception(exc: BaseException, request: HttpRequest | None) -> HttpResponse:
    """The response for an exception raised while serving `request`.

    The current transaction of every ATOMIC_REQUESTS database is marked for rollback, for domain
    errors too, so a request that fails half-way never commits its first half.
    """
    set_rollback()
    return respond(normalize(exc), request)
