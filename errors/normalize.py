"""Whatever was raised, turned into one shape, `ErrorInfo`, before rendering (docs/handling.md)."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core import exceptions as django_exc
from django.db import Error as DjangoDbError
from django.http import Http404
from django.urls import Resolver404
from django.utils import translation
from django.utils.functional import Promise

from . import catalog
from .catalog import _
from .db import OBJECT_NOT_UPDATED
from .db import translate as translate_db_error
from .exceptions import AppException

if TYPE_CHECKING:
    from .catalog import Message

try:  # Django REST framework is optional: plain Django projects use `errors` without it.
    from rest_framework import exceptions as drf_exc
    from rest_framework.settings import api_settings
except ImportError:  # pragma: no cover - exercised by the consumer-project suite without DRF
    drf_exc = None  # type: ignore[assignment]
    api_settings = None  # type: ignore[assignment]


@dataclass(slots=True)
class ErrorInfo:
    """Everything needed to answer, log and count one error."""

    status: int
    code: str
    message: Message
    details: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    level: int = 0
    exc: BaseException | None = None
    # Facts for the error's log line only (extra fields of its record), never for the client.
    log_extra: dict[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] | None = None  # the message is `message % params`
    # The message came translated already (DRF's detail): the log names the code's own instead.
    translated: bool = False

    def text(self) -> str:
        """The message for the client, in the active language."""
        return catalog.fill(self.message, self.params)

    def log_text(self) -> str:
        """The message in English, for the log line, whatever language the client got."""
        entry = catalog.get(self.code)
        own = entry is not None and self.message is entry.message and not self.params
        if entry is not None and (self.translated or own):
            return catalog.english_message(entry)  # the code's own message
        return catalog.english(self.message, self.params)

    @property
    def is_server_error(self) -> bool:
        """The service's fault: a 5xx at ERROR or above (not 503 `service_busy`)."""
        return self.status >= 500 and self.level >= logging.ERROR


