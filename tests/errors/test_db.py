"""Database failures, on whichever database the suite runs on (SQLite or PostgreSQL).

They are real: a real unique and foreign-key violation, a statement cut short by the database's
own timeout, a connection to a port where nothing listens, and writes whose data breaks a rule of
the database (check, NOT NULL, too long, out of range, not valid for its type). Only the mapping
table builds driver errors itself, one per SQLSTATE and SQLite result name.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import django
import psycopg
import pytest
from django.db import DatabaseError, DataError, IntegrityError, connection
from django.test import Client, RequestFactory
from pytest_django.fixtures import Settings

from errors import alerting, catalog
from errors.alerting import ErrorRateMonitor
from errors.conf import errors_settings
from errors.db import translate
from errors.exceptions import AppException
from errors.handling import handle_exception
from tests.testapp.models import Measurement, Parent

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


def test_statement_timeout_is_504_db_timeout() -> None:
    # A 5xx sends got_request_exception, which Django's test Client re-raises by default.
    client = Client(raise_request_exception=False)
    started = time.monotonic()
    response = client.get("/t/db/timeout")
    assert response.status_code == 504
    assert error_of(response)["code"] == "db_timeout"
    assert time.monotonic() - started < 1.5
    # The connection is usable again afterwards.
    assert client.get("/healthz").status_code == 200


def test_unreachable_database_is_503_with_retry_after() -> None:
    # A 5xx sends got_request_exception, which Django's test Client re-raises by default.
    client = Client(raise_request_exception=False)
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


# --- The mapping table -----------------------------------------------------------------------


def pg_error(sqlstate: str) -> DatabaseError:
    """A Django error wrapping the psycopg error of `sqlstate`, as Django raises it."""
    driver = psycopg.errors.lookup(sqlstate)("server text naming testapp_measurement")
    error = DatabaseError(*driver.args)
    error.__cause__ = driver
    return error


def sqlite_error(name: str) -> DatabaseError:
    """A Django error wrapping a sqlite3 error whose extended result code is `name`."""
    driver = sqlite3.IntegrityError("CHECK constraint failed: testapp_measurement")
    driver.sqlite_errorname = name
    error = DatabaseError(*driver.args)
    error.__cause__ = driver
    return error


@pytest.mark.parametrize(
    ("make", "key", "code", "status"),
    [
        (pg_error, "23505", "conflict_error", 409),  # unique_violation
        (pg_error, "23503", "reference_error", 400),  # foreign_key_violation
        (pg_error, "23514", "check_violation", 400),  # check_violation
        (pg_error, "23502", "not_null_violation", 400),  # not_null_violation
        (pg_error, "22001", "value_too_long", 400),  # string_data_right_truncation
        (pg_error, "22003", "value_out_of_range", 400),  # numeric_value_out_of_range
        (pg_error, "22008", "value_out_of_range", 400),  # datetime_field_overflow
        (pg_error, "22015", "value_out_of_range", 400),  # interval_field_overflow
        (pg_error, "22P02", "invalid_value", 400),  # invalid_text_representation
        (pg_error, "22P03", "invalid_value", 400),  # invalid_binary_representation
        (pg_error, "22007", "invalid_value", 400),  # invalid_datetime_format
        (pg_error, "22009", "invalid_value", 400),  # invalid_time_zone_displacement_value
        (pg_error, "22018", "invalid_value", 400),  # invalid_character_value_for_cast
        (pg_error, "22026", "invalid_value", 400),  # string_data_length_mismatch
        (pg_error, "22021", "invalid_character", 400),  # character_not_in_repertoire
        (pg_error, "22P05", "invalid_character", 400),  # untranslatable_character
        (pg_error, "22000", "invalid_data", 400),  # data_exception
        (pg_error, "22023", "invalid_data", 400),  # invalid_parameter_value
        (pg_error, "2202E", "invalid_data", 400),  # array_subscript_error
        (pg_error, "22004", "invalid_data", 400),  # null_value_not_allowed
        (pg_error, "2200H", "database_error", 500),  # sequence_generator_limit_exceeded
        (pg_error, "22012", "database_error", 500),  # division_by_zero
        (pg_error, "57014", "db_timeout", 504),  # query_canceled
        (pg_error, "55P03", "db_timeout", 504),  # lock_not_available
        (pg_error, "57P01", "db_connection_error", 503),  # admin_shutdown
        (pg_error, "57P02", "db_connection_error", 503),  # crash_shutdown
        (pg_error, "57P03", "db_connection_error", 503),  # cannot_connect_now
        (pg_error, "53300", "db_connection_error", 503),  # too_many_connections
        (pg_error, "08006", "db_connection_error", 503),  # connection_failure
        (pg_error, "42P01", "database_error", 500),  # undefined_table
        (pg_error, "40001", "database_error", 500),  # serialization_failure
        (sqlite_error, "SQLITE_CONSTRAINT_UNIQUE", "conflict_error", 409),
        (sqlite_error, "SQLITE_CONSTRAINT_PRIMARYKEY", "conflict_error", 409),
        (sqlite_error, "SQLITE_CONSTRAINT_FOREIGNKEY", "reference_error", 400),
        (sqlite_error, "SQLITE_CONSTRAINT_CHECK", "check_violation", 400),
        (sqlite_error, "SQLITE_CONSTRAINT_NOTNULL", "not_null_violation", 400),
        (sqlite_error, "SQLITE_TOOBIG", "value_too_long", 400),
        (sqlite_error, "SQLITE_MISMATCH", "invalid_value", 400),
        (sqlite_error, "SQLITE_CONSTRAINT_DATATYPE", "invalid_value", 400),
        (sqlite_error, "SQLITE_BUSY", "db_timeout", 504),
        (sqlite_error, "SQLITE_BUSY_TIMEOUT", "db_timeout", 504),
        (sqlite_error, "SQLITE_LOCKED", "db_timeout", 504),
        (sqlite_error, "SQLITE_INTERRUPT", "db_timeout", 504),
        (sqlite_error, "SQLITE_CANTOPEN", "db_connection_error", 503),
        (sqlite_error, "SQLITE_NOTADB", "db_connection_error", 503),
        (sqlite_error, "SQLITE_ERROR", "database_error", 500),
        # What Python 3.11 reports for a result code it has no name for.
        (sqlite_error, "unknown", "database_error", 500),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_each_sqlstate_and_sqlite_result_name_has_its_code(
    make: Callable[[str], DatabaseError], key: str, code: str, status: int
) -> None:
    exc = translate(make(key))
    assert (exc.code, exc.status_code) == (code, status)
    entry = catalog.get(code)
    assert entry is not None and entry.status == status
    assert "testapp_measurement" not in str(exc)


# --- The client's data, on the real database -------------------------------------------------

# Everything the database knows about the failed write that a client must never see.
SCHEMA_NAMES = (
    "testapp_measurement",
    "testapp_measurement_quantity_gte_0",
    "label",
    "quantity",
    "extra",
)


def driver_of(exc: BaseException) -> Any:
    """The driver's own error, which Django keeps as the `__cause__` of its database errors."""
    return exc.__cause__


