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

from errors.checks import MIDDLEWARE_PATH, all_checks
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


# Every check id ever published, with what it checks: a change here is a change to the public API
# (projects list ids in SILENCED_SYSTEM_CHECKS). Ids are never renumbered nor reused.
PINNED: list[tuple[str, str, str]] = [
    ("errors.E001", "error", "the middleware is not in `MIDDLEWARE`"),
    (
        "errors.E002",
        "error",
        'DRF is installed but `REST_FRAMEWORK["EXCEPTION_HANDLER"]` is another handler',
    ),
    ("errors.E101", "error", "`ERRORS_INCLUDE_EXCEPTION_DETAILS` must be True or False"),
    (
        "errors.E102",
        "error",
        "`ERRORS_CORRELATION_ID_HEADER` must be a header name of ASCII letters, digits and '-'",
    ),
    (
        "errors.E103",
        "error",
        "`ERRORS_REQUEST_LOG_LEVEL` must be a logging level: one of DEBUG, INFO, WARNING, "
        "ERROR, CRITICAL or an int",
    ),
    ("errors.E104", "error", "`ERRORS_DB_RETRY_AFTER` must be an int of at least 1"),
    ("errors.E105", "error", "`ERRORS_PROBLEM_DETAILS` must be True or False"),
    ("errors.E106", "error", "`ERRORS_PROBLEM_TYPE_BASE` must be a string"),
    (
        "errors.E107",
        "error",
        "`ERRORS_JSON_PATH_PREFIXES` must be a list or tuple of URL path prefixes, each "
        "starting with '/'",
    ),
    ("errors.E108", "error", "`ERRORS_ENABLE_MONITORING` must be True or False"),
    ("errors.E109", "error", "`ERRORS_ALERT_THRESHOLD` must be an int of at least 1"),
    ("errors.E110", "error", "`ERRORS_PROPAGATE_CORRELATION_ID` must be True or False"),
    (
        "errors.E111",
        "retired",
        "`ERRORS_INSTRUMENT_HTTP_CLIENTS` was invalid (it patched httpx's and requests' send "
        "methods)",
    ),
    (
        "errors.E112",
        "retired",
        "`ERRORS_CORRELATE_COMMANDS` was invalid (it wrapped `BaseCommand.execute`)",
    ),
    (
        "errors.E113",
        "retired",
        "`ERRORS_FORGET_DEAD_PROCESSES` was invalid (it forgot dead processes' gauges in "
        "`PROMETHEUS_MULTIPROC_DIR`)",
    ),
    ("errors.E114", "error", "`ERRORS_JSON_MAX_DEPTH` must be an int of at least 1"),
    (
        "errors.E115",
        "error",
        "`ERRORS_METRICS_ALLOWED_NETWORKS` must be a list or tuple of IP networks or addresses,"
        ' such as "10.0.0.0/8"',
    ),
    (
        "errors.E116",
        "error",
        "`ERRORS_METRICS_BEARER_TOKEN` must be None or a token of letters, digits and -._~+/ "
        "(RFC 6750)",
    ),
    ("errors.E117", "error", "`ERRORS_MAX_CONCURRENT_REQUESTS` must be an int of at least 1"),
    ("errors.E118", "error", "`ERRORS_QUEUE_TIMEOUT` must be a number greater than 0"),
    (
        "errors.E119",
        "error",
        "`ERRORS_QUEUE_EXEMPT_PATHS` must be a list or tuple of URL path prefixes, each "
        "starting with '/'",
    ),
    ("errors.E120", "error", "`ERRORS_BUSY_RETRY_AFTER` must be an int of at least 1"),
    (
        "errors.E121",
        "retired",
        "`ERRORS_REDIS_RETRY_AFTER` was invalid (it set `Retry-After` of the Cortex service's "
        "`redis_unavailable`)",
    ),
    ("errors.E122", "error", "`ERRORS_TRACE_RESPONSE_HEADER` must be True or False"),
    (
        "errors.E123",
        "retired",
        "`ERRORS_CORRELATE_CELERY` was invalid (it connected `errors.celery` when Celery was "
        "loaded)",
    ),
    (
        "errors.E124",
        "error",
        "`ERRORS_INTEGRATIONS` must be a list or tuple of integration names among celery, "
        "commands, django_tasks, httpx, prometheus_multiprocess, requests, sentry",
    ),
    ("errors.W001", "warning", "exception details asked for without `DEBUG`"),
    ("errors.W002", "warning", "the middleware comes after middleware that can fail a request"),
    (
        "errors.W003",
        "warning",
        "the correlation header is not exposed to CORS (`CORS_EXPOSE_HEADERS`)",
    ),
    (
        "errors.W004",
        "warning",
        "`DEFAULT_SCHEMA_CLASS` is `ErrorResponsesAutoSchema` but drf-spectacular is not installed",
    ),
    ("errors.W005", "warning", "`EXCEPTION_HANDLER` is ours but DRF is not installed"),
    (
        "errors.W006",
        "warning",
        "cross-origin requests may not send the correlation header (`CORS_ALLOW_HEADERS`)",
    ),
    ("errors.W007", "warning", "a retired `ERRORS_*` setting is still set; it is no longer read"),
]
RETIRED_IDS = {"errors.E111", "errors.E112", "errors.E113", "errors.E121", "errors.E123"}


