"""`errors.normalize`: what an exception that nothing caught becomes, by kind.

Exceptions of other libraries are a bare 500 unless a project registers a translation for them
(`register`): then they are answered as the `AppException` it returns, subclasses included, and
their own text never reaches the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import rest_framework
from django.core import exceptions as django_exc
from django.db import IntegrityError, OperationalError
from django.http import Http404
from django.test import Client
from django.urls import Resolver404
from rest_framework import exceptions as drf_exc
from rest_framework import settings as drf_settings

from errors.exceptions import (
    ConflictException,
    NotFoundException,
    RateLimitException,
    ServiceUnavailableException,
)
from errors.normalize import flatten_errors, for_status, normalize, register
from tests.testapp.models import Child, Parent
from tests.testapp.views import RAISERS, GroupSerializer, in_raise_mode


class BackendDown(Exception):
    """A backing service's own error, which `errors` knows nothing of."""


class BackendLoading(BackendDown):
    pass


def backend_unavailable(exc: BaseException) -> ServiceUnavailableException:
    return ServiceUnavailableException("The backend is down; try again soon", retry_after=9)


# exception, status, code, Retry-After
ROWS: list[tuple[Callable[[], BaseException], int, str, str | None]] = [
    (
        lambda: BackendDown("Error 111 connecting to 10.0.0.7:6379."),
        503,
        "service_unavailable",
        "9",
    ),
    (lambda: BackendLoading("still loading from socket"), 503, "service_unavailable", "9"),
    (lambda: TimeoutError("timed out on socket"), 500, "internal_error", None),
    (
        lambda: ConnectionRefusedError(111, "Connection refused on 6379"),
        500,
        "internal_error",
        None,
    ),
]


