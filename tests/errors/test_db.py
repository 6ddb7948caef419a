"""Database failures, on whichever database the suite runs on (SQLite or PostgreSQL).

They are real: a real unique and foreign-key violation, a statement cut short by the database's
own timeout, and a connection to a port where nothing listens.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from tests.testapp.models import Parent

pytestmark = pytest.mark.django_db(transaction=True)


def error_of(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)["error"]


def test_unique_violation_is_409_conflict_error(client: Client, atomic_requests: None) -> None:
    response = client.post("/t/db/unique")
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "conflict_error"
    assert error["message"] == "Resource already exists"
    assert "testapp_parent" not in response.content.decode()
    # ATOMIC_REQUESTS: the first, successful insert was rolled back with the request.
    assert Parent.objects.count() == 0


def test_foreign_key_violation_is_400_reference_error(client: Client) -> None:
    response = client.post("/t/db/foreign-key")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "reference_error"
    assert error["message"] == "Related resource not found"
    assert "testapp_child" not in response.content.decode()


def test_statement_timeout_is_504_db_timeout(client: Client) -> None:
    started = time.monotonic()
    response = client.get("/t/db/timeout")
    assert response.status_code == 504
    assert error_of(response)["code"] == "db_timeout"
    assert time.monotonic() - started < 1.5
    # The connection is usable again afterwards.
    assert client.get("/healthz").status_code == 200


def test_unreachable_database_is_503_with_retry_after(client: Client) -> None:
    started = time.monotonic()
    response = client.get("/t/db/unreachable")
    assert response.status_code == 503
    error = error_of(response)
    assert error["code"] == "db_connection_error"
    assert error["message"] == "Database unavailable"
    assert response["Retry-After"] == "5"
    assert time.monotonic() - started < 2.5
    text = response.content.decode()
    for leak in ("127.0.0.1", "nonexistent-directory", "connection failed", "sqlite"):
        assert leak not in text


def test_the_suite_runs_on_the_database_it_was_given() -> None:
    # Guards the CI matrix: DATABASE_URL=postgres://… must really mean PostgreSQL here.
    import os

    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith(("postgres", "pgsql")) else "sqlite"
    assert connection.vendor == expected
