"""The catalog of error codes: status, category, severity, message, meaning (docs/exceptions.md)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeAlias

from django.utils.functional import lazy


class Category(StrEnum):
    """The family an error belongs to; clients may branch on it."""

    VALIDATION = "validation"
    REQUEST = "request"
    AUTHENTICATION = "authentication"
    AUTHORIZATION = "authorization"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    RATE_LIMIT = "rate_limit"
    EXTERNAL_SERVICE = "external_service"
    DATABASE = "database"
    INTERNAL = "internal"
    UNAVAILABLE = "unavailable"


class Severity(StrEnum):
    """How bad an error is for the service; it decides the level it is logged at."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def log_level(self) -> int:
        """The `logging` level of the same name, that errors of this severity are logged at."""
        return logging.getLevelNamesMapping()[self.name]


def _translated(source: str) -> str:
    from django.apps import apps  # here, not above: nothing of this needs the settings

    if not apps.ready:
        return source
    from django.utils.translation import gettext

    return gettext(source)


# Marks a client-facing message (for makemessages too): Django's lazy string, which is the text
# as written until Django's apps are ready, then the text in the active language (docs/i18n.md).
_ = lazy(_translated, str)


def fill(message: Message, params: Mapping[str, Any] | None = None) -> str:
    """`message % params` in the active language; untranslated if a translation's placeholders
    do not fit `params`."""
    text = str(message)
    if not params:
        return text
    try:
        return text % params
    except (KeyError, TypeError, ValueError):
        from django.utils import translation

        with translation.override(None):
            return str(message) % params


def english(message: Message, params: Mapping[str, Any] | None = None) -> str:
    """`fill(message, params)` in English: the language of the logs and of the documentation."""
    from django.utils import translation

    if isinstance(message, str) or translation.get_language() in (None, "en", "en-us"):
        return fill(message, params)  # plain text, or the language messages are written in
    with translation.override("en"):
        return fill(message, params)


