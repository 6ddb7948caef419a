"""The workspaces API when PostgreSQL fails, against the real service in a real daphne process.

Nothing is mocked: the service runs in its own process on the pytest test database, reached
directly or through a `TcpProxy` that a test cuts to make the database unreachable. The tests
commit their data (transactional tests) so that the server process sees it.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection

from accounts.tokens import issue_token
from tests.support.fixtures import DaphneFactory, ProxyFactory
from tests.support.servers import DaphneServer, current_database_url
from workspaces.models import Workspace

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LIST = "/api/workspaces/"
HEALTHZ = "/healthz"

# Text of the driver, the network or the server's address that must never reach a client.
LEAKS = (
    "psycopg",
    "operationalerror",
    "server closed",
    "connection refused",
    "connection to server",
    "could not connect",
    "couldn't get a connection",
    "pool",
    "timeout expired",
    "canceling statement",
    "statement timeout",
    "traceback",
    "127.0.0.1",
    "localhost",
    "5432",
    "workspaces_workspace",
    "select ",
)


def make_user(username: str) -> tuple[User, str]:
    """A committed user and its API token key."""
    user = User.objects.create_user(username, password=f"{username}-password")
    return user, issue_token(user).key


def api_client(server: DaphneServer, key: str, timeout: float = 10.0) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=timeout
    )


def timed(send: Any, *args: Any, **kwargs: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = send(*args, **kwargs)
    return response, time.monotonic() - started


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check the error envelope of `response` and return its `error` object."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == code, body
    assert isinstance(error["message"], str) and error["message"]
    assert error["correlation_id"] == response.headers["X-Correlation-ID"]
    assert set(error) <= {"code", "message", "correlation_id", "details"}, body
    return dict(error)


def assert_no_leaks(response: httpx.Response, *extra: str) -> None:
    # The correlation id is random hex: "5432" may turn up in it by chance.
    text = response.text.lower().replace(response.headers.get("X-Correlation-ID", "").lower(), "")
    for needle in (*LEAKS, *extra):
        assert needle.lower() not in text, f"{needle!r} in the body: {response.text}"


def retry_after(response: httpx.Response) -> int:
    value = response.headers.get("Retry-After")
    assert value is not None, f"no Retry-After: {dict(response.headers)}"
    assert value.isdigit() and int(value) > 0, value
    return int(value)


def error_log_records(server: DaphneServer, correlation_id: str) -> list[dict[str, Any]]:
    """The JSON log records of the `errors` logger for one request, from the server's stderr."""
    return [
        record
        for record in server.log_records()
        if record.get("logger") == "errors" and record.get("correlation_id") == correlation_id
    ]


