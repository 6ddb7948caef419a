"""Database errors told apart and translated for the client (docs/database-errors.md)."""

from __future__ import annotations

import enum
import sys
from typing import Any

from django.core import exceptions as django_exc
from django.db import InterfaceError, connections

from .conf import errors_settings
from .exceptions import AppException, ConflictException, DatabaseException, ValidationException


class DbErrorKind(enum.Enum):
    """What a database error means for the request that met it."""

    UNIQUE_VIOLATION = "unique_violation"
    FOREIGN_KEY_VIOLATION = "foreign_key_violation"
    # The client's data broke a rule of the database: 400s whose code is the value.
    CHECK_VIOLATION = "check_violation"
    NOT_NULL_VIOLATION = "not_null_violation"
    VALUE_TOO_LONG = "value_too_long"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    INVALID_VALUE = "invalid_value"
    INVALID_CHARACTER = "invalid_character"
    INVALID_DATA = "invalid_data"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    OTHER = "other"


# SQLSTATE values and classes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_PG_STATES = {
    "23505": DbErrorKind.UNIQUE_VIOLATION,
    "23503": DbErrorKind.FOREIGN_KEY_VIOLATION,
    "23514": DbErrorKind.CHECK_VIOLATION,
    "23502": DbErrorKind.NOT_NULL_VIOLATION,
    # Class 22 (data exception) as a whole is INVALID_DATA; these states say more.
    "22001": DbErrorKind.VALUE_TOO_LONG,  # string_data_right_truncation
    "22003": DbErrorKind.VALUE_OUT_OF_RANGE,  # numeric_value_out_of_range
    "22008": DbErrorKind.VALUE_OUT_OF_RANGE,  # datetime_field_overflow
    "22015": DbErrorKind.VALUE_OUT_OF_RANGE,  # interval_field_overflow
    "22P02": DbErrorKind.INVALID_VALUE,  # invalid_text_representation ('abc' as an integer)
    "22P03": DbErrorKind.INVALID_VALUE,  # invalid_binary_representation
    "22007": DbErrorKind.INVALID_VALUE,  # invalid_datetime_format
    "22009": DbErrorKind.INVALID_VALUE,  # invalid_time_zone_displacement_value
    "22018": DbErrorKind.INVALID_VALUE,  # invalid_character_value_for_cast
    "22026": DbErrorKind.INVALID_VALUE,  # string_data_length_mismatch (bit(n) of another length)
    "22021": DbErrorKind.INVALID_CHARACTER,  # character_not_in_repertoire (NUL, bad UTF-8)
    "22P05": DbErrorKind.INVALID_CHARACTER,  # untranslatable_character (\u0000 in jsonb)
    # Data exceptions that are the service's own doing, not the client's: they stay 500s.
    "2200H": DbErrorKind.OTHER,  # sequence_generator_limit_exceeded: a sequence ran out
    "22012": DbErrorKind.OTHER,  # division_by_zero: arithmetic in the service's own SQL
    "57014": DbErrorKind.TIMEOUT,  # query_canceled: statement_timeout fired
    "55P03": DbErrorKind.TIMEOUT,  # lock_not_available: lock_timeout fired
    "57P01": DbErrorKind.CONNECTION,  # admin_shutdown
    "57P02": DbErrorKind.CONNECTION,  # crash_shutdown
    "57P03": DbErrorKind.CONNECTION,  # cannot_connect_now
    "53300": DbErrorKind.CONNECTION,  # too_many_connections
}
_PG_CLASSES = {
    "08": DbErrorKind.CONNECTION,  # connection_exception and its subclasses
    "22": DbErrorKind.INVALID_DATA,  # data_exception and the subclasses not listed above
}

# Django 6.0+: the base of every model's `NotUpdated` (a forced update that matched no row).
OBJECT_NOT_UPDATED: tuple[type[Exception], ...] = tuple(
    cls for cls in [getattr(django_exc, "ObjectNotUpdated", None)] if cls is not None
)

