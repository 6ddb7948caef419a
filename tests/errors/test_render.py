"""What an error body may and may not carry, in production and in development."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, override_settings

from errors import catalog

pytestmark = pytest.mark.django_db

LEAKS = ("hunter2", "SELECT", "auth_user", "/srv/cortex", "secret_settings", "Traceback")


@pytest.mark.parametrize("view", ["drf", "plain"])
@pytest.mark.parametrize(
    ("debug", "include_details"), [(False, False), (False, True), (True, False)]
)
def test_production_bodies_carry_nothing_internal(
    view: str, debug: bool, include_details: bool
) -> None:
    with override_settings(DEBUG=debug, ERRORS_INCLUDE_EXCEPTION_DETAILS=include_details):
        response = Client(raise_request_exception=False).get(f"/t/{view}/raise/internal")
    assert response.status_code == 500
    text = response.content.decode()
    for leak in LEAKS:
        assert leak not in text
    error = json.loads(text)["error"]
    assert set(error) == {"code", "message", "correlation_id"}
    assert error["message"] == "Internal server error"


@pytest.mark.parametrize("view", ["drf", "plain"])
def test_debug_info_with_debug_and_exception_details(view: str) -> None:
    with override_settings(DEBUG=True, ERRORS_INCLUDE_EXCEPTION_DETAILS=True):
        response = Client(raise_request_exception=False).get(f"/t/{view}/raise/internal")
    assert response.status_code == 500
    debug_info = json.loads(response.content)["error"]["debug_info"]
    assert debug_info["type"] == "builtins.RuntimeError"
    assert "password=hunter2" in debug_info["exception"]
    assert debug_info["traceback"][0].startswith("Traceback")
    assert any("plain_raise" in line or "drf_raise" in line for line in debug_info["traceback"])


def test_debug_info_for_an_exception_raised_in_middleware() -> None:
    with override_settings(DEBUG=True, ERRORS_INCLUDE_EXCEPTION_DETAILS=True):
        response = Client(raise_request_exception=False).get("/healthz", headers={"X-Explode": "1"})
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    debug_info = json.loads(response.content)["error"]["debug_info"]
    assert "middleware exploded" in debug_info["exception"]


def test_client_errors_never_carry_debug_info() -> None:
    with override_settings(DEBUG=True, ERRORS_INCLUDE_EXCEPTION_DETAILS=True):
        response = Client().get("/t/drf/raise/conflict_exception")
    assert response.status_code == 409
    assert "debug_info" not in json.loads(response.content)["error"]


# --- in the client's language -----------------------------------------------------------------

LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("es", "Español"), ("fr", "Français")]


def negotiating() -> override_settings:
    """The project's settings with LocaleMiddleware where Django's docs put it."""
    from django.conf import settings

    middleware = [m for m in settings.MIDDLEWARE if m != LOCALE_MIDDLEWARE]
    middleware.insert(
        middleware.index("django.middleware.common.CommonMiddleware"), LOCALE_MIDDLEWARE
    )
    return override_settings(MIDDLEWARE=middleware, LANGUAGES=LANGUAGES, LANGUAGE_CODE="en")


def translations(language: str) -> dict[str, str]:
    from tests.errors.test_locale import LOCALE, read_po

    return read_po(LOCALE / language / "LC_MESSAGES" / "django.po")


def _answer(client_kind: str, path: str, **headers: str) -> Any:
    if client_kind == "sync":
        return Client(raise_request_exception=False).get(path, headers=headers)
    client = AsyncClient(raise_request_exception=False)
    return async_to_sync(client.get)(path, headers=headers)


CODES = sorted(code for code in catalog.BUILTIN_CODES)


@pytest.mark.parametrize("client_kind", ["sync", "async"])
@pytest.mark.parametrize("view", ["drf", "plain"])
@pytest.mark.parametrize("language", ["de", "es", "fr"])
def test_every_code_answers_in_the_client_s_language_and_logs_in_english(
    language: str, view: str, client_kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    translated = translations(language)
    accept_language = f"{language}-XX, {language};q=0.9, en;q=0.5"
    with negotiating(), caplog.at_level(logging.INFO, logger="errors"):
        for code in CODES:
            english = catalog.english(catalog.BUILTIN_CODES[code][3])
            expected = translated[english]
            path = f"/t/{view}/code/{code}"
            caplog.clear()
            response = _answer(
                client_kind, path, accept="application/json", **{"accept-language": accept_language}
            )
            problem = _answer(
                client_kind,
                path,
                accept="application/problem+json, application/json;q=0.9",
                **{"accept-language": accept_language},
            )

            assert response.status_code == catalog.BUILTIN_CODES[code][0], (code, response.content)
            error = json.loads(response.content)["error"]
            assert (error["code"], error["message"]) == (code, expected), path
            assert response["Content-Language"] == language
            assert "Accept-Language" in response["Vary"]
            body = json.loads(problem.content)
            assert (body["code"], body["title"], body["detail"]) == (code, expected, expected)
            assert problem["Content-Language"] == language
            lines = [r for r in caplog.records if getattr(r, "error_code", None) == code]
            assert [r.error_message for r in lines] == [english, english], path  # type: ignore[attr-defined]


@pytest.mark.parametrize("client_kind", ["sync", "async"])
def test_an_unsupported_language_gets_the_project_s_language(client_kind: str) -> None:
    with negotiating():
        response = _answer(
            client_kind, "/t/plain/code/not_found", **{"accept-language": "ja, ko;q=0.5"}
        )
    assert json.loads(response.content)["error"]["message"] == "Not found"
    assert response["Content-Language"] == "en"


def test_a_message_with_params_is_filled_in_the_client_s_language_and_in_english_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = "External service '%(service)s' timed out"
    with negotiating(), caplog.at_level(logging.INFO, logger="errors"):
        response = Client(raise_request_exception=False).get(
            "/t/drf/raise/billing_timed_out", headers={"accept-language": "de"}
        )
    assert response.status_code == 504
    message = json.loads(response.content)["error"]["message"]
    assert message == translations("de")[source] % {"service": "billing"}
    assert "billing" in message and "%(" not in message
    line = next(r for r in caplog.records if getattr(r, "error_code", None))
    assert line.error_message == source % {"service": "billing"}  # type: ignore[attr-defined]


def test_without_locale_middleware_nothing_is_negotiated(settings: Any) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != LOCALE_MIDDLEWARE]
    response = Client(raise_request_exception=False).get(
        "/t/plain/code/not_found", headers={"accept-language": "de"}
    )
    assert json.loads(response.content)["error"]["message"] == "Not found"
    assert "Content-Language" not in response
