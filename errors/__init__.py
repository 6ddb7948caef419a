"""Consistent, traceable error handling for Django and Django REST framework (docs/install.md)."""

from .context import get_correlation_id
from .exceptions import (
    AppException,
    AuthenticationException,
    AuthorizationException,
    ConflictException,
    DatabaseException,
    ExternalServiceException,
    NotFoundException,
    RateLimitException,
    ServiceUnavailableException,
    ValidationException,
)
from .logging import CorrelationIdFilter, JsonFormatter, build_logging_config

__version__ = "0.2.0"

__all__ = [
    "AppException",
    "AuthenticationException",
    "AuthorizationException",
    "ConflictException",
    "CorrelationIdFilter",
    "DatabaseException",
    "ExternalServiceException",
    "JsonFormatter",
    "NotFoundException",
    "RateLimitException",
    "ServiceUnavailableException",
    "ValidationException",
    "build_logging_config",
    "get_correlation_id",
]
