"""Rendering an `ErrorInfo` as the HTTP response the client gets: the only place bodies are built.

The envelope is `{"error": {"code", "message", "correlation_id", "details"?, "debug_info"?}}`.
`debug_info` is added to 5xx answers only while DEBUG and ERRORS_INCLUDE_EXCEPTION_DETAILS are
both on.
"""

from __future__ import annotations

import traceback
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse

from .conf import errors_settings
from .normalize import ErrorInfo

JSON_CONTENT_TYPE = "application/json"


def _default(value: Any) -> str:
    # Details are meant to be JSON already; anything else is shown as text rather than failing
    # the error response itself.
    return str(value)


def envelope(info: ErrorInfo, correlation_id: str) -> dict[str, Any]:
    """The JSON body of an error response, as a dict."""
    error: dict[str, Any] = {
        "code": info.code,
        "message": info.message,
        "correlation_id": correlation_id,
    }
    if info.details:
        error["details"] = info.details
    # Like the spec, only server errors carry debug_info: a 4xx message already says what is wrong.
    if info.exc is not None and info.is_server_error and errors_settings.debug_info_enabled:
        exc = info.exc
        error["debug_info"] = {
            "exception": str(exc),
            "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
            "traceback": traceback.format_exception(type(exc), exc, exc.__traceback__),
        }
    return {"error": error}


def error_body(info: ErrorInfo, correlation_id: str) -> bytes:
    """The envelope of `info`, serialized."""
    return orjson.dumps(envelope(info, correlation_id), default=_default)


def render(info: ErrorInfo, request: HttpRequest | None, correlation_id: str) -> HttpResponse:
    """Build the error response for `info`, marked so that nothing logs or converts it again."""
    response = HttpResponse(
        error_body(info, correlation_id), status=info.status, content_type=JSON_CONTENT_TYPE
    )
    for name, value in info.headers.items():
        response.headers[name] = value
    response.headers[errors_settings.correlation_id_header] = correlation_id
    # Django's log_response() skips responses that carry this flag: we log each error once.
    response._has_been_logged = True  # type: ignore[attr-defined]
    response._errors_handled = True  # type: ignore[attr-defined]
    return response