def assert_tells_nothing_of_the_schema(exc: AppException) -> None:
    text = f"{exc} {exc.message} {json.dumps(exc.details)}"
    for name in SCHEMA_NAMES:
        assert name not in text


def assert_client_data_error(exc: AppException, code: str) -> None:
    """A 400 of `code` with the catalog's message, logged at INFO, naming nothing of the schema."""
    entry = catalog.get(code)
    assert entry is not None
    assert (exc.code, exc.status_code, exc.message) == (code, 400, entry.message)
    assert entry.severity.log_level == logging.INFO
    assert_tells_nothing_of_the_schema(exc)


@pytest.mark.parametrize(
    ("fields", "sqlstate", "sqlite_name", "code"),
    [
        ({"label": "minus", "quantity": -1}, "23514", "SQLITE_CONSTRAINT_CHECK", "check_violation"),
        (
            {"label": None, "quantity": 1},
            "23502",
            "SQLITE_CONSTRAINT_NOTNULL",
            "not_null_violation",
        ),
    ],
    ids=["check", "not-null"],
)
def test_a_write_that_breaks_a_rule_of_the_table_is_a_400(
    fields: dict, sqlstate: str, sqlite_name: str, code: str
) -> None:
    with pytest.raises(IntegrityError) as caught:
        Measurement.objects.create(**fields)
    driver = driver_of(caught.value)
    if connection.vendor == "postgresql":
        assert driver.sqlstate == sqlstate
    else:
        assert driver.sqlite_errorname == sqlite_name
    assert_client_data_error(translate(caught.value), code)
    assert Measurement.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("fields", "sqlstate", "code"),
    [
        ({"label": "x" * 9, "quantity": 1}, "22001", "value_too_long"),
        ({"label": "big", "quantity": 2**31}, "22003", "value_out_of_range"),
        ({"label": "nul", "quantity": 1, "extra": {"n": "a\x00b"}}, "22P05", "invalid_character"),
    ],
    ids=["too-long", "out-of-range", "nul-in-json"],
)
def test_postgresql_tells_the_data_error_by_sqlstate(
    fields: dict, sqlstate: str, code: str
) -> None:
    with pytest.raises(DataError) as caught:
        Measurement.objects.create(**fields)
    assert driver_of(caught.value).sqlstate == sqlstate
    assert_client_data_error(translate(caught.value), code)