if TYPE_CHECKING:
    from django.utils.functional import Promise

    Message: TypeAlias = str | Promise


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One catalog entry."""

    code: str
    status: int
    category: Category
    severity: Severity
    message: Message  # for clients, translated; `meaning` is documentation, in English
    meaning: str


_registry: dict[str, ErrorCode] = {}
_english: dict[str, str] = {}


def register(
    code: str,
    *,
    status: int,
    category: Category | str,
    severity: Severity | str,
    message: Message,
    meaning: str,
) -> ErrorCode:
    """Add a code to the catalog and return its entry; ValueError if it has other facts already."""
    entry = ErrorCode(code, status, Category(category), Severity(severity), message, meaning)
    existing = _registry.get(code)
    if existing is not None and existing != entry:
        raise ValueError(f"error code {code!r} is already registered as {existing}")
    _registry[code] = entry
    return entry


def get(code: str) -> ErrorCode | None:
    """Return the catalog entry of `code`, or None when it is not registered."""
    return _registry.get(code)


def english_message(entry: ErrorCode) -> str:
    """`english(entry.message)`, worked out once per code: every log line of an error needs it."""
    text = _english.get(entry.code)
    if text is None:
        text = _english[entry.code] = english(entry.message)
    return text


def entries() -> Iterator[ErrorCode]:
    """All registered codes, ordered by status and code."""
    return iter(sorted(_registry.values(), key=lambda e: (e.status, e.code)))


# The codes `errors` itself emits, one row a code, laid out as a table (ruff leaves it as it is):
# code: (status, category, severity, message, meaning).
# fmt: off
BUILTIN_CODES: dict[str, tuple[int, Category, Severity, Message, str]] = {
    "validation_error": (400, Category.VALIDATION, Severity.INFO, _("Validation error"),
        "The request's data failed validation; details.field_errors lists the messages by field."),
    "parse_error": (400, Category.REQUEST, Severity.INFO, _("Malformed request body"),
        "The request body could not be parsed in its declared content type."),
    "bad_request": (400, Category.REQUEST, Severity.WARNING, _("Bad request"),
        "The request was malformed, for example its Host header is not allowed."),
    "reference_error": (400, Category.VALIDATION, Severity.INFO, _("Related resource not found"),
        "The write refers to a related record that does not exist (foreign-key violation)."),
    "client_error": (400, Category.REQUEST, Severity.INFO, _("Bad request"),
        "The request was refused with a 4xx status that has no more specific code."),
    "authentication_error": (401, Category.AUTHENTICATION, Severity.WARNING,
        _("Authentication failed"),
        "Credentials are missing or invalid; WWW-Authenticate names the scheme to use."),
    "authorization_error": (403, Category.AUTHORIZATION, Severity.WARNING,
        _("Insufficient permissions"),
        "The caller is authenticated but not allowed to do this (including CSRF failures)."),
    "not_found": (404, Category.NOT_FOUND, Severity.INFO, _("Not found"),
        "The URL matches nothing, or the resource does not exist or is not the caller's."),
    "method_not_allowed": (405, Category.REQUEST, Severity.INFO, _("Method not allowed"),
        "The URL exists but does not accept this HTTP method; Allow lists those it does."),
    "not_acceptable": (406, Category.REQUEST, Severity.INFO,
        _("Could not satisfy the request Accept header"),
        "None of the media types in the Accept header can be produced."),
    "conflict": (409, Category.CONFLICT, Severity.INFO, _("Resource conflict"),
        "The request conflicts with the current state of a resource."),
    "conflict_error": (409, Category.CONFLICT, Severity.INFO, _("Resource already exists"),
        "A uniqueness rule of the database rejected the write."),
    "update_conflict": (409, Category.CONFLICT, Severity.INFO,
        _("The resource was changed or deleted by another request"),
        "An update matched no row: another request deleted the resource (or changed it so it no "
        "longer matches) since it was read; fetch it again before retrying."),
    "payload_too_large": (413, Category.REQUEST, Severity.WARNING, _("Request body too large"),
        "The request body exceeds the size the service accepts."),
    "unsupported_media_type": (415, Category.REQUEST, Severity.INFO, _("Unsupported media type"),
        "The request body's Content-Type is not one the endpoint parses."),
    "rate_limit_exceeded": (429, Category.RATE_LIMIT, Severity.WARNING, _("Rate limit exceeded"),
        "Too many requests; retry after the seconds in Retry-After (also details.retry_after)."),
    "internal_error": (500, Category.INTERNAL, Severity.ERROR, _("Internal server error"),
        "An unexpected error; quote the correlation_id when reporting it."),
    "database_error": (500, Category.DATABASE, Severity.ERROR, _("Database error"),
        "The database rejected the operation for a reason that is not the client's."),
    "external_service_error": (502, Category.EXTERNAL_SERVICE, Severity.ERROR,
        _("External service error"),
        "A service this one depends on failed or answered badly (504 when it timed out); "
        "details.service_name names it."),
    "service_unavailable": (503, Category.INTERNAL, Severity.ERROR,
        _("Service temporarily unavailable"),
        "The service cannot answer right now; retry later."),
    "db_connection_error": (503, Category.DATABASE, Severity.CRITICAL, _("Database unavailable"),
        "The database cannot be reached; retry after the seconds in Retry-After."),
    "service_busy": (503, Category.UNAVAILABLE, Severity.WARNING, _("Service busy, retry shortly"),
        "Every worker stayed busy for the whole wait: the service is overloaded, not failing; "
        "retry after the seconds in Retry-After."),
    "db_timeout": (504, Category.DATABASE, Severity.ERROR, _("Database operation timed out"),
        "A database statement ran longer than the service allows."),
    "check_violation": (400, Category.VALIDATION, Severity.INFO,
        _("The data breaks a rule of this resource"),
        "A value is outside what the resource allows (check-constraint violation)."),
    "not_null_violation": (400, Category.VALIDATION, Severity.INFO,
        _("A required value is missing"),
        "The write leaves out a value the resource requires (NOT NULL violation)."),
    "value_too_long": (400, Category.VALIDATION, Severity.INFO, _("A value is too long"),
        "A text or binary value is longer than its field allows."),
    "value_out_of_range": (400, Category.VALIDATION, Severity.INFO, _("A value is out of range"),
        "A number, date or interval is outside the range its field can hold."),
    "invalid_value": (400, Category.VALIDATION, Severity.INFO,
        _("A value is not valid for its type"),
        "A value cannot be read as its field's type, for example text for a number or a date."),
    "invalid_character": (400, Category.VALIDATION, Severity.INFO,
        _("A value contains a character that cannot be stored"),
        "A text value holds a character the database cannot store, such as an escaped NUL."),
    "invalid_data": (400, Category.VALIDATION, Severity.INFO,
        _("The data contains a value that cannot be stored"),
        "The database refused a value for another data reason, such as a NUL in a text value."),
}
# fmt: on

_registry.update({code: ErrorCode(code, *facts) for code, facts in BUILTIN_CODES.items()})
