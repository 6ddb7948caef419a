"""cortex/server.py: daphne under hostile clients, in real `daphne cortex.asgi:application`.

The servers run in production mode. Most tests share one per module, on a migrated SQLite file
with one account; the oversized bodies are also sent to a server on PostgreSQL when the suite
runs there. Clients are plain sockets, so a test decides exactly what is sent and when; every
loop is bounded by a deadline. The shared server starts with a low soft open-file limit, which it
must raise.
"""

from __future__ import annotations

import contextlib
import json
import re
import resource
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.huge_body import GIB, post_huge_body, rss
from tests.support.servers import REPO_ROOT, DaphneServer, current_database_url, server_environment

HEADER_TIMEOUT = 1  # HTTP_HEADER_TIMEOUT of the servers, in seconds
BODY_LIMIT = 2_621_440  # Django's default DATA_UPLOAD_MAX_MEMORY_SIZE, which cortex keeps
RSS_BUDGET = 64 * 1024 * 1024
USERNAME, PASSWORD = "ops", "ops-password-4417"

_SQLITE_SETUP = f"""
import django
django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command
call_command("migrate", verbosity=0)
User.objects.create_user({USERNAME!r}, password={PASSWORD!r})
"""

PRODUCTION = {
    "ENVIRONMENT": "production",
    "HTTP_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
    "SSE_HEARTBEAT_SECONDS": "1",
}


# --- the servers ------------------------------------------------------------------------------


@contextlib.contextmanager
def low_open_file_limit() -> Iterator[int]:
    """Lower this process's soft open-file limit (a child started meanwhile inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = hard if hard != resource.RLIM_INFINITY else 1 << 20
    low = min(soft, 1024, ceiling // 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        yield low
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@dataclass
class Service:
    server: DaphneServer
    started_with_open_files: int


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """daphne in production mode on a migrated SQLite file holding one account."""
    path = tmp_path_factory.mktemp("server-db") / "cortex.sqlite3"
    database = {"DATABASE_URL": f"sqlite:///{path}"}
    setup = subprocess.run(
        [sys.executable, "-c", _SQLITE_SETUP],
        cwd=REPO_ROOT,
        env=server_environment(database),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert setup.returncode == 0, setup.stderr
    server = DaphneServer({**database, **PRODUCTION})
    with low_open_file_limit() as low:
        server.start()
    try:
        yield Service(server, low)
    finally:
        server.stop()
        print(f"=== {server!r} (exit status {server.returncode})\n{server.output()}")
        server.cleanup()


@pytest.fixture
def server(service: Service) -> DaphneServer:
    return service.server


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def body_server(request: pytest.FixtureRequest) -> Iterator[DaphneServer]:
    """The shared SQLite server, or one of its own on the test's PostgreSQL database."""
    if request.param == "sqlite":
        yield request.getfixturevalue("server")
        return
    request.getfixturevalue("db")
    with DaphneServer({"DATABASE_URL": current_database_url(), **PRODUCTION}) as server:
        try:
            yield server
        finally:
            print(f"=== {server!r}\n{server.output()}")


# --- reading the servers ----------------------------------------------------------------------


def open_file_limits(pid: int) -> tuple[int, int]:
    limits = Path(f"/proc/{pid}/limits").read_text()
    match = re.search(r"^Max open files\s+(\d+)\s+(\d+)", limits, re.MULTILINE)
    assert match, limits
    return int(match.group(1)), int(match.group(2))


