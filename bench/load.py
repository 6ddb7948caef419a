"""Do error answers cost more than successes? The workspaces API over real HTTP on daphne (one
process, or `--processes N` on the same database and Redis; bench/stacks/service.py: cortex plus
a bare DRF view, the baseline); the servers' CPU time per request is the most direct measure of
what an answer costs. Exit status 1: an unexpected
answer or a failed server. The client is a process of its own: minimal requests written by hand on
keep-alive connections (a general client would cost more CPU than the answers it measures)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from itertools import repeat
from typing import Any

from bench import harness
from bench.harness import fmt, ratio

SCENARIOS = (
    "bare",
    "get",
    "not_found",
    "list",
    "create",
    "create_keyed",
    "replay",
    "duplicate",
    "invalid",
    "mix",
)
MIX_WEIGHTS = {"get": 30, "list": 10, "create": 15, "not_found": 20, "duplicate": 10, "invalid": 10}
MIX_WEIGHTS["bare"] = 5
GRACE = 20.0  # seconds a scenario may overrun before the client gives up: the server hangs
Planned = tuple[bytes, int, bytes]  # the request, the expected status, a marker in the body
Plan = Callable[[], Planned]  # a scenario's next request


class Connection:
    def __init__(self, port: int) -> None:
        self.port, self.opened = port, 0
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, data: bytes) -> tuple[int, bytes, bytes]:
        """Status, lower-cased head and body of one answer; ConnectionError when the connection
        broke or the answer is not HTTP/1.1 with a Content-Length."""
        try:
            if self.streams is None:
                self.streams = await asyncio.open_connection("127.0.0.1", self.port)
                self.opened += 1
            reader, writer = self.streams
            writer.write(data)
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            start = head.index(b"\r\ncontent-length:") + 17
            body = await reader.readexactly(int(head[start : head.index(b"\r\n", start)]))
            if not head.startswith(b"http/1.1 ") or b"\r\nconnection: close" in head:
                self.close()
            return int(head[9:12]), head, body
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self.close()
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
        self.streams = None


def planners(port: int, token: str, fixture: tuple[str, str] | None) -> dict[str, Plan]:
    """Per scenario, a function giving the next request (the fixture: its id and name)."""
    headers = (
        f"Host: 127.0.0.1:{port}\r\nAuthorization: Token {token}\r\n"
        "Content-Type: application/json\r\nAccept: application/json\r\n"
    )
    tag, counter = uuid.uuid4().hex[:8], iter(range(1, 1 << 62))  # unique names in every run

    def get(path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\n{headers}\r\n".encode()

    def post(name: str, key: str | None = None) -> bytes:
        body = json.dumps({"name": name}).encode()
        keyed = f"Idempotency-Key: {key}\r\n" if key else ""
        head = (
            f"POST /api/workspaces/ HTTP/1.1\r\n{headers}{keyed}Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def create() -> Planned:
        name = f"bench-{tag}-{next(counter)}"
        return post(name), 201, name.encode()

    def create_keyed() -> Planned:  # a create with a key of its own: the key's whole cost
        name = f"bench-{tag}-{next(counter)}"
        return post(name, key=name), 201, name.encode()

    if fixture is None:
        return {"fixture": lambda: (post(f"bench-fixture-{tag}"), 201, b'"id":')}
    fixture_id, name = fixture
    fixed: dict[str, Planned] = {
        "bare": (get("/bench/bare/"), 200, b'"status":"ok"'),
        "get": (get(f"/api/workspaces/{fixture_id}/"), 200, fixture_id.encode()),
        "list": (get("/api/workspaces/?limit=20"), 200, b'"results":'),
        "duplicate": (post(name), 409, b'"code":"workspace_name_conflict"'),
        "invalid": (post(""), 400, b'"code":"validation_error"'),
    }
    plans: dict[str, Plan] = {k: repeat(p).__next__ for k, p in fixed.items()}
    missing = b'"code":"not_found"'
    plans["not_found"] = lambda: (get(f"/api/workspaces/{uuid.uuid4()}/"), 404, missing)
    plans["create"] = create
    plans["create_keyed"] = create_keyed
    # The same key and body every time: the first is a create, all the others its replay.
    replayed = post(f"bench-replayed-{tag}", key=f"replayed-{tag}")
    plans["replay"] = repeat((replayed, 201, b"bench-replayed-")).__next__
    chooser = random.Random(1234)  # seeded: two runs send the same sequence of kinds
    kinds, weights = list(MIX_WEIGHTS), list(MIX_WEIGHTS.values())
    plans["mix"] = lambda: plans[chooser.choices(kinds, weights)[0]]()
    return plans


def verdict(planned: Planned, status: int, head: bytes, body: bytes) -> str | None:
    """What is wrong with an answer, if anything."""
    _data, expected, marker = planned
    if status != expected:
        return f"status {status} (expected {expected}): {body[:200]!r}"
    if marker not in body:
        return f"status {status} without {marker!r} in body: {body[:200]!r}"
    if b"\r\nx-correlation-id:" not in head:
        return f"status {status} without X-Correlation-ID: {head[:200]!r}"
    return None


class Tally:
    def __init__(self, budget: int) -> None:
        self.budget = budget  # requests left in this phase, on all connections
        self.latencies: list[float] = []  # ms
        self.statuses: Counter[int] = Counter()
        self.broken, self.mismatches = 0, 0
        self.samples: list[str] = []

    def unexpected(self, description: str) -> None:
        self.mismatches += 1
        if len(self.samples) < 3:
            self.samples.append(description)


async def drive(connection: Connection, plan: Plan, end: float, tally: Tally) -> None:
    """Send requests on one connection until `end` or until the phase's budget is spent."""
    clock = time.perf_counter
    while tally.budget > 0 and clock() < end:
        tally.budget -= 1
        planned = plan()
        started = clock()
        try:
            status, head, body = await connection.request(planned[0])
        except ConnectionError as exc:
            tally.broken += 1
            tally.unexpected(f"broken connection: {exc}")
            await asyncio.sleep(0.01)  # a refused connection would spin through the budget
            continue
        tally.latencies.append((clock() - started) * 1000)
        tally.statuses[status] += 1
        if problem := verdict(planned, status, head, body):
            tally.unexpected(problem)


