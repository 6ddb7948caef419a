"""Answering an error, for every entry point: normalise, roll back, log once, tell, render."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from django.core.signals import got_request_exception
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext

from . import alerting, metrics
from .conf import errors_settings
from .context import get_correlation_id, new_correlation_id
from .normalize import ErrorInfo, normalize
from .render import JSON_CONTENT_TYPE, render

logger = logging.getLogger("errors")
# Failures of `errors` itself: a logger of their own, which Sentry reports (docs/logging.md).
internal_logger = logging.getLogger("errors.internal")


def request_correlation_id(request: HttpRequest | None) -> str:
    """The correlation id of `request`: the context's, the request's, or a new one for both."""
    correlation_id = get_correlation_id() or getattr(request, "correlation_id", None)
    if correlation_id is None:
        correlation_id = new_correlation_id()
        if request is not None:
            request.correlation_id = correlation_id  # type: ignore[attr-defined]
    return correlation_id


def report_error(info: ErrorInfo, request: Any) -> None:
    """Log one line for a handled error, count it, feed the alert; `request` has method and path."""
    if isinstance(request, HttpRequest):
        request._errors_reported = True  # type: ignore[attr-defined]
    m = metrics.metrics() if errors_settings.monitoring_enabled else None
    if m is not None:
        m.labels(m.errors, info.code, str(info.status)).inc()
        if info.level >= logging.ERROR:
            alerting.monitor.record(info.code, errors_settings.alert_threshold)
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
            **info.log_extra,
            "error_code": info.code,
            "status_code": info.status,
            "error_message": info.log_text(),  # English, whatever the client's language
            "method": method,
            "path": path,
        },
    )


def signal_server_error(info: ErrorInfo, request: HttpRequest | None) -> None:
    """Send Django's `got_request_exception` for a 5xx, once per request (docs/install.md)."""
    exc = info.exc
    if not info.is_server_error or exc is None or getattr(request, "_errors_signalled", False):
        return
    if sys.exc_info()[1] is exc:
        got_request_exception.send(sender=None, request=request)
        return
    # Receivers read sys.exc_info(), as Django only sends the signal while handling exceptions.
    traceback = exc.__traceback__
    try:
        raise exc
    except BaseException:
        got_request_exception.send(sender=None, request=request)
    finally:
        exc.__traceback__ = traceback


def respond(info: ErrorInfo, request: HttpRequest | None) -> HttpResponse:
    """Log `info` once, tell other tools of a 5xx, and render it as the response for `request`."""
    correlation_id = request_correlation_id(request)
    try:
        report_error(info, request)
        signal_server_error(info, request)
        return render(info, request, correlation_id)
    except Exception:
        return fallback_response(correlation_id)


def handle_exception(exc: BaseException, request: HttpRequest | None) -> HttpResponse:
    """The response for an exception raised while serving `request`; rolls back ATOMIC_REQUESTS."""
    try:
        # The open ATOMIC_REQUESTS transaction of every database is rolled back, as DRF does.
        for alias, database in connections.settings.items():
            if database["ATOMIC_REQUESTS"] and connections[alias].in_atomic_block:
                connections[alias].set_rollback(True)
        info = normalize(exc)
    except Exception:
        return fallback_response(request_correlation_id(request))
    return respond(info, request)


def fallback_response(correlation_id: str) -> HttpResponse:
    """A 500 envelope built without `errors`' machinery, from the `except` block where it failed."""
    try:
        internal_logger.error(
            "errors failed while answering a request; sent the fallback envelope",
            exc_info=True,
            extra={"error_code": "internal_error", "status_code": 500},
        )
    except Exception:
        import traceback

        traceback.print_exc(file=sys.stderr)
    # Built with as little as can fail: the message translated if that works.
    try:
        message = gettext("Internal server error")
    except Exception:
        message = "Internal server error"
    error = {"code": "internal_error", "message": message, "correlation_id": correlation_id}
    response = HttpResponse(
        json.dumps({"error": error}, separators=(",", ":")),
        status=500,
        content_type=JSON_CONTENT_TYPE,
    )
    response.headers[errors_settings.correlation_id_header] = correlation_id
    response._has_been_logged = True  # type: ignore[attr-defined]
    response._errors_handled = True  # type: ignore[attr-defined]
    return response
