"""System checks, run the way users run them: `manage.py check`."""

from __future__ import annotations

import sys
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from pytest_django.fixtures import Settings

from errors.checks import MIDDLEWARE_PATH
from errors.conf import SETTINGS

# Django 6.1's `check` asks every database (as `manage.py check` does), so the tests may too.
pytestmark = pytest.mark.django_db


def run_check(*args: str) -> str:
    out = StringIO()
    call_command("check", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_the_service_settings_pass() -> None:
    assert "no issues" in run_check()


def test_missing_middleware_is_an_error(settings: Settings) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    with pytest.raises(SystemCheckError, match=r"errors\.E001"):
        run_check()


def test_foreign_exception_handler_is_an_error(settings: Settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "EXCEPTION_HANDLER": "rest_framework.views.exception_handler",
    }
    with pytest.raises(SystemCheckError, match=r"errors\.E002"):
        run_check()


def test_exception_details_without_debug_is_a_warning() -> None:
    with override_settings(DEBUG=False, ERRORS_INCLUDE_EXCEPTION_DETAILS=True):
        assert "errors.W001" in run_check()


def test_middleware_after_csrf_is_a_warning(settings: Settings) -> None:
    rest = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    settings.MIDDLEWARE = [*rest, MIDDLEWARE_PATH]
    output = run_check()
    assert "errors.W002" in output
    assert "django.middleware.csrf.CsrfViewMiddleware" in output


def test_correlation_header_not_exposed_to_cors_is_a_warning(settings: Settings) -> None:
    settings.CORS_EXPOSE_HEADERS = ["Retry-After"]
    assert "errors.W003" in run_check()


def test_correlation_header_that_cross_origin_requests_may_not_send_is_a_warning(
    settings: Settings,
) -> None:
    settings.CORS_ALLOW_HEADERS = ["content-type", "authorization"]
    output = run_check()
    assert "errors.W006" in output
    assert "X-Correlation-ID is not in CORS_ALLOW_HEADERS." in output
    settings.CORS_ALLOW_HEADERS = ["content-type", "X-Correlation-ID"]
    assert "errors.W006" not in run_check()
    del settings.CORS_ALLOW_HEADERS  # django-cors-headers' defaults lack it
    assert "errors.W006" in run_check()


# One row per entry of errors.conf.SETTINGS, in its order: name, a value it refuses, one it takes,
# and the check id, which is published (SILENCED_SYSTEM_CHECKS) and so must not move.
SETTING_VALUES: list[tuple[str, Any, Any, str]] = [
    ("ERRORS_INCLUDE_EXCEPTION_DETAILS", "yes", True, "errors.E101"),
    ("ERRORS_CORRELATION_ID_HEADER", "X_Correlation_ID", "X-Request-ID", "errors.E102"),
    ("ERRORS_REQUEST_LOG_LEVEL", "LOUD", "info", "errors.E103"),
    ("ERRORS_DB_RETRY_AFTER", 0, 30, "errors.E104"),
    ("ERRORS_PROBLEM_DETAILS", 1, True, "errors.E105"),
    ("ERRORS_PROBLEM_TYPE_BASE", None, "https://errors.example.com/", "errors.E106"),
    ("ERRORS_JSON_PATH_PREFIXES", "/api/", ["/api/", "/hooks/"], "errors.E107"),
    ("ERRORS_ENABLE_MONITORING", "off", False, "errors.E108"),
    ("ERRORS_ALERT_THRESHOLD", "10", 3, "errors.E109"),
    ("ERRORS_PROPAGATE_CORRELATION_ID", None, False, "errors.E110"),
    ("ERRORS_INSTRUMENT_HTTP_CLIENTS", "true", False, "errors.E111"),
    ("ERRORS_CORRELATE_COMMANDS", 0, False, "errors.E112"),
    ("ERRORS_FORGET_DEAD_PROCESSES", [], False, "errors.E113"),
    ("ERRORS_JSON_MAX_DEPTH", 0, 200, "errors.E114"),
    ("ERRORS_METRICS_ALLOWED_NETWORKS", ["10.0.0.0/33"], ["10.0.0.0/8", "::1"], "errors.E115"),
    ("ERRORS_METRICS_BEARER_TOKEN", "two words", "s3cr3t-t0ken_~+/==", "errors.E116"),
    ("ERRORS_MAX_CONCURRENT_REQUESTS", 0, 16, "errors.E117"),
    ("ERRORS_QUEUE_TIMEOUT", "5", 2.5, "errors.E118"),
    ("ERRORS_QUEUE_EXEMPT_PATHS", "/healthz", ["/healthz", "/ready"], "errors.E119"),
    ("ERRORS_BUSY_RETRY_AFTER", 0, 2, "errors.E120"),
    ("ERRORS_REDIS_RETRY_AFTER", -1, 10, "errors.E121"),
    ("ERRORS_TRACE_RESPONSE_HEADER", "yes", True, "errors.E122"),
    ("ERRORS_CORRELATE_CELERY", 1, False, "errors.E123"),
]


SECRET = {setting.name: setting.secret for setting in SETTINGS}


def test_the_table_has_every_setting_in_order() -> None:
    assert [row[0] for row in SETTING_VALUES] == [setting.name for setting in SETTINGS]


@pytest.mark.parametrize(("name", "bad", "good", "check_id"), SETTING_VALUES)
def test_every_setting_is_checked(name: str, bad: Any, good: Any, check_id: str) -> None:
    with override_settings(**{name: bad}), pytest.raises(SystemCheckError) as refused:
        run_check()
    assert f"({check_id}) {name} must " in str(refused.value)
    if SECRET[name]:  # a secret is never shown, not even a wrong one
        assert f"got a {type(bad).__name__} (not shown)." in str(refused.value)
        assert repr(bad) not in str(refused.value)
    else:
        assert f"got {bad!r}." in str(refused.value)

    with override_settings(**{name: good}):
        assert "errors.E1" not in run_check()


def test_a_project_without_drf_needs_no_exception_handler(settings: Settings) -> None:
    without_drf = [app for app in settings.INSTALLED_APPS if app != "rest_framework"]
    with override_settings(INSTALLED_APPS=without_drf, REST_FRAMEWORK={}):
        assert "errors.E002" not in run_check()


# With a library made unimportable only the checks of `errors` run (tag "compatibility"): the URL
# checks would import the service's URLconf, which itself imports DRF and drf-spectacular.


def test_openapi_schema_without_drf_spectacular_is_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "drf_spectacular", None)  # `import drf_spectacular` fails
    output = run_check("--tag", "compatibility")
    assert "(errors.W004) REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS']" in output
    assert "pip install django-cortex-errors[openapi]" in output


def test_exception_handler_without_drf_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rest_framework", None)  # `import rest_framework` fails
    output = run_check("--tag", "compatibility")
    assert "(errors.W005) REST_FRAMEWORK['EXCEPTION_HANDLER']" in output
    assert "pip install django-cortex-errors[drf]" in output
    assert "errors.E002" not in output
