"""System checks (`manage.py check`); each id stated once, at its declaration (docs/checks.md)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .conf import RETIRED, SETTINGS, errors_settings


@dataclass(frozen=True, slots=True)
class Check:
    """One system check: its id (an `E` is an error, a `W` a warning) and what it reports."""

    id: str
    meaning: str

    @property
    def level(self) -> str:
        return "error" if self.id.startswith("errors.E") else "warning"

    def __call__(self, msg: str, hint: str) -> CheckMessage:
        return (Error if self.level == "error" else Warning)(msg, hint=hint, id=self.id)


NO_MIDDLEWARE = Check("errors.E001", "the middleware is not in `MIDDLEWARE`")
FOREIGN_HANDLER = Check(
    "errors.E002", 'DRF is installed but `REST_FRAMEWORK["EXCEPTION_HANDLER"]` is another handler'
)
DETAILS_WITHOUT_DEBUG = Check("errors.W001", "exception details asked for without `DEBUG`")
MIDDLEWARE_TOO_LATE = Check(
    "errors.W002", "the middleware comes after middleware that can fail a request"
)
HEADER_NOT_EXPOSED = Check(
    "errors.W003", "the correlation header is not exposed to CORS (`CORS_EXPOSE_HEADERS`)"
)
SCHEMA_WITHOUT_SPECTACULAR = Check(
    "errors.W004",
    "`DEFAULT_SCHEMA_CLASS` is `ErrorResponsesAutoSchema` but drf-spectacular is not installed",
)
HANDLER_WITHOUT_DRF = Check("errors.W005", "`EXCEPTION_HANDLER` is ours but DRF is not installed")
HEADER_NOT_ALLOWED = Check(
    "errors.W006",
    "cross-origin requests may not send the correlation header (`CORS_ALLOW_HEADERS`)",
)
RETIRED_SETTING = Check(
    "errors.W007", "a retired `ERRORS_*` setting is still set; it is no longer read"
)
CHECKS = tuple(value for value in tuple(globals().values()) if isinstance(value, Check))


def all_checks() -> list[tuple[str, str, str]]:
    """`(id, level, meaning)` of every check id ever published, sorted; retired ones say so."""
    rows = [(c.id, c.level, c.meaning) for c in CHECKS]
    rows += [(s.check_id, "error", f"`{s.name}` {s.validate(object())}") for s in SETTINGS]
    rows += [(r.check_id, "retired", f"`{r.name}` was invalid (it {r.meaning})") for r in RETIRED]
    return sorted(rows)


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
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report settings that would leave some errors outside the envelope."""
    problems: list[CheckMessage] = []
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        problems.append(
            NO_MIDDLEWARE(
                f"{MIDDLEWARE_PATH} is not in MIDDLEWARE.",
                "Add it first in MIDDLEWARE: it sets the correlation id and answers "
                "errors raised outside DRF views.",
            )
        )
    else:
        position = middleware.index(MIDDLEWARE_PATH)
        before = [path for path in middleware[:position] if path in _MUST_COME_AFTER]
        if before:
            problems.append(
                MIDDLEWARE_TOO_LATE(
                    f"{MIDDLEWARE_PATH} comes after {', '.join(before)}.",
                    "Move it before them, so their failures get the JSON envelope and "
                    "the correlation id.",
                )
            )
    # Plain Django projects, without DRF, need no exception handler.
    drf_in_use = find_spec("rest_framework") is not None and apps.is_installed("rest_framework")
    handler = _rest_framework_setting("EXCEPTION_HANDLER")
    if drf_in_use and handler != HANDLER_PATH:
        problems.append(
            FOREIGN_HANDLER(
                f"REST_FRAMEWORK['EXCEPTION_HANDLER'] is {handler!r}, not {HANDLER_PATH!r}.",
                "Errors in DRF views would not get the error envelope.",
            )
        )
    if errors_settings.include_exception_details and not settings.DEBUG:
        problems.append(
            DETAILS_WITHOUT_DEBUG(
                "ERRORS_INCLUDE_EXCEPTION_DETAILS is on while DEBUG is off.",
                "It has no effect without DEBUG; exception details are never sent in "
                "production. Turn it off to say what happens.",
            )
        )
    if apps.is_installed("corsheaders"):
        from corsheaders.defaults import default_headers

        exposed = {h.lower() for h in getattr(settings, "CORS_EXPOSE_HEADERS", ())}
        if errors_settings.correlation_id_header.lower() not in exposed:
            problems.append(
                HEADER_NOT_EXPOSED(
                    f"{errors_settings.correlation_id_header} is not in CORS_EXPOSE_HEADERS.",
                    "Browsers' scripts cannot read the correlation id of a cross-origin "
                    "response unless it is exposed.",
                )
            )
        allowed = {h.lower() for h in getattr(settings, "CORS_ALLOW_HEADERS", default_headers)}
        if errors_settings.correlation_id_header.lower() not in allowed:
            problems.append(
                HEADER_NOT_ALLOWED(
                    f"{errors_settings.correlation_id_header} is not in CORS_ALLOW_HEADERS.",
                    "Browsers refuse the preflight of a cross-origin request that sends its "
                    "own correlation id (the errors app's JavaScript client sends one with "
                    "every request). Add it: (*corsheaders.defaults.default_headers, "
                    f"{errors_settings.correlation_id_header.lower()!r}).",
                )
            )
    return problems


@register(Tags.compatibility)
def check_setting_values(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report `ERRORS_*` settings their declaration refuses, and retired ones still set."""
    problems: list[CheckMessage] = []
    for setting in SETTINGS:
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
                    id=setting.check_id,
                )
            )
    for retired in RETIRED:
        if hasattr(settings, retired.name):
            problems.append(
                RETIRED_SETTING(
                    f"{retired.name} is no longer read (it {retired.meaning}).",
                    f"Remove it; to keep what it did, {retired.instead}.",
                )
            )
    return problems


@register(Tags.compatibility)
def check_optional_libraries(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report settings naming parts of `errors` whose optional library is not installed."""
    problems: list[CheckMessage] = []
    if (
        _rest_framework_setting("DEFAULT_SCHEMA_CLASS") == SCHEMA_PATH
        and find_spec("drf_spectacular") is None
    ):
        problems.append(
            SCHEMA_WITHOUT_SPECTACULAR(
                f"REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] is {SCHEMA_PATH!r}, but drf-spectacular "
                "is not installed.",
                "Install it with `pip install django-cortex-errors[openapi]`.",
            )
        )
    if (
        _rest_framework_setting("EXCEPTION_HANDLER") == HANDLER_PATH
        and find_spec("rest_framework") is None
    ):
        problems.append(
            HANDLER_WITHOUT_DRF(
                f"REST_FRAMEWORK['EXCEPTION_HANDLER'] is {HANDLER_PATH!r}, but Django REST "
                "framework is not installed.",
                "Install it with `pip install django-cortex-errors[drf]`, or remove the "
                "REST_FRAMEWORK setting.",
            )
        )
    return problems


def _rest_framework_setting(name: str) -> Any:
    return (getattr(settings, "REST_FRAMEWORK", None) or {}).get(name)
