"""Load test of the workspaces API over real HTTP: do error answers cost more than successes?

Run from the repository root::

    .venv/bin/python bench/load.py [--seconds S] [--connections C] [--scenarios a,b,...]
                                   [--database-url URL [--create-postgres]] [--redis-url URL]
                                   [--daphne-access-log] [--server-log FILE]

One daphne process serves `cortex.asgi:application` with the settings of
bench/load_stack/settings.py (cortex's settings; its URLconf adds `GET /bench/bare/`, a bare DRF
view with no authentication, permission or throttle, as the baseline). The server gets
ENVIRONMENT=test, DEBUG off, SECRET_KEY=bench, LOG_LEVEL=INFO as in production (so every handled
error writes its JSON line, which is part of what an error answer costs; the per-request DEBUG
line is off; its stdout and stderr go to a file whose line count is reported), throttle rates of
100000000/minute, and by default a fresh SQLite file in a temporary directory. daphne runs with
`-v 0`, which turns off its own access log (a line per request on stdout at its default
verbosity); `--daphne-access-log` keeps it. `--database-url` uses another database as it is; add
`--create-postgres` to treat that URL as a maintenance connection instead: the script creates
a database of its own next to it and drops it at the end (a shared PostgreSQL stays clean).
REDIS_URL is unset unless `--redis-url` is given. Before daphne starts, `manage.py migrate` and
`manage.py demo_user --username bench` (whose API token is parsed) run with the same environment.

The load client runs in a subprocess of its own (`load.py --client CONFIG`), so its CPU is not the
server's process: asyncio, C keep-alive HTTP/1.1 connections to 127.0.0.1 (default 16), minimal
requests written by hand, status line, headers and Content-Length (or chunked) body read back.
It first creates a fixture workspace and sends every scenario once (a sanity pass, printed), then
runs the scenarios one after another; in each, every connection repeats the scenario's request
for a short warm-up and then for `--seconds` (default 5), stopping early at `--max-requests`.

Scenarios (all API requests carry `Authorization: Token <key>` and a JSON Content-Type):

  bare       GET  /bench/bare/                         200
  get        GET  /api/workspaces/<fixture id>/         200
  not_found  GET  /api/workspaces/<random uuid4>/       404 not_found
  list       GET  /api/workspaces/?limit=20            200 (first page only)
  create     POST /api/workspaces/ with a unique name   201
  duplicate  POST /api/workspaces/ with the fixture's   409 workspace_name_conflict
  invalid    POST /api/workspaces/ {"name": ""}         400 validation_error
  mix        a weighted mix of the above (see MIX_WEIGHTS)

`list` runs before `create`, so it counts the owner's few workspaces, not the thousands that
`create` inserts; `mix` runs last and lists after them.

Reading the numbers: latency is the time from writing a request to having read its whole
response, as the client sees it. With C connections on a saturated server it is mostly time spent
queueing (p50 ~ C / requests/s), so latency and throughput ratios tell the same story; the
server's CPU time per request is the most direct measure of what an answer costs, and the least
disturbed by other load on the machine. The client's CPU use is printed so that a client-bound
run shows itself (it should stay far below 100%).

Every response's status, a marker in its body (the error code, for errors) and its
X-Correlation-ID header are checked. The report gives requests, requests/s, p50/p90/p99/max
latency, the server process's CPU time per request (from /proc, all of daphne's threads) and the
client's CPU use, then the ratios asked for ("error answers cost no more than 1.2x their success
answers"): not_found/get, duplicate/create and invalid/create at p50 and p99 and by throughput,
and each scenario against `bare`. Nothing timed is asserted; the exit status is 1 only when a
response was unexpected (wrong status, body or header; a 5xx; a broken connection) or the server
failed, 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
HOST = "127.0.0.1"

SCENARIOS = ("bare", "get", "not_found", "list", "create", "duplicate", "invalid", "mix")
# Relative weights of `mix`: mostly reads, some writes, a third of the answers errors.
MIX_WEIGHTS = {
    "get": 30,
    "list": 10,
    "create": 15,
    "not_found": 20,
    "duplicate": 10,
    "invalid": 10,
    "bare": 5,
}
# (error scenario, its success counterpart): the pairs the 1.2x target is about.
PAIRS = (("not_found", "get"), ("duplicate", "create"), ("invalid", "create"))
TARGET = 1.2

# Client lines meant for the parent start with this, so that nothing else printed on stdout can
# be mistaken for them.
REPLY = "LOAD "
# Unexpected responses kept per scenario as examples for the report.
SAMPLES = 3
# Seconds a scenario may overrun its warm-up + measurement before the client gives up on it: a
# hung server must not hang the benchmark.
SCENARIO_GRACE = 20.0

# Variables cortex/settings.py reads; the server gets only the values set here, not whatever
# the calling shell happens to export (a DEBUG=1 there would keep every query in memory).
SERVICE_VARIABLES = (
    "ENVIRONMENT",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "INCLUDE_EXCEPTION_DETAILS",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "LOG_FILE",
    "LOG_FILE_MAX_SIZE",
    "LOG_FILE_BACKUP_COUNT",
    "ENABLE_ERROR_MONITORING",
    "ERROR_ALERT_THRESHOLD",
    "CORS_ORIGINS",
    "DB_CONNECT_TIMEOUT",
    "DB_STATEMENT_TIMEOUT_MS",
    "DB_POOL_MIN_SIZE",
    "DB_POOL_MAX_SIZE",
    "DB_POOL_TIMEOUT",
    "DB_CLIENT_TIMEOUT",
    "MAX_CONCURRENT_REQUESTS",
    "REQUEST_QUEUE_TIMEOUT",
    "REDIS_TIMEOUT_MS",
    "USER_THROTTLE_RATE",
    "LOGIN_THROTTLE_RATE",
    "TOKEN_TTL",
    "DJANGO_SETTINGS_MODULE",
    "PYTHONPATH",
)


# --------------------------------------------------------------------------------------------
# Client side: runs in its own process, talks raw HTTP/1.1 to the server.
# --------------------------------------------------------------------------------------------


class BrokenResponse(Exception):
    """The server closed the connection or sent something that is not an HTTP/1.1 response."""


class Connection:
    """One keep-alive HTTP/1.1 connection; reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        """Remember where to connect; the socket is opened on the first request."""
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.opened = 0

    async def request(self, data: bytes) -> tuple[int, bytes, bytes]:
        """Send one prebuilt request; return the status, the lower-cased head and the body."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            self.opened += 1
        reader, writer = self.reader, self.writer
        assert reader is not None
        try:
            writer.write(data)
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            if not head.startswith(b"http/1.1 "):
                raise BrokenResponse(f"not an HTTP/1.1 response: {head[:80]!r}")
            status = int(head[9:12])
            body = await self._read_body(reader, head)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self.close()
            raise BrokenResponse(f"{type(exc).__name__}: {exc}") from exc
        except BrokenResponse:
            self.close()
            raise
        if b"\r\nconnection: close" in head:
            self.close()
        return status, head, body

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
        start = head.find(b"\r\ncontent-length:")
        if start >= 0:
            end = head.index(b"\r\n", start + 2)
            return await reader.readexactly(int(head[start + 17 : end]))
        if b"\r\ntransfer-encoding: chunked" in head:
            # Twisted chunks bodies that come without a length; Django's CommonMiddleware sets
            # one, so this path is only a fallback.
            chunks: list[bytes] = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk[:-2])
        raise BrokenResponse("response without Content-Length or chunked body")

    def close(self) -> None:
        """Drop the socket; the next request opens a new one."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# A request as the client sends it: the bytes, the expected status and a marker that the body
