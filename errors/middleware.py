"""`CorrelationIdMiddleware`, first in MIDDLEWARE, and a middleware base (docs/asgi.md)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import RequestDataTooBig
from django.db import Error as DatabaseError
from django.http import HttpRequest, HttpResponseBase

from . import metrics
from .asgi import body_limit, declared_too_large
from .conf import errors_settings
from .context import accept_correlation_id, is_valid_correlation_id
from .exceptions import AppException
from .handling import fallback_response, handle_exception, internal_logger, report_error, respond
from .negotiation import prefers_html
from .normalize import drf_exc, for_status, normalize
from .routes import route_label
from .tracing import TRACERESPONSE, continue_trace, current_trace, working_under

logger = logging.getLogger("errors.request")

# Headers of a converted error page that describe its old body, not the request's outcome.
_BODY_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "content-language"}
)


class SyncAndAsyncMiddleware:
    """Runs `call` under a sync handler, `acall` under an async one (docs/overload.md)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.acall(request)
        return self.call(request)

    def call(self, request: HttpRequest) -> HttpResponseBase:
        """Serve `request` under a sync handler (WSGI)."""
        raise NotImplementedError

    async def acall(self, request: HttpRequest) -> HttpResponseBase:
        """Serve `request` under an async handler (ASGI)."""
        raise NotImplementedError


class CorrelationIdMiddleware(SyncAndAsyncMiddleware):
    """Correlation ids and JSON error responses for every request; sync and async capable."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        self.header = errors_settings.correlation_id_header
        self.meta_key = "HTTP_" + self.header.upper().replace("-", "_")
        # Looked up, not imported: sentry_sdk is loaded when the project set it up (settings.py
        # runs before any middleware is built); its events then carry the correlation id.
        self.sentry_sdk: Any = sys.modules.get("sentry_sdk")

    def call(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        with self._correlated(request):
            response = self._refuse_early(request) or self.get_response(request)
            return self._finish(request, response, started)

    async def acall(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        with self._correlated(request):
            response = self._refuse_early(request) or await self.get_response(request)
            return self._finish(request, response, started)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        """Answer an exception from a plain Django view; a browser's is left to Django's pages."""
        if prefers_html(request) and not isinstance(exception, _API_EXCEPTIONS):
            return None
        return handle_exception(exception, request)

    def _correlated(self, request: HttpRequest) -> AbstractContextManager[None]:
        """The request's correlation id and trace are current while the block runs."""
        meta = request.META
        offered = meta.get(self.meta_key)
        traceparent = meta.get("HTTP_TRACEPARENT")
        trace = continue_trace(traceparent, meta.get("HTTP_TRACESTATE")) if traceparent else None
        if trace is not None and not is_valid_correlation_id(offered):
            correlation_id = trace.trace_id
        else:
            correlation_id = accept_correlation_id(offered)
        request.correlation_id = correlation_id  # type: ignore[attr-defined]
        # Every error response of this request is logged by `_finish`: Django's own lines for
        # them are duplicates (errors.logging.DuplicateRequestLogFilter).
        request._errors_reported = True  # type: ignore[attr-defined]
        if self.sentry_sdk is not None:
            self.sentry_sdk.set_tag("correlation_id", correlation_id)
        return working_under(correlation_id, trace)

    def _refuse_early(self, request: HttpRequest) -> HttpResponseBase | None:
        # Django checks the limit only when the body is read; this covers views that never do.
        meta = request.META
        if declared_too_large(meta.get("CONTENT_LENGTH"), body_limit(meta.get("CONTENT_TYPE"))):
            return handle_exception(RequestDataTooBig("Request body too large"), request)
        return None

    def _finish(
        self, request: HttpRequest, response: HttpResponseBase, started: float
    ) -> HttpResponseBase:
        correlation_id = request.correlation_id  # type: ignore[attr-defined]
        if response.status_code >= 400 and not getattr(response, "_errors_handled", False):
            try:
                response = self._adopt(request, response)
            except Exception:
                response = fallback_response(correlation_id)
        response.headers[self.header] = correlation_id
        trace = current_trace() if errors_settings.trace_response_header else None
        if trace is not None:
            response.headers[TRACERESPONSE] = trace.traceparent
        try:
            self._observe(request, response, started)
        except Exception:
            # The answer stands (a write may have been committed); only its bookkeeping failed.
            internal_logger.error("could not record the request in metrics and logs", exc_info=True)
        return response

    def _observe(self, request: HttpRequest, response: HttpResponseBase, started: float) -> None:
        match = request.resolver_match
        route = route_label(match.route) if match else None
        if errors_settings.monitoring_enabled:
            metrics.record_request(
                request.method or "", route, response.status_code, time.perf_counter() - started
            )
        if logger.isEnabledFor(level := errors_settings.request_log_level):
            logger.log(
                level,
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "route": route,
                    "status_code": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )

    def _adopt(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """Make an error response that did not come from `errors` follow the contract."""
        exception = getattr(request, "_errors_exception", None)
        info = normalize(exception) if exception is not None else for_status(response.status_code)
        info.status = response.status_code
        media_type = response.get("Content-Type", "").split(";", 1)[0].strip().lower()
        is_json = media_type == "application/json" or media_type.endswith("+json")
        if is_json or prefers_html(request):
            report_error(info, request)
            response._errors_handled = True  # type: ignore[attr-defined]
            return response
        for name, value in response.headers.items():
            if name.lower() not in _BODY_HEADERS:
                info.headers.setdefault(name, value)
        return respond(info, request)


# API errors whoever asks: Django has no page for a 409 or a 503.
_API_EXCEPTIONS = (AppException, DatabaseError, *([drf_exc.APIException] if drf_exc else []))


def remember_exception(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """`got_request_exception` receiver: keep the exception of a 500, note the signal was sent."""
    if request is not None:
        request._errors_exception = sys.exc_info()[1]  # type: ignore[attr-defined]
        request._errors_signalled = True  # type: ignore[attr-defined]
