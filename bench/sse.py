"""SSE fan-out benchmark: N concurrent `GET /api/events/` streams held open on one daphne process.

    python -m bench.sse [--streams N] [--events E] [--spacing S] [--events-budget S] [--batch B]
                        [--open-timeout S] [--event-timeout S] [--redis-url URL]
                        [--only memory|redis]

The target: 5,000 streams in one process, at most 20 kB of server memory each, one event reaching
all 5,000 within 1 s at p99, on the in-memory channel layer and on channels_redis (with `--redis-
url`; `--only redis` alone uses redis://127.0.0.1:6379/0). Each layer gets a fresh server: SQLite,
LOG_LEVEL=WARNING, daphne -v 0 with a listen backlog of 4096 (Twisted's 50 drops a batch of
connections), no heartbeat within the run. The bench user's id is a random large one, so its group
and replay stream are this run's alone on a shared Redis. The streams are held by
bench/sse_client.py, a process of its own, all of one user (one hub membership for all).

Per layer: a warm-up (every code path once, 20 streams and an event); RSS_0 once VmRSS settles;
N streams opened; RSS_N, so kB/stream = (RSS_N - RSS_0) / N; then up to E events, `--spacing`
apart (none after `--events-budget` s): a POST of a workspace, t0 just before it, and per stream
the arrival of the event naming it; all-N is the last arrival - t0, each arrival - t0 a delivery.
A stream without it after `--event-timeout` s is a miss. Then the streams close; once daphne has
had its application close timeout and quietened, RSS after close, and with Redis the members
left in the group (should be 0). The exit status is 1 when the server failed, streams could not
be opened or were closed by the server, deliveries were missed or members left; nothing timed is
asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import resource
import sqlite3
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import redis

from bench.harness import (
    SERVICE_ENV,
    BenchFailed,
    Child,
    DaphneServer,
    cpu_seconds,
    database,
    finish,
    manage,
    migrated_token,
    percentile,
    rss_kb,
    server_output,
)  # fmt: skip

TARGET_STREAMS, TARGET_KB, TARGET_P99 = 5000, 20.0, 1.0
WARMUP_STREAMS, FD_MARGIN, HEARTBEAT, CLOSE_TIMEOUT = 20, 1024, 600, 5
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def settled_rss(pid: int, limit: float = 15.0) -> int:
    """VmRSS once four samples 0.5 s apart differ by at most 0.5% (or after `limit` s)."""
    samples, deadline = [rss_kb(pid)], time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.5)
        samples.append(rss_kb(pid))
        if len(samples) >= 4 and max(samples[-4:]) - min(samples[-4:]) <= max(samples[-4:]) * 0.005:
            break
    return samples[-1]


def wait_quiet(pid: int, at_least: float, limit: float = 60.0) -> None:
    """Wait `at_least` s, then until the server used under 5% of a CPU over a second."""
    time.sleep(at_least)
    deadline, before = time.monotonic() + limit, cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        if (after := cpu_seconds(pid)) - before < 0.05:
            return
        before = after


def summarize(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    top = ordered[-1] if ordered else math.nan
    return {"p50": percentile(ordered, 0.5), "p99": percentile(ordered, 0.99), "max": top}


def log_kinds(lines: list[str]) -> list[tuple[str, int]]:
    """The most frequent kinds of server output line: a JSON record's level, message and
    exception, or the text."""
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
    return kinds.most_common(4)


def prepare(env: dict[str, str], path: str) -> tuple[str, int]:
    """Migrate; the bench user, created with a random large id; its token and id."""
    manage(env, "migrate", "--noinput", "-v", "0")
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'auth_user'")
        first = random.randrange(10**8, 10**9)
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('auth_user', ?)", (first,))
    token = migrated_token(env, migrate=False)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        row = conn.execute("SELECT id FROM auth_user WHERE username = 'bench'").fetchone()
    return token, int(row[0])


def run_layer(layer: str, redis_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    """Measure one channel layer on a fresh server; "problem" says why when it failed."""
    result: dict[str, Any] = {"layer": layer, "streams": args.streams, "problem": None}
    run = uuid.uuid4().hex[:8]
    store = redis.Redis.from_url(redis_url, socket_timeout=5) if redis_url else None
    print(f"\n[{layer}] starting: {args.streams} streams, {args.events} events", flush=True)
    with database(None) as url:
        env = {
            **SERVICE_ENV, "DATABASE_URL": url, "LOG_LEVEL": "WARNING",
            "SSE_HEARTBEAT_SECONDS": str(HEARTBEAT),
            "SSE_MAX_STREAMS_PER_USER": str(args.streams + WARMUP_STREAMS),  # all are one user's
            **({"REDIS_URL": redis_url} if redis_url else {}),
        }  # fmt: skip
        token, user_id = prepare(env, url.removeprefix("sqlite:///"))
        daphne_args = ["-v", "0", "--application-close-timeout", str(CLOSE_TIMEOUT)]
        server = DaphneServer(env, daphne_args=daphne_args, backlog=4096, start_timeout=30).start()
        headers = {"Authorization": f"Token {token}"}
        api = httpx.Client(base_url=server.url, headers=headers, timeout=30)
        config = {"port": server.port, "token": token, "run": run}
        client = Child("bench.sse_client", json.dumps(config))
        try:
            measure(server, api, client, run, args, result)
            if store is not None:
                result["group_left"] = int(store.zcard(f"asgi:group:workspaces.owner.{user_id}"))
            if not server.running:
                raise BenchFailed(f"daphne exited with {server.stop()} during the run")
            if (status := api.get("/healthz").status_code) != 200:
                raise BenchFailed(f"/healthz answered {status} after the streams closed")
        except (BenchFailed, httpx.HTTPError, OSError) as exc:
            tail = "\n".join(server_output(server)[-30:])
            result["problem"] = f"{exc}\nlast server output:\n{tail}"
        finally:
            api.close()
            client.close()
            output = server_output(server)
            server.cleanup()
            result.update(server_log_lines=len(output), server_log_kinds=log_kinds(output))
            if store is not None:
                group = f"asgi:group:workspaces.owner.{user_id}"
                store.delete(group, f"cortex:workspace-events:{user_id}")
    return result


def measure(
    server: DaphneServer,
    api: httpx.Client,
    client: Child,
    run: str,
    args: argparse.Namespace,
    result: dict[str, Any],
) -> None:
    def create(name: str) -> None:
        if (response := api.post("/api/workspaces/", json={"name": name})).status_code != 201:
            status, text = response.status_code, response.text[:300]
            raise BenchFailed(f"POST /api/workspaces/ answered {status}: {text}")

    def event(key: int) -> dict[str, Any]:
        t0 = time.monotonic()
        create(f"sse-{run}-{key}")
        post = time.monotonic() - t0
        return {"t0": t0, "post": post, **client.call("wait", key=key, timeout=args.event_timeout)}

    def open_streams(count: int, batch: int) -> dict[str, Any]:
        opened = client.call("open", count=count, batch=batch, timeout=args.open_timeout)
        if opened["failed"] or opened["open"] != count:
            failures = "; ".join(f"{n} x {text}" for text, n in opened["failures"])
            raise BenchFailed(
                f"streams could not be opened: {opened['open']} of {count} open, "
                f"{opened['failed']} failed ({failures})"
            )
        return opened

    # Warm-up: every code path once, so that RSS_0 is not missing imports and thread pools.
    api.get("/healthz")
    create(f"warmup-{run}")
    api.get("/api/workspaces/?limit=20")
    open_streams(WARMUP_STREAMS, WARMUP_STREAMS)
    if missing := event(0)["missing"]:
        raise BenchFailed(f"warm-up event missed by {missing} streams")
    client.call("close")
    time.sleep(1.0)
    result["rss0"] = rss0 = settled_rss(server.pid)
    layer = result["layer"]
    print(f"[{layer}] RSS_0 {rss0 / 1024:.1f} MB; opening {args.streams} streams", flush=True)
    result["open_seconds"] = open_streams(args.streams, args.batch)["seconds"]
    result["rssN"] = rss_n = settled_rss(server.pid)
    opened = f"{args.streams} streams open in {result['open_seconds']:.1f} s"
    print(f"[{layer}] {opened}; RSS_N {rss_n / 1024:.1f} MB", flush=True)

    cpu_before, client_before = cpu_seconds(server.pid), cpu_seconds(client.process.pid)
    started = time.monotonic()
    all_n: list[float] = []
    deliveries: list[float] = []
    posts: list[float] = []
    had: dict[int, int] = {}
    missing_streams: set[int] = set()
    misses = events_with_misses = 0
    for key in range(1, args.events + 1):
        if had and time.monotonic() - started > args.events_budget:
            break
        outcome = event(key)
        latencies = [t - outcome["t0"] for t in outcome["arrivals"]]
        deliveries += latencies
        posts.append(outcome["post"])
        misses += outcome["missing"]
        events_with_misses += bool(outcome["missing"])
        missing_streams.update(outcome["missing_streams"])
        had[key] = len(latencies)
        if latencies:  # with misses: the time to reach every stream that got it at all
            all_n.append(max(latencies))
        time.sleep(args.spacing)
    elapsed = time.monotonic() - started
    result.update(
        rss_events=rss_kb(server.pid), all_n=summarize(all_n), delivery=summarize(deliveries),
        post=summarize(posts), misses=misses, missing_streams=len(missing_streams),
        events_with_misses=events_with_misses, events=len(had),
        server_cpu_per_event=(cpu_seconds(server.pid) - cpu_before) / len(had),
        client_cpu=(cpu_seconds(client.process.pid) - client_before) / elapsed,
    )  # fmt: skip
    closed = client.call("close")
    for name in ("server_closed", "server_closed_samples", "duplicates"):
        result[name] = closed[name]
    final = closed["final_counts"]
    result["late"] = sum(final.get(str(key), 0) - count for key, count in had.items())
    wait_quiet(server.pid, at_least=CLOSE_TIMEOUT + 2)  # closed streams' consumers finish by then
    result["rss_closed"] = settled_rss(server.pid)


def fmt(value: float | None, spec: str) -> str:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "n/a" if missing else format(value, spec)


def print_report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\nbench.sse: one daphne process, {args.streams} SSE streams of one user held by a client "
        f"process; up to {args.events} events {args.spacing:g} s apart (no new one after "
        f"{args.events_budget:g} s of events); {os.cpu_count()} CPUs"
    )
    print(
        "server: ENVIRONMENT=test DEBUG=0 LOG_LEVEL=WARNING, daphne -v 0, SQLite, "
        f"SSE_HEARTBEAT_SECONDS={HEARTBEAT}"
    )
    columns = (
        f"{'layer':<8}{'N':>6}{'events':>7}{'open s':>8}{'RSS_0 MB':>10}{'RSS_N MB':>10}"
        f"{'kB/stream':>11}"
        f"{'+events':>9}{'closed':>8}{'all-N p50':>11}{'p99':>7}{'deliv p50':>11}{'p99':>7}"
        f"{'POST p50':>10}{'srv CPU/ev':>12}{'client CPU':>12}{'misses':>8}"
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
                f"all-N max {fmt(r['all_n']['max'], '.3f')} s, "
                f"delivery max {fmt(r['delivery']['max'], '.3f')} s, "
                f"POST p99 {fmt(r['post']['p99'] * 1000, '.0f')} ms"
            )
        if extra:
            print(f"  {r['layer']}: " + "; ".join(extra))
    print()
    for r in results:
        if "all_n" not in r:
            print(f"{r['layer']}: no result ({(r['problem'] or '').splitlines()[0]})")
            continue
        n, p99 = r["streams"], r["all_n"]["p99"]
        per = (r["rssN"] - r["rss0"]) / n
        met = n >= TARGET_STREAMS and per <= TARGET_KB and p99 <= TARGET_P99 and not r["misses"]
        verdict = "target met" if met else "target MISSED"
        if n < TARGET_STREAMS:
            verdict = f"fewer streams than the target's {TARGET_STREAMS}"
        print(
            f"{r['layer']}: {n} streams, {per:.1f} kB/stream (target <= {TARGET_KB:g}), "
            f"all-{n} p99 "
            f"{fmt(p99, '.2f')} s (target <= {TARGET_P99:g} s), {r['misses']} missed: {verdict}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=TARGET_STREAMS, help="concurrent streams")
    parser.add_argument("--events", type=int, default=20, help="events sent to all streams")
    parser.add_argument("--spacing", type=float, default=0.5, help="seconds between events")
    parser.add_argument("--events-budget", type=float, default=60.0, help="seconds of events")
    parser.add_argument("--batch", type=int, default=200, help="streams opened at a time")
    parser.add_argument("--open-timeout", type=float, default=60.0, help="seconds per stream")
    parser.add_argument("--event-timeout", type=float, default=30.0, help="seconds to a miss")
    parser.add_argument("--redis-url", help="also measure channels_redis on this Redis")
    parser.add_argument("--only", choices=("memory", "redis"), help="measure this layer alone")
    args = parser.parse_args()
    # One file per stream and then some; daphne and the client inherit the limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.streams + FD_MARGIN
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
        if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < wanted:
            print(f"sse: {args.streams} streams need {wanted} open files; ulimit -Hn is {hard}")
            return 1
    redis_url = args.redis_url or (DEFAULT_REDIS_URL if args.only == "redis" else None)
    layers: list[tuple[str, str | None]] = [("memory", None)] if args.only != "redis" else []
    layers += [("redis", redis_url)] if redis_url and args.only != "memory" else []
    results = [run_layer(layer, url, args) for layer, url in layers]
    print_report(results, args)
    problems = []
    for r in results:
        layer = r["layer"]
        problems += [f"{layer}: {r['problem']}"] if r["problem"] else []
        problems += [f"{layer}: {r['misses']} deliveries missed"] if r.get("misses") else []
        if r.get("server_closed"):
            problems.append(f"{layer}: the server closed {r['server_closed']} streams")
        if r.get("group_left"):
            problems.append(f"{layer}: {r['group_left']} closed streams are still in the group")
    return finish(problems)


if __name__ == "__main__":
    raise SystemExit(main())
