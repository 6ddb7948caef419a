"""`CorrelationIdMiddleware`: a correlation id for every request, and JSON for every error.

Put it first in MIDDLEWARE. For each request it

- adopts the client's `X-Correlation-ID` when it is 1-128 characters of letters, digits and
  `._:-`, or makes a new UUID4 (a bad value is neither echoed nor logged), and keeps the id in a
  context variable and on `request.correlation_id`;
- refuses a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE with 413 before anything reads it;
- answers exceptions of plain Django views with the error envelope (DRF views have the
  exception handler), and turns error pages that Django or other code built (HTML 404 and 500
  pages, CSRF failures, a bare 405) into the envelope, keeping their headers;
- sets `X-Correlation-ID` on every response and logs the completed request at
  ERRORS_REQUEST_LOG_LEVEL (DEBUG by default).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponseBase

from . import metrics
from .conf import errors_settings
from .context import accept_correlation_id, reset_correlation_id, set_correlation_id
from .handling import handle_exception, report_error, respond
from .normalize import for_status, normalize

logger = logging.getLogger("errors.request")

# Headers of a converted error page that describe its old body, not the request's outcome.
_BODY_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "content-language"}
)


def _is_json(response: HttpResponseBase) -> bool:
    content_type = response.get("Content-Type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


class CorrelationIdMiddleware:
    """Correlation ids and JSON error responses for every request; sync and async capable."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        self.header = errors_settings.correlation_id_header
        self.meta_key = "HTTP_" + self.header.upper().replace("-", "_")
        self.log_level = errors_settings.request_log_level
        self.monitoring = errors_settings.monitoring_enabled

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        started = time.perf_counter()
        token = self._begin(request)
        try:
            response = self._refuse_early(request) or self.get_response(request)
            return self._finish(request, response, started)
        finally:
            reset_correlation_id(token)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        token = self._begin(request)
        try:
            response = self._refuse_early(request)
            if response is None:
                response = await self.get_response(request)
            return self._finish(request, response, started)
        finally:
            reset_correlation_id(token)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase:
        """Answer an exception from a plain Django view (DRF views handle their own)."""
        return handle_exception(exception, request)

    def _begin(self, request: HttpRequest) -> Any:
        correlation_id = accept_correlation_id(request.META.get(self.meta_key))
        request.correlation_id = correlation_id  # type: ignore[attr-defined]
        return set_correlation_id(correlation_id)

    def _refuse_early(self, request: HttpRequest) -> HttpResponseBase | None:
        # Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only when request.body or request.POST is
        # read, and DRF's parsers read the stream without that check; refusing on the declared
        # length covers both. File uploads (multipart) are limited per field by Django instead.
        length = request.META.get("CONTENT_LENGTH")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if not length or limit is None:
            return None
        try:
            too_big = int(length) > limit
        except ValueError:
            return None
        if too_big and not request.META.get("CONTENT_TYPE", "").startswith("multipart/"):
            return handle_exception(RequestDataTooBig("Request body too large"), request)
        return None

    def _finish(
        self, request: HttpRequest, response: HttpResponseBase, started: float
    ) -> HttpResponseBase:
        if response.status_code >= 400 and not getattr(response, "_errors_handled", False):
            response = self._adopt(request, response)
        response.headers[self.header] = request.correlation_id  # type: ignore[attr-defined]
        logged = logger.isEnabledFor(self.log_level)
        if not (self.monitoring or logged):
            return response
        match = request.resolver_match
        route = match.route if match else None
        if self.monitoring:
            metrics.record_request(
                request.method or "", route, response.status_code, time.perf_counter() - started
            )
        if logged:
            logger.log(
                self.log_level,
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
        return response

    def _adopt(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """Make an error response that did not come from `errors` follow the contract.

        JSON bodies (a view's own JsonResponse) are kept and only logged; other error pages are
        replaced by the envelope, with the exception Django reported for them when there was one.
        """
        exception = getattr(request, "_errors_exception", None)
        info = normalize(exception) if exception is not None else for_status(response.status_code)
        info.status = response.status_code
        if _is_json(response):
            report_error(info, request)
            response._errors_handled = True  # type: ignore[attr-defined]
            return response
        for name, value in response.headers.items():
            if name.lower() not in _BODY_HEADERS:
                info.headers.setdefault(name, value)
        return respond(info, request)


def remember_exception(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """`got_request_exception` receiver: keep the exception Django is about to render as a 500.

    Exceptions raised outside views (in middleware below ours) are turned into responses by
    Django itself; `_adopt` uses the exception kept here to log and describe them properly.
    """
    if request is not None:
        request._errors_exception = sys.exc_info()[1]  # type: ignore[attr-defined]