# must contain.
Planned = tuple[bytes, int, bytes]


class RequestBuilder:
    """Builds the minimal HTTP/1.1 requests of every scenario."""

    def __init__(self, port: int, token: str) -> None:
        """Prebuild the headers every request shares."""
        self.base_headers = (
            f"Host: {HOST}:{port}\r\n"
            f"Authorization: Token {token}\r\n"
            "Content-Type: application/json\r\n"
            "Accept: application/json\r\n"
        )
        # Unique per run, so `create` names never collide with an earlier run's (a database
        # given with --database-url may keep the bench user's workspaces).
        self.run_id = uuid.uuid4().hex[:8]
        self.counter = 0

    def get(self, path: str) -> bytes:
        """A GET (the bare view gets the same headers: it ignores them, and the bytes match)."""
        return f"GET {path} HTTP/1.1\r\n{self.base_headers}\r\n".encode()

    def post(self, path: str, payload: dict[str, Any]) -> bytes:
        """A POST of `payload` as JSON."""
        body = json.dumps(payload).encode()
        head = f"POST {path} HTTP/1.1\r\n{self.base_headers}Content-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    def unique_name(self) -> str:
        """A workspace name no request of this run has used."""
        self.counter += 1
        return f"bench-{self.run_id}-{self.counter}"


