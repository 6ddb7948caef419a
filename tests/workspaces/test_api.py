"""The workspaces API over HTTP: every endpoint's success and every error it can answer."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.accounts.clients import CHALLENGE
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db

LIST = "/api/workspaces/"


def detail(workspace_id: Any) -> str:
    return f"/api/workspaces/{workspace_id}/"


def error(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"error"}
    assert body["error"]["correlation_id"] == response["X-Correlation-ID"]
    return body["error"]


def create(api: APIClient, name: str = "Alpha", **fields: Any) -> dict[str, Any]:
    response = api.post(LIST, {"name": name, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- success paths ---------------------------------------------------------------------------


def test_create_returns_201_location_and_the_workspace(api: APIClient, user: User) -> None:
    response = api.post(
        LIST,
        {"name": "  Project X  ", "description": "Ours", "metadata": {"color": "blue"}},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Project X"
    assert body["description"] == "Ours"
    assert body["metadata"] == {"color": "blue"}
    assert set(body) == {
        "id",
        "name",
        "description",
        "metadata",
        "version",
        "created_at",
        "updated_at",
    }
    assert body["version"] == 1
    assert response["ETag"] == '"1"'
    assert response["Location"] == detail(body["id"])
    assert Workspace.objects.get(id=body["id"]).owner == user


def test_list_is_paginated_and_only_the_callers(api: APIClient, other_api: APIClient) -> None:
    for index in range(5):
        create(api, f"W{index}")
    create(other_api, "Theirs")

    first = api.get(LIST, {"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert page["count"] == 5
    assert [w["name"] for w in page["results"]] == ["W0", "W1"]
    assert page["previous"] is None
    assert page["next"].endswith("/api/workspaces/?limit=2&offset=2")

    last = api.get(LIST, {"limit": 2, "offset": 4}).json()
    assert [w["name"] for w in last["results"]] == ["W4"]
    assert last["next"] is None
    assert last["previous"].endswith("/api/workspaces/?limit=2&offset=2")


def test_retrieve(api: APIClient) -> None:
    created = create(api, "Alpha", metadata={"a": [1, 2]})
    response = api.get(detail(created["id"]))
    assert response.status_code == 200
    assert response.json() == created


def test_patch_changes_only_what_is_sent(api: APIClient) -> None:
    created = create(api, "Alpha", description="Keep me")
    response = api.patch(detail(created["id"]), {"name": "Beta"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "Beta"
    assert response.json()["description"] == "Keep me"


def test_put_replaces_the_workspace(api: APIClient) -> None:
    created = create(api, "Alpha", description="Gone after PUT", metadata={"x": 1})
    response = api.put(detail(created["id"]), {"name": "Alpha"}, format="json")
    assert response.status_code == 200
    assert response.json()["description"] == ""
    assert response.json()["metadata"] == {}


def test_renaming_to_another_case_of_its_own_name_is_allowed(api: APIClient) -> None:
    created = create(api, "alpha")
    response = api.patch(detail(created["id"]), {"name": "ALPHA"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "ALPHA"


def test_delete(api: APIClient) -> None:
    created = create(api)
    response = api.delete(detail(created["id"]))
    assert response.status_code == 204
    assert response.content == b""
    assert not Workspace.objects.filter(id=created["id"]).exists()


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field_errors"),
    [
        ({}, {"name": ["This field is required."]}),
        ({"name": "   "}, {"name": ["This field may not be blank."]}),
        ({"name": "x" * 101}, {"name": ["Ensure this field has no more than 100 characters."]}),
        ({"name": ["a", "list"]}, {"name": ["Not a valid string."]}),
        (
            {"name": "ok", "description": "d" * 1001},
            {"description": ["Ensure this field has no more than 1000 characters."]},
        ),
        (
            {"name": "ok", "metadata": ["not", "an", "object"]},
            {"metadata": ["Must be a JSON object."]},
        ),
        ({"name": "ok", "metadata": "text"}, {"metadata": ["Must be a JSON object."]}),
        (
            {"name": "ok", "metadata": {"blob": "x" * (16 * 1024)}},
            {"metadata": ["Must be at most 16 kB once serialized."]},
        ),
    ],
    ids=[
        "missing-name",
        "blank-name",
        "long-name",
        "list-name",
        "long-description",
        "list-metadata",
        "string-metadata",
        "big-metadata",
    ],
)
def test_validation_errors_name_the_field(
    api: APIClient, payload: dict[str, Any], field_errors: dict[str, list[str]]
) -> None:
    response = api.post(LIST, payload, format="json")
    assert response.status_code == 400
    body = error(response)
    assert body["code"] == "validation_error"
    assert body["details"] == {"field_errors": field_errors}
    assert Workspace.objects.count() == 0


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"offset": -1}, {"offset": 2**70}],
)
def test_bad_paging_parameters(api: APIClient, params: dict[str, Any]) -> None:
    response = api.get(LIST, params)
    assert response.status_code == 400
    assert set(error(response)["details"]["field_errors"]) == set(params)


def test_patch_validation_keeps_the_workspace_unchanged(api: APIClient) -> None:
    created = create(api, "Alpha")
    response = api.patch(detail(created["id"]), {"metadata": 5}, format="json")
    assert response.status_code == 400
    assert Workspace.objects.get(id=created["id"]).metadata == {}


def test_malformed_json(api: APIClient) -> None:
    response = api.post(LIST, "{oops", content_type="application/json")
    assert response.status_code == 400
    assert error(response)["code"] == "parse_error"


def test_unsupported_media_type(api: APIClient) -> None:
    response = api.post(LIST, "name=x", content_type="text/plain")
    assert response.status_code == 415
    assert error(response)["code"] == "unsupported_media_type"


# --- authentication --------------------------------------------------------------------------


def test_missing_token_is_401_with_www_authenticate() -> None:
    response = APIClient().get(LIST)
    assert response.status_code == 401
    assert error(response)["code"] == "authentication_error"
    assert response["WWW-Authenticate"] == CHALLENGE


def test_invalid_token_is_401(db: Any) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(LIST)
    assert response.status_code == 401
    assert error(response)["code"] == "authentication_error"
    assert error(response)["message"] == "Invalid token."


def test_expired_token_is_401_token_expired(api: APIClient, user: User, settings: Any) -> None:
    settings.TOKEN_TTL = 60
    from datetime import timedelta

    from django.utils import timezone
    from knox.models import AuthToken

    AuthToken.objects.filter(user=user).update(created=timezone.now() - timedelta(seconds=61))
    response = api.get(LIST)
    assert response.status_code == 401
    assert error(response)["code"] == "token_expired"
    assert response["WWW-Authenticate"] == CHALLENGE


# --- ownership, not found, methods, conflicts --------------------------------------------------


@pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
def test_another_owners_workspace_is_404(api: APIClient, other_api: APIClient, method: str) -> None:
    theirs = create(other_api, "Theirs")
    response = getattr(api, method)(detail(theirs["id"]), {"name": "Mine now"}, format="json")
    assert response.status_code == 404
    body = error(response)
    assert body == {
        "code": "not_found",
        "message": "Workspace not found",
        "correlation_id": response["X-Correlation-ID"],
        "details": {"resource_type": "workspace", "resource_id": theirs["id"]},
    }
    assert Workspace.objects.get(id=theirs["id"]).name == "Theirs"


def test_unknown_id_is_404(api: APIClient) -> None:
    missing = uuid.uuid4()
    response = api.get(detail(missing))
    assert response.status_code == 404
    assert error(response)["details"]["resource_id"] == str(missing)


def test_malformed_uuid_is_404(api: APIClient) -> None:
    response = api.get("/api/workspaces/not-a-uuid/")
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


def test_method_not_allowed(api: APIClient) -> None:
    response = api.delete(LIST)
    assert response.status_code == 405
    assert error(response)["code"] == "method_not_allowed"
    assert "POST" in response["Allow"]


def test_duplicate_name_in_other_case_is_409(api: APIClient) -> None:
    create(api, "Project X")
    response = api.post(LIST, {"name": "project x"}, format="json")
    assert response.status_code == 409
    body = error(response)
    assert body["code"] == "workspace_name_conflict"
    assert body["message"] == "A workspace named 'project x' already exists"
    assert Workspace.objects.count() == 1


def test_renaming_onto_another_workspace_is_409(api: APIClient) -> None:
    create(api, "Alpha")
    beta = create(api, "Beta")
    response = api.patch(detail(beta["id"]), {"name": "ALPHA"}, format="json")
    assert response.status_code == 409
    assert error(response)["code"] == "workspace_name_conflict"
    assert Workspace.objects.get(id=beta["id"]).name == "Beta"


@pytest.mark.parametrize(("first", "second"), [("Émile", "émile"), ("Straße", "STRASSE")])
def test_a_name_equal_under_unicode_case_folding_is_409(
    api: APIClient, first: str, second: str
) -> None:
    create(api, first)
    response = api.post(LIST, {"name": second}, format="json")
    assert response.status_code == 409
    body = error(response)
    assert body["code"] == "workspace_name_conflict"
    assert body["message"] == f"A workspace named '{second}' already exists"
    assert body["details"] == {"name": second}
    assert [w["name"] for w in api.get(LIST).json()["results"]] == [first]


def test_renaming_onto_a_name_equal_under_unicode_case_folding_is_409(api: APIClient) -> None:
    create(api, "Straße")
    other = create(api, "Other")
    for method in (api.patch, api.put):
        response = method(detail(other["id"]), {"name": "STRASSE"}, format="json")
        assert response.status_code == 409
        assert error(response)["code"] == "workspace_name_conflict"
    assert api.get(detail(other["id"])).json()["name"] == "Other"


def test_renaming_to_a_case_variant_of_its_own_name_is_allowed(api: APIClient) -> None:
    created = create(api, "Straße")
    response = api.patch(detail(created["id"]), {"name": "STRASSE"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "STRASSE"
    response = api.put(detail(created["id"]), {"name": "émile"}, format="json")
    assert response.status_code == 200
    response = api.patch(detail(created["id"]), {"name": "ÉMILE"}, format="json")
    assert response.status_code == 200
    assert api.get(detail(created["id"])).json()["name"] == "ÉMILE"
    # The old name is free again.
    create(api, "strasse")


def test_the_same_name_for_two_owners_is_fine(api: APIClient, other_api: APIClient) -> None:
    create(api, "Shared")
    create(other_api, "Shared")


# --- rate limits -----------------------------------------------------------------------------


def test_api_rate_limit_is_429_with_retry_after(api: APIClient, settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/minute", "login": "10/minute"},
    }
    statuses = [api.get(LIST).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = api.get(LIST)
    assert response.status_code == 429
    body = error(response)
    assert body["code"] == "rate_limit_exceeded"
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["details"] == {"retry_after": retry_after}


def test_a_django_session_authenticates_too(user: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(LIST).status_code == 200
    # Unsafe methods through a session need the CSRF token, like any Django form.
    response = client.post(LIST, {"name": "Via session"}, format="json")
    assert response.status_code == 403
    body = error(response)
    assert body["code"] == "authorization_error"
    assert body["message"].startswith("CSRF Failed")


# --- a workspace the caller cannot see is 404 whatever the body --------------------------------

INVALID_BODIES = [
    ('{"metadata": 5}', "application/json"),
    ('{"name": ""}', "application/json"),
    ("{oops", "application/json"),
    ("[" * 1000 + "]" * 1000, "application/json"),
    ('{"name": "a\\u0000"}', "application/json"),
    ("name=x", "text/plain"),
]


@pytest.mark.parametrize(
    ("body", "content_type"),
    INVALID_BODIES,
    ids=["wrong-type", "blank", "malformed", "deep", "nul", "media-type"],
)
@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("whose", ["missing", "another-owners"])
def test_updating_a_workspace_one_cannot_see_is_404_whatever_the_body(
    api: APIClient, other_api: APIClient, whose: str, method: str, body: str, content_type: str
) -> None:
    workspace_id = uuid.uuid4() if whose == "missing" else create(other_api, "Theirs")["id"]
    response = getattr(api, method)(detail(workspace_id), body, content_type=content_type)
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"
    assert error(response)["details"] == {
        "resource_type": "workspace",
        "resource_id": str(workspace_id),
    }


def test_an_invalid_body_for_ones_own_workspace_is_still_400(api: APIClient) -> None:
    created = create(api)
    response = api.patch(detail(created["id"]), {"metadata": 5}, format="json")
    assert response.status_code == 400
    assert error(response)["details"] == {"field_errors": {"metadata": ["Must be a JSON object."]}}


# --- URLs without their trailing slash are served, not redirected ------------------------------


def test_create_without_the_trailing_slash(api: APIClient, user: User) -> None:
    response = api.post("/api/workspaces", {"name": "No slash"}, format="json")
    assert response.status_code == 201
    assert response["Location"] == detail(response.json()["id"])  # the canonical URL
    assert Workspace.objects.get(owner=user).name == "No slash"


def test_every_method_on_one_workspace_without_the_trailing_slash(api: APIClient) -> None:
    created = create(api)
    url = f"/api/workspaces/{created['id']}"
    assert api.get(url).json() == created
    assert api.put(url, {"name": "Put"}, format="json").json()["name"] == "Put"
    assert api.patch(url, {"description": "P"}, format="json").json()["description"] == "P"
    assert api.delete(url).status_code == 204
    response = api.patch(url, {"name": "Gone"}, format="json")
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


def test_the_list_without_the_trailing_slash_pages_the_same(api: APIClient) -> None:
    for index in range(3):
        create(api, f"W{index}")
    response = api.get("/api/workspaces", {"limit": 2})
    assert response.status_code == 200
    page = response.json()
    assert [w["name"] for w in page["results"]] == ["W0", "W1"]
    assert page["next"].endswith("/api/workspaces?limit=2&offset=2")


def test_the_schema_lists_each_operation_once_with_its_slash(settings: Any) -> None:
    settings.ROOT_URLCONF = "cortex.urls"
    schema = APIClient().get("/api/schema/?format=json").json()
    workspace_paths = {p for p in schema["paths"] if p.startswith("/api/workspaces")}
    assert workspace_paths == {"/api/workspaces/", "/api/workspaces/{workspace_id}/"}


# --- versions: ETag, If-Match, If-None-Match ----------------------------------------------------


def test_every_answer_with_one_workspace_carries_its_version_as_etag(api: APIClient) -> None:
    created = api.post(LIST, {"name": "Versioned"}, format="json")
    assert created["ETag"] == '"1"'
    url = detail(created.json()["id"])
    assert api.get(url)["ETag"] == '"1"'
    patched = api.patch(url, {"description": "one"}, format="json")
    assert patched["ETag"] == '"2"' and patched.json()["version"] == 2
    put = api.put(url, {"name": "Versioned", "description": "two"}, format="json")
    assert put["ETag"] == '"3"' and put.json()["version"] == 3
    assert api.get(LIST).json()["results"][0]["version"] == 3


def test_a_stale_if_match_is_412_with_the_current_etag_and_changes_nothing(
    api: APIClient,
) -> None:
    url = detail(create(api, "Shared")["id"])
    assert (
        api.patch(url, {"description": "mine"}, format="json", HTTP_IF_MATCH='"1"').status_code
        == 200
    )
    for method in ("patch", "put"):
        stale = getattr(api, method)(
            url, {"name": "Shared", "description": "theirs"}, format="json", HTTP_IF_MATCH='"1"'
        )
        assert stale.status_code == 412
        assert stale["ETag"] == '"2"'
        body = error(stale)
        assert body["code"] == "precondition_failed"
        assert body["details"] == {"current_etag": '"2"'}
    gone = api.delete(url, HTTP_IF_MATCH='"1"')
    assert gone.status_code == 412 and gone["ETag"] == '"2"'
    current = api.get(url).json()
    assert (current["description"], current["version"]) == ("mine", 2)


def test_the_current_if_match_or_a_star_or_none_is_applied(api: APIClient) -> None:
    url = detail(create(api, "Applied")["id"])
    assert api.patch(url, {"description": "a"}, format="json", HTTP_IF_MATCH='"1"')["ETag"] == '"2"'
    assert (
        api.patch(url, {"description": "b"}, format="json", HTTP_IF_MATCH='"0", "2"')["ETag"]
        == '"3"'
    )
    assert api.patch(url, {"description": "c"}, format="json", HTTP_IF_MATCH="*")["ETag"] == '"4"'
    assert api.patch(url, {"description": "d"}, format="json")["ETag"] == '"5"'
    assert api.delete(url, HTTP_IF_MATCH='"5"').status_code == 204
    assert not Workspace.objects.exists()


def test_a_weak_or_foreign_if_match_never_matches(api: APIClient) -> None:
    url = detail(create(api, "Strict")["id"])
    for tag in ('W/"1"', "1", '"v1"', '"1'):
        response = api.patch(url, {"description": "x"}, format="json", HTTP_IF_MATCH=tag)
        assert response.status_code == 412, tag
    assert api.get(url).json()["version"] == 1


def test_a_stale_if_match_is_412_before_the_body_is_read_and_after_not_found(
    api: APIClient, other_api: APIClient
) -> None:
    url = detail(create(api, "Ordered")["id"])
    api.patch(url, {"description": "v2"}, format="json")
    bad_and_stale = api.patch(url, {"name": ""}, format="json", HTTP_IF_MATCH='"1"')
    assert bad_and_stale.status_code == 412
    strangers = other_api.patch(url, {"name": ""}, format="json", HTTP_IF_MATCH='"1"')
    assert strangers.status_code == 404


def test_if_none_match_of_the_current_version_is_304(api: APIClient) -> None:
    url = detail(create(api, "Cached")["id"])
    same = api.get(url, HTTP_IF_NONE_MATCH='"1"')
    assert same.status_code == 304
    assert same.content == b""
    assert same["ETag"] == '"1"'
    api.patch(url, {"description": "changed"}, format="json")
    changed = api.get(url, HTTP_IF_NONE_MATCH='"1"')
    assert changed.status_code == 200 and changed.json()["description"] == "changed"


def test_with_if_match_required_a_write_without_it_is_428(api: APIClient, settings: Any) -> None:
    settings.SAFEWRITES_REQUIRE_IF_MATCH = True
    url = detail(create(api, "Required")["id"])  # a POST needs none
    for response in (
        api.patch(url, {"description": "x"}, format="json"),
        api.put(url, {"name": "Required"}, format="json"),
        api.delete(url),
    ):
        assert response.status_code == 428
        assert error(response)["code"] == "precondition_required"
    assert api.get(url).status_code == 200
    assert (
        api.patch(url, {"description": "x"}, format="json", HTTP_IF_MATCH='"1"').status_code == 200
    )


# --- Idempotency-Key on create ------------------------------------------------------------------


def test_a_create_retried_with_its_key_is_replayed_and_makes_one_workspace(
    api: APIClient, user: User
) -> None:
    first = api.post(LIST, {"name": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="create-once")
    again = api.post(LIST, {"name": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="create-once")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert (again["Location"], again["ETag"]) == (first["Location"], first["ETag"])
    assert again["Idempotent-Replayed"] == "true"
    assert Workspace.objects.filter(owner=user).count() == 1


def test_a_conflict_is_replayed_as_it_was_answered(api: APIClient) -> None:
    create(api, "Taken")
    first = api.post(LIST, {"name": "taken"}, format="json", HTTP_IDEMPOTENCY_KEY="k-409")
    assert first.status_code == 409
    Workspace.objects.all().delete()  # the name is free now, but the key's answer stands
    again = api.post(LIST, {"name": "taken"}, format="json", HTTP_IDEMPOTENCY_KEY="k-409")
    assert again.status_code == 409
    assert error(again)["code"] == "workspace_name_conflict"
    assert again["Idempotent-Replayed"] == "true"
    assert not Workspace.objects.exists()


def test_a_key_reused_for_another_workspace_is_422(api: APIClient) -> None:
    assert api.post(LIST, {"name": "A"}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    reused = api.post(LIST, {"name": "B"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert reused.status_code == 422
    assert error(reused)["code"] == "idempotency_key_reused"
    assert [w.name for w in Workspace.objects.all()] == ["A"]


def test_the_schema_documents_versions_and_keys_per_operation() -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    ops = schema["paths"]

    def headers_in(method: str, path: str) -> set[str]:
        params = ops[path][method]["parameters"]
        return {p["name"] for p in params if p["in"] == "header"}

    def codes(method: str, path: str, status: str) -> set[str]:
        examples = ops[path][method]["responses"][status]["content"]["application/json"]
        return set(examples["examples"])

    one = "/api/workspaces/{workspace_id}/"
    assert {"Idempotency-Key"} <= headers_in("post", "/api/workspaces/")
    key = next(
        p for p in ops["/api/workspaces/"]["post"]["parameters"] if p["name"] == "Idempotency-Key"
    )
    assert key["schema"]["pattern"].startswith("^(")
    assert codes("post", "/api/workspaces/", "409") == {
        "workspace_name_conflict",
        "idempotency_in_progress",
    }
    assert codes("post", "/api/workspaces/", "422") == {"idempotency_key_reused"}
    assert "idempotency_key_invalid" in codes("post", "/api/workspaces/", "400")
    assert "ETag" in ops["/api/workspaces/"]["post"]["responses"]["201"]["headers"]
    assert {"If-None-Match"} <= headers_in("get", one)
    assert "304" in ops[one]["get"]["responses"]
    assert "ETag" in ops[one]["get"]["responses"]["200"]["headers"]
    for method in ("put", "patch", "delete"):
        assert {"If-Match"} <= headers_in(method, one), method
        responses = ops[one][method]["responses"]
        assert codes(method, one, "412") == {"precondition_failed"}
        assert "ETag" in responses["412"]["headers"]
        assert codes(method, one, "428") == {"precondition_required"}
    for method in ("put", "patch"):
        assert "ETag" in ops[one][method]["responses"]["200"]["headers"]
    assert "If-Match" not in headers_in("get", one)