async def scenario(
    name: str, plan: Plan, conns: list[Connection], config: dict[str, Any]
) -> dict[str, Any]:
    """Warm up, then measure one scenario on every connection; its summary."""
    clock, pids = time.perf_counter, config["server_pids"]
    async with asyncio.timeout(config["warmup"] + config["seconds"] + GRACE):
        for seconds in (config["warmup"], config["seconds"]):
            tally = Tally(config["max_requests"])
            server_before = sum(map(harness.cpu_seconds, pids))
            client_before = time.process_time()
            started = clock()
            await asyncio.gather(*(drive(c, plan, started + seconds, tally) for c in conns))
            elapsed = clock() - started
    server_cpu = sum(map(harness.cpu_seconds, pids)) - server_before
    client_cpu = time.process_time() - client_before
    count = len(tally.latencies)
    return {
        "scenario": name, "requests": count, "rps": count / elapsed,
        **harness.summary(tally.latencies, (50, 90, 99)),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "mismatches": tally.mismatches, "broken": tally.broken, "samples": tally.samples,
        "server_5xx": sum(v for k, v in tally.statuses.items() if k >= 500),
        "server_cpu_ms": server_cpu * 1000 / count if count else math.nan,
        "client_cpu": client_cpu / elapsed, "budget_hit": tally.budget <= 0,
        "opened": sum(c.opened for c in conns),  # more than C: keep-alive connections closed
    }  # fmt: skip


