"""The OpenAPI schema documents both ways of sending a token (accounts/schema.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings
from openapi_spec_validator import validate

SERVICE_URLS = override_settings(ROOT_URLCONF="cortex.urls")
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The service's schema, as `/api/schema/` serves it."""
    with SERVICE_URLS:
        response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def test_token_and_bearer_are_security_schemes(schema: dict[str, Any]) -> None:
    validate(schema)
    schemes = schema["components"]["securitySchemes"]
    assert schemes["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": 'The same token as tokenAuth, sent as "Bearer <token>".',
    }


def test_every_operation_that_takes_a_token_takes_either_scheme(schema: dict[str, Any]) -> None:
    securities = {
        f"{method.upper()} {path}": operation["security"]
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }
    assert securities
    for operation, security in securities.items():
        # Alternatives: one requirement each, not one requirement that asks for both.
        assert {"tokenAuth": []} in security, operation
        assert {"bearerAuth": []} in security, operation
        assert not any(len(requirement) > 1 for requirement in security), operation
    assert securities["POST /api/auth/logout/"] == [{"tokenAuth": []}, {"bearerAuth": []}]
    assert {} in securities["POST /api/auth/token/"]  # the login needs no credentials


def test_the_token_endpoint_says_how_to_send_the_token(schema: dict[str, Any]) -> None:
    token = schema["components"]["schemas"]["TokenOutput"]["properties"]["token"]
    assert token["description"] == (
        "Send it as `Authorization: Token <token>` or `Authorization: Bearer <token>`."
    )
