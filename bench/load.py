"""Load test of the workspaces API over real HTTP: do error answers cost more than successes?

    python -m bench.load [--seconds S] [--warmup W] [--connections C] [--max-requests M]
                         [--scenarios a,b] [--database-url URL [--create-postgres]]
                         [--redis-url URL] [--daphne-access-log]

One daphne process serves the service with bench/stacks/service.py's settings (cortex's, plus
`GET /bench/bare/`, a DRF view without authentication, permission or throttle: the baseline),
DEBUG off, LOG_LEVEL=INFO as in production (each handled error writes its JSON line, part of what
an error costs), throttles out of the way, daphne's access log off (`-v 0`), and a fresh SQLite
file unless `--database-url` (with `--create-postgres`, a maintenance URL next to which a
database of the run's own is created and dropped). The client (bench/load_client.py, a process
of its own) keeps C connections busy with one scenario at a time, after a short warm-up:

  bare       GET  /bench/bare/                         200
  get        GET  /api/workspaces/<fixture id>/         200
  not_found  GET  /api/workspaces/<random uuid4>/       404 not_found
  list       GET  /api/workspaces/?limit=20            200 (the few before `create` ran)
  create     POST /api/workspaces/ with a unique name   201
  duplicate  POST /api/workspaces/ with the fixture's   409 workspace_name_conflict
  invalid    POST /api/workspaces/ {"name": ""}         400 validation_error
  mix        a weighted mix of the above (load_client.MIX_WEIGHTS)

Latency is from writing a request to having read its answer; on a saturated server it is mostly
queueing, so the server's CPU time per request (/proc, all threads) is the most direct measure of
what an answer costs. The client's CPU share shows a client-bound run. Every answer's status,
body marker and X-Correlation-ID are checked; the exit status is 1 only when one was unexpected
(or a 5xx, a broken connection) or the server failed. Nothing timed is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from typing import Any

from bench.harness import (
    SERVICE_ENV,
    BenchFailed,
    Child,
    DaphneServer,
    database,
    finish,
    migrated_token,
    ratio,
    server_output,
)
from bench.load_client import SCENARIOS

PAIRS = (("not_found", "get"), ("duplicate", "create"), ("invalid", "create"))
TARGET = 1.2
SETTINGS = "bench.stacks.service"


def print_sanity(message: dict[str, Any]) -> None:
    print(f"sanity pass (fixture workspace {message['fixture']}):")
    for entry in message["sanity"]:
        mark = "ok " if entry["ok"] else "BAD"
        print(f"  {mark} {entry['scenario']:<10} {entry['status']}  {entry['body'][:150]}")
    print("measuring:", flush=True)


def print_report(header: list[str], summaries: list[dict[str, Any]]) -> None:
    print("\n" + "\n".join(header))
    columns = (
        f"{'scenario':<10}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'srv CPU ms/req':>16}{'client CPU':>12}{'unexpected':>12}"
    )
    print(columns + "\n" + "-" * len(columns))
    for s in summaries:
        cpu = "n/a" if s["server_cpu_ms"] is None else f"{s['server_cpu_ms']:.3f}"
        print(
            f"{s['scenario']:<10}{s['requests']:>9}{s['rps']:>9,.0f}{s['p50']:>9.2f}{s['p90']:>9.2f}"
            f"{s['p99']:>9.2f}{s['max']:>9.1f}{cpu:>16}{s['client_cpu']:>11.0%}{s['mismatches']:>12}"
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
        if e["server_cpu_ms"] is not None and s["server_cpu_ms"] is not None:
            cpu_ratio = ratio(e["server_cpu_ms"], s["server_cpu_ms"])
            print(f"  {error}/{success} server CPU per request = {cpu_ratio:.2f}x (target <= 1.2)")
    if bare := by_name.get("bare"):
        print("\nEach scenario vs bare (one bare DRF view in the same process):")
        for s in summaries:
            if s is not bare:
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
    parser.add_argument("--daphne-access-log", action="store_true", help="keep daphne's access log")
    args = parser.parse_args()
    scenarios = args.scenarios.split(",")
    if not set(scenarios) <= set(SCENARIOS):
        parser.error(f"unknown scenarios {sorted(set(scenarios) - set(SCENARIOS))}")
    summaries: list[dict[str, Any]] = []
    problems: list[str] = []
    sanity: dict[str, Any] = {"sanity": []}
    with database(args.database_url, create=args.create_postgres) as url:
        env = {**SERVICE_ENV, "DATABASE_URL": url, "LOG_LEVEL": "INFO"}
        if args.redis_url:
            env["REDIS_URL"] = args.redis_url
        started = time.monotonic()
        token = migrated_token(env, settings=SETTINGS)
        daphne_args = [] if args.daphne_access_log else ["-v", "0"]
        with DaphneServer(env, SETTINGS, daphne_args=daphne_args, start_timeout=30) as server:
            print(f"migrate, token and daphne start took {time.monotonic() - started:.1f} s")
            config = {**vars(args), "scenarios": scenarios, "port": server.port, "token": token}
            config["server_pid"] = server.pid
            with Child("bench.load_client", json.dumps(config)) as client:
                try:
                    print_sanity(sanity := client.reply())
                    for _name in scenarios:
                        summaries.append(s := client.reply())
                        print(
                            f"  {s['scenario']:<10} {s['requests']:>7} requests "
                            f"{s['rps']:>8,.0f} req/s  p50 {s['p50']:.2f} ms  "
                            f"p99 {s['p99']:.2f} ms  unexpected {s['mismatches']}",
                            flush=True,
                        )
                except BenchFailed as exc:
                    problems.append(str(exc))
            if not server.running:
                problems.append(f"daphne exited with {server.stop()} during the run")
            output = server_output(server)
    if problems:
        problems.append("last server output:\n" + "\n".join(output[-30:]))
    shown_url = re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)
    header = [
        f"bench.load: one daphne process, {args.connections} keep-alive connections from a "
        f"separate client process, {args.seconds:g} s per scenario after {args.warmup:g} s "
        f"warm-up; {os.cpu_count()} CPUs",
        "server: ENVIRONMENT=test DEBUG=0 LOG_LEVEL=INFO (each handled error logs one JSON "
        "line; the per-request line is off), daphne access log "
        + ("on" if args.daphne_access_log else "off (-v 0)")
        + f" ({len(output)} lines of server output), throttles 100000000/minute, "
        + ("PostgreSQL" if url.startswith("postgres") else "SQLite")
        + f" ({shown_url}), "
        + (f"REDIS_URL={args.redis_url}" if args.redis_url else "no Redis"),
    ]
    if summaries:
        header.append(
            f"client: {summaries[-1]['opened']} connections opened in all for "
            f"{args.connections} (more means the server closed keep-alive connections)"
        )
        print_report(header, summaries)
    for entry in sanity["sanity"]:
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
    return finish(problems)


if __name__ == "__main__":
    raise SystemExit(main())
