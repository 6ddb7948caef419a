"""The exceptions application code raises; clients see their message and details as they are."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from . import catalog

if TYPE_CHECKING:
    from .catalog import Message


class AppException(Exception):
    """Base of all application errors; a class names its `default_code` (docs/exceptions.md)."""

    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: Message | None = None,
        code: str | None = None,
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
        *,
        retry_after: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.code = code or self.default_code
        # A code that is not in the catalog takes what it does not state from the class's code.
        entry = catalog.get(self.code) or catalog.get(self.default_code)
        if entry is None:
            raise LookupError(
                f"{type(self).__qualname__}.default_code {self.default_code!r} is not in the "
                "error catalog: register it with errors.catalog.register()"
            )
        self.message: Message = entry.message if message is None else message
        self.params = params
        self.status_code = entry.status if status_code is None else status_code
        self.details: dict[str, Any] = dict(details) if details else {}
        # Seconds the client should wait before trying again: the answer's Retry-After.
        self.retry_after = retry_after
        # More headers of the answer, such as the current ETag of a 412.
        self.headers: dict[str, str] = {}
        super().__init__(self.message)

    def __str__(self) -> str:
        return catalog.fill(self.message, self.params)


class _FixedStatusException(AppException):
    """Base of the classes whose code sets the status: `(message, code, details, retry_after)`."""

    def __init__(
        self,
        message: Message | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code, details=details, retry_after=retry_after, params=params)


class ValidationException(AppException):
    """Input that breaks a rule; `field_errors` maps dotted field paths to lists of messages."""

    default_code = "validation_error"

    def __init__(
        self,
        message: Message | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        field_errors: dict[str, list[str]] | None = None,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code, details=details, params=params)
        self.field_errors = dict(field_errors) if field_errors else {}
        if self.field_errors:
            self.details["field_errors"] = self.field_errors


class AuthenticationException(_FixedStatusException):
    """The caller could not be identified (missing, invalid or expired credentials)."""

    default_code = "authentication_error"


class AuthorizationException(_FixedStatusException):
    """The caller is known but not allowed to do this."""

    default_code = "authorization_error"


class NotFoundException(AppException):
    """A resource that does not exist (or that the caller may not know exists)."""

    default_code = "not_found"

    def __init__(
        self,
        message: Message | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        resource_type: str | None = None,
        resource_id: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code, details=details, params=params)
        if resource_type:
            self.details["resource_type"] = resource_type
        if resource_id is not None:
            self.details["resource_id"] = str(resource_id)


class ConflictException(_FixedStatusException):
    """The request conflicts with the current state (a duplicate, a stale update)."""

    default_code = "conflict"


class ExternalServiceException(AppException):
    """A service we call failed; 502 by default, 504 when it timed out."""

    default_code = "external_service_error"

    def __init__(
        self,
        message: Message | None = None,
        code: str | None = None,
        status_code: int = 502,
        details: dict[str, Any] | None = None,
        service_name: str | None = None,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code, status_code, details, params=params)
        if service_name:
            self.details["service_name"] = service_name


class DatabaseException(_FixedStatusException):
    """A database failure, told without SQL, tables or driver text."""

    default_code = "database_error"


class RateLimitException(_FixedStatusException):
    """Too many requests; `retry_after` seconds become Retry-After and details.retry_after."""

    default_code = "rate_limit_exceeded"

    def __init__(
        self,
        message: Message | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code, details, retry_after, params=params)
        if retry_after is not None:
            self.details["retry_after"] = retry_after


class ServiceUnavailableException(_FixedStatusException):
    """The service cannot answer now, through no fault of the request; `retry_after` is sent."""

    default_code = "service_unavailable"