@pytest.mark.parametrize("view", ["plain", "drf"])
@pytest.mark.parametrize(
    ("make", "status", "code", "retry_after"),
    ROWS,
    ids=["registered", "registered-subclass", "timeout", "refused"],
)
def test_each_row(
    make: Callable[[], BaseException],
    status: int,
    code: str,
    retry_after: str | None,
    view: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    register(BackendDown, backend_unavailable)
    register(BackendDown, backend_unavailable)  # again: no second entry, no change
    monkeypatch.setitem(RAISERS, "backend", make)
    response = Client(raise_request_exception=False).get(
        f"/t/{view}/raise/backend", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert response.headers.get("Retry-After") == retry_after
    if status == 503:
        assert error["message"] == "The backend is down; try again soon"
    # Nothing of the exception's own text or the address reaches the client. (The random
    # correlation id may hold "6379" by chance: it is taken out first.)
    text = response.content.decode().replace(error["correlation_id"], "")
    assert "6379" not in text and "socket" not in text


# --- flatten_errors: DRF's and Django's nested error shapes to dotted paths -------------------

FLATTEN_ROWS: list[tuple[str, Any, dict[str, list[str]]]] = [
    ("message", "Bad.", {"non_field_errors": ["Bad."]}),
    ("list of messages", ["One.", "Two."], {"non_field_errors": ["One.", "Two."]}),
    ("field", {"name": ["Required."]}, {"name": ["Required."]}),
    ("field with a bare message", {"name": "Required."}, {"name": ["Required."]}),
    ("nested serializer", {"metadata": {"color": ["Bad."]}}, {"metadata.color": ["Bad."]}),
    (
        "list serializer: {} for the valid items, index kept",
        {"items": [{}, {"name": ["Required."]}]},
        {"items.1.name": ["Required."]},
    ),
    (
        "ListField (DRF 3.18): items keyed by index",
        {"tags": {0: ["Not a string."], 2: ["Too long."]}},
        {"tags.0": ["Not a string."], "tags.2": ["Too long."]},
    ),
    (
        "list serializer (DRF 3.18): only the invalid items, keyed by index",
        {"items": {1: {"name": ["Required."]}}},
        {"items.1.name": ["Required."]},
    ),
    (
        "list serializer in a list serializer (DRF 3.18)",
        {0: {"items": {2: {"name": ["Bad."]}}}, 3: {"title": ["Bad."]}},
        {"0.items.2.name": ["Bad."], "3.title": ["Bad."]},
    ),
    (
        "list serializer in a list serializer (before 3.18, or the list form)",
        [{"items": [{}, {}, {"name": ["Bad."]}]}, {}, {}, {"title": ["Bad."]}],
        {"0.items.2.name": ["Bad."], "3.title": ["Bad."]},
    ),
    ("first item invalid", {"items": [{"name": ["Bad."]}]}, {"items.0.name": ["Bad."]}),
    (
        "DRF non-field errors",
        {"non_field_errors": ["Mismatch."]},
        {"non_field_errors": ["Mismatch."]},
    ),
    ("Django's __all__", {"__all__": ["Mismatch."]}, {"non_field_errors": ["Mismatch."]}),
    (
        "non-field errors of a nested serializer",
        {"address": {"non_field_errors": ["Incomplete."]}},
        {"address.non_field_errors": ["Incomplete."]},
    ),
    (
        "several fields, order kept",
        {"name": ["A."], "description": ["B."]},
        {"name": ["A."], "description": ["B."]},
    ),
    ("nested lists", {"matrix": [["Bad."]]}, {"matrix.0": ["Bad."]}),
    ("empty", {}, {}),
]


@pytest.mark.parametrize(
    ("detail", "expected"),
    [(detail, expected) for _, detail, expected in FLATTEN_ROWS],
    ids=[name for name, _, _ in FLATTEN_ROWS],
)
def test_flatten_errors(detail: Any, expected: dict[str, list[str]]) -> None:
    flat = flatten_errors(detail)
    assert flat == expected
    assert list(flat) == list(expected)


def test_flatten_errors_under_a_prefix() -> None:
    assert flatten_errors({"color": ["Bad."]}, prefix="metadata") == {"metadata.color": ["Bad."]}
    assert flatten_errors(["Bad."], prefix="metadata") == {"metadata": ["Bad."]}


def test_flatten_errors_takes_drf_error_details() -> None:
    error = drf_exc.ValidationError({"name": ["Required."], "items": [{}, {"id": ["Bad."]}]})
    assert flatten_errors(error.detail) == {"name": ["Required."], "items.1.id": ["Bad."]}


# --- normalize: each kind of exception to status and code -------------------------------------

NORMALIZE_ROWS: list[tuple[str, Callable[[], BaseException], int, str]] = [
    (
        "app: not found",
        lambda: NotFoundException(resource_type="w", resource_id=1),
        404,
        "not_found",
    ),
    ("app: domain code", lambda: ConflictException("Taken", code="name_taken"), 409, "name_taken"),
    ("app: rate limit", lambda: RateLimitException(retry_after=3), 429, "rate_limit_exceeded"),
    ("drf: validation", lambda: drf_exc.ValidationError({"a": ["b"]}), 400, "validation_error"),
    ("drf: parse", lambda: drf_exc.ParseError(), 400, "parse_error"),
    (
        "drf: authentication failed",
        lambda: drf_exc.AuthenticationFailed(),
        401,
        "authentication_error",
    ),
    ("drf: not authenticated", lambda: drf_exc.NotAuthenticated(), 401, "authentication_error"),
    ("drf: permission denied", lambda: drf_exc.PermissionDenied(), 403, "authorization_error"),
    ("drf: not found", lambda: drf_exc.NotFound(), 404, "not_found"),
    ("drf: method not allowed", lambda: drf_exc.MethodNotAllowed("PUT"), 405, "method_not_allowed"),
    ("drf: not acceptable", lambda: drf_exc.NotAcceptable(), 406, "not_acceptable"),
    (
        "drf: unsupported media type",
        lambda: drf_exc.UnsupportedMediaType("text/plain"),
        415,
        "unsupported_media_type",
    ),
    ("drf: throttled", lambda: drf_exc.Throttled(wait=2.5), 429, "rate_limit_exceeded"),
    ("drf: other", lambda: drf_exc.APIException(), 500, "error"),
    ("django: validation", lambda: django_exc.ValidationError("Bad."), 400, "validation_error"),
    ("django: 404", lambda: Http404(), 404, "not_found"),
    ("django: unmatched URL", lambda: Resolver404({"tried": []}), 404, "not_found"),
    (
        "django: permission denied",
        lambda: django_exc.PermissionDenied(),
        403,
        "authorization_error",
    ),
    ("django: body too large", lambda: django_exc.RequestDataTooBig(), 413, "payload_too_large"),
    ("django: suspicious", lambda: django_exc.SuspiciousOperation(), 400, "bad_request"),
    ("django: bad request", lambda: django_exc.BadRequest(), 400, "bad_request"),
    # With no SQLSTATE or driver error to classify (tests/errors/test_db.py has those).
    ("database: unclassified integrity error", lambda: IntegrityError("x"), 500, "database_error"),
    (
        "database: unclassified operational error",
        lambda: OperationalError("x"),
        500,
        "database_error",
    ),
    ("anything else", lambda: ValueError("secret"), 500, "internal_error"),
]


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [(make, status, code) for _, make, status, code in NORMALIZE_ROWS],
    ids=[name for name, _, _, _ in NORMALIZE_ROWS],
)
def test_normalize_table(make: Callable[[], BaseException], status: int, code: str) -> None:
    exc = make()
    info = normalize(exc)
    assert (info.status, info.code) == (status, code)
    assert "secret" not in info.text()


def test_throttled_carries_retry_after_rounded_up() -> None:
    info = normalize(drf_exc.Throttled(wait=2.1))
    assert info.headers["Retry-After"] == "3"
    assert info.details == {"retry_after": 3}


def test_a_developer_message_reaches_the_client_but_a_resolver404_does_not() -> None:
    assert normalize(Http404("Workspace not found")).message == "Workspace not found"
    assert "tried" not in normalize(Resolver404({"tried": [], "path": "x"})).text()


# --- for_status: error responses someone else built ------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "bad_request"),
        (401, "authentication_error"),
        (403, "authorization_error"),
        (404, "not_found"),
        (405, "method_not_allowed"),
        (406, "not_acceptable"),
        (409, "conflict"),
        (413, "payload_too_large"),
        (415, "unsupported_media_type"),
        (429, "rate_limit_exceeded"),
        (500, "internal_error"),
        (502, "external_service_error"),
        (503, "service_unavailable"),
        (418, "client_error"),
        (504, "internal_error"),
    ],
)
def test_for_status(status: int, code: str) -> None:
    info = for_status(status)
    assert (info.status, info.code) == (status, code)


