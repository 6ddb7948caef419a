"""What an error body may and may not carry, in production and in development."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

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