async def client(config: dict[str, Any]) -> None:
    """The client process: the fixture, the sanity pass, then each scenario's summary."""
    ports, token = config["ports"], config["token"]
    # The connections take turns among the servers, as a balancer in front of them would.
    connections = [Connection(ports[i % len(ports)]) for i in range(config["connections"])]
    port = ports[0]
    first = connections[0]  # the fixture and the sanity pass too
    planned = planners(port, token, None)["fixture"]()
    status, _head, body = await first.request(planned[0])
    if status != 201:
        return harness.send({"fatal": f"fixture workspace: status {status}, body {body[:300]!r}"})
    fixture = json.loads(body)
    plans = planners(port, token, (fixture["id"], fixture["name"]))
    sanity = []
    for name in SCENARIOS[:-1]:
        planned = plans[name]()
        try:
            status, head, body = await first.request(planned[0])
            ok = verdict(planned, status, head, body) is None
            text = body[:240].decode("utf-8", "replace")
            sanity.append({"scenario": name, "ok": ok, "status": status, "body": text})
        except ConnectionError as exc:
            sanity.append({"scenario": name, "ok": False, "status": None, "body": str(exc)})
    harness.send({"fixture": fixture["id"], "sanity": sanity})
    for name in config["scenarios"]:
        try:
            harness.send(await scenario(name, plans[name], connections, config))
        except TimeoutError:
            fatal = f"scenario {name} did not finish in time; the server hangs"
            return harness.send({"fatal": fatal})


PAIRS = (("not_found", "get"), ("duplicate", "create"), ("invalid", "create"))
# What an Idempotency-Key costs a create (no target: the closing figures of the safe-writes work).
KEYED = (("create_keyed", "create"), ("replay", "create"))
TARGET = 1.2
SETTINGS = "bench.stacks.service"


def print_sanity(message: dict[str, Any]) -> list[str]:
    """Print the client's sanity pass; its problems."""
    print(f"sanity pass (fixture workspace {message['fixture']}):")
    for e in message["sanity"]:
        mark = "ok " if e["ok"] else "BAD"
        print(f"  {mark} {e['scenario']:<10} {e['status']}  {e['body'][:150]}")
    print("measuring:", flush=True)
    bad = [e for e in message["sanity"] if not e["ok"]]
    return [f"sanity pass {e['scenario']}: status {e['status']}, {e['body'][:200]}" for e in bad]


