"""`/api/schema/` and `/api/docs/`: every operation documents the errors it can answer with."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client, override_settings
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from errors.openapi import ERROR_CODES_EXTENSION, generate_schema

SERVICE_URLS = override_settings(ROOT_URLCONF="cortex.urls")
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The service's schema, as `/api/schema/` serves it."""
    with SERVICE_URLS:
        response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return dict(response.json())


def operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def example_codes(response: dict[str, Any]) -> set[str]:
    examples = response["content"]["application/json"]["examples"]
    return {example["value"]["error"]["code"] for example in examples.values()}


def test_the_schema_is_valid_openapi_3(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    validate(schema)
    assert set(operations(schema)) == {
        "POST /api/auth/logout/",
        "POST /api/auth/token/",
        "POST /api/events/tickets/",
        "GET /api/workspaces/",
        "POST /api/workspaces/",
        "GET /api/workspaces/{workspace_id}/",
        "PUT /api/workspaces/{workspace_id}/",
        "PATCH /api/workspaces/{workspace_id}/",
        "DELETE /api/workspaces/{workspace_id}/",
    }


def test_the_schema_and_docs_are_public_even_with_a_bad_token() -> None:
    client = Client(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_every_operation_documents_server_errors(schema: dict[str, Any]) -> None:
    for name, operation in operations(schema).items():
        responses = operation["responses"]
        for status in ("405", "500", "503"):
            assert status in responses, f"{name} lacks {status}"
        assert example_codes(responses["500"]) == {"internal_error", "database_error"}
        assert example_codes(responses["503"]) == {"db_connection_error", "service_busy"}
        assert "Retry-After" in responses["503"]["headers"]


def test_every_error_example_is_valid_against_the_envelope(schema: dict[str, Any]) -> None:
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    validator = OAS30Validator(envelope)
    checked = 0
    for name, operation in operations(schema).items():
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            content = response["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}
            assert set(content["examples"]) == set(response[ERROR_CODES_EXTENSION]), name
            for example in content["examples"].values():
                validator.validate(example["value"])
                checked += 1
    assert checked > 50


def test_workspace_create_documents_its_errors(schema: dict[str, Any]) -> None:
    responses = operations(schema)["POST /api/workspaces/"]["responses"]
    assert {"201", "400", "401", "403", "405", "409", "413", "415", "429", "500", "503"} <= set(
        responses
    )
    assert "404" not in responses  # no path parameter
    assert example_codes(responses["400"]) == {
        "validation_error",
        "parse_error",
        "idempotency_key_invalid",
    }
    examples = responses["400"]["content"]["application/json"]["examples"]
    assert examples["validation_error"]["value"]["error"]["details"] == {
        "field_errors": {"name": ["This field is required."]}
    }
    assert "workspace_name_conflict" in example_codes(responses["409"])
    assert "workspace_name_conflict" in responses["409"]["description"]
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert "Retry-After" in responses["429"]["headers"]
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    assert "field_errors" in envelope["properties"]["error"]["properties"]["details"]["properties"]


def test_only_writes_can_conflict_and_only_paths_with_ids_are_404(
    schema: dict[str, Any],
) -> None:
    ops = operations(schema)
    assert "409" not in ops["GET /api/workspaces/"]["responses"]
    assert "409" in ops["PATCH /api/workspaces/{workspace_id}/"]["responses"]
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        responses = ops[f"{method} /api/workspaces/{{workspace_id}}/"]["responses"]
        assert example_codes(responses["404"]) == {"not_found"}
    detail_get = ops["GET /api/workspaces/{workspace_id}/"]["responses"]
    # No body: nothing to parse, too large or of the wrong type; no CSRF check on a safe method.
    assert not {"400", "403", "413", "415"} & set(detail_get)
    # The list validates its query parameters.
    list_400 = ops["GET /api/workspaces/"]["responses"]["400"]
    assert example_codes(list_400) == {"validation_error"}


def test_the_token_endpoint_is_public_but_throttled(schema: dict[str, Any]) -> None:
    operation = operations(schema)["POST /api/auth/token/"]
    assert {} in operation["security"]  # no credentials needed
    responses = operation["responses"]
    assert {"200", "400", "401", "429"} <= set(responses)
    # Wrong credentials; an expired token header is refused before the view, like anywhere.
    assert example_codes(responses["401"]) == {"authentication_error", "token_expired"}
    assert example_codes(responses["429"]) == {"rate_limit_exceeded"}
    assert set(operation["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
    }
    token = schema["components"]["schemas"]["TokenOutput"]
    assert token["properties"]["token"]["type"] == "string"


def test_a_new_view_gets_its_error_responses_without_annotations() -> None:
    schema = generate_schema("tests.openapi_urls")
    validate(schema)
    ops = operations(schema)

    listing = ops["GET /gadgets/"]["responses"]
    assert {"401", "405", "406", "429", "500", "503", "504"} <= set(listing)
    assert not {"400", "403", "404", "409", "413", "415"} & set(listing)

    create = ops["POST /gadgets/"]["responses"]
    assert {"400", "401", "403", "413", "415", "429", "500", "503"} <= set(create)
    field_errors = create["400"]["content"]["application/json"]["examples"]["validation_error"]
    assert field_errors["value"]["error"]["details"]["field_errors"] == {
        "name": ["This field is required."]
    }

    assert "404" in ops["GET /gadgets/{gadget_id}/"]["responses"]
    assert "409" not in ops["GET /gadgets/{gadget_id}/"]["responses"]
    assert example_codes(ops["DELETE /gadgets/{gadget_id}/"]["responses"]["409"]) == {"conflict"}

    ping = ops["GET /ping/"]["responses"]
    assert not {"400", "401", "403", "404", "429"} & set(ping)
    assert {"405", "500", "503"} <= set(ping)


def test_swagger_ui_is_served_from_local_static_files() -> None:
    client = Client()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "cdn" not in html.lower()
    assets = set(re.findall(r'(?:href|src)="(/static/[^"]+)"', html))
    assert {
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
    } <= assets
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert b"".join(asset.streaming_content)  # type: ignore[attr-defined]
    # Nothing outside the sidecar's directory is served.
    escape = client.get("/static/drf_spectacular_sidecar/../../../../etc/passwd")
    assert escape.status_code == 400 and escape.json()["error"]["code"] == "bad_request"
    assert client.get("/static/drf_spectacular_sidecar/nope.js").json()["error"]["code"] == (
        "not_found"
    )


def test_where_languages_are_negotiated_the_schema_says_so_and_examples_stay_english(
    settings: Any,
) -> None:
    locale = "django.middleware.locale.LocaleMiddleware"
    settings.MIDDLEWARE = [*(m for m in settings.MIDDLEWARE if m != locale), locale]
    from django.utils import translation

    with translation.override("de"):
        negotiated = operations(generate_schema("cortex.urls"))
    operation = negotiated["GET /api/workspaces/{workspace_id}/"]
    assert {"name": "Accept-Language", "in": "header"}.items() <= operation["parameters"][
        -1
    ].items()
    not_found = operation["responses"]["404"]
    assert "Content-Language" in not_found["headers"]
    example = not_found["content"]["application/json"]["examples"]["not_found"]["value"]
    assert example["error"]["message"] == "Not found"
    validate(generate_schema("cortex.urls"))


def test_without_language_negotiation_the_schema_names_no_language_headers(
    settings: Any,
) -> None:
    locale = "django.middleware.locale.LocaleMiddleware"
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != locale]
    for operation in operations(generate_schema("cortex.urls")).values():
        assert all(p["name"] != "Accept-Language" for p in operation.get("parameters", []))
        for response in operation["responses"].values():
            assert "Content-Language" not in response.get("headers", {})
