"""Telling database failures apart by what the driver reports, never by message text.

PostgreSQL errors are classified by SQLSTATE (psycopg 3 puts it on `.sqlstate`, with the
diagnostics on `.diag`); SQLite errors by the extended result code name that Python 3.11+ puts on
`sqlite3.Error.sqlite_errorname`. Django wraps driver errors in its own `django.db` classes and
keeps the driver error as `__cause__`, which is where these functions look.
"""

from __future__ import annotations

import enum

from django.db import Error as DjangoDbError
from django.db import InterfaceError, connections

from .conf import errors_settings
from .exceptions import AppException, ConflictException, DatabaseException, ValidationException


class DbErrorKind(enum.Enum):
    """What a database error means for the request that met it."""

    UNIQUE_VIOLATION = "unique_violation"
    FOREIGN_KEY_VIOLATION = "foreign_key_violation"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    OTHER = "other"


# SQLSTATE values and classes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_PG_STATES = {
    "23505": DbErrorKind.UNIQUE_VIOLATION,
    "23503": DbErrorKind.FOREIGN_KEY_VIOLATION,
    "57014": DbErrorKind.TIMEOUT,  # query_canceled: statement_timeout fired
    "55P03": DbErrorKind.TIMEOUT,  # lock_not_available: lock_timeout fired
    "57P01": DbErrorKind.CONNECTION,  # admin_shutdown
    "57P02": DbErrorKind.CONNECTION,  # crash_shutdown
    "57P03": DbErrorKind.CONNECTION,  # cannot_connect_now
    "53300": DbErrorKind.CONNECTION,  # too_many_connections
}
_PG_CLASSES = {"08": DbErrorKind.CONNECTION}  # connection_exception and its subclasses

_SQLITE_NAMES = {
    "SQLITE_CONSTRAINT_UNIQUE": DbErrorKind.UNIQUE_VIOLATION,
    "SQLITE_CONSTRAINT_PRIMARYKEY": DbErrorKind.UNIQUE_VIOLATION,
    "SQLITE_CONSTRAINT_FOREIGNKEY": DbErrorKind.FOREIGN_KEY_VIOLATION,
    "SQLITE_BUSY": DbErrorKind.TIMEOUT,
    "SQLITE_BUSY_TIMEOUT": DbErrorKind.TIMEOUT,
    "SQLITE_LOCKED": DbErrorKind.TIMEOUT,
    "SQLITE_INTERRUPT": DbErrorKind.TIMEOUT,  # a progress handler cut a statement short
    "SQLITE_CANTOPEN": DbErrorKind.CONNECTION,
    "SQLITE_NOTADB": DbErrorKind.CONNECTION,
}


def driver_error(exc: BaseException) -> BaseException:
    """Return the driver's own exception behind a Django database error (or `exc` itself)."""
    seen = 0
    current: BaseException = exc
    while seen < 5:
        if getattr(current, "sqlstate", None) is not None or hasattr(current, "sqlite_errorname"):
            return current
        cause = current.__cause__
        if cause is None:
            return current
        current = cause
        seen += 1
    return current


def _is_psycopg_operational(exc: BaseException) -> bool:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is optional for SQLite-only users
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def classify(exc: BaseException) -> DbErrorKind:
    """Tell what kind of database failure `exc` (a Django or driver error) is."""
    driver = driver_error(exc)
    sqlstate = getattr(driver, "sqlstate", None)
    if sqlstate:
        return _PG_STATES.get(sqlstate) or _PG_CLASSES.get(sqlstate[:2], DbErrorKind.OTHER)
    name = getattr(driver, "sqlite_errorname", None)
    if name:
        return _SQLITE_NAMES.get(name, DbErrorKind.OTHER)
    # psycopg reports failures to connect, lost connections and pool timeouts as
    # OperationalError without a SQLSTATE: the server never answered.
    if _is_psycopg_operational(driver) or isinstance(exc, InterfaceError):
        return DbErrorKind.CONNECTION
    return DbErrorKind.OTHER


def release_broken_connections() -> None:
    """Close the connections of open transactions after a connection failure.

    Django's outermost `atomic` (ATOMIC_REQUESTS included) would otherwise try to roll back on
    the dead connection, then reconnect on its way out to restore autocommit, waiting the whole
    connect or pool timeout and failing a second time. A connection closed inside a transaction
    is simply dropped when the block exits; its transaction is lost either way.
    """
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block and not connection.closed_in_transaction:
            connection.close()


def constraint_name(exc: BaseException) -> str | None:
    """The name of the constraint a PostgreSQL integrity error names, when the server said it.

    SQLite does not report constraint names apart from its message text, so this is None there;
    callers tell constraints apart by kind (and by which write they were doing) instead.
    """
    diag = getattr(driver_error(exc), "diag", None)
    return getattr(diag, "constraint_name", None) if diag is not None else None


def translate(exc: DjangoDbError) -> AppException:
    """Turn a database error into the application exception the client should get.

    The result carries nothing of the driver's text; chain it (`raise ... from exc`) so the
    log keeps the original. After a connection failure the connections of open transactions
    are released (see `release_broken_connections`), so leaving the transaction is immediate.
    """
    kind = classify(exc)
    if kind is DbErrorKind.UNIQUE_VIOLATION:
        return ConflictException("Resource already exists", code="conflict_error")
    if kind is DbErrorKind.FOREIGN_KEY_VIOLATION:
        return ValidationException("Related resource not found", code="reference_error")
    if kind is DbErrorKind.TIMEOUT:
        return DatabaseException("Database operation timed out", code="db_timeout")
    if kind is DbErrorKind.CONNECTION:
        release_broken_connections()
        return DatabaseException(
            "Database unavailable",
            code="db_connection_error",
            retry_after=errors_settings.db_retry_after,
        )
    return DatabaseException()