@pytest.mark.postgres
def test_text_that_postgresql_cannot_read_as_an_integer_is_invalid_value() -> None:
    with pytest.raises(DataError) as caught, connection.cursor() as cursor:
        cursor.execute("SELECT %s::integer", ["abc"])
    assert driver_of(caught.value).sqlstate == "22P02"
    assert_client_data_error(translate(caught.value), "invalid_value")


@pytest.mark.postgres
def test_a_nul_in_text_is_refused_by_psycopg_before_it_reaches_postgresql() -> None:
    # psycopg raises a bare DataError (no SQLSTATE) for a NUL in a text parameter, the same class
    # it raises for any parameter it cannot send: the client is told "invalid_data".
    with pytest.raises(DataError) as caught:
        Measurement.objects.create(label="a\x00b", quantity=1)
    driver = driver_of(caught.value)
    assert type(driver) is psycopg.DataError and driver.sqlstate is None
    assert_client_data_error(translate(caught.value), "invalid_data")


@pytest.mark.postgres
def test_a_stored_value_psycopg_cannot_read_stays_a_500() -> None:
    # The same bare DataError, raised while loading a result: not the client's data.
    with pytest.raises(DataError) as caught, connection.cursor() as cursor:
        cursor.execute("SELECT 'infinity'::date")
        cursor.fetchone()
    assert type(driver_of(caught.value)) is psycopg.DataError
    exc = translate(caught.value)
    assert (exc.code, exc.status_code) == ("database_error", 500)


@pytest.fixture
def sqlite_only() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("provokes a result code of SQLite's own")


def test_a_value_longer_than_sqlite_allows_is_value_too_long(sqlite_only: None) -> None:
    connection.ensure_connection()
    raw = connection.connection
    previous = raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 64)
    try:
        with pytest.raises(DataError) as caught:
            Measurement.objects.create(label="x" * 100, quantity=1)
    finally:
        raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, previous)
    assert driver_of(caught.value).sqlite_errorname == "SQLITE_TOOBIG"
    assert_client_data_error(translate(caught.value), "value_too_long")


def test_text_for_an_integer_primary_key_is_invalid_value(sqlite_only: None) -> None:
    with pytest.raises(IntegrityError) as caught, connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO testapp_measurement (id, label, quantity, extra) VALUES (%s, %s, %s, %s)",
            ["abc", "a", 1, "{}"],
        )
    assert driver_of(caught.value).sqlite_errorname == "SQLITE_MISMATCH"
    assert_client_data_error(translate(caught.value), "invalid_value")


# --- End to end ------------------------------------------------------------------------------


