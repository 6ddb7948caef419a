"""Shared fixtures: captured JSON log lines, and the rules for tests that need services."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from errors.logging import build_logging_config
from tests.support.upstream import UpstreamServer

# The real-server fixtures (daphne_factory, tcp_proxy_factory) for every test module.
pytest_plugins = ["tests.support.fixtures"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class JsonLog:
    """The JSON lines written to the configured console stream during a test."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def records(self) -> list[dict[str, Any]]:
        """Every line, parsed (a line that is not JSON fails the test)."""
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    """A real HTTP server on 127.0.0.1 that answers as the test tells it to."""
    server = UpstreamServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    """Log through the service's own logging configuration into a buffer, at DEBUG."""
    log = JsonLog()
    logging.config.dictConfig(build_logging_config(level="DEBUG", stream=log.stream))
    try:
        yield log
    finally:
        logging.config.dictConfig(settings.LOGGING)


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Throttle counters live in the cache; each test starts with none, and with Redis taken to
    be up (a breaker of its own, closed; no counters kept during an earlier test's outage)."""
    from django.core.cache import cache

    from cortex import redis_guard
    from cortex.breaker import CircuitBreaker

    cache.clear()
    redis_guard.local_counters.clear()
    monkeypatch.setattr(
        redis_guard, "breaker", CircuitBreaker("Redis", cooloff=redis_guard.COOLOFF_SECONDS)
    )
    yield


@pytest.fixture
def atomic_requests() -> Iterator[None]:
    """Serve the test's requests under ATOMIC_REQUESTS, as projects using `errors` may."""
    connection.settings_dict["ATOMIC_REQUESTS"] = True
    try:
        yield
    finally:
        connection.settings_dict["ATOMIC_REQUESTS"] = False


def require(what: str, available: bool, why: str) -> None:
    """Fail under CI, skip elsewhere, when a service or tool a test needs is missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI: {why}")
    pytest.skip(f"needs {what}: {why}")


@pytest.fixture
def needs_postgres() -> None:
    """Fail under CI (skip elsewhere) when the suite does not run on PostgreSQL."""
    require("PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL=postgres://…")


@pytest.fixture
def redis_url() -> str:
    """REDIS_URL; fails under CI (skips elsewhere) when it is not set."""
    url = os.environ.get("REDIS_URL", "")
    require("Redis", bool(url), "set REDIS_URL=redis://…")
    return url


@pytest.fixture(autouse=True)
def _required_services(request: pytest.FixtureRequest) -> None:
    """`@pytest.mark.postgres` tests need PostgreSQL, `@pytest.mark.redis` ones Redis."""
    if request.node.get_closest_marker("postgres"):
        request.getfixturevalue("needs_postgres")
    if request.node.get_closest_marker("redis"):
        request.getfixturevalue("redis_url")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test databases, let go of before they are dropped.

    On PostgreSQL a connection stays open after the last test that used it when it belongs to
    the pool (closing returns it there) or to a thread that outlived its test (an executor
    thread of an async test keeps its thread-local connection). DROP DATABASE then fails with
    "is being accessed by other users" and the test database is left behind. The pool is
    closed, and what a thread still holds is ended by the server.
    """
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for alias in connections:
            conn = connections[alias]
            if conn.vendor != "postgresql":
                continue
            conn.close()
            conn.close_pool()  # type: ignore[attr-defined]
            with conn._nodb_cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    [conn.settings_dict["NAME"]],
                )
