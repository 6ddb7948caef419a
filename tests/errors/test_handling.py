"""Handling an error rolls back the request's transaction and logs the error exactly once."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import JsonLog
from tests.testapp.models import Parent


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/t/db/write-then-conflict", "/t/db/plain-write-then-conflict"])
def test_a_domain_error_rolls_back_what_the_request_wrote(
    path: str, client: Client, atomic_requests: None
) -> None:
    response = client.post(path, data={"name": "half"}, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "Second half failed"
    assert Parent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "headers", "status", "code", "level"),
    [
        ("/no/such/url", {}, 404, "not_found", "INFO"),
        ("/t/drf/raise/drf_not_found", {}, 404, "not_found", "INFO"),
        ("/t/plain/raise/http404", {}, 404, "not_found", "INFO"),
        ("/t/drf/raise/drf_permission_denied", {}, 403, "authorization_error", "WARNING"),
        ("/t/plain/get-only", {}, 405, "method_not_allowed", "INFO"),
        ("/t/drf/raise/internal", {}, 500, "internal_error", "ERROR"),
        ("/t/plain/raise/internal", {}, 500, "internal_error", "ERROR"),
        ("/healthz", {"X-Explode": "1"}, 500, "internal_error", "ERROR"),
        ("/t/plain/own-json-error", {}, 418, "client_error", "INFO"),
    ],
)
def test_each_error_is_logged_once_as_json(
    path: str, headers: dict, status: int, code: str, level: str, json_log: JsonLog
) -> None:
    client = Client(raise_request_exception=False)
    method = client.post if path == "/t/plain/get-only" else client.get
    response = method(path, headers={"X-Correlation-ID": "log-once", **headers})
    assert response.status_code == status

    records = json_log.records()
    error_lines = [r for r in records if r.get("status_code") == status and r["level"] != "DEBUG"]
    assert len(error_lines) == 1, error_lines
    (line,) = error_lines
    assert line["logger"] == "errors"
    assert line["level"] == level
    assert line["error_code"] == code
    assert line["method"] in ("GET", "POST")
    assert line["path"] == path
    assert line["correlation_id"] == "log-once"
    assert not [r for r in records if r["logger"].startswith("django.request")]
    if status >= 500:
        assert line["exception"]["traceback"].startswith("Traceback")
    else:
        assert "exception" not in line


@pytest.mark.django_db
def test_the_request_line_is_logged_at_debug(json_log: JsonLog, client: Client) -> None:
    client.get("/t/drf/ok", headers={"X-Correlation-ID": "req-line"})
    (line,) = [r for r in json_log.records() if r["logger"] == "errors.request"]
    assert line["level"] == "DEBUG"
    assert line["method"] == "GET"
    assert line["route"] == "t/drf/ok"
    assert line["status_code"] == 200
    assert line["duration_ms"] >= 0
    assert line["correlation_id"] == "req-line"


@pytest.mark.django_db
def test_an_unserializable_extra_and_secrets_do_not_break_the_request(
    json_log: JsonLog, client: Client
) -> None:
    response = client.get("/t/log/unserializable", headers={"X-Correlation-ID": "odd"})
    assert response.status_code == 200
    (line,) = [r for r in json_log.records() if r["message"] == "odd extra"]
    assert line["correlation_id"] == "odd"
    assert line["thing"].startswith("<object object")
    assert line["token"] == "[REDACTED]"
    assert line["nested"] == {"password": "[REDACTED]"}