def wait_for_records(
    server: DaphneServer,
    matches: Callable[[dict[str, Any]], bool],
    count: int = 1,
    timeout: float = 3.0,
) -> list[dict[str, Any]]:
    """The server's log records that `matches`, once there are `count` (or after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [record for record in server.log_records() if matches(record)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def access_records(server: DaphneServer, correlation_id: str) -> list[dict[str, Any]]:
    return wait_for_records(
        server,
        lambda r: r["logger"] == "cortex.access" and r["correlation_id"] == correlation_id,
    )


def login(server: DaphneServer) -> dict[str, str]:
    response = httpx.post(
        f"{server.url}/api/auth/token/",
        json={"username": USERNAME, "password": PASSWORD},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Token {response.json()['token']}"}


# --- bodies over the limit --------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_1_gb_body_is_refused_while_it_arrives(body_server: DaphneServer, chunked: bool) -> None:
    server = body_server
    correlation_id = f"huge-body-{'chunked' if chunked else 'declared'}-{time.time_ns()}"
    httpx.get(f"{server.url}/healthz", timeout=5)  # warm: the first request costs memory too
    before = rss(server.pid)

    answer = post_huge_body(
        server.host, server.port, "/api/auth/token/", correlation_id, chunked=chunked
    )
    time.sleep(0.2)  # whatever the server still does with the connection
    growth = rss(server.pid) - before
    print(
        f"1 GiB {'chunked' if chunked else 'declared'} body: RSS grew by "
        f"{growth / 1024:.0f} kB; the client sent {answer.sent / 1024 / 1024:.1f} MiB, "
        f"answered and closed after {answer.seconds:.3f} s"
    )

    assert answer.status == 413, answer
    assert json.loads(answer.body) == {
        "error": {
            "code": "payload_too_large",
            "message": "Request body too large",
            "correlation_id": correlation_id,
        }
    }
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-correlation-id"] == correlation_id
    assert answer.headers["connection"] == "close"
    # The server did not wait for the body: it answered and closed after a few megabytes (what
    # the sockets' buffers hold, plus the limit itself for a chunked body), not 1 GiB.
    assert answer.seconds < 5
    assert answer.sent < 64 * 1024 * 1024
    assert growth < RSS_BUDGET

    lines = wait_for_records(
        server, lambda r: r["logger"] == "errors" and r["correlation_id"] == correlation_id
    )
    assert len(lines) == 1, lines
    assert {key: lines[0][key] for key in ("error_code", "status_code", "method", "path")} == {
        "error_code": "payload_too_large",
        "status_code": 413,
        "method": "POST",
        "path": "/api/auth/token/",
    }
    [access] = access_records(server, correlation_id)
    assert (access["status_code"], access["path"]) == (413, "/api/auth/token/")


def test_a_body_within_the_limit_still_reaches_the_application(server: DaphneServer) -> None:
    # Credentials padded to just under the limit, declared and chunked: the view logs in.
    credentials = json.dumps({"username": USERNAME, "password": PASSWORD}).encode()
    body = credentials[:-1] + b" " * (BODY_LIMIT - len(credentials)) + b"}"
    assert len(body) == BODY_LIMIT
    with httpx.Client(base_url=server.url, timeout=5) as client:
        declared = client.post(
            "/api/auth/token/", content=body, headers={"Content-Type": "application/json"}
        )
        chunked = client.post(
            "/api/auth/token/",
            content=iter([body[: len(body) // 2], body[len(body) // 2 :]]),
            headers={"Content-Type": "application/json"},
        )
    assert declared.status_code == 200, declared.text
    assert declared.json()["token"]
    # Not refused either, but DRF reads no body without a Content-Length (Request._load_stream),
    # so the view saw none: the credentials are missing.
    assert chunked.status_code == 400, chunked.text
    assert chunked.json()["error"]["code"] == "validation_error"


def test_a_multipart_body_gets_the_same_limit(server: DaphneServer) -> None:
    correlation_id = f"multipart-{time.time_ns()}"
    files = {"upload": ("big.bin", b"\0" * (BODY_LIMIT + 1))}
    response = httpx.post(
        f"{server.url}/api/auth/token/",
        files=files,
        headers={"X-Correlation-ID": correlation_id},
        timeout=5,
    )
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "payload_too_large",
        "message": "Request body too large",
        "correlation_id": correlation_id,
    }


def test_a_refused_expect_100_continue_body_gets_no_100(server: DaphneServer) -> None:
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /api/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % GIB
        )
        received = bytearray()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (data := sock.recv(65536)):
            received += data
    assert received.startswith(b"HTTP/1.1 413 "), bytes(received)
    assert b"100 Continue" not in received


# --- the header deadline ----------------------------------------------------------------------


def test_headers_must_arrive_in_time_but_a_stream_is_not_cut(server: DaphneServer) -> None:
    auth = login(server)
    stream = socket.create_connection((server.host, server.port), timeout=5)
    stream.sendall(
        b"GET /api/events/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        b"X-Correlation-ID: deadline-stream\r\n"
        + f"Authorization: {auth['Authorization']}\r\n\r\n".encode()
    )
    silent = socket.create_connection((server.host, server.port), timeout=5)
    partial = socket.create_connection((server.host, server.port), timeout=5)
    partial.sendall(b"GET /healthz HTTP/1.1\r\n")
    trickle = socket.create_connection((server.host, server.port), timeout=5)
    trickle.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")  # then a byte every 0.2 s
    idle = socket.create_connection((server.host, server.port), timeout=5)
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # keep-alive, then nothing
    waiting = {"silent": silent, "partial": partial, "trickle": trickle, "idle": idle}
    clients = {name: "{}:{}".format(*sock.getsockname()) for name, sock in waiting.items()}
    started = time.monotonic()
    closed: dict[str, float] = {}
    received = dict.fromkeys([*waiting, "stream"], b"")
    stream_open_after_deadlines = False
    try:
        next_trickle = started
        while time.monotonic() - started < 3 * HEADER_TIMEOUT + 1:
            now = time.monotonic()
            if now >= next_trickle and "trickle" not in closed:
                with contextlib.suppress(OSError):
                    trickle.sendall(b"a")
                next_trickle = now + 0.2
            open_sockets = {"stream": stream} | {
                name: sock for name, sock in waiting.items() if name not in closed
            }
            readable, _, _ = select.select(list(open_sockets.values()), [], [], 0.05)
            for name, sock in open_sockets.items():
                if sock not in readable:
                    continue
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                if data:
                    received[name] += data
                elif name == "stream":
                    raise AssertionError(f"the stream was closed: {received['stream']!r}")
                else:
                    closed[name] = time.monotonic() - started
        # Three deadlines later the stream still gets its heartbeats.
        heartbeats = received["stream"].count(b": heartbeat")
        stream_open_after_deadlines = True
    finally:
        for sock in [stream, *waiting.values()]:
            sock.close()

    assert received["stream"].startswith(b"HTTP/1.1 200 "), received["stream"][:300]
    assert stream_open_after_deadlines and heartbeats >= 2, received["stream"]
    assert set(closed) == set(waiting), (closed, received)
    for name, seconds in closed.items():
        # "idle" got its answer first; the others none.
        assert (received[name].startswith(b"HTTP/1.1 200 ")) == (name == "idle"), received
        assert HEADER_TIMEOUT * 0.8 <= seconds <= HEADER_TIMEOUT + 1.5, closed

    # Each cut is logged once, naming the client; the stream's access line comes when it ends.
    lines = wait_for_records(
        server,
        lambda r: r["logger"] == "cortex.server" and r.get("client") in clients.values(),
        count=len(clients),
    )
    assert sorted(line["client"] for line in lines) == sorted(clients.values())
    assert all(line["header_timeout_s"] == HEADER_TIMEOUT for line in lines)
    [access] = access_records(server, "deadline-stream")
    assert access["path"] == "/api/events/"
    assert (access["status_code"], access["client_disconnected"]) == (200, True)


# --- the access log and the other lines ---------------------------------------------------------


def test_one_line_per_request_even_at_debug(tmp_path: Path) -> None:
    # daphne's access log is the request line; errors' own (errors.request) stays off.
    database = {"DATABASE_URL": f"sqlite:///{tmp_path / 'debug.sqlite3'}"}
    with DaphneServer({**database, **PRODUCTION, "LOG_LEVEL": "DEBUG"}) as server:
        response = httpx.get(
            f"{server.url}/healthz", headers={"X-Correlation-ID": "one-line-1"}, timeout=5
        )
        [access] = access_records(server, "one-line-1")
        records = server.log_records()
    assert response.status_code in (200, 503)
    request_lines = [
        record
        for record in records
        if record.get("correlation_id") == "one-line-1"
        and record["logger"] in ("cortex.access", "errors.request")
    ]
    assert request_lines == [access]
    assert (access["method"], access["path"], access["status_code"]) == (
        "GET",
        "/healthz",
        response.status_code,
    )
    assert access["duration_ms"] > 0


def test_access_log_is_json_with_correlation_ids_and_no_secrets(server: DaphneServer) -> None:
    secrets = ("tok-7d2a9c", "hunter2-7d2a9c", "key-7d2a9c", "s3cr3t-7d2a9c")
    with httpx.Client(base_url=server.url, timeout=5) as client:
        found = client.get(
            f"/healthz?token={secrets[0]}&password={secrets[1]}&verbose=1",
            headers={"X-Correlation-ID": "access-log-1"},
        )
        missing = client.get(f"/api/no-such-thing?api_key={secrets[2]}&page=2")
        forbidden = client.post(f"/api/workspaces/?signature={secrets[3]}", json={})
    assert (found.status_code, missing.status_code, forbidden.status_code) == (200, 404, 401)

    [access] = access_records(server, "access-log-1")
    assert access["level"] == "INFO"
    assert access["message"] == "GET /healthz?token=[REDACTED]&password=[REDACTED]&verbose=1 200"
    assert {key: access[key] for key in ("method", "path", "status_code", "size")} == {
        "method": "GET",
        "path": "/healthz?token=[REDACTED]&password=[REDACTED]&verbose=1",
        "status_code": 200,
        "size": len(found.content),
    }
    assert re.fullmatch(r"127\.0\.0\.1:\d+", access["client"])
    assert isinstance(access["duration_ms"], float) and 0 < access["duration_ms"] < 5000
    assert access["client_disconnected"] is False

    # A request without an id of its own: the access line has the one the service answered with.
    [access] = access_records(server, missing.headers["X-Correlation-ID"])
    assert (access["path"], access["status_code"]) == (
        "/api/no-such-thing?api_key=[REDACTED]&page=2",
        404,
    )
    [access] = access_records(server, forbidden.headers["X-Correlation-ID"])
    assert access["path"] == "/api/workspaces/?signature=[REDACTED]"

    # Every line on stdout and stderr is one JSON object, and no secret is in any of them
    # (errors' own lines for the 404 and the 401 log the path without its query string).
    output = server.stdout_lines() + server.stderr_lines()
    for line in output:
        assert isinstance(json.loads(line), dict), line
    assert not [line for line in output for secret in secrets if secret in line]
    assert server.stdout_lines() == []  # daphne's NCSA lines went there


def test_the_server_says_how_it_is_hardened_when_it_starts(server: DaphneServer) -> None:
    [line] = wait_for_records(server, lambda r: r["message"].startswith("Serving HTTP"))
    assert line["logger"] == "cortex.server"
    assert (line["body_limit"], line["header_timeout_s"]) == (BODY_LIMIT, HEADER_TIMEOUT)


def test_the_open_file_limit_is_raised_to_the_hard_limit(service: Service) -> None:
    soft, hard = open_file_limits(service.server.pid)
    assert service.started_with_open_files < hard  # otherwise this test proves nothing
    assert soft == hard
    [line] = wait_for_records(service.server, lambda r: "open_file_limit" in r)
    assert line["level"] == "INFO"
    assert (line["open_file_limit"], line["previous_open_file_limit"]) == (
        hard,
        service.started_with_open_files,
    )


def test_a_disallowed_host_is_logged_on_django_security(server: DaphneServer) -> None:
    response = httpx.get(
        f"{server.url}/healthz", headers={"Host": "evil.example", "X-Correlation-ID": "bad-host-1"}
    )
    assert response.status_code == 400
    access_records(server, "bad-host-1")  # the last line of the request
    lines = [r for r in server.log_records() if r["correlation_id"] == "bad-host-1"]
    assert [line["logger"] for line in lines if line["logger"].startswith("django.security")] == [
        "django.security.DisallowedHost"
    ]
