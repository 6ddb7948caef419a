"""SSE fan-out benchmark: N concurrent `GET /api/events/` streams held open on one daphne process.

Run from the repository root::

    .venv/bin/python bench/sse.py [--streams N] [--events E] [--spacing S] [--events-budget S]
                                  [--batch B] [--redis-url URL | --both] [--only LAYER]
                                  [--profile-memory] [--py-spy PATH] [--server-log FILE]
                                  [--verbose]

The issue's target: 5,000 concurrent streams in one process, at most 20 kB of server memory per
stream, one event reaching all 5,000 within 1 s at p99, with the in-memory channel layer and
with Redis. Each layer is measured on a fresh server: the in-memory layer by default, Redis as
well with `--redis-url URL` (or `--both`, which uses redis://127.0.0.1:6379/0); channels_redis
keys live under "asgi", the replay buffer under "cortex:"; nothing is flushed.

Per layer the script does what bench/load.py does to get a server (its helpers are imported):
a fresh SQLite file in a temporary directory, `manage.py migrate`, `manage.py demo_user
--username bench` for the API token, one daphne process with `-v 0` serving
`cortex.asgi:application` on 127.0.0.1 (listen backlog raised with an endpoint string, so a batch
of connections is not dropped by Twisted's default backlog of 50), LOG_LEVEL=WARNING and
SSE_HEARTBEAT_SECONDS=600 so that no heartbeat falls inside the run. Before the bench user is
created the user id sequence is moved to a random large number: the user's channel-layer group
(`workspaces.owner.<id>`) and Redis replay stream are then this run's alone, even on a Redis
that other runs and test suites share. RLIMIT_NOFILE is raised for this process, daphne and the
client (they inherit it; daphne's is also set with prlimit).

A load client in a process of its own (`sse.py --client CONFIG`, driven over its stdin/stdout)
holds the streams with asyncio protocols on raw sockets: it sends a minimal GET with the token,
counts a stream as open once its `connection_established` event arrived, opens them in batches
(`--batch`, default 200) and keeps reading all of them. All streams belong to the one bench
user: the server's hub holds one membership of its group for all N of them.

Steps per layer:

1. warm-up: /healthz, a create, a list, 20 streams opened, one event through them, closed;
2. RSS_0: the server's VmRSS once it settles (sampled every 0.5 s);
3. open N streams; RSS_N once VmRSS settles; kB/stream = (RSS_N - RSS_0) / N;
4. E times (`--events`, default 20), `--spacing` seconds apart (default 0.5): this process POSTs
   /api/workspaces/ with a unique name, t0 taken just before the request is written; the client
   stamps, per stream, when the event carrying that name arrived. Both clocks are
   CLOCK_MONOTONIC (time.monotonic), which Linux shares between processes. Per event the time
   to reach all N is the last arrival - t0; every arrival - t0 is a delivery latency. A stream
   that has not had the event within `--event-timeout` seconds (default 30) counts as a miss
   (the report tells on how many distinct streams misses fell and whether they came later). No
   new event is sent once `--events-budget` seconds (default 60) went to events, so a slow
   server still finishes: the defaults (5,000 streams, in-memory layer) take 1.5-2 minutes;
5. the streams are closed; once daphne has had its --application-close-timeout (5 s) and its
   CPU use has dropped, RSS after close is reported (memory kept after the streams went), and
   with Redis, the members left in the group (should be 0);
6. daphne gets SIGTERM (SIGKILL after 10 s); the temporary directory is removed; with Redis the
   run's own two keys are deleted.

Reading the numbers: RSS counts what the process holds (Python objects, buffers, arenas), not
the kernel's socket buffers. The fan-out time includes the POST itself (auth, insert, commit,
the publish) and the client's own reading of N sockets; the client's CPU use is shown so that a
client-bound run shows itself. The server's CPU time per event is from /proc.

Profiling (numbers taken with it are inflated by the profiler; run it apart from the measurement):
`--profile-memory` starts daphne under tracemalloc, dumps a snapshot and Python object counts by
type at RSS_0 and at RSS_N, and prints what grew per stream, by allocation site and by type.
`--py-spy PATH` samples daphne with py-spy (PATH is its executable, e.g. from `pip install
--target /tmp/pyspy py-spy`) during the events and prints the CPU time per event of the
functions on an event's path (inclusive), and the top functions and lines (self). py-spy's idle
detection counts some waits as busy (a pool thread waiting for work, the loop in epoll): trust
the watched functions more than the per-thread totals. `--server-log FILE` keeps daphne's
output (FILE.memory, FILE.redis); the report summarises it either way.

Exit status: 1 when the server failed, streams could not be opened, the server closed streams
during the run, deliveries were missed or closed streams stayed in the group; 0 otherwise.
Nothing timed is asserted (a miss is a copy not had within --event-timeout, default 30 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import queue
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

from load import (
    HOST,
    REPO_ROOT,
    BenchFailed,
    bench_token,
    exit_status,
    free_port,
    log_tail,
    manage,
    percentile,
    server_cpu_seconds,
    server_env,
    stop_process,
    wait_ready,
)

REPLY = "SSE "
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
TARGET_STREAMS = 5000
TARGET_KB_PER_STREAM = 20.0
TARGET_ALL_P99_S = 1.0
WARMUP_STREAMS = 20
# File descriptors beyond one per stream (the interpreter, the database, Redis, pipes).
FD_MARGIN = 1024
HEARTBEAT_SECONDS = 600
# daphne's --application-close-timeout: how long a closed stream's consumer may take to finish.
APP_CLOSE_TIMEOUT = 5


# --------------------------------------------------------------------------------------------
# Shared
# --------------------------------------------------------------------------------------------


def raise_nofile(wanted: int) -> int:
    """Raise this process's RLIMIT_NOFILE to `wanted` if it can (to the hard limit at least)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        # Root may raise the hard limit too, up to fs.nr_open.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
    target = wanted if hard == resource.RLIM_INFINITY else max(soft, min(wanted, hard))
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def emit(message: dict[str, Any]) -> None:
    """One protocol line from the client to the parent."""
    print(REPLY + json.dumps(message), flush=True)


