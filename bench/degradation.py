"""What clients get while PostgreSQL or Redis fails, and how fast it recovers (README, "Failure
modes"): the service in daphne on a database of its own, PostgreSQL or Redis behind a `TcpProxy`,
under the fault-injection suite's load. Exit status 1: a scenario broke the contract."""

from __future__ import annotations

import argparse
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench import harness
from bench.harness import DaphneServer
from tests.support.faults import Load, PhaseReport, burst, summary
from tests.support.tcp_proxy import TcpProxy

LIST = "/api/workspaces/"
SCENARIOS = {
    "burst-200": "200 list requests at once, pool of 10, with and without the limit",
    "burst-500": "500 list requests at once, pool of 10, with and without the limit",
    "bad-tokens": "200 requests with bogus tokens beside 20 of a real user",
    "pg-refuse": "PostgreSQL refuses connections, 6 clients reading and writing",
    "pg-hang": "PostgreSQL hangs for 12 s (default 10 s client bound), 6 clients",
    "redis-refuse": "Redis refuses connections, 6 clients",
    "redis-hang": "Redis hangs, 6 clients",
}
URL_OF = {"pg": "DATABASE_URL", "redis": "REDIS_URL"}


class Bench:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.token, self.broken = harness.migrated_token(self.env), list[str]()

    def judge(self, report: PhaseReport, name: str = "", judged: bool = True) -> None:
        print("  " + summary(report))
        if judged and (report.server_errors() or report.unavailable_without_retry_after()):
            self.broken.append(f"{name or report.name}: {summary(report)}")

    def bursts(self, size: int, rounds: int) -> None:
        headers = {"Authorization": f"Token {self.token}"}
        for round_number in range(1, rounds + 1):
            for label, limit in (("limited", None), ("unlimited", "1000")):
                env = {"MAX_CONCURRENT_REQUESTS": limit} if limit else {}
                with DaphneServer({**self.env, **env}) as server:
                    answers = burst(server.url, [(LIST, headers)] * size)
                name = f"burst-{size} {label} (round {round_number})"
                # The baseline is expected to fail; only the limit is judged.
                self.judge(PhaseReport(name, answers), judged=not limit)

    def bad_tokens(self) -> None:
        flood = [(LIST, {"Authorization": f"Token {uuid.uuid4().hex * 2}"})] * 200
        mine = [(LIST, {"Authorization": f"Token {self.token}"})] * 20
        with DaphneServer(self.env) as server:
            answers = burst(server.url, flood[:100] + mine + flood[100:])
        self.judge(PhaseReport("the user's 20", answers[100:120]))
        self.judge(PhaseReport("200 bad tokens", answers[:100] + answers[120:]))

    def outage(self, scenario: str, seconds: float) -> None:
        target, fault = scenario.split("-")
        url = urlsplit(self.env[URL_OF[target]])
        port = url.port or (5432 if target == "pg" else 6379)
        with TcpProxy(url.hostname or "127.0.0.1", port) as proxy:
            credentials = url.netloc.rpartition("@")[0]
            netloc = f"{credentials}@" * bool(credentials) + f"127.0.0.1:{proxy.port}"
            env = {**self.env, URL_OF[target]: urlunsplit(url._replace(netloc=netloc))}
            with DaphneServer(env) as server:
                load = Load(server.url, self.token, clients=6)
                faults = (
                    (proxy.cut, proxy.restore) if fault == "refuse" else (proxy.hang, proxy.resume)
                )
                recovered = load.outage(*faults, seconds, recovery_timeout=30.0, after=1.0)
        for phase in load.phases():
            self.judge(phase, f"{scenario} {phase.name}")
        with psycopg.connect(self.env["DATABASE_URL"]) as conn:
            stored = [row[0] for row in conn.execute("SELECT name FROM workspaces_workspace")]
        lost, duplicated = load.lost_writes(stored)
        after = "never" if recovered is None else f"{recovered:.2f} s"
        print(
            f"  first acknowledged write after the link returned: {after}; acknowledged writes "
            f"{len(load.acknowledged_writes())}, lost {len(lost)}, stored twice {len(duplicated)}"
        )
        if lost or duplicated or recovered is None:
            self.broken.append(f"{scenario}: lost {lost}, duplicated {duplicated}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or None)
    parser.add_argument("--outage", type=float, default=5.0, help="seconds each fault lasts")
    parser.add_argument("--rounds", type=int, default=2, help="burst rounds, each interleaved")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=" ".join(SCENARIOS))
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("needs --database-url postgres://… (or DATABASE_URL)")
    with harness.environment(args.database_url, args.redis_url, "WARNING", create=True) as env:
        bench = Bench(env)
        for name in args.scenarios.split(","):
            if name.startswith("redis") and not args.redis_url:
                print(f"== {name} skipped: no --redis-url")
                continue
            print(f"== {name}: {SCENARIOS[name]}")
            if name.startswith("burst"):
                bench.bursts(int(name.split("-")[1]), args.rounds if name == "burst-200" else 1)
            elif name == "bad-tokens":
                bench.bad_tokens()
            else:
                bench.outage(name, 12.0 if name == "pg-hang" else args.outage)
    return harness.finish(bench.broken, "FAILED: the contract was broken:")


if __name__ == "__main__":
    raise SystemExit(main())
