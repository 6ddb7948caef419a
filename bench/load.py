"""Do error answers cost more than successes? The workspaces API over real HTTP on one daphne
process (bench/stacks/service.py: cortex plus a bare DRF view, the baseline); the server's CPU
time per request is the most direct measure of what an answer costs. Exit status 1: an unexpected
answer or a failed server."""

from __future__ import annotations

import argparse
import contextlib
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
    last_output,
    migrated_token,
    ratio,
    server_output,
)
from bench.load_client import SCENARIOS

PAIRS = (("not_found", "get"), ("duplicate", "create"), ("invalid", "create"))
TARGET = 1.2
SETTINGS = "bench.stacks.service"


def print_sanity(message: dict[str, Any]) -> list[dict[str, Any]]:
    print(f"sanity pass (fixture workspace {message['fixture']}):")
    for entry in message["sanity"]:
        mark = "ok " if entry["ok"] else "BAD"
        print(f"  {mark} {entry['scenario']:<10} {entry['status']}  {entry['body'][:150]}")
    print("measuring:", flush=True)
    return list(message["sanity"])


def print_report(
    args: argparse.Namespace, url: str, output_lines: int, summaries: list[dict[str, Any]]
) -> None:
    shown_url = re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)
    access_log = "on" if args.daphne_access_log else "off (-v 0)"
    database = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    redis = f"REDIS_URL={args.redis_url}" if args.redis_url else "no Redis"
    print(
        f"\nbench.load: one daphne process, {args.connections} keep-alive connections from a "
        f"separate client process, {args.seconds:g} s per scenario after {args.warmup:g} s "
        f"warm-up; {os.cpu_count()} CPUs\nserver: ENVIRONMENT=test DEBUG=0 LOG_LEVEL=INFO (each "
        "handled error logs one JSON line; the per-request line is off), daphne access log "
        f"{access_log} ({output_lines} lines of server output), throttles 100000000/minute, "
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
    if unknown := set(scenarios := args.scenarios.split(",")) - set(SCENARIOS):
        parser.error(f"unknown scenarios {sorted(unknown)}")
    summaries: list[dict[str, Any]] = []
    problems: list[str] = []
    sanity: list[dict[str, Any]] = []
    with database(args.database_url, create=args.create_postgres) as url:
        env = {**SERVICE_ENV, "DATABASE_URL": url, "LOG_LEVEL": "INFO"}
        env.update({"REDIS_URL": args.redis_url} if args.redis_url else {})
        started = time.monotonic()
        token = migrated_token(env, settings=SETTINGS)
        daphne_args = [] if args.daphne_access_log else ["-v", "0"]
        with DaphneServer(env, SETTINGS, daphne_args=daphne_args, start_timeout=30) as server:
            print(f"migrate, token and daphne start took {time.monotonic() - started:.1f} s")
            config = dict(vars(args), scenarios=scenarios, token=token)
            config.update(port=server.port, server_pid=server.pid)
            with contextlib.closing(Child("bench.load_client", json.dumps(config))) as client:
                try:
                    sanity = print_sanity(client.reply())
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
            output_lines = len(server_output(server))
            problems += [last_output(server)] if problems else []
    if summaries:
        print_report(args, url, output_lines, summaries)
    for entry in sanity:
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
