"""The exceptions application code raises; each names its catalog code (docs/exceptions.md).

Their message and details are sent to clients as they are: never put internal text in them."""

from __future__ import annotations

from typing import Any, ClassVar

from . import catalog
from .catalog import Category, Severity


class _FromCatalog:
    """A class attribute read from the catalog entry of `default_code`; instances may override."""

    def __init__(self, field: str) -> None:
        self.field = field

    def __get__(self, instance: object, owner: type[AppException]) -> Any:
        entry = catalog.get(owner.default_code)
        if entry is None:
            raise LookupError(
                f"{owner.__qualname__}.default_code {owner.default_code!r} is not in the error "
                "catalog: register it, or state status_code and default_message on the class"
            )
        return getattr(entry, self.field)


class AppException(Exception):
    """Base of all application errors: `AppException(message, code, status_code, details)`.

    A class names its `default_code`; the rest comes from the catalog (docs/exceptions.md).
    """

    default_code: ClassVar[str] = "internal_error"
    status_code: ClassVar[int] = _FromCatalog("status")  # type: ignore[assignment]
    default_message: ClassVar[str] = _FromCatalog("message")  # type: ignore[assignment]
    category: ClassVar[Category] = _FromCatalog("category")  # type: ignore[assignment]
    severity: ClassVar[Severity] = _FromCatalog("severity")  # type: ignore[assignment]
    meaning: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "status_code" in cls.__dict__ or "default_message" in cls.__dict__:
            _register_class_code(cls)

    def __init__(
        self,
        message: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        self.code = code or self.default_code
        entry = catalog.get(self.code) if self.code != self.default_code else None
        if message is None:
            message = entry.message if entry is not None else self.default_message
        if status_code is None and entry is not None:
            status_code = entry.status
        self.message = message
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]
        self.details: dict[str, Any] = dict(details) if details else {}
        # Seconds the client should wait before trying again: the answer's Retry-After.
        self.retry_after = retry_after
        super().__init__(self.message)


def _register_class_code(cls: type[AppException]) -> None:
    """Register the code a class states the facts of (ValueError if the catalog disagrees)."""
    stated = cls.__dict__
    if "status_code" not in stated or "default_message" not in stated:
        raise TypeError(
            f"{cls.__qualname__} must state both status_code and default_message, or neither "
            "(then they come from the catalog entry of its default_code)"
        )
    status = stated["status_code"]
    client = status < 500
    doc = (cls.__doc__ or "").strip().splitlines()
    catalog.register(
        cls.default_code,
        status=status,
        category=stated.get("category", Category.REQUEST if client else Category.INTERNAL),
        severity=stated.get("severity", Severity.INFO if client else Severity.ERROR),
        message=stated["default_message"],
        meaning=cls.meaning or (doc[0] if doc else stated["default_message"]),
    )


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

    default_code = "validation_error"

    def __init__(
        self,
        message: str | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        field_errors: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message, code, details=details)
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
        message: str | None = None,
        code: str | None = None,
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

    default_code = "conflict"


class ExternalServiceException(AppException):
    """A service we call failed; 502 by default, 504 when it timed out."""

    default_code = "external_service_error"

    def __init__(
        self,
        message: str | None = None,
        code: str | None = None,
        status_code: int = 502,
        details: dict[str, Any] | None = None,
        service_name: str | None = None,
    ) -> None:
        super().__init__(message, code, status_code, details)
        self.service_name = service_name
        if service_name:
            self.details["service_name"] = service_name


class DatabaseException(AppException):
    """A database failure, told without SQL, tables or driver text; `query_info` is for logs."""

    default_code = "database_error"

    def __init__(
        self,
        message: str | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        query_info: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, code, details=details, retry_after=retry_after)
        self.query_info = (
            {"operation": query_info.get("operation"), "table": query_info.get("table")}
            if query_info
            else None
        )


class RateLimitException(AppException):
    """Too many requests; `retry_after` seconds become Retry-After and details.retry_after."""

    default_code = "rate_limit_exceeded"

    def __init__(
        self,
        message: str | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, code, details=details, retry_after=retry_after)
        if retry_after is not None:
            self.details["retry_after"] = retry_after


class ServiceUnavailableException(AppException):
    """The service cannot answer now, through no fault of the request; `retry_after` is sent."""

    default_code = "service_unavailable"

    def __init__(
        self,
        message: str | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, code, details=details, retry_after=retry_after)