# --- DRF's many=True errors on a real view: a dict by index (3.18), or a list -----------------

DRF_VERSION = tuple(int(part) for part in rest_framework.VERSION.split(".")[:2])
# DRF 3.18.1 added the setting that brings the list form back (3.18.0 has the dict form only).
HAS_LIST_FORM_SETTING = "LIST_SERIALIZER_ERRORS_AS_DICT" in drf_settings.DEFAULTS

# Groups with items: the first group's second item, the second group's title and its first item,
# and the third group's items, which are not a list.
MANY_PAYLOAD = [
    {"title": "ok", "items": [{"name": "ok"}, {"name": "toolong"}]},
    {"title": "toolong", "items": [{}]},
    {"title": "ok", "items": "nope"},
]
MANY_FIELD_ERRORS = {
    "0.items.1.name": ["Ensure this field has no more than 5 characters."],
    "1.title": ["Ensure this field has no more than 5 characters."],
    "1.items.0.name": ["This field is required."],
    "2.items.non_field_errors": ['Expected a list of items but got type "str".'],
}
NESTED_PAYLOAD = {"name": "n", "metadata": {"color": "red"}, "items": [{"name": "ok"}, {}]}
NESTED_FIELD_ERRORS = {"items.1.name": ["This field is required."]}


def raw_items_errors() -> Any:
    """The errors DRF itself gives for a nested many=True serializer, before any flattening."""
    serializer = GroupSerializer(data={"title": "ok", "items": [{"name": "ok"}, {}]})
    assert not serializer.is_valid()
    return serializer.errors["items"]


def assert_field_errors(client: Client) -> None:
    for path, payload, expected in [
        ("/t/drf/validate-many", MANY_PAYLOAD, MANY_FIELD_ERRORS),
        ("/t/drf/validate", NESTED_PAYLOAD, NESTED_FIELD_ERRORS),
    ]:
        response = client.post(path, data=payload, content_type="application/json")
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["code"], error["message"]) == ("validation_error", "Validation error")
        assert error["details"] == {"field_errors": expected}
        assert list(error["details"]["field_errors"]) == list(expected)


def test_many_errors_are_dotted_paths_in_drfs_default_form(client: Client) -> None:
    # 3.18 gives the invalid items keyed by index; 3.16 and 3.17 a list with {} for valid ones.
    expected_form = dict if DRF_VERSION >= (3, 18) else list
    assert isinstance(raw_items_errors(), expected_form)
    assert_field_errors(client)