def wait_for(condition: Any, timeout: float, interval: float = 0.2) -> float | None:
    """Call `condition` until it is true; the seconds it took, or None after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(interval)
    return None


def database_host_port() -> tuple[str, int]:
    settings = connection.settings_dict
    return str(settings.get("HOST") or "127.0.0.1"), int(settings.get("PORT") or 5432)


# --- a. the database goes away and comes back ------------------------------------------------


def test_outage_answers_503_quickly_and_the_service_recovers_without_restart(
    daphne_factory: DaphneFactory, tcp_proxy_factory: ProxyFactory
) -> None:
    user, key = make_user("outage")
    proxy = tcp_proxy_factory(*database_host_port())
    server = daphne_factory({"DATABASE_URL": current_database_url(port=proxy.port)})
    pid = server.pid

    with api_client(server, key) as api:
        alpha = api.post(LIST, json={"name": "alpha"})
        assert alpha.status_code == 201, alpha.text
        assert alpha.headers["X-Correlation-ID"]
        assert proxy.active_connections >= 1  # the service reaches the database through the proxy

        proxy.cut()

        beta, beta_seconds = timed(
            api.post, LIST, json={"name": "beta"}, headers={"X-Correlation-ID": "outage-beta"}
        )
        error_of(beta, 503, "db_connection_error")
        assert beta.headers["X-Correlation-ID"] == "outage-beta"
        retry_after(beta)
        assert_no_leaks(beta, str(proxy.port))
        assert beta_seconds < 3.0, f"503 took {beta_seconds:.2f} s"

        health, health_seconds = timed(
            api.get, HEALTHZ, headers={"X-Correlation-ID": "outage-healthz"}
        )
        error_of(health, 503, "db_connection_error")
        retry_after(health)
        assert_no_leaks(health, str(proxy.port))
        assert health_seconds < 3.0, f"healthz took {health_seconds:.2f} s"

        # Each failure is logged once, as an error of the `errors` logger, with its request's id.
        for correlation_id in ("outage-beta", "outage-healthz"):
            records = error_log_records(server, correlation_id)
            assert [(r.get("error_code"), r.get("status_code")) for r in records] == [
                ("db_connection_error", 503)
            ], records

        proxy.restore()

        recovered = wait_for(lambda: api.get(HEALTHZ).status_code == 200, timeout=10.0)
        assert recovered is not None, "healthz did not answer 200 within 10 s of the restore"

        gamma = api.post(LIST, json={"name": "gamma"})
        assert gamma.status_code == 201, gamma.text

        listing = api.get(LIST)
        assert listing.status_code == 200, listing.text
        assert [w["name"] for w in listing.json()["results"]] == ["alpha", "gamma"]
        assert listing.json()["count"] == 2

    assert server.running and server.pid == pid, "daphne was restarted"
    # Every acknowledged write is committed, and the refused one is not.
    names = Workspace.objects.filter(owner=user).order_by("created_at")
    assert [w.name for w in names] == ["alpha", "gamma"]
    print(
        f"503 in {beta_seconds:.2f} s, healthz 503 in {health_seconds:.2f} s, "
        f"recovered {recovered:.2f} s after the restore"
    )


# --- b. a statement runs past the statement timeout ------------------------------------------


def test_statement_timeout_answers_504_and_the_next_request_succeeds(
    daphne_factory: DaphneFactory,
) -> None:
    user, key = make_user("timeout")
    Workspace.objects.create(owner=user, name="existing")
    server = daphne_factory(
        {"DATABASE_URL": current_database_url(), "DB_STATEMENT_TIMEOUT_MS": "300"}
    )

    with api_client(server, key) as api:
        warm = api.get(LIST)
        assert warm.status_code == 200, warm.text

        locker = psycopg.connect(current_database_url(), connect_timeout=5)
        try:
            # psycopg opens a transaction: the lock is held until the rollback below.
            locker.execute("LOCK TABLE workspaces_workspace IN ACCESS EXCLUSIVE MODE")

            listing, list_seconds = timed(
                api.get, LIST, headers={"X-Correlation-ID": "timeout-list"}
            )
            error_of(listing, 504, "db_timeout")
            assert listing.headers["X-Correlation-ID"] == "timeout-list"
            assert_no_leaks(listing)
            assert list_seconds < 2.0, f"504 took {list_seconds:.2f} s"

            create, create_seconds = timed(api.post, LIST, json={"name": "blocked"})
            error_of(create, 504, "db_timeout")
            assert_no_leaks(create)
            assert create_seconds < 2.0, f"504 took {create_seconds:.2f} s"
        finally:
            locker.rollback()
            locker.close()

        records = error_log_records(server, "timeout-list")
        assert [(r.get("error_code"), r.get("status_code")) for r in records] == [
            ("db_timeout", 504)
        ], records

        after = api.get(LIST)
        assert after.status_code == 200, after.text
        assert [w["name"] for w in after.json()["results"]] == ["existing"]

    assert list(Workspace.objects.filter(owner=user).values_list("name", flat=True)) == ["existing"]


# --- c. many clients create the same name at once --------------------------------------------


def case_variants(word: str, count: int) -> list[str]:
    """`count` spellings of `word` that differ only in case (cycling when there are fewer)."""
    variants = []
    for mask in range(2 ** len(word)):
        variants.append(
            "".join(c.upper() if mask >> i & 1 else c.lower() for i, c in enumerate(word))
        )
    return [variants[i % len(variants)] for i in range(count)]


def test_concurrent_creates_of_one_name_give_one_201_and_409s(
    daphne_factory: DaphneFactory,
) -> None:
    clients_count = 24
    user, key = make_user("racer")
    server = daphne_factory({"DATABASE_URL": current_database_url()})
    names = case_variants("race", clients_count)
    barrier = threading.Barrier(clients_count)
    results: list[tuple[str, httpx.Response | BaseException, float, float]] = []
    lock = threading.Lock()

    def create(name: str) -> None:
        with api_client(server, key, timeout=15.0) as api:
            try:
                api.get(HEALTHZ)  # open the connection first, so the POSTs leave together
                barrier.wait(timeout=10)
                started = time.monotonic()
                outcome: httpx.Response | BaseException = api.post(LIST, json={"name": name})
            except BaseException as exc:  # reported below, with every other outcome
                started, outcome = time.monotonic(), exc
            finished = time.monotonic()
        with lock:
            results.append((name, outcome, started, finished))

    threads = [threading.Thread(target=create, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)

    failures = [(name, out) for name, out, _, _ in results if not isinstance(out, httpx.Response)]
    assert failures == []
    responses = [(name, out) for name, out, _, _ in results if isinstance(out, httpx.Response)]
    assert len(responses) == clients_count
    statuses = sorted(response.status_code for _, response in responses)
    assert not [s for s in statuses if s >= 500], [
        (name, r.status_code, r.text) for name, r in responses if r.status_code >= 500
    ]
    created = [(name, r) for name, r in responses if r.status_code == 201]
    assert len(created) == 1, statuses
    conflicts = [r for _, r in responses if r.status_code != 201]
    assert len(conflicts) == clients_count - 1, statuses
    for response in conflicts:
        error = error_of(response, 409, "workspace_name_conflict")
        assert_no_leaks(response)
        assert error.get("details", {}).get("name", "").lower() == "race"

    winner_name, winner = created[0]
    assert winner.json()["name"] == winner_name
    rows = list(Workspace.objects.filter(owner=user).values_list("id", "name"))
    assert [(str(pk), name) for pk, name in rows] == [(winner.json()["id"], winner_name)]

    # The POSTs were in flight together (not one after the other).
    last_start = max(started for _, _, started, _ in results)
    first_end = min(finished for _, _, _, finished in results)
    first_start = min(started for _, _, started, _ in results)
    overlap = "before" if last_start < first_end else "after"
    print(
        f"{clients_count} POSTs, starts spread over {last_start - first_start:.3f} s, "
        f"the last one started {overlap} the first answer"
    )


# --- d. the database goes away while a request is using it -----------------------------------


class InFlightDrop:
    """What happened to a POST whose link to the database dropped or hung while it waited."""

    def __init__(self, response: httpx.Response, after_cut: float, server: DaphneServer) -> None:
        self.response = response
        self.after_cut = after_cut  # seconds from the cut (or the hang) to the answer
        self.server = server


def drop_connection_under_a_request(
    daphne_factory: DaphneFactory,
    tcp_proxy_factory: ProxyFactory,
    username: str,
    *,
    hang: bool = False,
) -> InFlightDrop:
    """Start a POST that blocks on a table lock, cut the database link under it, restore it.

    With `hang`, the link is held open with nothing forwarded instead, then resumed, and the
    server runs with the default DB_* settings. Also checks that the service recovers and that
    the interrupted write left nothing behind.
    """
    user, key = make_user(username)
    proxy = tcp_proxy_factory(*database_host_port())
    env = {"DATABASE_URL": current_database_url(port=proxy.port)}
    if not hang:
        # Long enough that the cut, not either timeout, ends the request.
        env.update(DB_STATEMENT_TIMEOUT_MS="15000", DB_CLIENT_TIMEOUT="20")
    server = daphne_factory(env)
    outcome: list[httpx.Response | BaseException] = []
    with api_client(server, key, timeout=20.0) as api:
        assert api.get(LIST).status_code == 200

        def post() -> None:
            try:
                outcome.append(
                    api.post(
                        LIST, json={"name": "in-flight"}, headers={"X-Correlation-ID": username}
                    )
                )
            except BaseException as exc:
                outcome.append(exc)

        locker = psycopg.connect(current_database_url(), connect_timeout=5)
        thread = threading.Thread(target=post)
        try:
            locker.execute("LOCK TABLE workspaces_workspace IN ACCESS EXCLUSIVE MODE")
            thread.start()

            def request_waits_for_the_lock() -> bool:
                row = locker.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone()
                return bool(row and row[0] >= 1)

            assert wait_for(request_waits_for_the_lock, timeout=5.0, interval=0.05) is not None
            cut_at = time.monotonic()
            if hang:
                proxy.hang()
            else:
                proxy.cut()
            thread.join(20)
            answered_at = time.monotonic()
        finally:
            locker.rollback()
            locker.close()
        assert not thread.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], httpx.Response), outcome
        response = outcome[0]

        if hang:
            proxy.resume()
        else:
            proxy.restore()
        assert wait_for(lambda: api.get(HEALTHZ).status_code == 200, timeout=10.0) is not None
        listing = api.get(LIST)
        assert listing.status_code == 200 and listing.json()["results"] == [], listing.text
    assert not Workspace.objects.filter(owner=user).exists()
    return InFlightDrop(response, answered_at - cut_at, server)


def test_a_request_in_flight_when_the_database_drops_answers_503(
    daphne_factory: DaphneFactory, tcp_proxy_factory: ProxyFactory
) -> None:
    drop = drop_connection_under_a_request(daphne_factory, tcp_proxy_factory, "in-flight-503")
    error_of(drop.response, 503, "db_connection_error")
    assert drop.response.headers["X-Correlation-ID"] == "in-flight-503"
    retry_after(drop.response)
    assert_no_leaks(drop.response)
    assert drop.after_cut < 3.0, f"answered {drop.after_cut:.2f} s after the cut"


def test_a_request_in_flight_when_the_database_drops_is_logged_once_and_answered_at_once(
    daphne_factory: DaphneFactory, tcp_proxy_factory: ProxyFactory
) -> None:
    drop = drop_connection_under_a_request(daphne_factory, tcp_proxy_factory, "in-flight-once")
    error_of(drop.response, 503, "db_connection_error")
    records = error_log_records(drop.server, "in-flight-once")
    assert [(r.get("error_code"), r.get("status_code")) for r in records] == [
        ("db_connection_error", 503)
    ], [r.get("exception", {}).get("message") for r in records]
    assert drop.after_cut < 1.0, f"answered {drop.after_cut:.2f} s after the cut"


# --- e. the database hangs: the link stays open and nothing comes back -----------------------

HANG_CLIENT_TIMEOUT = 2.0  # DB_CLIENT_TIMEOUT of the load test's server, seconds
POOL_TIMEOUT = 2.0  # DB_POOL_TIMEOUT (the default)
MARGIN = 1.0  # seconds of scheduling slack on a shared two-core machine


def test_a_write_in_flight_when_the_database_hangs_ends_within_the_default_bound(
    daphne_factory: DaphneFactory, tcp_proxy_factory: ProxyFactory
) -> None:
    drop = drop_connection_under_a_request(
        daphne_factory, tcp_proxy_factory, "in-flight-hang", hang=True
    )
    error_of(drop.response, 503, "db_connection_error")
    assert drop.response.headers["X-Correlation-ID"] == "in-flight-hang"
    retry_after(drop.response)
    assert_no_leaks(drop.response)
    records = error_log_records(drop.server, "in-flight-hang")
    assert [(r.get("error_code"), r.get("status_code")) for r in records] == [
        ("db_connection_error", 503)
    ], records
    # DB_CLIENT_TIMEOUT's default: 10 s from when the INSERT was sent, just before the hang.
    assert drop.after_cut <= 10.0 + MARGIN, f"answered {drop.after_cut:.2f} s after the hang"
    print(f"write in flight answered 503 {drop.after_cut:.2f} s after the hang (bound 10 s)")


def test_a_create_retried_after_a_timeout_in_a_hang_makes_one_workspace_and_replays_its_201(
    daphne_factory: DaphneFactory, tcp_proxy_factory: ProxyFactory
) -> None:
    """The client gives up on a POST the service is still doing when the database hangs, and
    sends it again with its Idempotency-Key: never a second workspace, and the first 201 back."""
    user, key = make_user("retried")
    proxy = tcp_proxy_factory(*database_host_port())
    server = daphne_factory({"DATABASE_URL": current_database_url(port=proxy.port)})

    def create(client: httpx.Client) -> httpx.Response:
        headers = {"Idempotency-Key": "retried-create-1"}
        return client.post(LIST, json={"name": "retried"}, headers=headers)

    timed_out: list[BaseException] = []
    with api_client(server, key) as api, api_client(server, key, timeout=1.5) as impatient:
        assert api.get(LIST).status_code == 200
        locker = psycopg.connect(current_database_url(), connect_timeout=5)
        try:
            # The first attempt takes the key, then waits for the table inside its transaction.
            locker.execute("LOCK TABLE workspaces_workspace IN ACCESS EXCLUSIVE MODE")

            def first_attempt() -> None:
                try:
                    create(impatient)
                except httpx.TimeoutException as exc:
                    timed_out.append(exc)

            thread = threading.Thread(target=first_attempt)
            thread.start()

            def waits_for_the_lock() -> bool:
                row = locker.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone()
                return bool(row and row[0] >= 1)

            assert wait_for(waits_for_the_lock, timeout=5.0, interval=0.05) is not None
            proxy.hang()
            thread.join(10)
            assert len(timed_out) == 1, "the first attempt should have timed out on the client"

            # A retry while the database hangs is refused as an outage, and does nothing.
            during = create(api)
            error_of(during, 503, "db_connection_error")
            retry_after(during)
        finally:
            locker.rollback()  # the first attempt's INSERT goes on, its answer held by the hang
            locker.close()
        proxy.resume()

        answers: list[httpx.Response] = []

        def replayed() -> bool:
            answers.append(create(api))
            return answers[-1].status_code == 201

        assert wait_for(replayed, timeout=15.0, interval=1.0) is not None, [
            (a.status_code, a.text) for a in answers
        ]
        for busy in answers[:-1]:  # while the first attempt finished: "in progress", or 503
            assert busy.status_code in (409, 503), busy.text
        assert answers[-1].headers["Idempotent-Replayed"] == "true"
        workspace = answers[-1].json()
    assert list(Workspace.objects.filter(owner=user).values_list("id", "name")) == [
        (uuid.UUID(workspace["id"]), "retried")
    ]


class Call:
    """One request of the load below: what it sent, when, and what came back."""

    def __init__(self, kind: str, name: str | None, started: float) -> None:
        self.kind = kind  # "read" or "write"
        self.name = name  # the workspace a write creates
        self.started = started
        self.finished = started
        self.outcome: httpx.Response | BaseException | None = None

    @property
    def status(self) -> int | None:
        return self.outcome.status_code if isinstance(self.outcome, httpx.Response) else None


def payload(name: str) -> dict[str, Any]:
    return {"name": name, "description": f"about {name}", "metadata": {"of": name, "n": [1, 2]}}


def test_a_hanging_database_costs_each_request_a_bounded_wait_and_loses_no_write(
    daphne_factory: DaphneFactory, tcp_proxy_factory: ProxyFactory
) -> None:
    user, key = make_user("hang")
    proxy = tcp_proxy_factory(*database_host_port())
    server = daphne_factory(
        {
            "DATABASE_URL": current_database_url(port=proxy.port),
            "DB_CLIENT_TIMEOUT": f"{HANG_CLIENT_TIMEOUT:g}",
            "DB_STATEMENT_TIMEOUT_MS": "1000",
            "USER_THROTTLE_RATE": "100000/minute",
        }
    )
    pid = server.pid
    calls: list[Call] = []
    lock = threading.Lock()
    stop = threading.Event()
    resumed_at: list[float] = []

    def client(kind: str, number: int) -> None:
        """Send requests one after the other until stopped, after a success past the resume."""
        with api_client(server, key, timeout=20.0) as api:
            sent = 0
            while True:
                name = f"{kind}-{number}-{sent}" if kind == "write" else None
                call = Call(kind, name, time.monotonic())
                try:
                    if name is not None:
                        call.outcome = api.post(LIST, json=payload(name))
                    else:
                        call.outcome = api.get(LIST, params={"limit": 5})
                except BaseException as exc:  # reported below, with every other outcome
                    call.outcome = exc
                call.finished = time.monotonic()
                with lock:
                    calls.append(call)
                sent += 1
                if not isinstance(call.outcome, httpx.Response):
                    return
                succeeded = call.outcome.status_code in (200, 201)
                if stop.is_set() and succeeded and call.started > resumed_at[0]:
                    return
                time.sleep(0.02)

    threads = [threading.Thread(target=client, args=("write", n)) for n in range(4)]
    threads += [threading.Thread(target=client, args=("read", n)) for n in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    # Hang while every client's request surely waits for the server: a lock holds them there.
    locker = psycopg.connect(current_database_url(), connect_timeout=5)
    try:
        locker.execute("LOCK TABLE workspaces_workspace IN ACCESS EXCLUSIVE MODE")

        def every_client_waits_for_the_lock() -> bool:
            # The locker's transaction would otherwise read one snapshot of the statistics.
            locker.execute("SELECT pg_stat_clear_snapshot()")
            row = locker.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            return bool(row and row[0] >= len(threads))

        assert wait_for(every_client_waits_for_the_lock, timeout=5.0, interval=0.02) is not None
        hung_at = time.monotonic()
        proxy.hang()
    finally:
        locker.rollback()
        locker.close()
    time.sleep(5.0)
    proxy.resume()
    resumed_at.append(time.monotonic())
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    resumed = resumed_at[0]

    assert [c.outcome for c in calls if not isinstance(c.outcome, httpx.Response)] == []
    # Every answer is a success, or a 503 with Retry-After / a 504, the envelope leaking nothing.
    for call in calls:
        response = call.outcome
        assert isinstance(response, httpx.Response)
        if response.status_code == 503:
            error_of(response, 503, "db_connection_error")
            retry_after(response)
            assert_no_leaks(response, str(proxy.port))
        elif response.status_code == 504:
            error_of(response, 504, "db_timeout")
            assert_no_leaks(response, str(proxy.port))
        else:
            expected = 201 if call.kind == "write" else 200
            assert response.status_code == expected, (response.status_code, response.text)

    # Each request waits a bounded time for the hanging database: one in flight at most the
    # client timeout; a new one also waits for a pool connection first (the pool's timeout).
    in_flight = [c for c in calls if c.started < hung_at < c.finished]
    during = [c for c in calls if hung_at <= c.started < resumed]
    assert {c.kind for c in in_flight} == {"read", "write"}, "no read and write in flight"
    in_flight_waits = [c.finished - hung_at for c in in_flight]
    new_waits = [c.finished - c.started for c in during]
    assert max(in_flight_waits) <= HANG_CLIENT_TIMEOUT + MARGIN, in_flight_waits
    assert max(new_waits) <= HANG_CLIENT_TIMEOUT + POOL_TIMEOUT + MARGIN, new_waits
    failed = [c for c in calls if c.status in (503, 504)]
    assert failed, "the hang failed no request"
    assert all(c.finished > hung_at for c in failed)

    # The service recovers by itself: writes are acknowledged again within a few seconds.
    firsts = [c.finished - resumed for c in calls if c.started >= resumed and c.status == 201]
    assert firsts, "no write succeeded after the resume"
    recovered_after = min(firsts)
    assert recovered_after <= 5.0, f"first 201 {recovered_after:.2f} s after the resume"
    assert server.running and server.pid == pid, "daphne was restarted"

    # Every acknowledged write is there, once and whole; an unacknowledged one (its COMMIT may
    # have been held by the partition) is there whole or not at all; nothing else is.
    acknowledged: dict[str, str] = {}
    for call in calls:
        response = call.outcome
        if call.name is not None and isinstance(response, httpx.Response) and call.status == 201:
            acknowledged[call.name] = response.json()["id"]
    attempted = {c.name for c in calls if c.name is not None}
    rows = list(
        Workspace.objects.filter(owner=user).values_list("id", "name", "description", "metadata")
    )
    by_name = {name: (str(pk), description, metadata) for pk, name, description, metadata in rows}
    assert len(by_name) == len(rows), "a workspace was written twice"
    assert set(by_name) <= attempted
    lost = [name for name, pk in acknowledged.items() if by_name.get(name, ("",))[0] != pk]
    assert lost == [], f"acknowledged writes lost: {lost}"
    for name, (_, description, metadata) in by_name.items():
        sent_body = payload(name)
        assert (description, metadata) == (sent_body["description"], sent_body["metadata"]), name
    unacknowledged_present = len(set(by_name) - set(acknowledged))
    statuses = sorted({c.status or 0 for c in failed})
    print(
        f"{len(calls)} requests, {len(failed)} failed during the hang ({statuses}); "
        f"in flight at the hang: {len(in_flight)}, ended "
        f"within {max(in_flight_waits):.2f} s; new during the hang: {len(during)}, at most "
        f"{max(new_waits):.2f} s; first 201 {recovered_after:.2f} s after the resume; "
        f"{len(acknowledged)} acknowledged writes, 0 lost, {unacknowledged_present} "
        "unacknowledged ones committed whole"
    )