def scenario_planners(
    builder: RequestBuilder, fixture_id: str, fixture_name: str
) -> dict[str, Callable[[], Planned]]:
    """One function per scenario that returns the next request to send and what to expect."""
    bare = (builder.get("/bench/bare/"), 200, b'"ok":true')
    get = (builder.get(f"/api/workspaces/{fixture_id}/"), 200, fixture_id.encode())
    listing = (builder.get("/api/workspaces/?limit=20"), 200, b'"results":')
    duplicate = (
        builder.post("/api/workspaces/", {"name": fixture_name}),
        409,
        b'"code":"workspace_name_conflict"',
    )
    invalid = (builder.post("/api/workspaces/", {"name": ""}), 400, b'"code":"validation_error"')

    def not_found() -> Planned:
        return (builder.get(f"/api/workspaces/{uuid.uuid4()}/"), 404, b'"code":"not_found"')

    def create() -> Planned:
        name = builder.unique_name()
        return (builder.post("/api/workspaces/", {"name": name}), 201, name.encode())

    planners: dict[str, Callable[[], Planned]] = {
        "bare": lambda: bare,
        "get": lambda: get,
        "not_found": not_found,
        "list": lambda: listing,
        "create": create,
        "duplicate": lambda: duplicate,
        "invalid": lambda: invalid,
    }
    names, weights = list(MIX_WEIGHTS), list(MIX_WEIGHTS.values())
    # Seeded so that two runs send the same sequence of kinds.
    chooser = random.Random(1234)
    planners["mix"] = lambda: planners[chooser.choices(names, weights)[0]]()
    return planners


def server_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process `pid` (all its threads) so far; None without /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # The command name may contain spaces; the fields after its ")" are fixed.
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Tally:
    """What one scenario's connections saw: latencies, statuses and unexpected answers."""

    def __init__(self) -> None:
        """Start empty."""
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.mismatches = 0
        self.broken = 0
        self.samples: list[str] = []

    def unexpected(self, description: str) -> None:
        """Count an unexpected answer and keep the first few as examples."""
        self.mismatches += 1
        if len(self.samples) < SAMPLES:
            self.samples.append(description)


async def drive(
    connection: Connection,
    plan: Callable[[], Planned],
    deadline: float,
    budget: list[int],
    tally: Tally | None,
) -> None:
    """Send requests on one connection until `deadline` or until the shared budget is spent."""
    clock = time.perf_counter
    while budget[0] > 0 and clock() < deadline:
        budget[0] -= 1
        data, expected, marker = plan()
        started = clock()
        try:
            status, head, body = await connection.request(data)
        except BrokenResponse as exc:
            if tally is not None:
                tally.broken += 1
                tally.unexpected(f"broken connection: {exc}")
            # A refused or reset connection would otherwise spin through the budget.
            await asyncio.sleep(0.01)
            continue
        elapsed = clock() - started
        if tally is None:
            continue
        tally.latencies.append(elapsed)
        tally.statuses[status] += 1
        if status != expected:
            tally.unexpected(f"status {status} (expected {expected}): {body[:200]!r}")
        elif marker not in body:
            tally.unexpected(f"status {status} without {marker!r} in body: {body[:200]!r}")
        elif b"\r\nx-correlation-id:" not in head:
            tally.unexpected(f"status {status} without X-Correlation-ID: {head[:200]!r}")


def percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of an ascending list (NaN when empty)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