@pytest.mark.skipif(
    not HAS_LIST_FORM_SETTING, reason="LIST_SERIALIZER_ERRORS_AS_DICT came with DRF 3.18.1"
)
@pytest.mark.filterwarnings("ignore:The list-based error format:PendingDeprecationWarning")
def test_many_errors_are_dotted_paths_in_the_list_form_too(client: Client, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "LIST_SERIALIZER_ERRORS_AS_DICT": False}
    assert raw_items_errors() == [{}, {"name": ["This field is required."]}]
    assert_field_errors(client)


# --- Django 6.0+: ObjectNotUpdated, the base of each model's NotUpdated -----------------------


@pytest.mark.skipif(not hasattr(django_exc, "ObjectNotUpdated"), reason="new in Django 6.0")
def test_object_not_updated_is_409_update_conflict_even_without_a_model() -> None:
    info = normalize(django_exc.ObjectNotUpdated("Forced update did not affect any rows."))
    assert (info.status, info.code, info.level) == (409, "update_conflict", logging.INFO)
    assert info.message == "The resource was changed or deleted by another request"


# --- Django 6.1+: FieldFetchBlocked, a field a RAISE-mode queryset did not load ---------------

needs_fetch_modes = pytest.mark.skipif(
    not hasattr(django_exc, "FieldFetchBlocked"), reason="fetch modes came with Django 6.1"
)


@needs_fetch_modes
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("what", "model", "field"), [("field", "Parent", "name"), ("relation", "Child", "parent")]
)
def test_a_blocked_fetch_is_a_bare_500_whose_log_line_has_the_traceback(
    what: str, model: str, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = Client(raise_request_exception=False).get(f"/t/db/fetch-blocked/{what}")
    assert response.status_code == 500
    correlation_id = response["X-Correlation-ID"]
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "Internal server error",
            "correlation_id": correlation_id,
        }
    }
    # Nothing of Django's text ("Fetching of Parent.name blocked.") reaches the client.
    assert "blocked" not in response.content.decode().lower()
    (line,) = [r for r in caplog.records if r.name == "errors"]
    assert line.levelno == logging.ERROR
    assert line.getMessage() == f"GET /t/db/fetch-blocked/{what} -> 500 internal_error"
    assert line.exc_info is not None
    assert isinstance(line.exc_info[1], django_exc.FieldFetchBlocked)
    assert str(line.exc_info[1]) == f"Fetching of {model}.{field} blocked."
    assert (line.model, line.field) == (model, field)  # type: ignore[attr-defined]


@needs_fetch_modes
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("touch", "model", "field"),
    [
        (lambda: in_raise_mode(Parent.objects.only("id")).get().name, "Parent", "name"),
        (lambda: in_raise_mode(Child.objects.all()).get().parent, "Child", "parent"),
    ],
    ids=["deferred field", "foreign key"],
)
def test_a_blocked_fetch_names_its_model_and_field_for_the_log(
    touch: Callable[[], object], model: str, field: str
) -> None:
    Child.objects.create(parent=Parent.objects.create(name="p"))
    with pytest.raises(django_exc.FieldFetchBlocked) as caught:
        touch()
    info = normalize(caught.value)
    assert (info.status, info.code, info.level) == (500, "internal_error", logging.ERROR)
    assert info.message == "Internal server error" and info.details is None
    assert info.log_extra == {"model": model, "field": field}


@needs_fetch_modes
def test_a_blocked_fetch_worded_otherwise_has_no_model_or_field() -> None:
    # Django gives the exception only its message; other wording names nothing.
    info = normalize(django_exc.FieldFetchBlocked("Parent.name may not be fetched."))
    assert (info.status, info.code) == (500, "internal_error")
    assert info.log_extra == {}


def test_other_errors_carry_no_log_extras() -> None:
    assert normalize(ValueError("x")).log_extra == {}
    assert normalize(django_exc.FieldError("x")).log_extra == {}


def test_an_app_exception_s_own_headers_reach_the_answer() -> None:
    class Stale(ConflictException):
        def __init__(self) -> None:
            super().__init__(retry_after=2)
            self.headers["ETag"] = '"7"'

    info = normalize(Stale())
    assert info.headers == {"ETag": '"7"', "Retry-After": "2"}
    assert normalize(ConflictException()).headers == {}
