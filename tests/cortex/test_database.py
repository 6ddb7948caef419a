"""`cortex.database`: every wait for PostgreSQL ends within the connection's bound.

Against the real PostgreSQL of the test run, reached through a `TcpProxy` that hangs: the link
stays open, the proxy's kernel acknowledges what is sent, and nothing comes back — only the
client's own bound ends the wait. These tests also fail if a psycopg release changes the hook
the module relies on (`Connection.wait`'s timeout and `errors._WaitTimeout`).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection
from psycopg_pool import ConnectionPool, PoolTimeout

from cortex.database import BoundedConnection, ServerNotAnswering, bounded_connection_class
from errors.db import DbErrorKind, classify
from tests.support.fixtures import ProxyFactory
from tests.support.servers import current_database_url
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BOUND = 1.0  # seconds: the bound of the connections these tests make
MARGIN = 0.75  # seconds of scheduling slack on a shared two-core machine
TABLE = "cortex_database_probe"


@pytest.fixture
def proxy(tcp_proxy_factory: ProxyFactory) -> TcpProxy:
    settings = connection.settings_dict
    return tcp_proxy_factory(str(settings["HOST"] or "127.0.0.1"), int(settings["PORT"] or 5432))


@pytest.fixture
def probe_table() -> Iterator[str]:
    """A table of the test database, for writes made through the proxy; dropped afterwards."""
    with psycopg.connect(current_database_url(), autocommit=True) as direct:
        direct.execute(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, payload text NOT NULL)")
    try:
        yield TABLE
    finally:
        with psycopg.connect(current_database_url(), autocommit=True) as direct:
            direct.execute(f"DROP TABLE IF EXISTS {TABLE}")


def bounded(proxy: TcpProxy, *, autocommit: bool = True) -> BoundedConnection:
    cls = bounded_connection_class(BOUND)
    return cls.connect(
        current_database_url(port=proxy.port), autocommit=autocommit, connect_timeout=5
    )


def rows_of(table: str) -> list[tuple[int, str]]:
    with psycopg.connect(current_database_url(), autocommit=True) as direct:
        return list(direct.execute(f"SELECT id, payload FROM {table} ORDER BY id").fetchall())


def wait_until_the_server_drops(proxy: TcpProxy, timeout: float = 5.0) -> None:
    """After `resume()`, wait until the server has seen the closed link end (its rollback)."""
    deadline = time.monotonic() + timeout
    while proxy.active_connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proxy.active_connections == 0


def test_psycopg_still_offers_the_hook_the_module_relies_on() -> None:
    parameters = list(inspect.signature(psycopg.Connection.wait).parameters)
    assert parameters == ["self", "gen", "interval", "timeout"], parameters
    assert issubclass(psycopg.errors._WaitTimeout, psycopg.OperationalError)
    assert "connection_class" in inspect.signature(ConnectionPool).parameters


def test_the_settings_give_djangos_pool_bounded_connections() -> None:
    pool = connection.pool  # type: ignore[attr-defined]  # the PostgreSQL backend's
    assert pool is not None
    assert issubclass(pool.connection_class, BoundedConnection)
    options = connection.settings_dict["OPTIONS"]
    statement_timeout_ms = int(options["options"].rsplit("=", 1)[1])
    assert statement_timeout_ms < pool.connection_class.timeout * 1000
    assert options["tcp_user_timeout"] == pool.connection_class.timeout * 1000
    assert options["keepalives"] == 1


def test_a_query_on_a_hanging_link_ends_within_the_bound_and_closes_the_connection(
    proxy: TcpProxy,
) -> None:
    with bounded(proxy) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        proxy.hang()
        started = time.monotonic()
        with pytest.raises(ServerNotAnswering) as caught:
            conn.execute("SELECT 2")
        elapsed = time.monotonic() - started
        assert conn.closed
        # Closed for good: the next use fails at once instead of waiting again.
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 3")
    assert BOUND <= elapsed <= BOUND + MARGIN, elapsed
    # A connection failure to the `errors` app (503), and nothing of where the server is.
    assert classify(caught.value) is DbErrorKind.CONNECTION
    assert str(proxy.port) not in str(caught.value) and "127.0.0.1" not in str(caught.value)
    print(f"query on a hanging link ended after {elapsed:.2f} s (bound {BOUND} s)")


def test_a_transaction_cut_short_by_a_hang_is_rolled_back(
    proxy: TcpProxy, probe_table: str
) -> None:
    with bounded(proxy, autocommit=False) as conn:
        conn.execute(f"INSERT INTO {probe_table} VALUES (1, 'first')")
        proxy.hang()
        started = time.monotonic()
        with pytest.raises(ServerNotAnswering):
            conn.execute(f"INSERT INTO {probe_table} VALUES (2, 'second')")
        elapsed = time.monotonic() - started
    proxy.resume()  # what was held back reaches the server, then the end of the link
    wait_until_the_server_drops(proxy)
    assert rows_of(probe_table) == []
    assert elapsed <= BOUND + MARGIN, elapsed


def test_a_commit_cut_short_by_a_hang_ends_within_the_bound_all_or_nothing(
    proxy: TcpProxy, probe_table: str
) -> None:
    with bounded(proxy, autocommit=False) as conn:
        conn.execute(f"INSERT INTO {probe_table} VALUES (1, 'first'), (2, 'second')")
        proxy.hang()
        started = time.monotonic()
        with pytest.raises(ServerNotAnswering):
            conn.commit()
        elapsed = time.monotonic() - started
    proxy.resume()
    wait_until_the_server_drops(proxy)
    # The COMMIT was sent before the link hung, so the server may apply it: the client was not
    # told either way, and the transaction is there whole or not at all.
    assert rows_of(probe_table) in ([], [(1, "first"), (2, "second")])
    assert elapsed <= BOUND + MARGIN, elapsed


def test_a_wait_with_its_own_timeout_keeps_it_and_the_connection(proxy: TcpProxy) -> None:
    with bounded(proxy) as conn:
        conn.execute("LISTEN cortex_database_probe")
        proxy.hang()
        started = time.monotonic()
        assert list(conn.notifies(timeout=0.2)) == []
        assert time.monotonic() - started < BOUND
        assert not conn.closed
        proxy.resume()
        assert conn.execute("SELECT 1").fetchone() == (1,)


def checked_pool(
    proxy: TcpProxy, connection_class: type[BoundedConnection], *, max_size: int
) -> ConnectionPool[BoundedConnection]:
    """An open pool through `proxy` that checks each connection before lending it, as Django's
    does with CONN_HEALTH_CHECKS, waiting up to BOUND for one."""
    return ConnectionPool(
        current_database_url(port=proxy.port),
        connection_class=connection_class,
        kwargs={"autocommit": True, "connect_timeout": 1},
        check=ConnectionPool.check_connection,
        min_size=1,
        max_size=max_size,
        timeout=BOUND,
        open=True,
    )


def test_the_pools_check_of_a_hanging_connection_ends_within_the_bound_and_the_pool_recovers(
    proxy: TcpProxy,
) -> None:
    pool = checked_pool(proxy, bounded_connection_class(BOUND), max_size=2)
    try:
        pool.wait(timeout=5)
        proxy.hang()
        started = time.monotonic()
        with pytest.raises(PoolTimeout) as caught:
            pool.getconn()
        elapsed = time.monotonic() - started
        assert classify(caught.value) is DbErrorKind.CONNECTION
        # The check of the pooled connection (up to BOUND) and the wait for a new one (up to
        # the pool's timeout, from the same start) overlap.
        assert elapsed <= BOUND + MARGIN, elapsed

        proxy.resume()
        started = time.monotonic()
        while True:
            try:
                with pool.connection(timeout=BOUND) as conn:
                    assert conn.execute("SELECT 1").fetchone() == (1,)
                break
            except PoolTimeout:
                assert time.monotonic() - started < 10, "the pool did not recover within 10 s"
        recovered = time.monotonic() - started
    finally:
        pool.close(timeout=1)
    print(f"pool check ended after {elapsed:.2f} s; recovered {recovered:.2f} s after resume")


def test_the_pools_check_has_a_bound_of_its_own(proxy: TcpProxy) -> None:
    """A request must not spend the whole query bound on the check before its first query."""
    pool = checked_pool(proxy, bounded_connection_class(5.0, check_timeout=BOUND), max_size=1)
    try:
        pool.wait(timeout=5)
        proxy.hang()
        started = time.monotonic()
        with pytest.raises(PoolTimeout):
            pool.getconn()
        elapsed = time.monotonic() - started
    finally:
        proxy.resume()
        pool.close(timeout=1)
    assert elapsed <= BOUND + MARGIN, elapsed
