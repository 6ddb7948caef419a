"""Consistent, traceable error handling for Django and Django REST framework.

The names a project writes in its code are importable from here: the exceptions,
`get_correlation_id` and the logging helpers. None of them needs Django's settings or DRF, so
`import errors` works anywhere, settings modules included. Dotted paths named in settings keep
their modules: `errors.middleware.CorrelationIdMiddleware`, `errors.handler.exception_handler`.
"""

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
