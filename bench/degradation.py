"""Degradation bench: what clients get while PostgreSQL or Redis fails, and how fast it recovers.

Run from the repository root (PostgreSQL required; Redis for the Redis scenarios)::

    .venv/bin/python -m bench.degradation --database-url postgres://…/postgres \
        [--redis-url redis://127.0.0.1:6379/0] [--outage 5] [--rounds 2] [--scenarios a,b]

The database URL is a maintenance connection: the bench creates a database of its own next to it
(migrated, with one user and token) and drops it at the end. Each scenario starts the real service
in daphne (bench/harness.py), with PostgreSQL or Redis behind a `TcpProxy`
(tests/support/tcp_proxy.py) where the scenario needs one, and drives it with the fault-injection
suite's load (tests/support/faults.py): six clients reading and creating workspaces.

Scenarios:

  burst-200     200 list requests at once, pool of 10; also with the limit lifted
                (MAX_CONCURRENT_REQUESTS=1000), the baseline that shows what the limit buys
  burst-500     the same with 500
  bad-tokens    200 requests with bogus tokens and 20 of a real user, at once
  pg-refuse     PostgreSQL refuses connections for --outage seconds
  pg-hang       PostgreSQL connections hang (open, nothing forwarded) for --outage seconds, with
                the default DB_CLIENT_TIMEOUT of 10 s (a 12 s hang, so requests meet the bound)
  redis-refuse  Redis refuses connections (needs --redis-url)
  redis-hang    Redis connections hang (needs --redis-url)

For each it prints the answers by status and code, p50/p99/slowest seconds, per phase (before,
during and after the fault), the seconds until the first acknowledged write after the link
returned, and acknowledged writes lost. Burst rounds alternate with and without the limit
(--rounds of each), so both meet the same noise. Nothing timed is asserted; the exit status is 1
when a scenario broke the contract (a 500, an unanswered request, a 503 without Retry-After, a lost
write), 0 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.harness import DaphneServer, database, migrated_token
from tests.support.faults import Answer, Load, PhaseReport, burst, summary
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
SERVICE_ENV = {"USER_THROTTLE_RATE": "100000000/minute", "LOG_LEVEL": "WARNING"}


class Bench:
    """The bench's database, its user, and the scenarios' shared plumbing."""

    def __init__(self, database_url: str, redis_url: str | None, outage: float) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.outage = outage
        self.token = ""
        self.broken: list[str] = []

    # --- the service ---------------------------------------------------------------------------

    def url_through(self, url: str, proxy: TcpProxy | None) -> str:
        if proxy is None:
            return url
        credentials, _, _host = urlsplit(url).netloc.rpartition("@")
        host = f"127.0.0.1:{proxy.port}"
        netloc = f"{credentials}@{host}" if credentials else host
        return urlunsplit(urlsplit(url)._replace(netloc=netloc))

    @contextmanager
    def service(
        self,
        env: dict[str, str] | None = None,
        *,
        db_proxy: TcpProxy | None = None,
        redis_proxy: TcpProxy | None = None,
    ) -> Iterator[DaphneServer]:
        full = {**SERVICE_ENV, "DATABASE_URL": self.url_through(self.database_url, db_proxy)}
        if self.redis_url:
            full["REDIS_URL"] = self.url_through(self.redis_url, redis_proxy)
        full.update(env or {})
        with DaphneServer(full) as server:
            yield server

    def stored_names(self) -> list[str]:
        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute("SELECT name FROM workspaces_workspace").fetchall()
        return [row[0] for row in rows]

    # --- reporting -----------------------------------------------------------------------------

    def check(self, scenario: str, report: PhaseReport) -> None:
        if report.server_errors() or report.unavailable_without_retry_after():
            self.broken.append(f"{scenario}: {summary(report)}")

    def print_burst(self, scenario: str, answers: list[Answer], judged: bool = True) -> None:
        report = PhaseReport(scenario, answers)
        print("  " + summary(report))
        if judged:
            self.check(scenario, report)

    def print_load(self, scenario: str, load: Load, recovered: float | None) -> None:
        for phase in load.phases():
            print("  " + summary(phase))
            self.check(f"{scenario} {phase.name}", phase)
        lost, duplicated = load.lost_writes(self.stored_names())
        acknowledged = len(load.acknowledged_writes())
        after = "never" if recovered is None else f"{recovered:.2f} s"
        print(
            f"  first acknowledged write after the link returned: {after}; acknowledged writes "
            f"{acknowledged}, lost {len(lost)}, stored twice {len(duplicated)}"
        )
        if lost or duplicated or recovered is None:
            self.broken.append(f"{scenario}: lost {lost}, duplicated {duplicated}")

    # --- scenarios -----------------------------------------------------------------------------

    def bursts(self, size: int, rounds: int) -> None:
        headers = {"Authorization": f"Token {self.token}"}
        for round_number in range(1, rounds + 1):
            for label, limit in (("limited", None), ("unlimited", "1000")):
                env = {"MAX_CONCURRENT_REQUESTS": limit} if limit else {}
                with self.service(env) as server:
                    answers = burst(server.url, [(LIST, headers)] * size)
                # The baseline is expected to fail; only the limit is judged.
                self.print_burst(f"burst-{size} {label} (round {round_number})", answers, not limit)

    def bad_tokens(self) -> None:
        flood = [(LIST, {"Authorization": f"Token {uuid.uuid4().hex * 2}"})] * 200
        mine = [(LIST, {"Authorization": f"Token {self.token}"})] * 20
        with self.service() as server:
            answers = burst(server.url, flood[:100] + mine + flood[100:])
        self.print_burst("the user's 20", answers[100:120])
        self.print_burst("200 bad tokens", answers[:100] + answers[120:])

    def outage_under_load(
        self, scenario: str, target: str, fault: str, env: dict[str, str], seconds: float
    ) -> None:
        host, port = _host_port(self.database_url if target == "pg" else str(self.redis_url))
        with TcpProxy(host, port) as proxy:
            proxies = {"db_proxy": proxy} if target == "pg" else {"redis_proxy": proxy}
            with self.service(env, **proxies) as server:
                load = Load(server.url, self.token, clients=6)
                start: Callable[[], None] = proxy.cut if fault == "refuse" else proxy.hang
                stop: Callable[[], None] = proxy.restore if fault == "refuse" else proxy.resume
                with load.running():
                    time.sleep(1.0)
                    load.mark("fault")
                    start()
                    time.sleep(seconds)
                    stop()
                    load.mark("recovery")
                    recovered = load.wait_for_success(timeout=30.0)
                    time.sleep(1.0)
        self.print_load(scenario, load, recovered)


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (5432 if "postgres" in url else 6379)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or None)
    parser.add_argument("--outage", type=float, default=5.0, help="seconds each fault lasts")
    parser.add_argument("--rounds", type=int, default=2, help="burst rounds, each interleaved")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated: " + " ".join(SCENARIOS)
    )
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        print("degradation: needs --database-url postgres://… (or DATABASE_URL)")
        return 2

    with database(args.database_url, create=True) as url:
        bench = Bench(url, args.redis_url, args.outage)
        bench.token = migrated_token({"DATABASE_URL": url})
        wanted = args.scenarios.split(",")
        for name in wanted:
            if name.startswith("redis") and not args.redis_url:
                print(f"== {name} skipped: no --redis-url")
                continue
            print(f"== {name}: {SCENARIOS[name]}")
            if name.startswith("burst"):
                bench.bursts(int(name.split("-")[1]), args.rounds if name == "burst-200" else 1)
            elif name == "bad-tokens":
                bench.bad_tokens()
            else:
                target, fault = name.split("-")
                seconds = 12.0 if name == "pg-hang" else args.outage
                bench.outage_under_load(name, target, fault, {}, seconds)

    if bench.broken:
        print("FAILED: the contract was broken:")
        for line in bench.broken:
            print("  " + line)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
