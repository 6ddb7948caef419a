"""SSE fan-out (README, "Live events"): N streams of one user held open on one daphne process by
a client process, per channel layer on a fresh server: RSS_0, N streams opened, RSS_N; then up
to E events, each a POST timed to its arrival on every stream; then RSS after close and the members
left in the Redis group. Exit status 1: the server or a stream failed, or a delivery was missed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import sqlite3
import time
import uuid
from argparse import Namespace
from collections import Counter
from typing import Any

import httpx
import redis

from bench import harness
from bench.harness import BenchFailed, Child, DaphneServer, fmt

TARGET_STREAMS, TARGET_KB, TARGET_P99 = 5000, 20.0, 1.0
WARMUP_STREAMS, FD_MARGIN, HEARTBEAT, CLOSE_TIMEOUT = 20, 1024, 600, 5
BATCH, OPEN_TIMEOUT = 200, 60.0  # streams opened at a time, seconds for each to be established


def settled_rss(pid: int, limit: float = 15.0) -> int:
    """VmRSS once four samples 0.5 s apart differ by at most 0.5% (or after `limit` s)."""
    samples, deadline = [harness.rss_kb(pid)], time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.5)
        samples.append(harness.rss_kb(pid))
        if len(last := samples[-4:]) == 4 and max(last) - min(last) <= max(last) * 0.005:
            break
    return samples[-1]


def wait_quiet(pid: int, at_least: float, limit: float = 60.0) -> None:
    """Wait `at_least` s, then until the server used under 5% of a CPU over a second."""
    time.sleep(at_least)
    deadline, before = time.monotonic() + limit, harness.cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        if (after := harness.cpu_seconds(pid)) - before < 0.05:
            return
        before = after


def log_kind(line: str) -> str:
    """A server output line's kind: a JSON record's level, message and exception, or the text."""
    try:
        record = json.loads(line)
        kind = f"{record.get('level')} {record.get('message', '')[:120]!r}"
        if exception := record.get("exception") or {}:
            kind += f" ({exception.get('type')}: {str(exception.get('message'))[:80]})"
        return kind
    except (ValueError, AttributeError):
        return line[:160]


def prepare(env: dict[str, str], path: str) -> tuple[str, int]:
    """Migrate; the bench user, created with a random large id (its channel group and Redis keys
    are no other run's): the table's AUTOINCREMENT gives it the sequence's value plus one."""
    harness.manage(env, "migrate", "--noinput", "-v", "0")
    user_id = random.randrange(10**8, 10**9)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'auth_user'")
        conn.execute("INSERT INTO sqlite_sequence VALUES ('auth_user', ?)", (user_id - 1,))
    return harness.migrated_token(env, migrate=False), user_id


def run_layer(layer: str, redis_url: str | None, args: Namespace) -> dict[str, Any]:
    """Measure one channel layer on a fresh server; "problem" says why when it failed."""
    run = uuid.uuid4().hex[:8]  # in the names of the workspaces that make the events
    result: dict[str, Any] = {"layer": layer, "streams": args.streams, "problem": None, "run": run}
    store = redis.Redis.from_url(redis_url, socket_timeout=5) if redis_url else None
    print(f"\n[{layer}] starting: {args.streams} streams, {args.events} events", flush=True)
    with harness.environment(None, redis_url, "WARNING") as env:
        env["SSE_HEARTBEAT_SECONDS"] = str(HEARTBEAT)
        env["SSE_MAX_STREAMS_PER_USER"] = str(args.streams + WARMUP_STREAMS)  # all one user's
        token, user_id = prepare(env, env["DATABASE_URL"].removeprefix("sqlite:///"))
        keys = (f"asgi:group:workspaces.owner.{user_id}", f"cortex:workspace-events:{user_id}")
        daphne_args = ["-v", "0", "--application-close-timeout", str(CLOSE_TIMEOUT)]
        server = DaphneServer(env, daphne_args=daphne_args, backlog=4096, start_timeout=30).start()
        headers = {"Authorization": f"Token {token}"}
        api = httpx.Client(base_url=server.url, headers=headers, timeout=30)
        client = Child("bench.sse", port=server.port, token=token, run=run)
        try:
            measure(server, api, client, args, result)
            if store is not None:
                result["group_left"] = int(store.zcard(keys[0]))
            if not server.running:
                raise BenchFailed(f"daphne exited with {server.stop()} during the run")
            if (status := api.get("/healthz").status_code) != 200:
                raise BenchFailed(f"/healthz answered {status} after the streams closed")
        except (BenchFailed, httpx.HTTPError, OSError) as exc:
            result["problem"] = f"{exc}\n{harness.last_output(server)}"
        finally:
            api.close()
            client.close()
            output = harness.server_output(server)
            server.cleanup()
            kinds = Counter(map(log_kind, output)).most_common(4)
            result.update(server_log_lines=len(output), server_log_kinds=kinds)
            if store is not None:
                store.delete(*keys)
    return result


def measure(
    server: DaphneServer, api: httpx.Client, client: Child, args: Namespace, result: dict[str, Any]
) -> None:
    """The warm-up, RSS_0, N streams opened, RSS_N, the events, RSS after close into `result`."""
    run = result["run"]

    def create(name: str) -> None:
        if (response := api.post("/api/workspaces/", json={"name": name})).status_code != 201:
            status, text = response.status_code, response.text[:300]
            raise BenchFailed(f"POST /api/workspaces/ answered {status}: {text}")

    def event(key: int) -> dict[str, Any]:
        t0 = time.monotonic()
        create(f"sse-{run}-{key}")
        post = time.monotonic() - t0
        return {"t0": t0, "post": post, **client.call("wait", key=key, timeout=args.event_timeout)}

    # Warm-up: every code path once, so that RSS_0 is not missing imports and thread pools.
    api.get("/healthz")
    create(f"warmup-{run}")
    api.get("/api/workspaces/?limit=20")
    client.call("open", count=WARMUP_STREAMS)
    if missing := event(0)["missing"]:
        raise BenchFailed(f"warm-up event missed by {missing} streams")
    client.call("close")
    time.sleep(1.0)
    layer, n = result["layer"], args.streams
    result["rss0"] = rss0 = settled_rss(server.pid)
    print(f"[{layer}] RSS_0 {rss0 / 1024:.1f} MB; opening {n} streams", flush=True)
    result["open_seconds"] = seconds = client.call("open", count=n)["seconds"]
    result["rssN"] = rss_n = settled_rss(server.pid)
    print(f"[{layer}] {n} streams open in {seconds:.1f} s; RSS_N {rss_n / 1024:.1f} MB", flush=True)

    cpu_before = harness.cpu_seconds(server.pid)
    client_before = harness.cpu_seconds(client.process.pid)
    started = time.monotonic()
    events: dict[int, dict[str, Any]] = {}
    for key in range(1, args.events + 1):
        if events and time.monotonic() - started > args.events_budget:
            break
        events[key] = outcome = event(key)
        outcome["latencies"] = [t - outcome["t0"] for t in outcome["arrivals"]]
        time.sleep(args.spacing)
    elapsed = time.monotonic() - started
    outcomes = events.values()
    result.update(
        rss_events=harness.rss_kb(server.pid),
        # With misses, all-N is the time to reach every stream that got the event at all.
        all_n=harness.summary([max(o["latencies"]) for o in outcomes if o["latencies"]]),
        delivery=harness.summary([latency for o in outcomes for latency in o["latencies"]]),
        post=harness.summary([o["post"] for o in outcomes]),
        misses=sum(o["missing"] for o in outcomes),
        missing_streams=len({stream for o in outcomes for stream in o["missing_streams"]}),
        events_with_misses=sum(bool(o["missing"]) for o in outcomes),
        events=len(events),
        server_cpu_per_event=(harness.cpu_seconds(server.pid) - cpu_before) / len(events),
        client_cpu=(harness.cpu_seconds(client.process.pid) - client_before) / elapsed,
    )
    closed = client.call("close")
    final = closed.pop("final_counts")  # server_closed, server_closed_samples and duplicates
    result.update(closed)
    result["late"] = sum(final.get(str(key), 0) - len(o["arrivals"]) for key, o in events.items())
    wait_quiet(server.pid, at_least=CLOSE_TIMEOUT + 2)  # closed streams' consumers finish by then
    result["rss_closed"] = settled_rss(server.pid)


def print_report(results: list[dict[str, Any]], args: Namespace) -> list[str]:
    """Print the report; the problems of the run."""
    print(
        f"\nbench.sse: one daphne process, {args.streams} SSE streams of one user held by a client "
        f"process; up to {args.events} events {args.spacing:g} s apart (no new one after "
        f"{args.events_budget:g} s of events); {os.cpu_count()} CPUs\nserver: ENVIRONMENT=test "
        f"DEBUG=0 LOG_LEVEL=WARNING, daphne -v 0, SQLite, SSE_HEARTBEAT_SECONDS={HEARTBEAT}"
    )
    columns = (
        f"{'layer':<8}{'N':>6}{'events':>7}{'open s':>8}{'RSS_0 MB':>10}{'RSS_N MB':>10}"
        f"{'kB/stream':>11}{'+events':>9}{'closed':>8}{'all-N p50':>11}{'p99':>7}"
        f"{'deliv p50':>11}{'p99':>7}{'POST p50':>10}{'srv CPU/ev':>12}{'client CPU':>12}"
        f"{'misses':>8}"
    )
    print(columns + "\n" + "-" * len(columns))
    for r in results:
        if "rssN" not in r:
            print(f"{r['layer']:<8}{r['streams']:>6}  (failed: see below)")
            continue
        n, rss0 = r["streams"], r["rss0"]
        keys = ("rssN", "rss_events", "rss_closed")
        per = {key: (r[key] - rss0) / n if key in r else None for key in keys}
        all_n, delivery, post = r.get("all_n", {}), r.get("delivery", {}), r.get("post", {})
        cpu = r.get("server_cpu_per_event")
        print(
            f"{r['layer']:<8}{n:>6}{fmt(r.get('events'), 'd'):>7}{r['open_seconds']:>8.1f}"
            f"{rss0 / 1024:>10.1f}{r['rssN'] / 1024:>10.1f}{per['rssN']:>11.1f}"
            f"{fmt(per['rss_events'], '.1f'):>9}{fmt(per['rss_closed'], '.1f'):>8}"
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
    problems = []
    for r in results:
        layer, notes = r["layer"], []
        problems += [f"{layer}: {r['problem']}"] if r["problem"] else []
        if r.get("server_closed"):
            notes.append(
                f"{r['server_closed']} streams closed by the server during the run, "
                f"e.g. {r['server_closed_samples'][:1]}"
            )
            problems.append(f"{layer}: the server closed {r['server_closed']} streams")
        if r.get("misses"):
            notes.append(
                f"{r['misses']} missed deliveries in {r['events_with_misses']} of "
                f"{r['events']} events, on {r['missing_streams']} distinct streams; "
                f"{r.get('late', 0)} of them arrived later, after their {args.event_timeout:g} s "
                "wait (late, not lost); all-N counts the streams that got the event"
            )
            problems.append(f"{layer}: {r['misses']} deliveries missed")
        if r.get("duplicates"):
            notes.append(f"{r['duplicates']} duplicate deliveries")
        if r.get("server_log_lines"):
            kinds = "; ".join(f"{n} x {kind}" for kind, n in r["server_log_kinds"])
            notes.append(f"{r['server_log_lines']} lines of server output (WARNING+): {kinds}")
        if "group_left" in r:
            notes.append(f"{r['group_left']} members left in the Redis group after close")
        if r.get("group_left"):
            problems.append(f"{layer}: {r['group_left']} closed streams are still in the group")
        if "all_n" in r:
            notes.append(
                f"all-N max {fmt(r['all_n']['max'], '.3f')} s, "
                f"delivery max {fmt(r['delivery']['max'], '.3f')} s, "
                f"POST p99 {fmt(r['post']['p99'] * 1000, '.0f')} ms"
            )
        if notes:
            print(f"  {layer}: " + "; ".join(notes))
    print()
    for r in results:
        if "all_n" not in r:
            print(f"{r['layer']}: no result ({(r['problem'] or '').splitlines()[0]})")
            continue
        n, p99 = r["streams"], r["all_n"]["p99"]
        per = (r["rssN"] - r["rss0"]) / n
        met = per <= TARGET_KB and p99 <= TARGET_P99 and not r["misses"]
        verdict = "target met" if met else "target MISSED"
        if n < TARGET_STREAMS:
            verdict = f"fewer streams than the target's {TARGET_STREAMS}"
        print(
            f"{r['layer']}: {n} streams, {per:.1f} kB/stream (target <= {TARGET_KB:g}), all-{n} "
            f"p99 {fmt(p99, '.2f')} s (target <= {TARGET_P99:g} s), {r['misses']} missed: {verdict}"
        )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=TARGET_STREAMS, help="concurrent streams")
    parser.add_argument("--events", type=int, default=20, help="events sent to all streams")
    parser.add_argument("--spacing", type=float, default=0.5, help="seconds between events")
    parser.add_argument("--events-budget", type=float, default=60.0, help="seconds of events")
    parser.add_argument("--event-timeout", type=float, default=30.0, help="seconds to a miss")
    parser.add_argument("--redis-url", help="also measure channels_redis on this Redis")
    args = parser.parse_args()
    # One file per stream and then some; daphne and the client inherit the limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(soft, args.streams + FD_MARGIN)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError):  # above the hard limit
        print(f"sse: {args.streams} streams need {wanted} open files; ulimit -Hn is {hard}")
        return 1
    layers = [("memory", None)] + ([("redis", args.redis_url)] if args.redis_url else [])
    results = [run_layer(layer, url, args) for layer, url in layers]
    return harness.finish(print_report(results, args))


class OpenFailed(Exception):
    """A stream was refused, closed or never established."""


class Stream(asyncio.Protocol):
    def __init__(self, client: Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.head, self.tail, self.last = b"", b"", b""
        self.established: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.seen: dict[int, float] = {}
        self.duplicates, self.closing, self.lost = 0, False, False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.client.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.last = data[-300:]
        if not self.established.done():
            self.head += data
            at = self.head.find(b"event: connection_established")
            if b"\r\n\r\n" in self.head and not self.head.startswith(b"HTTP/1.1 200 "):
                self.fail(f"answered {self.head[:400]!r}")
            elif len(self.head) > 65536 and at < 0:
                self.fail("no connection_established")
            if at < 0 or self.head.find(b"\n\n", at) < 0 or self.established.done():
                return
            self.established.set_result(None)
            data, self.head = self.head[at:], b""
        self.scan(self.tail + data, now)

    def scan(self, buffer: bytes, now: float) -> None:
        """Stamp each event name in `buffer`; keep a tail that may hold half a marker."""
        marker, start = self.client.marker, 0
        while (at := buffer.find(marker, start)) >= 0:
            end = buffer.find(b'"', at + len(marker))
            if end < 0:
                self.tail = buffer[at:]
                return
            key = int(buffer[at + len(marker) : end] or -1)
            if key in self.seen:
                self.duplicates += 1
            else:
                self.seen[key] = now
                self.client.counts[key] += 1
            start = end + 1
        self.tail = buffer[max(start, len(buffer) - len(marker) + 1) :]

    def fail(self, why: str) -> None:
        self.established.set_exception(OpenFailed(why))
        self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.established.done():
            why = f"closed before established: {exc or self.head[:300]!r}"
            self.established.set_exception(OpenFailed(why))
        elif not self.closing:
            self.client.server_closed.append(self.last.decode("utf-8", "replace"))

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()


class Client:
    def __init__(self, config: dict[str, Any]) -> None:
        self.port = int(config["port"])
        self.request = (
            f"GET /api/events/ HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: Token {config['token']}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        self.marker = f'"name":"sse-{config["run"]}-'.encode()
        self.streams: list[Stream] = []
        self.counts: Counter[int] = Counter()
        self.server_closed: list[str] = []

    async def open_one(self) -> Stream:
        loop, stream = asyncio.get_running_loop(), Stream(self)
        try:
            async with asyncio.timeout(OPEN_TIMEOUT):
                await loop.create_connection(lambda: stream, "127.0.0.1", self.port)
                await stream.established
        except TimeoutError as exc:
            stream.close()
            raise OpenFailed(f"not established within {OPEN_TIMEOUT:g} s") from exc
        except OSError as exc:
            raise OpenFailed(f"connect: {exc}") from exc
        return stream

    async def open(self, count: int) -> dict[str, Any]:
        """Open `count` more streams; stop after the first batch with failures, which are fatal."""
        started, failures, opened = time.monotonic(), Counter[str](), 0
        while opened < count and not failures:
            tries = (self.open_one() for _ in range(min(BATCH, count - opened)))
            for result in await asyncio.gather(*tries, return_exceptions=True):
                if isinstance(result, Stream):
                    self.streams.append(result)
                    opened += 1
                else:
                    failures[f"{type(result).__name__}: {result}"[:300]] += 1
        if not failures:
            return {"seconds": time.monotonic() - started}
        why = "; ".join(f"{n} x {text}" for text, n in failures.most_common(5))
        fatal = f"{opened} of {count} open, {failures.total()} failed ({why})"
        return {"fatal": f"streams could not be opened: {fatal}"}

    async def wait(self, key: int, timeout: float) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.counts[key] < sum(not s.lost for s in self.streams):
            await asyncio.sleep(0.002)
        arrivals = [s.seen[key] for s in self.streams if key in s.seen]
        # Which streams (by opening order) lacked it: the same few every time means their server
        # side stopped, not that events were dropped at random.
        missing = [i for i, s in enumerate(self.streams) if key not in s.seen]
        return {"arrivals": arrivals, "missing": len(missing), "missing_streams": missing[:100]}

    async def close(self) -> dict[str, Any]:
        for stream in self.streams:
            stream.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(s.lost for s in self.streams):
            await asyncio.sleep(0.01)
        result = {
            "server_closed": len(self.server_closed),
            "server_closed_samples": self.server_closed[:3],
            "duplicates": sum(s.duplicates for s in self.streams),
            "final_counts": dict(self.counts),  # late arrivals included
        }
        self.streams, self.server_closed = [], []
        return result


async def client(config: dict[str, Any]) -> None:
    """The client process: the streams as asyncio protocols on raw sockets, arrivals stamped with
    time.monotonic() (CLOCK_MONOTONIC, shared between processes)."""
    streams = Client(config)
    async for command in harness.commands():
        harness.send(await getattr(streams, command.pop("op"))(**command))
    await streams.close()


if __name__ == "__main__":
    harness.run(main, lambda config: asyncio.run(client(config)))
