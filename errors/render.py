"""An `ErrorInfo` as the response: the only place error bodies are built (docs/handling.md)."""

from __future__ import annotations

import contextlib
import traceback
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from . import catalog
from .conf import errors_settings
from .negotiation import PROBLEM_CONTENT_TYPE, response_language, wants_problem_details
from .normalize import ErrorInfo

JSON_CONTENT_TYPE = "application/json"


def envelope(info: ErrorInfo, correlation_id: str) -> dict[str, Any]:
    """The JSON body of an error response, as a dict."""
    error: dict[str, Any] = {
        "code": info.code,
        "message": info.text(),
        "correlation_id": correlation_id,
    }
    if info.details:
        error["details"] = info.details
    # Like the spec, only server errors carry debug_info: a 4xx message already says what is wrong.
    wanted = settings.DEBUG and errors_settings.include_exception_details
    if info.exc is not None and info.is_server_error and wanted:
        exc = info.exc
        error["debug_info"] = {
            "exception": str(exc),
            "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
            "traceback": traceback.format_exception(type(exc), exc, exc.__traceback__),
        }
    return {"error": error}


def problem(info: ErrorInfo, correlation_id: str, instance: str | None) -> dict[str, Any]:
    """The RFC 9457 problem details of `info`: the envelope's facts under the RFC's names."""
    error = envelope(info, correlation_id)["error"]
    entry = catalog.get(info.code)
    body: dict[str, Any] = {
        "type": f"{errors_settings.problem_type_base}{info.code}",
        "title": str(entry.message) if entry else info.text(),
        "status": info.status,
        "detail": error["message"],
    }
    if instance:
        body["instance"] = instance
    body["code"] = info.code
    body["correlation_id"] = correlation_id
    details = dict(error.get("details") or {})
    field_errors = details.pop("field_errors", None)
    if field_errors is not None:
        body["errors"] = field_errors
    if details:
        body["details"] = details
    if "debug_info" in error:
        body["debug_info"] = error["debug_info"]
    return body


def error_body(
    info: ErrorInfo,
    correlation_id: str,
    *,
    accept: str | None = None,
    instance: str | None = None,
    language: str | None = None,
) -> tuple[bytes, str, dict[str, str]]:
    """The serialized body of `info`, as the client's Accept asks and in `language` (else the
    active one); its Content-Type; the headers that say its language."""
    # Details are meant to be JSON already; anything else is shown as text (default=str).
    with translation.override(language) if language else contextlib.nullcontext():
        if wants_problem_details(accept):
            body = problem(info, correlation_id, instance)
            content_type = PROBLEM_CONTENT_TYPE
        else:
            body, content_type = envelope(info, correlation_id), JSON_CONTENT_TYPE
        serialized = orjson.dumps(body, default=str)
    # As LocaleMiddleware says it.
    said = {"Content-Language": language, "Vary": "Accept-Language"} if language else {}
    return serialized, content_type, said


def render(info: ErrorInfo, request: HttpRequest | None, correlation_id: str) -> HttpResponse:
    """Build the error response for `info`, marked so that nothing logs or converts it again."""
    accept = request.META.get("HTTP_ACCEPT") if request is not None else None
    path = getattr(request, "path", None)
    body, content_type, language_headers = error_body(
        info, correlation_id, accept=accept, instance=path, language=response_language(request)
    )
    response = HttpResponse(body, status=info.status, content_type=content_type)
    for name, value in (language_headers | info.headers).items():
        response.headers[name] = value
    response.headers[errors_settings.correlation_id_header] = correlation_id
    # Django's log_response() skips responses that carry this flag: we log each error once.
    response._has_been_logged = True  # type: ignore[attr-defined]
    response._errors_handled = True  # type: ignore[attr-defined]
    return response
