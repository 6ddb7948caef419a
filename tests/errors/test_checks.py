"""System checks, run the way users run them: `manage.py check`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from pytest_django.fixtures import Settings

from errors.checks import MIDDLEWARE_PATH


def run_check() -> str:
    out = StringIO()
    call_command("check", stdout=out, stderr=out)
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
