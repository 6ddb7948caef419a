"""Errors that happen outside DRF's exception handler still answer with the envelope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, override_settings

pytestmark = pytest.mark.django_db


def body(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)["error"]


@pytest.fixture
def quiet_client() -> Client:
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_url_is_a_json_404_with_or_without_debug(debug: bool, quiet_client: Client) -> None:
    with override_settings(DEBUG=debug):
        response = quiet_client.get("/no/such/url", headers={"X-Correlation-ID": "abc-123"})
    assert response.status_code == 404
    error = body(response)
    assert error == {"code": "not_found", "message": "Not found", "correlation_id": "abc-123"}
    assert response["X-Correlation-ID"] == "abc-123"


def test_unknown_url_with_the_async_client() -> None:
    response = async_to_sync(AsyncClient().get)("/no/such/url")
    assert response.status_code == 404
    assert body(response)["code"] == "not_found"
    assert body(response)["correlation_id"] == response["X-Correlation-ID"]


def test_drf_method_not_allowed_keeps_allow(client: Client) -> None:
    response = client.put("/t/drf/ok", data={}, content_type="application/json")
    assert response.status_code == 405
    assert body(response)["code"] == "method_not_allowed"
    assert body(response)["message"] == 'Method "PUT" not allowed.'
    assert set(response["Allow"].split(", ")) == {"GET", "OPTIONS"}


def test_plain_view_405_is_converted_and_keeps_allow(client: Client) -> None:
    response = client.post("/t/plain/get-only")
    assert response.status_code == 405
    assert body(response) == {
        "code": "method_not_allowed",
        "message": "Method not allowed",
        "correlation_id": response["X-Correlation-ID"],
    }
    assert response["Allow"] == "GET"


def test_malformed_json_is_a_parse_error(client: Client) -> None:
    response = client.post("/t/drf/validate", data="{not json", content_type="application/json")
    assert response.status_code == 400
    error = body(response)
    assert error["code"] == "parse_error"
    assert error["message"].startswith("JSON parse error")


def test_unsupported_media_type(client: Client) -> None:
    response = client.post("/t/drf/validate", data="a,b", content_type="text/csv")
    assert response.status_code == 415
    assert body(response)["code"] == "unsupported_media_type"


def test_not_acceptable(client: Client) -> None:
    response = client.get("/t/drf/ok", headers={"Accept": "text/csv"})
    assert response.status_code == 406
    assert body(response)["code"] == "not_acceptable"


@pytest.mark.parametrize("path", ["/t/drf/validate", "/t/plain/raise/internal"])
def test_body_over_the_limit_is_413_before_anything_reads_it(path: str, client: Client) -> None:
    payload = json.dumps({"name": "x" * (70 * 1024)})
    response = client.post(path, data=payload, content_type="application/json")
    assert response.status_code == 413
    assert body(response)["code"] == "payload_too_large"


def test_nested_and_list_errors_use_dotted_paths(client: Client) -> None:
    payload = {
        "name": "forbidden-name-too-long",
        "metadata": {"color": "green"},
        "items": [{"name": "toolong"}, {"name": "ok"}, {}],
        "tags": ["fine", "ok"],
    }
    response = client.post("/t/drf/validate", data=payload, content_type="application/json")
    assert response.status_code == 400
    field_errors = body(response)["details"]["field_errors"]
    assert field_errors == {
        "name": ["Ensure this field has no more than 10 characters."],
        "metadata.color": ['"green" is not a valid choice.'],
        "items.0.name": ["Ensure this field has no more than 5 characters."],
        "items.2.name": ["This field is required."],
        "tags.0": ["Ensure this field has no more than 3 characters."],
    }


def test_non_field_errors_of_a_serializer(client: Client) -> None:
    payload = {"name": "forbidden", "metadata": {"color": "red"}, "items": []}
    response = client.post("/t/drf/validate", data=payload, content_type="application/json")
    assert response.status_code == 400
    assert body(response)["details"] == {
        "field_errors": {"non_field_errors": ["This name is forbidden."]}
    }


def test_csrf_failure_is_a_403_envelope() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/t/plain/get-only")
    assert response.status_code == 403
    error = body(response)
    assert error["code"] == "authorization_error"
    assert error["message"] == "CSRF verification failed: CSRF cookie not set."


def test_disallowed_host_is_a_400_envelope(quiet_client: Client) -> None:
    response = quiet_client.get("/healthz", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert body(response)["code"] == "bad_request"
    assert "evil" not in response.content.decode()


def test_exception_in_middleware_is_a_500_envelope_without_its_text(quiet_client: Client) -> None:
    response = quiet_client.get("/healthz", headers={"X-Explode": "1"})
    assert response.status_code == 500
    error = body(response)
    assert error["code"] == "internal_error"
    assert error["message"] == "Internal server error"
    assert "hunter2" not in response.content.decode()


def test_a_views_own_json_error_is_left_as_it_is(client: Client) -> None:
    response = client.get("/t/plain/own-json-error")
    assert response.status_code == 418
    assert json.loads(response.content) == {"detail": "teapot"}
    assert response["X-Correlation-ID"]


def test_success_responses_carry_the_correlation_id(client: Client) -> None:
    response = client.get("/t/drf/ok", headers={"X-Correlation-ID": "ok-1"})
    assert response.status_code == 200
    assert response["X-Correlation-ID"] == "ok-1"
    assert response.json()["correlation_id"] == "ok-1"
