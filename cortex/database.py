"""A client-side bound on every wait for PostgreSQL, for a server or network that stops answering.

`statement_timeout` is enforced by the server. When the link to it is held open and nothing comes
back (a network partition, a hung server or proxy), psycopg waits on the socket for as long as
that lasts, and so does the request. The settings make Django's pool create `BoundedConnection`s
(`OPTIONS["pool"]["connection_class"]`, which Django hands to `psycopg_pool.ConnectionPool`),
whose every wait for the server ends after a number of seconds: the connection's link is then
closed and the wait raises `ServerNotAnswering`, a `psycopg.OperationalError` — a lost
connection to `errors.db.classify`, so the client gets 503 `db_connection_error`. The server
rolls back whatever transaction was open when it sees the link close; a COMMIT already sent may
still arrive and be applied, so an interrupted write is either wholly there or absent.

Written against psycopg 3.3 (3.3.9) and psycopg_pool 3.3: every query, fetch, commit, rollback,
`SET` and the pool's health check (`ConnectionPool.check_connection`) waits for the server
through `psycopg.Connection.wait(gen, interval, timeout)`, which raises the private
`psycopg.errors._WaitTimeout` once `timeout` expires; psycopg closes the link itself
(`pgconn.finish()`) when a wait cannot be trusted any more. Connecting does not go through
`wait` (libpq's `connect_timeout` bounds it). tests/cortex/test_database.py fails if a release
changes any of this.
"""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg
from psycopg import errors
from psycopg.abc import RV, PQGen
from psycopg.rows import TupleRow

# psycopg's own interval between checks while waiting (psycopg.connection._WAIT_INTERVAL).
_WAIT_INTERVAL = 0.1


class ServerNotAnswering(psycopg.OperationalError):
    """The database server did not answer within the connection's bound; the link is closed."""


class BoundedConnection(psycopg.Connection[TupleRow]):
    """A psycopg connection whose waits for the server end after `timeout` seconds.

    A wait that names its own timeout (`notifies()` does) keeps it and psycopg's behaviour.
    """

    timeout: ClassVar[float] = 10.0
    # The bound of the pool's health check (`ConnectionPool.check_connection` pings an idle
    # connection with an empty query before lending it): a healthy server answers it at once, and a
    # request must not spend its whole bound on a check before its first query.
    check_timeout: ClassVar[float] = 2.0
    _bound: float | None = None

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if query == "" and params is None:
            self._bound = self.check_timeout
            try:
                return super().execute(query, params, **kwargs)
            finally:
                self._bound = None
        return super().execute(query, params, **kwargs)

    def wait(
        self, gen: PQGen[RV], interval: float = _WAIT_INTERVAL, timeout: float | None = None
    ) -> RV:
        if timeout is not None:
            return super().wait(gen, interval, timeout)
        bound = self._bound or self.timeout
        try:
            return super().wait(gen, interval, bound)
        except errors._WaitTimeout:
            # The server may answer later: what it sends must never be read as the answer to
            # another query, so the link goes (the pool then discards the connection).
            self.pgconn.finish()
            raise ServerNotAnswering(
                f"the database server did not answer within {bound:g} s; the connection was closed"
            ) from None


def bounded_connection_class(
    timeout: float, *, check_timeout: float | None = None
) -> type[BoundedConnection]:
    """A `BoundedConnection` class whose waits end after `timeout` seconds, and the pool's health
    check after `check_timeout` (at most `timeout`; by default `timeout` too), for settings."""
    check = timeout if check_timeout is None else min(check_timeout, timeout)
    if timeout <= 0 or check <= 0:
        raise ValueError(f"timeouts must be positive; got {timeout!r}, {check_timeout!r}")
    name = f"BoundedConnection{timeout:g}s".replace(".", "_")
    attributes = {"timeout": float(timeout), "check_timeout": float(check), "__module__": __name__}
    return type(name, (BoundedConnection,), attributes)