def _info(
    code: str,
    status: int | None = None,
    message: Message | None = None,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    exc: BaseException | None = None,
    severity: catalog.Severity | None = None,
    params: Mapping[str, Any] | None = None,
) -> ErrorInfo:
    entry = catalog.get(code)
    if status is None:
        status = entry.status if entry else 500
    if message is None:
        message = entry.message if entry else _("Error")
    if entry is not None:
        severity = entry.severity
    level = (severity or catalog.Severity.ERROR).log_level
    if status >= 500 and entry is None:
        # A 5xx of no catalog code is the service's fault; a code's entry says so itself.
        level = max(level, catalog.Severity.ERROR.log_level)
    return ErrorInfo(
        status, code, message, details or None, headers or {}, level, exc, params=params
    )


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten DRF/Django validation errors into `{"dotted.path": [messages]}`."""
    non_field = api_settings.NON_FIELD_ERRORS_KEY if api_settings else "non_field_errors"
    out: dict[str, list[str]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            key = non_field if str(key) in (non_field, django_exc.NON_FIELD_ERRORS) else str(key)
            nested = flatten_errors(value, f"{prefix}.{key}" if prefix else key)
            for path, messages in nested.items():  # "__all__" and "non_field_errors" meet
                out.setdefault(path, []).extend(messages)
    elif isinstance(detail, list | tuple):
        for index, item in enumerate(detail):
            if isinstance(item, Mapping | list | tuple):
                if item:  # list serializers give {} for the items that were valid
                    out.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
            else:
                out.setdefault(prefix or non_field, []).append(str(item))
    else:
        out.setdefault(prefix or non_field, []).append(str(detail))
    return out


def _validation(field_errors: dict[str, list[str]], exc: BaseException) -> ErrorInfo:
    return _info("validation_error", details={"field_errors": field_errors}, exc=exc)


# DRF exceptions by class; the first match wins, so subclasses come before their bases.
_DRF_CODES: tuple[tuple[type[Exception], str], ...] = (
    ()
    if drf_exc is None
    else (
        (drf_exc.ParseError, "parse_error"),
        (drf_exc.AuthenticationFailed, "authentication_error"),
        (drf_exc.NotAuthenticated, "authentication_error"),
        (drf_exc.PermissionDenied, "authorization_error"),
        (drf_exc.NotFound, "not_found"),
        (drf_exc.MethodNotAllowed, "method_not_allowed"),
        (drf_exc.NotAcceptable, "not_acceptable"),
        (drf_exc.UnsupportedMediaType, "unsupported_media_type"),
        (drf_exc.Throttled, "rate_limit_exceeded"),
    )
)


def _from_drf(exc: Any) -> ErrorInfo:
    if isinstance(exc, drf_exc.ValidationError):
        return _validation(flatten_errors(exc.detail), exc)
    detail = exc.detail
    message: Message | None = None
    english = (translation.get_language() or "en").startswith("en")
    if isinstance(detail, str):
        default = type(exc).default_detail
        # DRF translated its detail already. Outside English its default is kept lazy, to be
        # translated when shown (in English the two read the same).
        message = default if not english and detail == str(default) else str(detail)
    # A registered code on the exception's detail (e.g. "token_expired") beats the class mapping.
    detail_code = getattr(detail, "code", None)
    if isinstance(detail_code, str) and catalog.get(detail_code) is not None:
        code = detail_code
    else:
        code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), None) or (
            detail_code if isinstance(detail_code, str) else "client_error"
        )
    headers: dict[str, str] = {}
    details: dict[str, Any] | None = None
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if isinstance(exc, drf_exc.Throttled) and wait is not None:
        retry_after = max(1, math.ceil(wait))
        headers["Retry-After"] = str(retry_after)
        details = {"retry_after": retry_after}
    info = _info(code, exc.status_code, message, details, headers, exc)
    info.translated = isinstance(message, str) and not english
    return info


def _from_app(exc: AppException, cause: BaseException | None = None) -> ErrorInfo:
    headers = dict(exc.headers)
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    # A code outside the catalog is logged at the severity of the class's own code.
    class_entry = catalog.get(type(exc).default_code)
    return _info(
        exc.code,
        exc.status_code,
        exc.message,
        dict(exc.details) if exc.details else None,
        headers,
        cause or exc,
        severity=class_entry.severity if class_entry else None,
        params=exc.params,
    )


# Django 6.1+: touching a field that a queryset in the RAISE fetch mode did not load.
_FIELD_FETCH_BLOCKED: type[Exception] | None = getattr(django_exc, "FieldFetchBlocked", None)


# Django 6.1's FETCH_RAISE message (the exception has no attributes); if it changes, no fields.
_BLOCKED_FETCH = re.compile(r"Fetching of (?P<model>[\w.]+)\.(?P<field>\w+) blocked\.")


def _developer_message(exc: BaseException) -> Message | None:
    """The message a developer gave `Http404("…")` / `PermissionDenied("…")`, if any."""
    if len(exc.args) == 1 and isinstance(exc.args[0], str | Promise) and exc.args[0]:
        return exc.args[0]
    return None


Translate = Callable[[BaseException], AppException]
_registered: list[tuple[tuple[type[BaseException], ...], Translate]] = []


def register(
    exceptions: type[BaseException] | tuple[type[BaseException], ...], translate: Translate
) -> None:
    """Answer uncaught `exceptions` as the `AppException` that `translate(exc)` returns."""
    if not isinstance(exceptions, tuple):
        exceptions = (exceptions,)
    if (exceptions, translate) not in _registered:
        _registered.append((exceptions, translate))


def normalize(exc: BaseException) -> ErrorInfo:
    """Turn any exception into an `ErrorInfo`; unknown ones become a bare `internal_error`."""
    if isinstance(exc, AppException):
        return _from_app(exc)
    if drf_exc is not None and isinstance(exc, drf_exc.APIException):
        return _from_drf(exc)
    if isinstance(exc, (DjangoDbError, *OBJECT_NOT_UPDATED)):
        # Model.NotUpdated (Django 6.0+) is both; its base ObjectNotUpdated alone is not.
        return _from_app(translate_db_error(exc), cause=exc)
    if isinstance(exc, django_exc.ValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return _validation(flatten_errors(detail), exc)
    if isinstance(exc, Http404):
        # Resolver404 carries the URL patterns tried: never a message for clients.
        message = None if isinstance(exc, Resolver404) else _developer_message(exc)
        return _info("not_found", message=message, exc=exc)
    if isinstance(exc, django_exc.PermissionDenied):
        return _info("authorization_error", message=_developer_message(exc), exc=exc)
    if isinstance(exc, django_exc.RequestDataTooBig):
        return _info("payload_too_large", exc=exc)
    if isinstance(exc, django_exc.SuspiciousOperation | django_exc.BadRequest):
        return _info("bad_request", exc=exc)
    for exceptions, translate in _registered:
        if isinstance(exc, exceptions):
            return _from_app(translate(exc), cause=exc)
    info = _info("internal_error", exc=exc)
    if _FIELD_FETCH_BLOCKED is not None and isinstance(exc, _FIELD_FETCH_BLOCKED):
        # The developer's bug: a plain 500 for the client, the model (its class's qualified name)
        # and field on the log line.
        match = _BLOCKED_FETCH.fullmatch(str(exc))
        info.log_extra = match.groupdict() if match else {}
    return info


# Codes for error responses someone else built; others fall back to client_error/internal_error.
_STATUS_CODES = {
    400: "bad_request",
    401: "authentication_error",
    403: "authorization_error",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "external_service_error",
    503: "service_unavailable",
}


def for_status(status: int) -> ErrorInfo:
    """An `ErrorInfo` for an error response of `status` whose cause is not known."""
    code = _STATUS_CODES.get(status) or ("internal_error" if status >= 500 else "client_error")
    return _info(code, status)