# --------------------------------------------------------------------------------------------
# Client side: a process of its own holding N streams.
# --------------------------------------------------------------------------------------------


class OpenFailed(Exception):
    """A stream was refused, closed or never established."""


class Stream(asyncio.Protocol):
    """One SSE stream: established once `connection_established` arrived; then it stamps events.

    Arrival times are taken first thing in `data_received`, before any parsing. An event is
    recognised by the workspace name in its data (`"name":"sse-<run>-<key>"`).
    """

    def __init__(self, client: StreamClient) -> None:
        """Wait to be connected."""
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.tail = b""
        self.last = b""
        self.established: asyncio.Future[float] = client.loop.create_future()
        self.seen: dict[int, float] = {}
        self.duplicates = 0
        self.closing = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the request."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.client.request)

    def data_received(self, data: bytes) -> None:
        """Stamp and scan what arrived."""
        now = time.monotonic()
        self.last = data[-300:]
        if not self.established.done():
            self.head += data
            if b"\r\n\r\n" in self.head and not self.head.startswith(b"HTTP/1.1 200 "):
                self.established.set_exception(OpenFailed(f"answered {self.head[:400]!r}"))
                self.close()
                return
            at = self.head.find(b"event: connection_established")
            if at < 0 or self.head.find(b"\n\n", at) < 0:
                if len(self.head) > 65536:
                    self.established.set_exception(OpenFailed("no connection_established"))
                    self.close()
                return
            self.established.set_result(now)
            data, self.head = self.head[at:], b""
        self.scan(self.tail + data, now)

    def scan(self, buffer: bytes, now: float) -> None:
        """Record each event name found in `buffer`; keep a tail that may hold half a marker."""
        marker = self.client.marker
        start = 0
        while True:
            at = buffer.find(marker, start)
            if at < 0:
                break
            end = buffer.find(b'"', at + len(marker))
            if end < 0:
                self.tail = buffer[at:]
                return
            try:
                key = int(buffer[at + len(marker) : end])
            except ValueError:
                key = -1
            if key in self.seen:
                self.duplicates += 1
            else:
                self.seen[key] = now
                self.client.delivered(key)
            start = end + 1
        self.tail = buffer[max(start, len(buffer) - len(marker) + 1) :]

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection ended: by us (closing) or by the server."""
        self.lost = True
        if not self.established.done():
            self.established.set_exception(
                OpenFailed(f"closed before it was established: {exc or self.head[:300]!r}")
            )
        elif not self.closing:
            self.client.server_closed.append(self.last.decode("utf-8", "replace"))

    def close(self) -> None:
        """Close our side."""
        self.closing = True
        if self.transport is not None:
            self.transport.close()


class StreamClient:
    """Opens, holds and closes the streams; answers the parent's commands."""

    def __init__(self, config: dict[str, Any]) -> None:
        """Prebuild the request every stream sends."""
        self.loop = asyncio.get_running_loop()
        self.port = int(config["port"])
        self.request = (
            f"GET /api/events/ HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            f"Authorization: Token {config['token']}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        self.marker = f'"name":"sse-{config["run"]}-'.encode()
        self.streams: list[Stream] = []
        self.counts: Counter[int] = Counter()
        self.server_closed: list[str] = []

    def delivered(self, key: int) -> None:
        """Count one stream's copy of event `key`."""
        self.counts[key] += 1

    async def open_one(self, timeout: float) -> Stream:
        """One established stream, or OpenFailed."""
        try:
            async with asyncio.timeout(timeout):
                _transport, stream = await self.loop.create_connection(
                    lambda: Stream(self), HOST, self.port
                )
                try:
                    await stream.established
                except BaseException:
                    stream.close()
                    raise
        except TimeoutError as exc:
            raise OpenFailed(f"not established within {timeout:g} s") from exc
        except OSError as exc:
            raise OpenFailed(f"connect: {exc}") from exc
        return stream

    async def open(self, count: int, batch: int, timeout: float) -> dict[str, Any]:
        """Open `count` more streams, `batch` at a time; stop at the first batch with failures."""
        started = time.monotonic()
        failures: Counter[str] = Counter()
        opened = 0
        while opened < count and not failures:
            size = min(batch, count - opened)
            results = await asyncio.gather(
                *(self.open_one(timeout) for _ in range(size)), return_exceptions=True
            )
            for result in results:
                if isinstance(result, Stream):
                    self.streams.append(result)
                    opened += 1
                else:
                    failures[f"{type(result).__name__}: {result}"[:300]] += 1
        return {
            "opened": opened,
            "open": len(self.streams),
            "failed": sum(failures.values()),
            "failures": failures.most_common(5),
            "seconds": time.monotonic() - started,
        }

    async def wait(self, key: int, timeout: float) -> dict[str, Any]:
        """Wait until every live stream has had event `key`; return the arrival times."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = sum(1 for s in self.streams if not s.lost)
            if self.counts[key] >= live:
                break
            await asyncio.sleep(0.002)
        arrivals = [s.seen[key] for s in self.streams if key in s.seen]
        return {
            "key": key,
            "arrivals": arrivals,
            "missing": len(self.streams) - len(arrivals),
            # Which streams (by opening order) lacked it: the same few every time means their
            # server side stopped, not that events were dropped at random.
            "missing_streams": [i for i, s in enumerate(self.streams) if key not in s.seen][:100],
        }

    async def close_all(self) -> dict[str, Any]:
        """Close every stream; report what the server closed on its own and duplicates seen."""
        for stream in self.streams:
            stream.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(s.lost for s in self.streams):
            await asyncio.sleep(0.01)
        result = {
            "closed": len(self.streams),
            "server_closed": len(self.server_closed),
            "server_closed_samples": self.server_closed[:3],
            "duplicates": sum(s.duplicates for s in self.streams),
            # Events had by the end, late ones included: misses that were only late show here.
            "final_counts": dict(self.counts),
        }
        self.streams = []
        self.server_closed = []
        return result


async def client_async(config: dict[str, Any]) -> int:
    """Answer the parent's commands, one JSON line each, until it says `exit` or goes away."""
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    client = StreamClient(config)
    emit({"ready": True, "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]})
    while True:
        line = await commands.readline()
        if not line:
            break
        command = json.loads(line)
        op = command["op"]
        if op == "open":
            emit(await client.open(command["count"], command["batch"], command["timeout"]))
        elif op == "wait":
            emit(await client.wait(command["key"], command["timeout"]))
        elif op == "close":
            emit(await client.close_all())
        elif op == "exit":
            break
    await client.close_all()
    return 0


def client_main(config: dict[str, Any]) -> int:
    """Entry point of the client subprocess."""
    raise_nofile(int(config["nofile"]))
    return asyncio.run(client_async(config))


# --------------------------------------------------------------------------------------------
# Parent side: server, API calls, measurements, report.
# --------------------------------------------------------------------------------------------

# Run by daphne's interpreter with --profile-memory: tracemalloc from the start, and on SIGUSR2
# a snapshot plus Python object counts by type written next to $SSE_BENCH_DUMP.
PROFILE_BOOTSTRAP = r"""
import gc, json, os, signal, sys, tracemalloc
from collections import Counter
tracemalloc.start(int(os.environ.get("SSE_BENCH_TRACE_FRAMES", "6")))
def _dump(signum, frame):
    tag = open(os.environ["SSE_BENCH_DUMP"] + ".tag").read().strip()
    gc.collect()
    counts, sizes = Counter(), Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        name = f"{kind.__module__}.{kind.__qualname__}"
        counts[name] += 1
        sizes[name] += sys.getsizeof(obj)
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    path = os.environ["SSE_BENCH_DUMP"] + "." + tag
    snapshot.dump(path + ".snap")
    with open(path + ".types.tmp", "w") as out:
        json.dump({"counts": counts, "sizes": sizes}, out)
    os.rename(path + ".types.tmp", path + ".types")
signal.signal(signal.SIGUSR2, _dump)
sys.argv = ["daphne", *sys.argv[1:]]
from daphne.cli import CommandLineInterface
CommandLineInterface.entrypoint()
"""


def rss_kb(pid: int) -> int:
    """VmRSS of `pid` in kB."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError as exc:
        raise BenchFailed(f"daphne (pid {pid}) is gone: {exc}") from exc
    raise BenchFailed(f"no VmRSS for pid {pid}")


def settled_rss(pid: int, *, interval: float = 0.5, window: int = 4, limit: float = 15.0) -> int:
    """VmRSS once the last `window` samples differ by at most 0.5% (or after `limit` s)."""
    samples = [rss_kb(pid)]
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(interval)
        samples.append(rss_kb(pid))
        recent = samples[-window:]
        if len(recent) == window and max(recent) - min(recent) <= max(recent) * 0.005:
            break
    return samples[-1]


def wait_quiet(pid: int, *, at_least: float, limit: float = 60.0) -> None:
    """Wait `at_least` s, then until the server used under 5% of a CPU over a second."""
    time.sleep(at_least)
    deadline = time.monotonic() + limit
    before = server_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        after = server_cpu_seconds(pid)
        if before is None or after is None or after - before < 0.05:
            return
        before = after


def start_server(
    env: dict[str, str], port: int, log_path: Path, nofile: int, bootstrap: str | None
) -> subprocess.Popen[bytes]:
    """daphne on 127.0.0.1:`port` with a listen backlog of 4096 (the kernel caps it at somaxconn).

    load.start_daphne's command, with an endpoint string instead of -b/-p (Twisted's default
    backlog, 50, drops SYNs of a batch of connections that arrives at once) and, for
    --profile-memory, the interpreter started with PROFILE_BOOTSTRAP instead of `-m daphne`.
    """
    entry = ["-c", bootstrap] if bootstrap else ["-m", "daphne"]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                *entry,
                "-v",
                "0",
                "-e",
                f"tcp:port={port}:interface={HOST}:backlog=4096",
                "--application-close-timeout",
                str(APP_CLOSE_TIMEOUT),
                "cortex.asgi:application",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # It inherited this process's raised limit; make sure of it anyway.
    with contextlib.suppress(OSError, ValueError):
        soft, hard = resource.prlimit(server.pid, resource.RLIMIT_NOFILE)
        if soft < nofile:
            resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (min(nofile, hard), hard))
    return server


def move_user_ids(database: Path) -> int:
    """Make the next auth_user id a random large one, so this run's group is its alone."""
    first = random.randrange(10**8, 10**9)
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        updated = connection.execute(
            "UPDATE sqlite_sequence SET seq = ? WHERE name = 'auth_user'", (first,)
        ).rowcount
        if not updated:
            connection.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('auth_user', ?)", (first,)
            )
    return first + 1


def bench_user_id(database: Path) -> int:
    """The bench user's id."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        row = connection.execute("SELECT id FROM auth_user WHERE username = 'bench'").fetchone()
    if row is None:
        raise BenchFailed("the bench user is missing after manage.py demo_user")
    return int(row[0])


class Api:
    """Keep-alive HTTP/1.1 calls to the API as the bench user."""

    def __init__(self, port: int, token: str) -> None:
        """Connect lazily."""
        self.port = port
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.connection: HTTPConnection | None = None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        """Status and body; one retry on a connection the server closed."""
        data = None if body is None else json.dumps(body).encode()
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = HTTPConnection(HOST, self.port, timeout=30)
            try:
                self.connection.request(method, path, body=data, headers=self.headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except OSError as exc:
                self.close()
                if attempt == 2:
                    raise BenchFailed(f"{method} {path}: {exc}") from exc
        raise AssertionError("unreachable")

    def create(self, name: str) -> None:
        """POST a workspace named `name`; anything but 201 fails the run."""
        status, body = self.call("POST", "/api/workspaces/", {"name": name})
        if status != 201:
            raise BenchFailed(f"POST /api/workspaces/ answered {status}: {body[:300]!r}")

    def close(self) -> None:
        """Drop the connection."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class ClientProcess:
    """The load client subprocess, driven one command at a time."""

    def __init__(self, config: dict[str, Any]) -> None:
        """Start it and wait for it to be ready."""
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--client", json.dumps(config)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.ready = self._reply(30)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(REPLY):
                self.replies.put(json.loads(line[len(REPLY) :]))
            else:
                print(f"[client] {line.rstrip()}", file=sys.stderr)
        self.replies.put(None)

    def _reply(self, timeout: float) -> dict[str, Any]:
        try:
            reply = self.replies.get(timeout=timeout)
        except queue.Empty:
            raise BenchFailed(f"the load client did not answer within {timeout:g} s") from None
        if reply is None:
            raise BenchFailed(f"the load client exited with {self.process.wait()}")
        return reply

    def call(self, within: float, **command: Any) -> dict[str, Any]:
        """Send one command and return its answer."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        except OSError as exc:
            raise BenchFailed(f"the load client is gone: {exc}") from exc
        return self._reply(within)

    def cpu_seconds(self) -> float | None:
        """The client's CPU time so far, from /proc."""
        return server_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """Ask it to exit; kill it if it does not."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                assert self.process.stdin is not None
                self.process.stdin.write(json.dumps({"op": "exit"}) + "\n")
                self.process.stdin.flush()
                self.process.stdin.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            stop_process(self.process)


class MemoryProfile:
    """--profile-memory: snapshots taken by PROFILE_BOOTSTRAP inside the server."""

    def __init__(self, workdir: Path) -> None:
        """Dumps go to `workdir`."""
        self.base = workdir / "dump"

    def env(self) -> dict[str, str]:
        """What the server's environment needs for it."""
        return {"SSE_BENCH_DUMP": str(self.base), "SSE_BENCH_TRACE_FRAMES": "6"}

    def take(self, pid: int, tag: str) -> Path:
        """Signal the server to dump and wait until it has (at most 600 s)."""
        (self.base.parent / f"{self.base.name}.tag").write_text(tag)
        done = Path(f"{self.base}.{tag}.types")
        os.kill(pid, signal.SIGUSR2)
        deadline = time.monotonic() + 600
        while not done.exists():
            if time.monotonic() > deadline:
                raise BenchFailed("the server did not write its memory snapshot within 600 s")
            time.sleep(0.2)
        return Path(f"{self.base}.{tag}")

    @staticmethod
    def report(before: Path, after: Path, streams: int, top: int = 25) -> list[str]:
        """What grew between the two dumps, per stream: by allocation site and by type."""
        import tracemalloc

        old = tracemalloc.Snapshot.load(f"{before}.snap")
        new = tracemalloc.Snapshot.load(f"{after}.snap")
        lines = []
        total = sum(s.size_diff for s in new.compare_to(old, "filename"))
        lines.append(
            f"  traced Python allocations grew {total / 1024:,.0f} kB = "
            f"{total / streams:,.0f} B/stream (tracemalloc; RSS also has arena slack and "
            "C-level buffers it does not see)"
        )
        by_site: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        by_package: dict[str, int] = defaultdict(int)
        for stat in new.compare_to(old, "traceback"):
            frames = list(stat.traceback)  # oldest first
            inner = frames[-1]
            caller = next((f for f in reversed(frames[:-1]) if not _stdlib(f.filename)), None)
            site = f"{_short(inner.filename)}:{inner.lineno}"
            if caller is not None and _stdlib(inner.filename):
                site += f" <- {_short(caller.filename)}:{caller.lineno}"
            by_site[site][0] += stat.size_diff
            by_site[site][1] += stat.count_diff
            owner = caller if caller is not None and _stdlib(inner.filename) else inner
            by_package[_package(owner.filename)] += stat.size_diff
        lines.append("  by package (stdlib allocations charged to their first non-stdlib caller):")
        for package, size in sorted(by_package.items(), key=lambda kv: -kv[1])[:12]:
            lines.append(f"    {size / streams:>8,.0f} B/stream  {package}")
        lines.append(f"  top {top} allocation sites (B/stream, objects/stream):")
        for site, (size, count) in sorted(by_site.items(), key=lambda kv: -kv[1][0])[:top]:
            lines.append(f"    {size / streams:>8,.0f} B {count / streams:>7.2f}  {site}")
        old_types = json.loads(Path(f"{before}.types").read_text())
        new_types = json.loads(Path(f"{after}.types").read_text())
        grown = []
        for name, count in new_types["counts"].items():
            diff = count - old_types["counts"].get(name, 0)
            size = new_types["sizes"][name] - old_types["sizes"].get(name, 0)
            if diff > 0:
                grown.append((size, diff, name))
        grown.sort(reverse=True)
        objects = sum(d for _s, d, _n in grown)
        lines.append(
            f"  GC-tracked objects per stream: {objects / streams:.1f} more; top {top} types "
            "(objects/stream, shallow B/stream by sys.getsizeof):"
        )
        for size, diff, name in grown[:top]:
            lines.append(f"    {diff / streams:>7.2f} {size / streams:>8,.0f} B  {name}")
        return lines


def _stdlib(filename: str) -> bool:
    return "site-packages" not in filename and str(REPO_ROOT) not in filename


def _short(filename: str) -> str:
    for marker in ("site-packages/", f"{REPO_ROOT}/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1].lstrip("/")
    return filename


def _package(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if f"{REPO_ROOT}/" in filename:
        return "cortex:" + filename.split(f"{REPO_ROOT}/", 1)[1].split("/", 1)[0]
    return "stdlib:" + Path(filename).stem


# Functions on the path of one event, whose inclusive CPU time --py-spy reports.
WATCHED = (
    "InMemoryChannelLayer.group_send",
    "InMemoryChannelLayer.send",
    "InMemoryChannelLayer.receive",
    "InMemoryChannelLayer._clean_expired",
    "deepcopy",
    "RedisChannelLayer.group_send",
    "RedisChannelLayer.receive",
    "RedisChannelLayer.receive_single",
    "RedisChannelLayer.deserialize",
    "SyncToAsync.__call__",
    "Hub.fan_out",
    "Hub._tick",
    "Stream.deliver",
    "Stream.write",
    "send_with_id",
    "Server.handle_reply",
    "WebRequest.handle_reply",
    "Request.write",
    "Server.application_checker",
    "Server.timeout_checker",
    "publish",
)


class PySpy:
    """--py-spy: sample the server during the events, then summarise where CPU time went."""

    def __init__(self, executable: str, pid: int, output: Path, rate: int = 200) -> None:
        """Start `py-spy record` on `pid` (raw collapsed stacks, per thread, no idle samples)."""
        self.output = output
        self.rate = rate
        self.process = subprocess.Popen(
            [
                executable,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--threads",
                "--output",
                str(output),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)  # let it attach

    def stop(self) -> None:
        """Stop sampling; py-spy writes its output on SIGINT."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def report(self, events: int, top: int = 20) -> list[str]:
        """CPU ms per event by thread, watched function (inclusive), function and line (self)."""
        if not self.output.exists():
            stderr = self.process.stderr.read() if self.process.stderr else ""
            return [f"  py-spy wrote nothing: {stderr.strip()[:500]}"]
        per_thread: Counter[str] = Counter()
        own_line: Counter[str] = Counter()
        own_function: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        for line in self.output.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            thread, *frames = stack.split(";")
            per_thread[thread] += count
            if not frames:
                continue
            functions = [_function(frame) for frame in frames]
            own_line[_frame(frames[-1])] += count
            own_function[functions[-1]] += count
            for function in set(functions):
                inclusive[function.partition(" (")[0]] += count
        per_ms = 1000 / self.rate / max(events, 1)
        lines = [
            f"  py-spy at {self.rate} Hz over {events} events; ms of CPU per event "
            "(samples of busy threads only):"
        ]
        for thread, count in per_thread.most_common(4):
            lines.append(f"    {count * per_ms:>8.1f}  {thread}")
        lines.append("  watched functions, inclusive (ms/event):")
        for name in WATCHED:
            if inclusive.get(name):
                lines.append(f"    {inclusive[name] * per_ms:>8.1f}  {name}")
        lines.append(f"  top {top} functions by self time (ms/event):")
        for function, count in own_function.most_common(top):
            lines.append(f"    {count * per_ms:>8.1f}  {function}")
        lines.append(f"  top {top // 2} lines by self time (ms/event):")
        for where, count in own_line.most_common(top // 2):
            lines.append(f"    {count * per_ms:>8.1f}  {where}")
        return lines


def _frame(frame: str) -> str:
    # "function (path/file.py:line)": shorten the path.
    name, _, where = frame.partition(" (")
    return f"{name} ({_short(where)}" if where else name


def _function(frame: str) -> str:
    # The frame without its line number.
    short = _frame(frame)
    head, colon, tail = short.rpartition(":")
    return f"{head})" if colon and tail.rstrip(")").isdigit() else short


def summarize(values: list[float]) -> dict[str, float]:
    """p50 / p99 / max of `values` (NaN when empty)."""
    ordered = sorted(values)
    return {
        "p50": percentile(ordered, 0.50),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1] if ordered else math.nan,
    }


def redis_check(url: str) -> Any:
    """A redis client for `url`, or BenchFailed when the server does not answer."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise BenchFailed(f"Redis at {url} does not answer: {exc}") from exc
    return client


def run_layer(layer: str, redis_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    """Measure one channel layer on a fresh server; the result has "problem" when it failed."""
    result: dict[str, Any] = {"layer": layer, "streams": args.streams, "problem": None}
    workdir = Path(tempfile.mkdtemp(prefix="cortex-sse-"))
    log_path = workdir / "server.log"
    if args.server_log:
        log_path = Path(f"{args.server_log}.{layer}").resolve()
    server: subprocess.Popen[bytes] | None = None
    client: ClientProcess | None = None
    spy: PySpy | None = None
    profile = MemoryProfile(workdir) if args.profile_memory else None
    redis_client = redis_check(redis_url) if redis_url else None
    user_id: int | None = None
    api: Api | None = None
    run = uuid.uuid4().hex[:8]
    print(f"\n[{layer}] starting: {args.streams} streams, {args.events} events", flush=True)
    try:
        database = workdir / "bench.sqlite3"
        env = server_env(f"sqlite:///{database}", redis_url)
        env.update({"LOG_LEVEL": "WARNING", "SSE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)})
        # All the streams are one user's: lift the per-user cap (SSE_MAX_STREAMS_PER_USER).
        env["SSE_MAX_STREAMS_PER_USER"] = str(args.streams + WARMUP_STREAMS)
        if profile is not None:
            env.update(profile.env())
        manage(["migrate", "--noinput"], env)
        move_user_ids(database)
        token = bench_token(env)
        user_id = bench_user_id(database)
        port = free_port()
        server = start_server(
            env, port, log_path, args.streams + FD_MARGIN, PROFILE_BOOTSTRAP if profile else None
        )
        wait_ready(server, port, log_path)
        api = Api(port, token)
        client = ClientProcess(
            {"port": port, "token": token, "run": run, "nofile": args.streams + FD_MARGIN}
        )
        result["client_nofile"] = client.ready["nofile"]

        def event(key: int) -> dict[str, Any]:
            t0 = time.monotonic()
            api.create(f"sse-{run}-{key}")
            answered = time.monotonic()
            reply = client.call(
                args.event_timeout + 30, op="wait", key=key, timeout=args.event_timeout
            )
            return {"t0": t0, "post": answered - t0, **reply}

        # Warm-up: every code path once, so RSS_0 is not missing imports and thread pools.
        api.call("GET", "/healthz")
        api.create(f"warmup-{run}")
        api.call("GET", "/api/workspaces/?limit=20")
        warm = client.call(
            120, op="open", count=WARMUP_STREAMS, batch=WARMUP_STREAMS, timeout=args.open_timeout
        )
        if warm["failed"]:
            raise BenchFailed(f"warm-up streams could not be opened: {warm['failures']}")
        warm_event = event(0)
        if warm_event["missing"]:
            raise BenchFailed(f"warm-up event missed by {warm_event['missing']} streams")
        client.call(60, op="close")
        time.sleep(1.0)
        result["rss0"] = rss0 = settled_rss(server.pid)
        if profile is not None:
            dump0 = profile.take(server.pid, "rss0")

        print(
            f"[{layer}] RSS_0 {rss0 / 1024:.1f} MB; opening {args.streams} streams "
            f"({args.batch} at a time)",
            flush=True,
        )
        opened = client.call(
            60 + args.open_timeout * math.ceil(args.streams / args.batch),
            op="open",
            count=args.streams,
            batch=args.batch,
            timeout=args.open_timeout,
        )
        result["open_seconds"] = opened["seconds"]
        if opened["failed"] or opened["open"] != args.streams:
            failures = "; ".join(f"{n} x {text}" for text, n in opened["failures"])
            raise BenchFailed(
                f"streams could not be opened: {opened['open']} of {args.streams} open, "
                f"{opened['failed']} failed ({failures})"
            )
        result["rssN"] = rss_n = settled_rss(server.pid)
        if server.poll() is not None:
            raise BenchFailed(f"daphne exited with {server.returncode}")
        print(
            f"[{layer}] {args.streams} streams open in {opened['seconds']:.1f} s; "
            f"RSS_N {rss_n / 1024:.1f} MB",
            flush=True,
        )
        if profile is not None:
            dump_n = profile.take(server.pid, "rssN")
            result["memory_profile"] = MemoryProfile.report(dump0, dump_n, args.streams)

        if args.py_spy:
            spy = PySpy(args.py_spy, server.pid, workdir / "pyspy.txt")
        cpu_before = server_cpu_seconds(server.pid)
        client_cpu_before = client.cpu_seconds()
        events_started = time.monotonic()
        all_n: list[float] = []
        deliveries: list[float] = []
        posts: list[float] = []
        misses = 0
        had: dict[int, int] = {}
        missing_streams: set[int] = set()
        events_with_misses = 0
        sent = 0
        for key in range(1, args.events + 1):
            if sent and time.monotonic() - events_started > args.events_budget:
                break
            outcome = event(key)
            sent += 1
            latencies = [t - outcome["t0"] for t in outcome["arrivals"]]
            deliveries.extend(latencies)
            posts.append(outcome["post"])
            misses += outcome["missing"]
            had[key] = len(outcome["arrivals"])
            missing_streams.update(outcome["missing_streams"])
            if outcome["missing"]:
                events_with_misses += 1
            if latencies:
                # With misses this is the time to reach every stream that got it at all.
                all_n.append(max(latencies))
            if args.verbose:
                print(
                    f"[{layer}] event {key}: all {max(latencies, default=math.nan):.3f} s, "
                    f"POST {outcome['post'] * 1000:.0f} ms, missing {outcome['missing']}",
                    flush=True,
                )
            time.sleep(args.spacing)
        events_elapsed = time.monotonic() - events_started
        cpu_after = server_cpu_seconds(server.pid)
        client_cpu_after = client.cpu_seconds()
        if spy is not None:
            spy.stop()
            result["cpu_profile"] = spy.report(sent)
        result["rss_events"] = rss_kb(server.pid)
        result.update(
            all_n=summarize(all_n),
            delivery=summarize(deliveries),
            post=summarize(posts),
            misses=misses,
            missing_streams=len(missing_streams),
            events_with_misses=events_with_misses,
            events=sent,
        )
        if cpu_before is not None and cpu_after is not None:
            result["server_cpu_per_event"] = (cpu_after - cpu_before) / sent
        if client_cpu_before is not None and client_cpu_after is not None:
            result["client_cpu"] = (client_cpu_after - client_cpu_before) / events_elapsed

        closed = client.call(60, op="close")
        result["server_closed"] = closed["server_closed"]
        result["server_closed_samples"] = closed["server_closed_samples"]
        result["duplicates"] = closed["duplicates"]
        final = closed["final_counts"]
        result["late"] = sum(final.get(str(key), 0) - count for key, count in had.items())
        # The consumers of closed streams finish (or daphne kills them) within the close timeout.
        wait_quiet(server.pid, at_least=APP_CLOSE_TIMEOUT + 2)
        result["rss_closed"] = settled_rss(server.pid)
        if profile is not None:
            dump_closed = profile.take(server.pid, "closed")
            result["memory_profile"].append("  kept after every stream closed, per former stream:")
            result["memory_profile"].extend(
                MemoryProfile.report(dump0, dump_closed, args.streams, top=10)
            )
        if redis_client is not None:
            result["group_left"] = int(redis_client.zcard(f"asgi:group:workspaces.owner.{user_id}"))
        if server.poll() is not None:
            raise BenchFailed(f"daphne exited with {server.returncode} during the run")
        status, _body = api.call("GET", "/healthz")
        if status != 200:
            raise BenchFailed(f"/healthz answered {status} after the streams closed")
    except BenchFailed as exc:
        result["problem"] = str(exc)
    finally:
        if spy is not None:
            spy.stop()
        if api is not None:
            api.close()
        if client is not None:
            client.stop()
        if server is not None:
            stop_process(server)
            if result["problem"]:
                result["problem"] += f"\nlast server output:\n{log_tail(log_path)}"
            with contextlib.suppress(OSError):
                output = log_path.read_text(errors="replace").splitlines()
                result["server_log_lines"] = len(output)
                result["server_log_kinds"] = log_kinds(output)
        if redis_client is not None and user_id is not None:
            with contextlib.suppress(Exception):
                redis_client.delete(
                    f"asgi:group:workspaces.owner.{user_id}", f"cortex:workspace-events:{user_id}"
                )
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def log_kinds(lines: list[str], top: int = 4) -> list[tuple[str, int]]:
    """The most frequent kinds of server output line: JSON log message + exception, or text."""
    kinds: Counter[str] = Counter()
    for line in lines:
        try:
            record = json.loads(line)
            exception = record.get("exception") or {}
            kind = f"{record.get('level')} {record.get('message', '')[:120]!r}"
            if exception:
                kind += f" ({exception.get('type')}: {str(exception.get('message'))[:80]})"
        except (ValueError, AttributeError):
            kind = line[:160]
        kinds[kind] += 1
    return kinds.most_common(top)


def fmt(value: float | None, spec: str) -> str:
    """`value` formatted, or n/a."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


def print_report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """The table per layer, the profiles if any, and the target lines."""
    print()
    print(
        f"bench/sse.py: one daphne process, {args.streams} SSE streams of one user held by a "
        f"client process; up to {args.events} events {args.spacing:g} s apart (no new one after "
        f"{args.events_budget:g} s of events); {os.cpu_count()} CPUs"
    )
    print(
        "server: ENVIRONMENT=test DEBUG=0 LOG_LEVEL=WARNING, daphne -v 0, SQLite, "
        f"SSE_HEARTBEAT_SECONDS={HEARTBEAT_SECONDS}"
        + ("; --profile-memory: tracemalloc inflates RSS" if args.profile_memory else "")
        + ("; --py-spy: sampling slows the server" if args.py_spy else "")
    )
    columns = (
        f"{'layer':<8}{'N':>6}{'events':>7}{'open s':>8}{'RSS_0 MB':>10}{'RSS_N MB':>10}"
        f"{'kB/stream':>11}"
        f"{'+events':>9}{'closed':>8}{'all-N p50':>11}{'p99':>7}{'deliv p50':>11}{'p99':>7}"
        f"{'POST p50':>10}{'srv CPU/ev':>12}{'client CPU':>12}{'misses':>8}"
    )
    print(columns)
    print("-" * len(columns))
    for r in results:
        if "rssN" not in r:
            print(f"{r['layer']:<8}{r['streams']:>6}  (failed: see below)")
            continue
        n = r["streams"]
        per = (r["rssN"] - r["rss0"]) / n
        after = (r["rss_events"] - r["rss0"]) / n if "rss_events" in r else None
        closed = (r["rss_closed"] - r["rss0"]) / n if "rss_closed" in r else None
        all_n, delivery, post = r.get("all_n", {}), r.get("delivery", {}), r.get("post", {})
        cpu = r.get("server_cpu_per_event")
        print(
            f"{r['layer']:<8}{n:>6}{fmt(r.get('events'), 'd'):>7}{r['open_seconds']:>8.1f}"
            f"{r['rss0'] / 1024:>10.1f}"
            f"{r['rssN'] / 1024:>10.1f}{per:>11.1f}{fmt(after, '.1f'):>9}{fmt(closed, '.1f'):>8}"
            f"{fmt(all_n.get('p50'), '.3f'):>11}{fmt(all_n.get('p99'), '.3f'):>7}"
            f"{fmt(delivery.get('p50'), '.3f'):>11}{fmt(delivery.get('p99'), '.3f'):>7}"
            f"{fmt(post.get('p50') and post['p50'] * 1000, '.0f') + ' ms':>10}"
            f"{fmt(cpu and cpu * 1000, '.0f') + ' ms':>12}"
            f"{fmt(r.get('client_cpu'), '.0%'):>12}{fmt(r.get('misses'), 'd'):>8}"
        )
    print(
        "  kB/stream = (RSS_N - RSS_0) / N with N streams open and idle; +events: the same after "
        "the events; closed: after all streams closed (kept, not per stream in use). all-N: "
        "per event, seconds from the POST being sent to the last of the N copies arriving; "
        "deliv: every copy's latency; times in s unless marked; srv CPU/ev: daphne's CPU time "
        "(all threads) during the events / events; client CPU: the load client's CPU share."
    )
    for r in results:
        extra = []
        if r.get("server_closed"):
            extra.append(
                f"{r['server_closed']} streams closed by the server during the run, "
                f"e.g. {r['server_closed_samples'][:1]}"
            )
        if r.get("misses"):
            extra.append(
                f"{r['misses']} missed deliveries in {r['events_with_misses']} of "
                f"{r['events']} events, on {r['missing_streams']} distinct streams; "
                f"{r.get('late', 0)} of them arrived later, after their {args.event_timeout:g} s "
                "wait (late, not lost); all-N counts the streams that got the event"
            )
        if r.get("duplicates"):
            extra.append(f"{r['duplicates']} duplicate deliveries")
        if r.get("server_log_lines"):
            kinds = "; ".join(f"{n} x {kind}" for kind, n in r["server_log_kinds"])
            extra.append(f"{r['server_log_lines']} lines of server output (WARNING+): {kinds}")
        if "group_left" in r:
            extra.append(f"{r['group_left']} members left in the Redis group after close")
        if "all_n" in r:
            extra.append(
                f"all-N max {fmt(r['all_n']['max'], '.3f')} s, delivery max "
                f"{fmt(r['delivery']['max'], '.3f')} s, POST p99 "
                f"{fmt(r['post']['p99'] * 1000, '.0f')} ms"
            )
        if extra:
            print(f"  {r['layer']}: " + "; ".join(extra))
    for r in results:
        for key, title in (("memory_profile", "memory per stream"), ("cpu_profile", "CPU")):
            if key in r:
                print(f"\n{r['layer']}: {title} (server, --{key.split('_')[0]} profile)")
                print("\n".join(r[key]))
    print()
    for r in results:
        if "rssN" not in r or "all_n" not in r:
            print(f"{r['layer']}: no result ({(r['problem'] or '').splitlines()[0]})")
            continue
        n = r["streams"]
        per = (r["rssN"] - r["rss0"]) / n
        p99 = r["all_n"]["p99"]
        met = (
            n >= TARGET_STREAMS
            and per <= TARGET_KB_PER_STREAM
            and not math.isnan(p99)
            and p99 <= TARGET_ALL_P99_S
            and not r["misses"]
        )
        verdict = "target met" if met else "target MISSED"
        if n < TARGET_STREAMS:
            verdict = f"fewer streams than the target's {TARGET_STREAMS}"
        print(
            f"{r['layer']}: {n} streams, {per:.1f} kB/stream (target <= "
            f"{TARGET_KB_PER_STREAM:g}), all-{n} p99 {fmt(p99, '.2f')} s (target <= "
            f"{TARGET_ALL_P99_S:g} s), {r['misses']} missed: {verdict}"
        )


def parent_main(args: argparse.Namespace) -> int:
    """Run each layer in turn, print the report; 1 when a layer failed."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    nofile = raise_nofile(args.streams + FD_MARGIN)
    if nofile < args.streams + FD_MARGIN:
        print(
            f"sse.py: {args.streams} streams need {args.streams + FD_MARGIN} open files; the "
            f"limit is {nofile} (ulimit -Hn): raise it or ask for fewer streams"
        )
        return 1
    redis_url = args.redis_url or (DEFAULT_REDIS_URL if args.both or args.only == "redis" else None)
    layers: list[tuple[str, str | None]] = []
    if args.only != "redis":
        layers.append(("memory", None))
    if redis_url and args.only != "memory":
        layers.append(("redis", redis_url))
    results = []
    for layer, url in layers:
        try:
            results.append(run_layer(layer, url, args))
        except BenchFailed as exc:
            results.append({"layer": layer, "streams": args.streams, "problem": str(exc)})
    print_report(results, args)
    problems = []
    for r in results:
        if r["problem"]:
            problems.append(f"{r['layer']}: {r['problem']}")
        if r.get("misses"):
            problems.append(f"{r['layer']}: {r['misses']} deliveries missed")
        if r.get("server_closed"):
            problems.append(f"{r['layer']}: the server closed {r['server_closed']} streams")
        if r.get("group_left"):
            problems.append(
                f"{r['layer']}: {r['group_left']} closed streams are still members of the group"
            )
    return exit_status(problems)


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run as the parent or as the load client."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=TARGET_STREAMS, help="concurrent streams")
    parser.add_argument("--events", type=int, default=20, help="events sent to all streams")
    parser.add_argument("--spacing", type=float, default=0.5, help="seconds between events")
    parser.add_argument(
        "--events-budget",
        type=float,
        default=60.0,
        help="send no further event once this many seconds went to events (bounds the run)",
    )
    parser.add_argument("--batch", type=int, default=200, help="streams opened at a time")
    parser.add_argument(
        "--open-timeout", type=float, default=60.0, help="seconds for one stream to be established"
    )
    parser.add_argument(
        "--event-timeout",
        type=float,
        default=30.0,
        help="seconds after which a stream without the event counts as a miss",
    )
    parser.add_argument("--redis-url", help="also measure channels_redis on this Redis")
    parser.add_argument(
        "--both", action="store_true", help=f"also measure Redis at {DEFAULT_REDIS_URL}"
    )
    parser.add_argument(
        "--only",
        choices=("memory", "redis"),
        help="measure this layer alone (redis: --redis-url or the default URL)",
    )
    parser.add_argument(
        "--profile-memory",
        action="store_true",
        help="tracemalloc in the server: what grows per stream (inflates RSS)",
    )
    parser.add_argument("--py-spy", metavar="PATH", help="py-spy executable: CPU by function")
    parser.add_argument("--verbose", action="store_true", help="one line per event")
    parser.add_argument(
        "--server-log", help="keep daphne's output in FILE.memory / FILE.redis (default: dropped)"
    )
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client_main(json.loads(args.client))
    if args.streams < 1 or args.events < 1 or args.batch < 1 or args.spacing < 0:
        parser.error("--streams, --events and --batch must be positive, --spacing not negative")
    return parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
