"""RFC 9457 problem details: the envelope's facts, for clients that ask for them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
# What a client that speaks RFC 9457 sends: JSON for results, problem details for errors.
ACCEPT = f"application/json, {PROBLEM}"


def get(path: str, accept: str, **headers: str) -> Any:
    return Client(raise_request_exception=False).get(
        path, headers={"Accept": accept, "X-Correlation-ID": "pd-1", **headers}
    )


def test_not_found_as_problem_details() -> None:
    response = get("/t/drf/raise/not_found_exception", ACCEPT)
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert json.loads(response.content) == {
        "type": "/api/errors/not_found",
        "title": "Not found",
        "status": 404,
        "detail": "Workspace not found",
        "instance": "/t/drf/raise/not_found_exception",
        "code": "not_found",
        "correlation_id": "pd-1",
        "details": {"resource_type": "workspace", "resource_id": "42"},
    }


def test_field_errors_become_errors() -> None:
    response = Client().post(
        "/t/drf/validate",
        data={},
        content_type="application/json",
        headers={"Accept": f"{PROBLEM}, application/json;q=0.5"},
    )
    assert response.status_code == 400
    body = json.loads(response.content)
    assert body["code"] == "validation_error"
    assert body["errors"]["name"] == ["This field is required."]
    assert "details" not in body


@pytest.mark.parametrize("view", ["drf", "plain"])
def test_headers_and_safety_are_the_same(view: str) -> None:
    response = get(f"/t/{view}/raise/internal", ACCEPT)
    assert response.status_code == 500
    text = response.content.decode()
    assert "hunter2" not in text and "SELECT" not in text
    assert json.loads(text)["detail"] == "Internal server error"
    throttled = get(f"/t/{view}/raise/throttled", ACCEPT)
    assert throttled["Retry-After"] == "13"
    assert json.loads(throttled.content)["details"] == {"retry_after": 13}


@pytest.mark.parametrize("accept", ["application/json", "*/*", "", f"{PROBLEM};q=0"])
def test_other_clients_keep_the_envelope(accept: str) -> None:
    response = get("/no/such/url", accept)
    assert response["Content-Type"] == "application/json"
    assert set(json.loads(response.content)) == {"error"}


def test_html_clients_get_the_envelope_under_the_json_prefixes() -> None:
    response = get("/api/no/such/url", "text/html")
    assert response["Content-Type"] == "application/json"
    assert set(json.loads(response.content)) == {"error"}


def test_a_setting_makes_problem_details_the_default(settings: Any) -> None:
    settings.ERRORS_PROBLEM_DETAILS = True
    response = get("/no/such/url", "*/*")
    assert response["Content-Type"] == PROBLEM
    assert json.loads(response.content)["type"] == "/api/errors/not_found"


def test_the_type_uri_resolves_to_the_catalog_entry() -> None:
    response = Client().get("/api/errors/workspace_name_conflict")
    assert response.status_code == 200
    assert response.json() == {
        "code": "workspace_name_conflict",
        "status": 409,
        "category": "conflict",
        "severity": "info",
        "title": "A workspace with this name already exists",
        "meaning": "The caller already has a workspace of that name (names are unique per "
        "owner, ignoring case).",
    }
    assert Client().get("/api/errors/no_such_code").status_code == 404


def test_a_client_accepting_only_problem_details_is_told_406_in_problem_details() -> None:
    # DRF negotiates the success response first: nothing but errors is problem+json.
    response = get("/t/drf/ok", PROBLEM)
    assert response.status_code == 406
    assert response["Content-Type"] == PROBLEM
    assert json.loads(response.content)["code"] == "not_acceptable"