_SQLITE_NAMES = {
    "SQLITE_CONSTRAINT_UNIQUE": DbErrorKind.UNIQUE_VIOLATION,
    "SQLITE_CONSTRAINT_PRIMARYKEY": DbErrorKind.UNIQUE_VIOLATION,
    "SQLITE_CONSTRAINT_FOREIGNKEY": DbErrorKind.FOREIGN_KEY_VIOLATION,
    "SQLITE_CONSTRAINT_CHECK": DbErrorKind.CHECK_VIOLATION,
    "SQLITE_CONSTRAINT_NOTNULL": DbErrorKind.NOT_NULL_VIOLATION,
    "SQLITE_TOOBIG": DbErrorKind.VALUE_TOO_LONG,  # longer than SQLITE_LIMIT_LENGTH
    "SQLITE_MISMATCH": DbErrorKind.INVALID_VALUE,  # e.g. text for an INTEGER PRIMARY KEY
    # A STRICT table's column type ("unknown", a 500, on Python 3.11's sqlite3).
    "SQLITE_CONSTRAINT_DATATYPE": DbErrorKind.INVALID_VALUE,
    "SQLITE_BUSY": DbErrorKind.TIMEOUT,
    "SQLITE_BUSY_TIMEOUT": DbErrorKind.TIMEOUT,
    "SQLITE_LOCKED": DbErrorKind.TIMEOUT,
    "SQLITE_INTERRUPT": DbErrorKind.TIMEOUT,  # a progress handler cut a statement short
    "SQLITE_CANTOPEN": DbErrorKind.CONNECTION,
    "SQLITE_NOTADB": DbErrorKind.CONNECTION,
}

# The kinds that are the client's data: each kind's value is its catalog code (400).
_CLIENT_DATA_KINDS = frozenset(
    {
        DbErrorKind.CHECK_VIOLATION,
        DbErrorKind.NOT_NULL_VIOLATION,
        DbErrorKind.VALUE_TOO_LONG,
        DbErrorKind.VALUE_OUT_OF_RANGE,
        DbErrorKind.INVALID_VALUE,
        DbErrorKind.INVALID_CHARACTER,
        DbErrorKind.INVALID_DATA,
    }
)


def driver_error(exc: BaseException) -> BaseException:
    """Return the driver's own exception behind a Django database error (or `exc` itself)."""
    for _ in range(5):
        if getattr(exc, "sqlstate", None) is not None or hasattr(exc, "sqlite_errorname"):
            return exc
        if exc.__cause__ is None:
            return exc
        exc = exc.__cause__
    return exc


def classify(exc: BaseException) -> DbErrorKind:
    """Tell what kind of database failure `exc` (a Django or driver error) is."""
    driver = driver_error(exc)
    sqlstate = getattr(driver, "sqlstate", None)
    if sqlstate:
        return _PG_STATES.get(sqlstate) or _PG_CLASSES.get(sqlstate[:2], DbErrorKind.OTHER)
    name = getattr(driver, "sqlite_errorname", None)
    if name:
        return _SQLITE_NAMES.get(name, DbErrorKind.OTHER)
    # No SQLSTATE: connecting failed, the connection was lost or the pool timed out. An exception
    # of psycopg's means psycopg is imported; SQLite-only projects may lack it.
    psycopg: Any = sys.modules.get("psycopg")
    if isinstance(exc, InterfaceError) or (
        psycopg and isinstance(driver, psycopg.OperationalError | psycopg.InterfaceError)
    ):
        return DbErrorKind.CONNECTION
    # psycopg itself refused a query parameter (most often a NUL in text): a DataError without
    # SQLSTATE raised in psycopg's execute; which parameter it was is only in its message.
    tb = driver.__traceback__
    if psycopg and isinstance(driver, psycopg.DataError) and driver.sqlstate is None and tb:
        while tb.tb_next is not None:
            tb = tb.tb_next
        frame = tb.tb_frame
        if str(frame.f_globals.get("__name__", "")).startswith("psycopg.") and (
            frame.f_code.co_name in ("execute", "executemany")
        ):
            return DbErrorKind.INVALID_DATA
    return DbErrorKind.OTHER


def constraint_name(exc: BaseException) -> str | None:
    """The name of the constraint a PostgreSQL integrity error names; None on SQLite."""
    return getattr(getattr(driver_error(exc), "diag", None), "constraint_name", None)


def translate(exc: BaseException) -> AppException:
    """The application exception for a database error, without the driver's text; chain it."""
    if isinstance(exc, OBJECT_NOT_UPDATED):
        return ConflictException(code="update_conflict")
    kind = classify(exc)
    if kind is DbErrorKind.UNIQUE_VIOLATION:
        return ConflictException(code="conflict_error")
    if kind is DbErrorKind.FOREIGN_KEY_VIOLATION:
        return ValidationException(code="reference_error")
    if kind in _CLIENT_DATA_KINDS:
        return ValidationException(code=kind.value)
    if kind is DbErrorKind.TIMEOUT:
        return DatabaseException(code="db_timeout")
    if kind is DbErrorKind.CONNECTION:
        # Leaving an open transaction then waits for no reconnection (docs/database-errors.md).
        for connection in connections.all(initialized_only=True):
            if connection.in_atomic_block and not connection.closed_in_transaction:
                connection.close()
        return DatabaseException(
            code="db_connection_error", retry_after=errors_settings.db_retry_after
        )
    return DatabaseException()
