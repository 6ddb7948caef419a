"""Fault injection under concurrent load: overload, PostgreSQL and Redis failing, and recovery.

The real service runs in daphne on the test database; PostgreSQL or Redis is reached through a
`TcpProxy` that refuses connections (`cut`) or holds them open without forwarding (`hang`).
Clients keep reading and writing meanwhile (tests/support/faults.py). The contract, for every
scenario: no 500 and no request left without an answer; every 503 carries Retry-After; answers
come within the scenario's bound; the service recovers by itself; every acknowledged write is
in the database once. `bench/degradation.py` runs the same scenarios and prints the figures.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from django.contrib.auth.models import User
from django.db import connection

from accounts.tokens import issue_token
from tests.support.faults import Answer, Load, PhaseReport, burst, summary
from tests.support.fixtures import DaphneFactory, ProxyFactory
from tests.support.servers import current_database_url
from tests.support.tcp_proxy import TcpProxy
from workspaces.models import Workspace

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LIST = "/api/workspaces/"
# Throttles stay on, at a rate these tests stay well within.
BASE_ENV = {"USER_THROTTLE_RATE": "100000/minute"}


def user_with_token(username: str) -> tuple[User, str]:
    user = User.objects.create_user(username, password=f"{username}-password")
    return user, issue_token(user).key


def report_of(name: str, answers: list[Answer]) -> PhaseReport:
    report = PhaseReport(name, answers)
    print(summary(report))
    return report


def assert_contract(report: PhaseReport) -> None:
    assert not report.server_errors(), summary(report)
    assert not report.unavailable_without_retry_after(), summary(report)


# --- overload ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pool", "pool_timeout", "p99_bound"),
    [
        pytest.param("10", "2", 5.0, id="pool-10"),
        # A pool far smaller than the burst, with a short timeout: without the limit most of the
        # burst would fail on the pool's timeout as if the database were down.
        pytest.param("3", "1", 8.0, id="pool-3"),
    ],
)
def test_a_burst_of_200_requests_waits_its_turn_and_every_one_succeeds(
    daphne_factory: DaphneFactory, pool: str, pool_timeout: str, p99_bound: float
) -> None:
    _, token = user_with_token("burst")
    server = daphne_factory(
        {
            **BASE_ENV,
            "DATABASE_URL": current_database_url(),
            "DB_POOL_MAX_SIZE": pool,
            "DB_POOL_TIMEOUT": pool_timeout,
            "REQUEST_QUEUE_TIMEOUT": "10",
        }
    )
    answers = burst(server.url, [(LIST, {"Authorization": f"Token {token}"})] * 200)
    report = report_of(f"200 at once, pool {pool}", answers)

    assert report.by_outcome() == {"200": 200}, summary(report)
    assert report.percentile(99) <= p99_bound, summary(report)
    lines = [r for r in server.log_records() if r.get("error_code") == "db_connection_error"]
    assert lines == []


def test_a_flood_of_bad_tokens_does_not_fail_a_users_requests(
    daphne_factory: DaphneFactory,
) -> None:
    _, token = user_with_token("victim")
    server = daphne_factory({**BASE_ENV, "DATABASE_URL": current_database_url()})
    flood = [(LIST, {"Authorization": f"Token {uuid.uuid4().hex * 2}"})] * 200
    legitimate = [(LIST, {"Authorization": f"Token {token}"})] * 20
    # The user's requests go out in the middle of the flood.
    answers = burst(server.url, flood[:100] + legitimate + flood[100:])

    mine = report_of("the user's", answers[100:120])
    theirs = report_of("bad tokens", answers[:100] + answers[120:])
    assert mine.by_outcome() == {"200": 20}, summary(mine)
    assert theirs.by_outcome() == {"401 authentication_error": 200}, summary(theirs)


# --- PostgreSQL refusing connections -------------------------------------------------------------


def database_proxy(tcp_proxy_factory: ProxyFactory) -> TcpProxy:
    settings = connection.settings_dict
    return tcp_proxy_factory(
        str(settings.get("HOST") or "127.0.0.1"), int(settings.get("PORT") or 5432)
    )


def stored_names(user: User) -> list[str]:
    return list(Workspace.objects.filter(owner=user).values_list("name", flat=True))


def run_outage(
    load: Load, start: Callable[[], None], stop: Callable[[], None], seconds: float
) -> float | None:
    """Healthy for a second, then the fault for `seconds`, then wait for a write to succeed."""
    recovered = load.outage(start, stop, seconds)
    for phase in load.phases():
        print(summary(phase))
    print(f"first acknowledged write {recovered} s after the link returned")
    return recovered


@pytest.mark.parametrize(
    ("fault", "bound"),
    [
        # Refused: a request waits for a pool connection at most DB_POOL_TIMEOUT (2 s).
        pytest.param("cut", 2.0 + 1.5, id="refusing"),
        # Hanging: every wait for the server ends after DB_CLIENT_TIMEOUT (2 s here); a new
        # request may first wait the pool's timeout for a connection (README).
        pytest.param("hang", 2.0 + 2.0 + 1.5, id="hanging"),
    ],
)
def test_postgresql_failing_under_load_answers_503_in_bounded_time_and_loses_nothing(
    daphne_factory: DaphneFactory, tcp_proxy_factory: ProxyFactory, fault: str, bound: float
) -> None:
    user, token = user_with_token(f"pg-{fault}")
    proxy = database_proxy(tcp_proxy_factory)
    server = daphne_factory(
        {
            **BASE_ENV,
            "DATABASE_URL": current_database_url(port=proxy.port),
            "DB_CLIENT_TIMEOUT": "2",
            "DB_STATEMENT_TIMEOUT_MS": "1500",
        }
    )
    load = Load(server.url, token, clients=6)
    during: dict[str, httpx.Response] = {}

    def start() -> None:
        proxy.cut() if fault == "cut" else proxy.hang()
        with httpx.Client(base_url=server.url, timeout=10) as client:
            during["health"] = client.get("/healthz")

    stop = proxy.restore if fault == "cut" else proxy.resume
    recovered = run_outage(load, start, stop, seconds=5.0)

    everything = load.all()
    assert_contract(everything)
    outage = load.phase("fault")
    assert outage.count > 0
    assert set(outage.by_outcome()) <= {"200", "201", "503 db_connection_error"}, summary(outage)
    assert outage.slowest <= bound, summary(outage)
    fault_at = dict(load.marks)["fault"]
    healthy = [a for a in load.phase("before").answers if a.sent + a.seconds < fault_at]
    assert healthy and {a.status for a in healthy} <= {200, 201}
    assert recovered is not None and recovered <= 10.0, recovered
    lost, duplicated = load.lost_writes(stored_names(user))
    assert (lost, duplicated) == ([], []), (lost, duplicated)
    assert len(load.acknowledged_writes()) > 0
    health = during["health"]
    assert health.status_code == 503 and health.headers["Retry-After"], health.text
    error = health.json()["error"]
    assert error["code"] == "db_connection_error"
    assert error["details"] == {"database": "unavailable", "redis": "not_used"}


# --- Redis refusing or hanging -------------------------------------------------------------------


def redis_through(proxy: TcpProxy, redis_url: str) -> str:
    database = urlsplit(redis_url).path or "/0"
    return f"redis://127.0.0.1:{proxy.port}{database}"


@pytest.mark.redis
@pytest.mark.parametrize("fault", ["cut", "hang"], ids=["refusing", "hanging"])
def test_redis_failing_under_load_costs_the_api_nothing_and_streams_get_503(
    daphne_factory: DaphneFactory, tcp_proxy_factory: ProxyFactory, redis_url: str, fault: str
) -> None:
    user, token = user_with_token(f"redis-{fault}")
    parts = urlsplit(redis_url)
    proxy = tcp_proxy_factory(parts.hostname or "127.0.0.1", parts.port or 6379)
    server = daphne_factory(
        {
            **BASE_ENV,
            "DATABASE_URL": current_database_url(),
            "REDIS_URL": redis_through(proxy, redis_url),
        }
    )
    load = Load(server.url, token, clients=6)
    during: dict[str, Any] = {}

    def start() -> None:
        proxy.cut() if fault == "cut" else proxy.hang()
        time.sleep(0.5)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            began = time.monotonic()
            stream = client.get("/api/events/", headers={"Authorization": f"Token {token}"})
            during["stream"], during["stream_seconds"] = stream, time.monotonic() - began
            during["health"] = client.get("/healthz")

    stop = proxy.restore if fault == "cut" else proxy.resume
    recovered = run_outage(load, start, stop, seconds=3.5)

    assert_contract(load.all())
    outage = load.phase("fault")
    assert outage.count > 0
    # The API answers on: the throttles count in the process meanwhile.
    assert set(outage.by_outcome()) <= {"200", "201"}, summary(outage)
    assert outage.slowest <= 1.0 + 1.5, summary(outage)  # REDIS_TIMEOUT_MS, one probe
    assert recovered is not None and recovered <= 5.0
    stream = during["stream"]
    assert stream.status_code == 503, stream.text
    assert stream.json()["error"]["code"] == "redis_unavailable"
    assert stream.headers["Retry-After"]
    assert during["stream_seconds"] <= 2.0, during["stream_seconds"]
    health = during["health"]
    assert health.status_code == 200, health.text
    assert health.json() == {"status": "degraded", "database": "ok", "redis": "unavailable"}
    lost, duplicated = load.lost_writes(stored_names(user))
    assert (lost, duplicated) == ([], []), (lost, duplicated)
    # One WARNING for the outage, not one per request.
    warnings = [r for r in server.log_records() if r.get("logger") == "cortex.breaker"]
    assert [r["level"] for r in warnings if r["level"] == "WARNING"] == ["WARNING"], warnings
    # The breaker tries Redis again after its cool-off (2 s): health says so by itself.
    with httpx.Client(base_url=server.url, timeout=10) as client:
        deadline = time.monotonic() + 5.0
        while client.get("/healthz").json()["redis"] != "ok":
            assert time.monotonic() < deadline, "Redis not reported back within 5 s"
            time.sleep(0.2)