def test_every_check_id_is_pinned() -> None:
    assert all_checks() == PINNED
    assert {id_ for id_, level, _ in all_checks() if level == "retired"} == RETIRED_IDS


# One row per setting: name, a value it refuses, one it takes, and its check id.
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
    ("ERRORS_JSON_MAX_DEPTH", 0, 200, "errors.E114"),
    ("ERRORS_METRICS_ALLOWED_NETWORKS", ["10.0.0.0/33"], ["10.0.0.0/8", "::1"], "errors.E115"),
    ("ERRORS_METRICS_BEARER_TOKEN", "two words", "s3cr3t-t0ken_~+/==", "errors.E116"),
    ("ERRORS_MAX_CONCURRENT_REQUESTS", 0, 16, "errors.E117"),
    ("ERRORS_QUEUE_TIMEOUT", "5", 2.5, "errors.E118"),
    ("ERRORS_QUEUE_EXEMPT_PATHS", "/healthz", ["/healthz", "/ready"], "errors.E119"),
    ("ERRORS_BUSY_RETRY_AFTER", 0, 2, "errors.E120"),
    ("ERRORS_TRACE_RESPONSE_HEADER", "yes", True, "errors.E122"),
    ("ERRORS_INTEGRATIONS", ["httpx", "guid"], ["celery", "sentry"], "errors.E124"),
]


SECRET = {setting.name: setting.secret for setting in SETTINGS}


def test_the_table_has_every_setting() -> None:
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


@pytest.mark.parametrize(
    ("name", "instead"),
    [
        ("ERRORS_INSTRUMENT_HTTP_CLIENTS", 'name "httpx" and "requests" in ERRORS_INTEGRATIONS'),
        ("ERRORS_CORRELATE_COMMANDS", 'name "commands" in ERRORS_INTEGRATIONS'),
        ("ERRORS_FORGET_DEAD_PROCESSES", 'name "prometheus_multiprocess" in ERRORS_INTEGRATIONS'),
        ("ERRORS_CORRELATE_CELERY", 'name "celery" in ERRORS_INTEGRATIONS'),
        ("ERRORS_REDIS_RETRY_AFTER", "set the service's `REDIS_RETRY_AFTER`"),
    ],
)
def test_a_retired_setting_still_set_is_a_warning(name: str, instead: str) -> None:
    with override_settings(**{name: False}):
        output = run_check()
    assert f"(errors.W007) {name} is no longer read" in output
    assert instead in output
    assert "errors.W007" not in run_check()


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