async def run_scenario(
    name: str,
    plan: Callable[[], Planned],
    connections: list[Connection],
    config: dict[str, Any],
) -> dict[str, Any]:
    """Warm up, then measure one scenario on every connection; return its summary."""
    clock = time.perf_counter
    async with asyncio.timeout(config["warmup"] + config["seconds"] + SCENARIO_GRACE):
        budget = [config["max_requests"]]
        deadline = clock() + config["warmup"]
        await asyncio.gather(*(drive(c, plan, deadline, budget, None) for c in connections))
        tally = Tally()
        budget = [config["max_requests"]]
        cpu_before = server_cpu_seconds(config["server_pid"])
        client_before = time.process_time()
        started = clock()
        deadline = started + config["seconds"]
        await asyncio.gather(*(drive(c, plan, deadline, budget, tally) for c in connections))
        elapsed = clock() - started
        client_cpu = time.process_time() - client_before
        cpu_after = server_cpu_seconds(config["server_pid"])
    ordered = sorted(tally.latencies)
    count = len(ordered)
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return {
        "scenario": name,
        "requests": count,
        "seconds": elapsed,
        "rps": count / elapsed if elapsed > 0 else 0.0,
        "p50": percentile(ordered, 0.50) * 1000,
        "p90": percentile(ordered, 0.90) * 1000,
        "p99": percentile(ordered, 0.99) * 1000,
        "max": (ordered[-1] * 1000) if ordered else math.nan,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "mismatches": tally.mismatches,
        "broken": tally.broken,
        "server_5xx": sum(v for k, v in tally.statuses.items() if k >= 500),
        "samples": tally.samples,
        "server_cpu_ms": (server_cpu * 1000 / count) if server_cpu is not None and count else None,
        "client_cpu": client_cpu / elapsed if elapsed > 0 else 0.0,
        "budget_hit": budget[0] <= 0,
    }


def emit(message: dict[str, Any]) -> None:
    """Send one protocol line to the parent."""
    print(REPLY + json.dumps(message), flush=True)


async def sanity_pass(
    connection: Connection, planners: dict[str, Callable[[], Planned]]
) -> list[dict[str, Any]]:
    """Send every scenario's request once and describe each answer (shown in the report)."""
    results = []
    for name in SCENARIOS:
        if name == "mix":
            continue
        data, expected, marker = planners[name]()
        try:
            status, head, body = await connection.request(data)
        except BrokenResponse as exc:
            results.append({"scenario": name, "ok": False, "status": None, "body": str(exc)})
            continue
        ok = status == expected and marker in body and b"\r\nx-correlation-id:" in head
        text = body[:240].decode("utf-8", "replace")
        results.append({"scenario": name, "ok": ok, "status": status, "body": text})
    return results


async def client_async(config: dict[str, Any]) -> int:
    """Create the fixture, run the sanity pass, then every requested scenario in turn."""
    builder = RequestBuilder(config["port"], config["token"])
    first = Connection(config["port"])
    fixture_name = f"bench-fixture-{builder.run_id}"
    try:
        status, _head, body = await first.request(
            builder.post("/api/workspaces/", {"name": fixture_name})
        )
    except BrokenResponse as exc:
        emit({"fatal": f"could not create the fixture workspace: {exc}"})
        return 1
    if status != 201:
        emit({"fatal": f"fixture workspace: status {status}, body {body[:300]!r}"})
        return 1
    fixture_id = json.loads(body)["id"]
    planners = scenario_planners(builder, fixture_id, fixture_name)
    emit({"sanity": await sanity_pass(first, planners), "fixture": fixture_id})
    first.close()

    connections = [Connection(config["port"]) for _ in range(config["connections"])]
    for name in config["scenarios"]:
        try:
            summary = await run_scenario(name, planners[name], connections, config)
        except TimeoutError:
            emit({"fatal": f"scenario {name} did not finish in time; the server hangs"})
            return 1
        # Cumulative: more than C means the server closed keep-alive connections.
        summary["opened"] = sum(c.opened for c in connections)
        emit(summary)
    for connection in connections:
        connection.close()
    return 0


def client_main(config: dict[str, Any]) -> int:
    """Entry point of the client subprocess."""
    return asyncio.run(client_async(config))


# --------------------------------------------------------------------------------------------
# Parent side: prepares the database, runs daphne and the client, prints the report.
# --------------------------------------------------------------------------------------------