def test_a_check_violation_is_answered_400_logged_at_info_and_never_alerts(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings.ERRORS_ENABLE_MONITORING = True
    settings.ERRORS_ALERT_THRESHOLD = 1  # any error counted by the alert would raise it
    monkeypatch.setattr(alerting, "monitor", ErrorRateMonitor())
    with pytest.raises(IntegrityError) as caught:
        Measurement.objects.create(label="negative", quantity=-1)
    request = RequestFactory().post("/api/measurements/")

    with caplog.at_level(logging.DEBUG):
        response = handle_exception(caught.value, request)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    correlation_id = response[errors_settings.correlation_id_header]
    assert json.loads(response.content) == {
        "error": {
            "code": "check_violation",
            "message": "The data breaks a rule of this resource",
            "correlation_id": correlation_id,
        }
    }
    for name in SCHEMA_NAMES:
        assert name not in response.content.decode()
    (line,) = [r for r in caplog.records if r.name == "errors"]
    assert line.levelno == logging.INFO
    assert line.getMessage() == "POST /api/measurements/ -> 400 check_violation"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.postgres
def test_a_too_long_value_posted_to_a_view_is_a_400(
    client: Client, atomic_requests: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = client.post(
            "/t/db/write-then-conflict", data={"name": "x" * 51}, content_type="application/json"
        )
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["message"]) == ("value_too_long", "A value is too long")
    assert "testapp_parent" not in response.content.decode()
    assert [r.levelno for r in caplog.records if r.name == "errors"] == [logging.INFO]
    assert Parent.objects.count() == 0


# --- A forced update that matched no row (Django 6.0+: Model.NotUpdated) ----------------------

HAS_NOT_UPDATED = django.VERSION >= (6, 0)
needs_not_updated = pytest.mark.skipif(
    not HAS_NOT_UPDATED, reason="Model.NotUpdated and ObjectNotUpdated came with Django 6.0"
)


@needs_not_updated
@pytest.mark.parametrize("how", ["update-fields", "force-update"])
def test_saving_a_row_another_request_deleted_is_409_update_conflict(
    how: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = Client().post(f"/t/db/not-updated/{how}")
    assert response.status_code == 409
    correlation_id = response[errors_settings.correlation_id_header]
    assert json.loads(response.content) == {
        "error": {
            "code": "update_conflict",
            "message": "The resource was changed or deleted by another request",
            "correlation_id": correlation_id,
        }
    }
    # Django's own text ("Forced update did not affect any rows.") is the log's, not the client's.
    assert "rows" not in response.content.decode()
    (line,) = [r for r in caplog.records if r.name == "errors"]
    assert line.levelno == logging.INFO
    assert line.getMessage() == f"POST /t/db/not-updated/{how} -> 409 update_conflict"
    assert line.exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@needs_not_updated
def test_not_updated_is_translated_through_its_base_class() -> None:
    from django.core.exceptions import ObjectNotUpdated

    parent = Parent(pk=999_999, name="never saved")
    with pytest.raises(ObjectNotUpdated) as caught:
        parent.save(update_fields=["name"])
    # Each model's NotUpdated is also a DatabaseError, and is told apart by its base alone.
    assert isinstance(caught.value, DatabaseError)
    exc = translate(caught.value)
    assert (exc.code, exc.status_code, exc.message) == (
        "update_conflict",
        409,
        "The resource was changed or deleted by another request",
    )
    # The base class raised by other code (not a DatabaseError) is the same conflict.
    assert translate(ObjectNotUpdated("gone")).code == "update_conflict"


@pytest.mark.skipif(HAS_NOT_UPDATED, reason="Django 6.0+ raises Model.NotUpdated")
def test_before_django_6_a_forced_update_of_no_row_stays_a_500_database_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Django 5.2 raises a bare DatabaseError, which says nothing of its cause but its message.
    with caplog.at_level(logging.DEBUG):
        response = Client(raise_request_exception=False).post("/t/db/not-updated/force-update")
    assert response.status_code == 500
    assert error_of(response)["code"] == "database_error"
    assert "rows" not in response.content.decode()
    (line,) = [r for r in caplog.records if r.name == "errors"]
    assert line.levelno == logging.ERROR
