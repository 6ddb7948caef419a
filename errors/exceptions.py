"""The exception hierarchy that application code raises.

Like DRF's `APIException` subclasses, each class states its status code, default code, default
message, category and severity as class attributes; the handler reads them, so raising the right
class is all a view, service or repository has to do. The message and details of these exceptions
are written for clients and are sent as they are; never put internal text in them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from . import catalog
from .catalog import Category, Severity


class AppException(Exception):
    """Base of all application errors: `AppException(message, code, status_code, details)`.

    When `status_code` is not given, a code registered in the catalog brings its own status
    (`AppException(code="not_found")` answers 404); otherwise the class's status applies.
    """

    status_code: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Internal server error"
    category: ClassVar[Category] = Category.INTERNAL
    severity: ClassVar[Severity] = Severity.ERROR

    def __init__(
        self,
        message: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = self.default_message if message is None else message
        self.code = code or self.default_code
        if status_code is None and code and code != self.default_code:
            entry = catalog.get(code)
            if entry is not None:
                status_code = entry.status
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]
        self.details: dict[str, Any] = dict(details) if details else {}
        self.retry_after: int | None = None
        super().__init__(self.message)


class _FixedStatusException(AppException):
    """Base of the exceptions whose class fixes the status: `(message, code, details)`."""

    def __init__(
        self,
        message: str | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code, details=details)


class ValidationException(AppException):
    """Input that breaks a rule; `field_errors` maps dotted field paths to lists of messages."""

    status_code = 400
    default_code = "validation_error"
    default_message = "Validation error"
    category = Category.VALIDATION
    severity = Severity.INFO

    def __init__(
        self,
        message: str = default_message,
        code: str = default_code,
        details: dict[str, Any] | None = None,
        field_errors: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message, code, details=details)
        self.field_errors = dict(field_errors) if field_errors else {}
        if self.field_errors:
            self.details["field_errors"] = self.field_errors


class AuthenticationException(_FixedStatusException):
    """The caller could not be identified (missing, invalid or expired credentials)."""

    status_code = 401
    default_code = "authentication_error"
    default_message = "Authentication failed"
    category = Category.AUTHENTICATION
    severity = Severity.WARNING


class AuthorizationException(_FixedStatusException):
    """The caller is known but not allowed to do this."""

    status_code = 403
    default_code = "authorization_error"
    default_message = "Insufficient permissions"
    category = Category.AUTHORIZATION
    severity = Severity.WARNING


class NotFoundException(AppException):
    """A resource that does not exist (or that the caller may not know exists)."""

    status_code = 404
    default_code = "not_found"
    default_message = "Resource not found"
    category = Category.NOT_FOUND
    severity = Severity.INFO

    def __init__(
        self,
        message: str | None = None,
        code: str = default_code,
        details: dict[str, Any] | None = None,
        resource_type: str | None = None,
        resource_id: Any = None,
    ) -> None:
        if message is None:
            message = (
                f"{resource_type.replace('_', ' ').capitalize()} not found"
                if resource_type
                else self.default_message
            )
        super().__init__(message, code, details=details)
        if resource_type:
            self.details["resource_type"] = resource_type
        if resource_id is not None:
            self.details["resource_id"] = str(resource_id)


class ConflictException(_FixedStatusException):
    """The request conflicts with the current state (a duplicate, a stale update)."""

    status_code = 409
    default_code = "conflict"
    default_message = "Resource conflict"
    category = Category.CONFLICT
    severity = Severity.INFO


class ExternalServiceException(AppException):
    """A service we call failed; 502 by default, 504 when it timed out."""

    status_code = 502
    default_code = "external_service_error"
    default_message = "External service error"
    category = Category.EXTERNAL_SERVICE
    severity = Severity.ERROR

    def __init__(
        self,
        message: str = default_message,
        code: str = default_code,
        status_code: int = 502,
        details: dict[str, Any] | None = None,
        service_name: str | None = None,
    ) -> None:
        super().__init__(message, code, status_code, details)
        self.service_name = service_name
        if service_name:
            self.details["service_name"] = service_name


class DatabaseException(AppException):
    """A database failure, told to the client without any of its SQL, tables or driver text.

    `query_info` (operation, table) is kept on the exception for logs only; it is never put into
    `details`. The code chooses the status through the catalog: `db_connection_error` answers 503
    with Retry-After, `db_timeout` 504, anything else 500.
    """

    status_code = 500
    default_code = "database_error"
    default_message = "Database error"
    category = Category.DATABASE
    severity = Severity.ERROR

    def __init__(
        self,
        message: str = default_message,
        code: str = default_code,
        details: dict[str, Any] | None = None,
        query_info: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, code, details=details)
        self.query_info = (
            {"operation": query_info.get("operation"), "table": query_info.get("table")}
            if query_info
            else None
        )
        self.retry_after = retry_after


class RateLimitException(AppException):
    """Too many requests; `retry_after` seconds become Retry-After and details.retry_after."""

    status_code = 429
    default_code = "rate_limit_exceeded"
    default_message = "Rate limit exceeded"
    category = Category.RATE_LIMIT
    severity = Severity.WARNING

    def __init__(
        self,
        message: str = default_message,
        code: str = default_code,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, code, details=details)
        self.retry_after = retry_after
        if retry_after is not None:
            self.details["retry_after"] = retry_after