class BenchFailed(Exception):
    """Setting up or running the server failed; the message says what and shows its output."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def create_postgres_database(url: str) -> tuple[str, str, str]:
    """Create a uniquely named database on the server of `url`.

    Returns the service's DATABASE_URL for it, the maintenance URL (to drop it) and its name.
    """
    import psycopg

    name = f"cortex_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    parts = urllib.parse.urlsplit(url)
    maintenance = urllib.parse.urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return urllib.parse.urlunsplit(parts._replace(path="/" + name)), maintenance, name


def drop_postgres_database(maintenance: str, name: str) -> None:
    """Drop the database `create_postgres_database` made (closing any connection left to it)."""
    import psycopg

    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(database_url: str, redis_url: str | None) -> dict[str, str]:
    """The environment of manage.py and daphne."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "load_stack.settings",
            # bench/ for load_stack, the repository root for cortex and the apps.
            "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), str(REPO_ROOT)]),
            "ENVIRONMENT": "test",
            "DEBUG": "0",
            "SECRET_KEY": "bench",
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            "USER_THROTTLE_RATE": "100000000/minute",
            "LOGIN_THROTTLE_RATE": "100000000/minute",
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def manage(args: list[str], env: dict[str, str]) -> str:
    """Run `manage.py ARGS` in the server's environment and return its stdout."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise BenchFailed(
            f"manage.py {' '.join(args)} exited with {result.returncode}:\n"
            f"{result.stdout[-2000:]}{result.stderr[-3000:]}"
        )
    return result.stdout


def bench_token(env: dict[str, str]) -> str:
    """Create the bench user if needed and return its API token."""
    output = manage(["demo_user", "--username", "bench"], env)
    match = re.search(r"API token: (\w+)", output)
    if match is None:
        raise BenchFailed(f"manage.py demo_user printed no token:\n{output}")
    return match.group(1)


def start_daphne(
    env: dict[str, str], port: int, log_path: Path, access_log: bool
) -> subprocess.Popen[bytes]:
    """Start daphne on 127.0.0.1:`port`, its output going to `log_path`.

    Without `access_log`, daphne runs with `-v 0`: at its default verbosity it writes an access
    line per request to stdout, as much output as the service itself writes for errors alone.
    """
    verbosity = [] if access_log else ["-v", "0"]
    with open(log_path, "wb") as log:
        # A session of its own: Ctrl-C reaches only this script, whose finally stops daphne.
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                *verbosity,
                "-b",
                HOST,
                "-p",
                str(port),
                "cortex.asgi:application",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_ready(server: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """Wait until GET /healthz answers 200 (at most 30 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchFailed(f"daphne exited with {server.returncode}:\n{log_tail(log_path)}")
        connection = HTTPConnection(HOST, port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise BenchFailed(f"daphne did not answer /healthz within 30 s:\n{log_tail(log_path)}")


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_tail(log_path: Path, lines: int = 30) -> str:
    """The last lines of the server's output."""
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server output)"


def run_client(config: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
    """Run the client subprocess; return its sanity pass, scenario summaries and fatal error."""
    client = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--client", json.dumps(config)],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    # The client bounds each scenario itself; this is the last resort if it hangs anyway.
    budget = 60 + len(config["scenarios"]) * (config["warmup"] + config["seconds"] + SCENARIO_GRACE)
    watchdog = threading.Timer(budget, client.kill)
    watchdog.start()
    sanity: dict[str, Any] = {}
    summaries: list[dict[str, Any]] = []
    fatal = None
    try:
        assert client.stdout is not None
        for line in client.stdout:
            if not line.startswith(REPLY):
                print(f"[client] {line.rstrip()}", file=sys.stderr)
                continue
            message = json.loads(line[len(REPLY) :])
            if "fatal" in message:
                fatal = message["fatal"]
            elif "sanity" in message:
                sanity = message
                print_sanity(message)
            else:
                summaries.append(message)
                print(
                    f"  {message['scenario']:<10} {message['requests']:>7} requests "
                    f"{message['rps']:>8,.0f} req/s  p50 {message['p50']:.2f} ms  "
                    f"p99 {message['p99']:.2f} ms  unexpected {message['mismatches']}",
                    flush=True,
                )
        code = client.wait()
    finally:
        watchdog.cancel()
        stop_process(client)
    if code != 0 and fatal is None:
        fatal = f"client exited with status {code}"
    return sanity, summaries, fatal


def print_sanity(message: dict[str, Any]) -> None:
    """One line per scenario of the sanity pass: status and the start of the body."""
    print(f"sanity pass (fixture workspace {message['fixture']}):")
    for entry in message["sanity"]:
        mark = "ok " if entry["ok"] else "BAD"
        print(f"  {mark} {entry['scenario']:<10} {entry['status']}  {entry['body'][:150]}")
    print("measuring:", flush=True)


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is 0 or NaN."""
    if not denominator or math.isnan(denominator):
        return math.nan
    return numerator / denominator


def print_report(header: list[str], summaries: list[dict[str, Any]]) -> None:
    """The table per scenario, the error/success ratios with the target, and each vs bare."""
    print()
    for line in header:
        print(line)
    columns = (
        f"{'scenario':<10}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'srv CPU ms/req':>16}{'client CPU':>12}{'unexpected':>12}"
    )
    print(columns)
    print("-" * len(columns))
    by_name = {s["scenario"]: s for s in summaries}
    for s in summaries:
        cpu = "n/a" if s["server_cpu_ms"] is None else f"{s['server_cpu_ms']:.3f}"
        print(
            f"{s['scenario']:<10}{s['requests']:>9}{s['rps']:>9,.0f}{s['p50']:>9.2f}"
            f"{s['p90']:>9.2f}{s['p99']:>9.2f}{s['max']:>9.1f}{cpu:>16}"
            f"{s['client_cpu']:>11.0%}{s['mismatches']:>12}"
        )
    print()
    print(f"Error answers vs their success answers (target <= {TARGET}):")
    for error, success in PAIRS:
        if error not in by_name or success not in by_name:
            continue
        e, s = by_name[error], by_name[success]
        doubtful = [x["scenario"] for x in (e, s) if x["mismatches"]]
        if doubtful:
            # Latencies include every answer; a wrong one (a fast 5xx, say) skews the ratio.
            print(f"  ({' and '.join(doubtful)} had unexpected answers: these ratios mislead)")
        for key, label in (("p50", "p50 latency"), ("p99", "p99 latency")):
            value = ratio(e[key], s[key])
            print(f"  {error}/{success} {label} = {value:.2f}x (target <= {TARGET})")
        # Time per request, so that the direction matches the latency lines: higher is worse.
        print(
            f"  {error}/{success} time per request by throughput ({success} req/s / {error} "
            f"req/s) = {ratio(s['rps'], e['rps']):.2f}x (target <= {TARGET})"
        )
        if e["server_cpu_ms"] is not None and s["server_cpu_ms"] is not None:
            print(
                f"  {error}/{success} server CPU per request = "
                f"{ratio(e['server_cpu_ms'], s['server_cpu_ms']):.2f}x (target <= {TARGET})"
            )
    if "bare" in by_name:
        bare = by_name["bare"]
        print()
        print("Each scenario vs bare (one bare DRF view in the same process):")
        for s in summaries:
            if s["scenario"] == "bare":
                continue
            print(
                f"  {s['scenario']}/bare p50 latency = {ratio(s['p50'], bare['p50']):.2f}x, "
                f"p99 latency = {ratio(s['p99'], bare['p99']):.2f}x, "
                f"throughput = {ratio(s['rps'], bare['rps']):.2f}x of bare's"
            )


def report_problems(summaries: list[dict[str, Any]], sanity: dict[str, Any]) -> list[str]:
    """What makes the run fail: unexpected answers, 5xx, broken connections, a bad sanity pass."""
    problems = []
    for entry in sanity.get("sanity", []):
        if not entry["ok"]:
            problems.append(
                f"sanity pass {entry['scenario']}: status {entry['status']}, {entry['body'][:200]}"
            )
    for s in summaries:
        if s["mismatches"] or s["server_5xx"] or s["broken"]:
            problems.append(
                f"{s['scenario']}: {s['mismatches']} unexpected answers ({s['server_5xx']} 5xx, "
                f"{s['broken']} broken connections); statuses {s['statuses']}"
            )
            problems.extend(f"    e.g. {sample}" for sample in s["samples"])
        if s["budget_hit"]:
            print(f"note: {s['scenario']} stopped at --max-requests before its time was up")
    return problems


def parent_main(args: argparse.Namespace) -> int:
    """Set up the database and daphne, run the client, tear down, print the report."""
    scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        print(f"load.py: unknown scenarios {unknown}; choose from {list(SCENARIOS)}")
        return 2
    if args.create_postgres and not (args.database_url or "").startswith("postgres"):
        print("load.py: --create-postgres needs a postgres:// --database-url")
        return 2
    # `kill` or a CI timeout sends SIGTERM: exit through the finally below, which stops daphne,
    # drops the database and removes the temporary directory.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    workdir = Path(tempfile.mkdtemp(prefix="cortex-load-"))
    log_path = Path(args.server_log).resolve() if args.server_log else workdir / "server.log"
    server: subprocess.Popen[bytes] | None = None
    created: tuple[str, str] | None = None
    server_problem = None
    server_log_lines = 0
    sanity: dict[str, Any] = {}
    summaries: list[dict[str, Any]] = []
    try:
        database_url = args.database_url or f"sqlite:///{workdir}/bench.sqlite3"
        if args.create_postgres:
            try:
                database_url, maintenance, name = create_postgres_database(database_url)
            except Exception as exc:  # psycopg's errors, or psycopg missing
                raise BenchFailed(f"could not create a database there: {exc}") from exc
            created = (maintenance, name)
        env = server_env(database_url, args.redis_url)
        started = time.monotonic()
        manage(["migrate", "--noinput"], env)
        token = bench_token(env)
        port = free_port()
        server = start_daphne(env, port, log_path, args.daphne_access_log)
        wait_ready(server, port, log_path)
        print(f"migrate, token and daphne start took {time.monotonic() - started:.1f} s")
        config = {
            "port": port,
            "token": token,
            "server_pid": server.pid,
            "connections": args.connections,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "max_requests": args.max_requests,
            "scenarios": scenarios,
        }
        sanity, summaries, fatal = run_client(config)
        if fatal:
            server_problem = f"client: {fatal}"
        if server.poll() is not None:
            server_problem = f"daphne exited with {server.returncode} during the run"
    except BenchFailed as exc:
        server_problem = str(exc)
    finally:
        if server is not None:
            stop_process(server)
            if server_problem:
                server_problem += f"\nlast server output:\n{log_tail(log_path)}"
            with contextlib.suppress(OSError):
                server_log_lines = len(log_path.read_text(errors="replace").splitlines())
        if created is not None:
            try:
                drop_postgres_database(*created)
            except Exception as exc:  # the report matters more than the cleanup
                print(f"load.py: could not drop database {created[1]}: {exc}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)

    engine = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    shown_url = re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", database_url)
    header = [
        f"bench/load.py: one daphne process, {args.connections} keep-alive connections from a "
        f"separate client process, {args.seconds:g} s per scenario after {args.warmup:g} s "
        f"warm-up; {os.cpu_count()} CPUs",
        "server: ENVIRONMENT=test DEBUG=0 LOG_LEVEL=INFO (each handled error logs one JSON "
        "line; the per-request line is off), daphne access log "
        + ("on" if args.daphne_access_log else "off (-v 0)")
        + f" ({server_log_lines} lines of server output), throttles "
        f"100000000/minute, {engine} ({shown_url}), "
        + (f"REDIS_URL={args.redis_url}" if args.redis_url else "no Redis"),
    ]
    if summaries:
        header.append(
            f"client: {summaries[-1]['opened']} connections opened in all for "
            f"{args.connections} (more means the server closed keep-alive connections)"
        )
        print_report(header, summaries)
    problems = report_problems(summaries, sanity)
    if server_problem:
        problems.insert(0, server_problem)
    return exit_status(problems)


def exit_status(problems: list[str]) -> int:
    """Print the problems of a run, if any, under FAILED; 1 when there were some, else 0."""
    if problems:
        print("\nFAILED:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run as the parent or as the load client."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per scenario")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="at most this many requests per phase"
    )
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated, run in this order"
    )
    parser.add_argument(
        "--database-url", help="the service's DATABASE_URL (default: a fresh SQLite file)"
    )
    parser.add_argument(
        "--create-postgres",
        action="store_true",
        help="create a database of our own on --database-url's server and drop it at the end",
    )
    parser.add_argument("--redis-url", help="REDIS_URL for the server (default: none)")
    parser.add_argument(
        "--daphne-access-log",
        action="store_true",
        help="keep daphne's access log (one line per request; off by default: -v 0)",
    )
    parser.add_argument(
        "--server-log", help="keep daphne's output in this file (default: a temporary one)"
    )
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client_main(json.loads(args.client))
    if args.connections < 1 or args.seconds <= 0 or args.warmup < 0 or args.max_requests < 1:
        parser.error("--connections, --seconds and --max-requests must be positive")
    return parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
