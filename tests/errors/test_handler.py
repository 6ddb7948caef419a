"""Every row of the contract's code table, through real requests to real views.

Each exception is raised from a DRF view (answered by `errors.handler.exception_handler`) and
from a plain Django view (answered by the middleware), with the sync and the async test client.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from tests.accounts.clients import CHALLENGE

pytestmark = pytest.mark.django_db

WWW_TOKEN = {"WWW-Authenticate": CHALLENGE}

# kind, status, code, message, details, headers only DRF views can know (WWW-Authenticate)
ROWS: list[tuple[str, int, str, str, dict[str, Any] | None, dict[str, str]]] = [
    (
        "validation_exception",
        400,
        "validation_error",
        "Validation error",
        {"field_errors": {"name": ["Name is required"]}},
        {},
    ),
    (
        "drf_validation",
        400,
        "validation_error",
        "Validation error",
        {"field_errors": {"name": ["This field is required."]}},
        {},
    ),
    (
        "django_validation",
        400,
        "validation_error",
        "Validation error",
        {"field_errors": {"name": ["Too short."]}},
        {},
    ),
    (
        "django_validation_plain",
        400,
        "validation_error",
        "Validation error",
        {"field_errors": {"non_field_errors": ["Not allowed today."]}},
        {},
    ),
    ("parse_error", 400, "parse_error", "Malformed request.", None, {}),
    ("authentication_exception", 401, "authentication_error", "Authentication failed", None, {}),
    (
        "not_authenticated",
        401,
        "authentication_error",
        "Authentication credentials were not provided.",
        None,
        WWW_TOKEN,
    ),
    (
        "authentication_failed",
        401,
        "authentication_error",
        "Incorrect authentication credentials.",
        None,
        WWW_TOKEN,
    ),
    ("token_expired", 401, "token_expired", "Token has expired", None, WWW_TOKEN),
    ("authorization_exception", 403, "authorization_error", "Insufficient permissions", None, {}),
    (
        "drf_permission_denied",
        403,
        "authorization_error",
        "You do not have permission to perform this action.",
        None,
        {},
    ),
    ("django_permission_denied", 403, "authorization_error", "Only owners may do that", None, {}),
    (
        "not_found_exception",
        404,
        "not_found",
        "Workspace not found",
        {"resource_type": "workspace", "resource_id": "42"},
        {},
    ),
    ("drf_not_found", 404, "not_found", "Not found.", None, {}),
    ("http404", 404, "not_found", "No such thing", None, {}),
    ("method_not_allowed", 405, "method_not_allowed", 'Method "PATCH" not allowed.', None, {}),
    (
        "not_acceptable",
        406,
        "not_acceptable",
        "Could not satisfy the request Accept header.",
        None,
        {},
    ),
    ("conflict_exception", 409, "conflict", "Resource conflict", None, {}),
    ("request_data_too_big", 413, "payload_too_large", "Request body too large", None, {}),
    (
        "unsupported_media_type",
        415,
        "unsupported_media_type",
        'Unsupported media type "text/csv" in request.',
        None,
        {},
    ),
    (
        "rate_limit_exception",
        429,
        "rate_limit_exceeded",
        "Rate limit exceeded",
        {"retry_after": 30},
        {},
    ),
    (
        "throttled",
        429,
        "rate_limit_exceeded",
        "Request was throttled. Expected available in 13 seconds.",
        {"retry_after": 13},
        {},
    ),
    (
        "external_service",
        502,
        "external_service_error",
        "External service error",
        {"service_name": "billing"},
        {},
    ),
    (
        "external_timeout",
        504,
        "external_service_error",
        "Billing timed out",
        {"service_name": "billing"},
        {},
    ),
    ("internal", 500, "internal_error", "Internal server error", None, {}),
]

RETRY_AFTER = {"rate_limit_exception": "30", "throttled": "13"}


def _get(client_kind: str, path: str, **headers: str) -> Any:
    if client_kind == "sync":
        return Client(raise_request_exception=False).get(path, headers=headers)
    return async_to_sync(AsyncClient(raise_request_exception=False).get)(path, headers=headers)


@pytest.mark.parametrize("client_kind", ["sync", "async"])
@pytest.mark.parametrize("view", ["drf", "plain"])
@pytest.mark.parametrize(("kind", "status", "code", "message", "details", "drf_headers"), ROWS)
def test_each_row_of_the_code_table(
    kind: str,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None,
    drf_headers: dict[str, str],
    view: str,
    client_kind: str,
) -> None:
    correlation_id = f"row-{kind}-{view}-{client_kind}"
    response = _get(client_kind, f"/t/{view}/raise/{kind}", **{"X-Correlation-ID": correlation_id})

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response["X-Correlation-ID"] == correlation_id
    body = json.loads(response.content)
    expected: dict[str, Any] = {
        "code": code,
        "message": message,
        "correlation_id": correlation_id,
    }
    if details is not None:
        expected["details"] = details
    assert body == {"error": expected}
    if kind in RETRY_AFTER:
        assert response["Retry-After"] == RETRY_AFTER[kind]
    if view == "drf":
        for name, value in drf_headers.items():
            assert response[name] == value


def test_internal_error_answer_carries_nothing_of_the_exception(client: Client) -> None:
    response = Client(raise_request_exception=False).get("/t/drf/raise/internal")
    text = response.content.decode()
    for leak in ("hunter2", "SELECT", "auth_user", "/srv/", "secret_settings", "RuntimeError"):
        assert leak not in text
