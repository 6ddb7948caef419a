"""The DRF exception handler (`REST_FRAMEWORK["EXCEPTION_HANDLER"]`); see docs/handling.md."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from .handling import handle_exception

try:
    import rest_framework  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by the consumer-project suite
    raise ImportError(
        "errors.handler is an exception handler for Django REST framework, which is not "
        "installed: pip install 'django-cortex-errors[drf]' (djangorestframework)"
    ) from exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
    """Answer every exception raised in a DRF view with the error envelope (never None)."""
    request = context.get("request")
    return handle_exception(exc, getattr(request, "_request", request))
