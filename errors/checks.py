"""System checks for the settings `errors` relies on (`manage.py check`)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .conf import errors_settings

MIDDLEWARE_PATH = "errors.middleware.CorrelationIdMiddleware"
HANDLER_PATH = "errors.handler.exception_handler"

# Middleware that can fail a request before a view runs; errors they raise are only answered with
# the envelope (and only get the request's correlation id) when ours wraps them.
_MUST_COME_AFTER = (
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
)


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    """Report settings that would leave some errors outside the envelope."""
    problems: list[Error | Warning] = []
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        problems.append(
            Error(
                f"{MIDDLEWARE_PATH} is not in MIDDLEWARE.",
                hint="Add it first in MIDDLEWARE: it sets the correlation id and answers "
                "errors raised outside DRF views.",
                id="errors.E001",
            )
        )
    else:
        position = middleware.index(MIDDLEWARE_PATH)
        before = [path for path in middleware[:position] if path in _MUST_COME_AFTER]
        if before:
            problems.append(
                Warning(
                    f"{MIDDLEWARE_PATH} comes after {', '.join(before)}.",
                    hint="Move it before them, so their failures get the JSON envelope and "
                    "the correlation id.",
                    id="errors.W002",
                )
            )
    handler = (getattr(settings, "REST_FRAMEWORK", None) or {}).get("EXCEPTION_HANDLER")
    if handler != HANDLER_PATH:
        problems.append(
            Error(
                f"REST_FRAMEWORK['EXCEPTION_HANDLER'] is {handler!r}, not {HANDLER_PATH!r}.",
                hint="Errors in DRF views would not get the error envelope.",
                id="errors.E002",
            )
        )
    if errors_settings.include_exception_details and not settings.DEBUG:
        problems.append(
            Warning(
                "ERRORS_INCLUDE_EXCEPTION_DETAILS is on while DEBUG is off.",
                hint="It has no effect without DEBUG; exception details are never sent in "
                "production. Turn it off to say what happens.",
                id="errors.W001",
            )
        )
    if apps.is_installed("corsheaders"):
        exposed = {h.lower() for h in getattr(settings, "CORS_EXPOSE_HEADERS", ())}
        if errors_settings.correlation_id_header.lower() not in exposed:
            problems.append(
                Warning(
                    f"{errors_settings.correlation_id_header} is not in CORS_EXPOSE_HEADERS.",
                    hint="Browsers' scripts cannot read the correlation id of a cross-origin "
                    "response unless it is exposed.",
                    id="errors.W003",
                )
            )
    return problems