def print_report(
    args: argparse.Namespace, url: str, output_lines: int, summaries: list[dict[str, Any]]
) -> None:
    shown_url = re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)
    database = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    redis = f"REDIS_URL={args.redis_url}" if args.redis_url else "no Redis"
    print(
        f"\nbench.load: {args.processes} daphne process(es), {args.connections} keep-alive "
        "connections from a "
        f"separate client process, {args.seconds:g} s per scenario after {args.warmup:g} s "
        f"warm-up; {os.cpu_count()} CPUs\nserver: ENVIRONMENT=test DEBUG=0 LOG_LEVEL=INFO (each "
        "handled error logs one JSON line; the per-request line is off), daphne access log off "
        f"(-v 0) ({output_lines} lines of server output), throttles 100000000/minute, "
        f"{database} ({shown_url}), {redis}\nclient: {summaries[-1]['opened']} connections "
        f"opened in all for {args.connections} (more means the server closed keep-alive "
        "connections)"
    )
    columns = (
        f"{'scenario':<10}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'srv CPU ms/req':>16}{'client CPU':>12}{'unexpected':>12}"
    )
    print(columns + "\n" + "-" * len(columns))
    for s in summaries:
        print(
            f"{s['scenario']:<10}{s['requests']:>9}{s['rps']:>9,.0f}{s['p50']:>9.2f}{s['p90']:>9.2f}"
            f"{s['p99']:>9.2f}{s['max']:>9.1f}{fmt(s['server_cpu_ms'], '.3f'):>16}"
            f"{s['client_cpu']:>11.0%}{s['mismatches']:>12}"
        )
    by_name = {s["scenario"]: s for s in summaries}
    print(f"\nError answers vs their success answers (target <= {TARGET}):")
    for error, success in (pair for pair in PAIRS if set(pair) <= set(by_name)):
        e, s = by_name[error], by_name[success]
        if doubtful := [x["scenario"] for x in (e, s) if x["mismatches"]]:
            print(f"  ({' and '.join(doubtful)} had unexpected answers: these ratios mislead)")
        for key in ("p50", "p99"):
            value = ratio(e[key], s[key])
            print(f"  {error}/{success} {key} latency = {value:.2f}x (target <= {TARGET})")
        print(
            f"  {error}/{success} time per request by throughput ({success} req/s / {error} "
            f"req/s) = {ratio(s['rps'], e['rps']):.2f}x (target <= {TARGET})"
        )
        cpu = ratio(e["server_cpu_ms"], s["server_cpu_ms"])
        print(f"  {error}/{success} server CPU per request = {cpu:.2f}x (target <= {TARGET})")
    for keyed, plain in (pair for pair in KEYED if set(pair) <= set(by_name)):
        k, p = by_name[keyed], by_name[plain]
        print(
            f"\n{keyed}/{plain}: throughput {ratio(k['rps'], p['rps']):.2f}x, p50 latency "
            f"{ratio(k['p50'], p['p50']):.2f}x, server CPU per request "
            f"{ratio(k['server_cpu_ms'], p['server_cpu_ms']):.2f}x"
        )
    if bare := by_name.get("bare"):
        print("\nEach scenario vs bare (one bare DRF view in the same process):")
        for s in (s for s in summaries if s is not bare):
            print(
                f"  {s['scenario']}/bare p50 latency = {ratio(s['p50'], bare['p50']):.2f}x, "
                f"p99 latency = {ratio(s['p99'], bare['p99']):.2f}x, "
                f"throughput = {ratio(s['rps'], bare['rps']):.2f}x of bare's"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per scenario")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--max-requests", type=int, default=200_000, help="at most, per phase")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument("--database-url", help="DATABASE_URL (default: a fresh SQLite file)")
    parser.add_argument("--create-postgres", action="store_true", help="a database of our own")
    parser.add_argument("--redis-url", help="REDIS_URL for the server (default: none)")
    parser.add_argument("--processes", type=int, default=1, help="daphne processes")
    args = parser.parse_args()
    if unknown := set(scenarios := args.scenarios.split(",")) - set(SCENARIOS):
        parser.error(f"unknown scenarios {sorted(unknown)}")
    summaries: list[dict[str, Any]] = []
    problems: list[str] = []
    with harness.environment(
        args.database_url, args.redis_url, "INFO", args.create_postgres
    ) as env:
        started = time.monotonic()
        token = harness.migrated_token(env)
        with contextlib.ExitStack() as servers_open:
            servers = [
                servers_open.enter_context(
                    harness.DaphneServer(env, SETTINGS, daphne_args=["-v", "0"], start_timeout=30)
                )
                for _ in range(args.processes)
            ]
            print(f"migrate, token and daphne start took {time.monotonic() - started:.1f} s")
            config = dict(vars(args), scenarios=scenarios, token=token)
            config.update(ports=[s.port for s in servers], server_pids=[s.pid for s in servers])
            with contextlib.closing(harness.Child("bench.load", **config)) as child:
                try:
                    problems += print_sanity(child.reply())
                    for _name in scenarios:
                        summaries.append(s := child.reply())
                        print(
                            f"  {s['scenario']:<10} {s['requests']:>7} requests "
                            f"{s['rps']:>8,.0f} req/s  p50 {s['p50']:.2f} ms  "
                            f"p99 {s['p99']:.2f} ms  unexpected {s['mismatches']}",
                            flush=True,
                        )
                except harness.BenchFailed as exc:
                    problems.append(str(exc))
            for server in servers:
                if not server.running:
                    problems.append(f"daphne exited with {server.stop()} during the run")
                problems += [harness.last_output(server)] if problems else []
            output_lines = sum(len(harness.server_output(server)) for server in servers)
    if summaries:
        print_report(args, env["DATABASE_URL"], output_lines, summaries)
    for s in summaries:
        if s["mismatches"] or s["server_5xx"] or s["broken"]:
            problems.append(
                f"{s['scenario']}: {s['mismatches']} unexpected answers ({s['server_5xx']} 5xx, "
                f"{s['broken']} broken connections); statuses {s['statuses']}"
            )
            problems.extend(f"    e.g. {sample}" for sample in s["samples"])
        if s["budget_hit"]:
            print(f"note: {s['scenario']} stopped at --max-requests before its time was up")
    return harness.finish(problems)


if __name__ == "__main__":
    harness.run(main, lambda config: asyncio.run(client(config)))
