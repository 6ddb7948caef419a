"""System checks for the settings `errors` relies on (`manage.py check`).

`errors.E001`/`E002` and `W001`-`W003`: pieces of `errors` missing or misplaced. `errors.E101`…:
an `ERRORS_*` setting's value is invalid, one id per setting of `errors.conf.SETTINGS`.
`errors.W004`/`W005`: a setting names a part of `errors` whose optional library is missing.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .conf import SETTINGS, errors_settings

MIDDLEWARE_PATH = "errors.middleware.CorrelationIdMiddleware"
HANDLER_PATH = "errors.handler.exception_handler"
SCHEMA_PATH = "errors.openapi.ErrorResponsesAutoSchema"

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
    # Plain Django projects, without DRF, need no exception handler.
    drf_in_use = _importable("rest_framework") and apps.is_installed("rest_framework")
    handler = _rest_framework_setting("EXCEPTION_HANDLER")
    if drf_in_use and handler != HANDLER_PATH:
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
        allowed = {h.lower() for h in getattr(settings, "CORS_ALLOW_HEADERS", _cors_defaults())}
        if errors_settings.correlation_id_header.lower() not in allowed:
            problems.append(
                Warning(
                    f"{errors_settings.correlation_id_header} is not in CORS_ALLOW_HEADERS.",
                    hint="Browsers refuse the preflight of a cross-origin request that sends its "
                    "own correlation id (the errors app's JavaScript client sends one with "
                    "every request). Add it: (*corsheaders.defaults.default_headers, "
                    f"{errors_settings.correlation_id_header.lower()!r}).",
                    id="errors.W006",
                )
            )
    return problems


def _cors_defaults() -> tuple[str, ...]:
    from corsheaders.defaults import default_headers

    return tuple(default_headers)


@register(Tags.compatibility)
def check_setting_values(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Report every `ERRORS_*` setting whose value its declaration in `errors.conf` refuses."""
    problems: list[Error] = []
    # One id per setting from its place in SETTINGS, E101 for the first. Users silence ids in
    # SILENCED_SYSTEM_CHECKS, so a new setting goes at the end of SETTINGS.
    for number, setting in enumerate(SETTINGS, start=101):
        if not hasattr(settings, setting.name):
            continue
        value = getattr(settings, setting.name)
        text = setting.validate(value)
        if text is not None:
            # A secret is not shown, not even when it is wrong: check output ends up in CI logs.
            shown = f"a {type(value).__name__} (not shown)" if setting.secret else repr(value)
            problems.append(
                Error(
                    f"{setting.name} {text}, got {shown}.",
                    hint=f"{setting.name}: {setting.meaning}. Remove it for the default, "
                    f"{setting.default!r}.",
                    id=f"errors.E{number}",
                )
            )
    return problems


@register(Tags.compatibility)
def check_optional_libraries(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Report settings naming parts of `errors` whose optional library is not installed.

    Without the library the first request that needs the part would fail; a warning at start
    says so instead. `find_spec` locates a library without importing it.
    """
    problems: list[Warning] = []
    if _rest_framework_setting("DEFAULT_SCHEMA_CLASS") == SCHEMA_PATH and not _importable(
        "drf_spectacular"
    ):
        problems.append(
            Warning(
                f"REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] is {SCHEMA_PATH!r}, but drf-spectacular "
                "is not installed.",
                hint="Install it with `pip install django-cortex-errors[openapi]`.",
                id="errors.W004",
            )
        )
    if _rest_framework_setting("EXCEPTION_HANDLER") == HANDLER_PATH and not _importable(
        "rest_framework"
    ):
        problems.append(
            Warning(
                f"REST_FRAMEWORK['EXCEPTION_HANDLER'] is {HANDLER_PATH!r}, but Django REST "
                "framework is not installed.",
                hint="Install it with `pip install django-cortex-errors[drf]`, or remove the "
                "REST_FRAMEWORK setting.",
                id="errors.W005",
            )
        )
    return problems


def _rest_framework_setting(name: str) -> Any:
    return (getattr(settings, "REST_FRAMEWORK", None) or {}).get(name)


def _importable(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except ValueError:  # a module put in sys.modules by hand, without a spec
        return True
