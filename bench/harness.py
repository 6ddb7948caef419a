"""What the benchmarks share: the tests' `DaphneServer` (tests/support/servers.py), a database,
child processes driven by JSON lines (a command on stdin, a reply on stdout), figures."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.support.servers import REPO_ROOT, DaphneServer, server_environment

__all__ = ["DaphneServer", "BenchFailed", "Child"]


class BenchFailed(Exception):
    """Setting up or running the benchmark failed; the message says what."""


def summary(values: list[float], percents: tuple[int, ...] = (50, 99)) -> dict[str, float]:
    """The nearest-rank percentiles of `values` ("p50": …) and their "max"; NaN when empty."""
    ordered = sorted(values) or [math.nan]
    ranked = {f"p{p}": ordered[math.ceil(p / 100 * len(ordered)) - 1] for p in percents}
    return ranked | {"max": ordered[-1]}


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is 0 or NaN."""
    return numerator / denominator if denominator and not math.isnan(denominator) else math.nan


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` (all its threads) so far, from /proc."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()  # the name before ")" may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@contextmanager
def environment(
    url: str | None, redis_url: str | None, log_level: str, create: bool = False
) -> Iterator[dict[str, str]]:
    """The service's environment as the benchmarks run it: production's logging, no throttle in
    the way, REDIS_URL if given; DATABASE_URL is `url` as it is, a fresh SQLite file when None, or
    with `create` a database of its own next to the maintenance connection `url`, dropped at the
    end."""
    env = {"DEBUG": "0", "LOG_FORMAT": "json", "LOG_LEVEL": log_level}
    env.update(USER_THROTTLE_RATE="100000000/minute", LOGIN_THROTTLE_RATE="100000000/minute")
    env.update({"REDIS_URL": redis_url} if redis_url else {})
    if url is None:
        with tempfile.TemporaryDirectory(prefix="cortex-bench-") as workdir:
            yield env | {"DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3"}
    elif not create:
        yield env | {"DATABASE_URL": url}
    else:
        name = f"cortex_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
            try:
                yield env | {"DATABASE_URL": urlunsplit(urlsplit(url)._replace(path=f"/{name}"))}
            finally:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: Mapping[str, str], *args: str) -> str:
    """`manage.py ARGS` in the environment the server gets; returns its stdout."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT, env=server_environment(env), capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode:
        raise BenchFailed(f"manage.py {' '.join(args)}: {result.stdout[-2000:]}{result.stderr}")
    return result.stdout


def migrated_token(env: Mapping[str, str], *, migrate: bool = True) -> str:
    """Migrate (unless told not to), create the user `bench` if needed; its new API token."""
    if migrate:
        manage(env, "migrate", "--noinput", "-v", "0")
    output = manage(env, "demo_user", "--username", "bench")
    match = re.search(r"API token: (\w+)", output)
    if match is None:
        raise BenchFailed("manage.py demo_user printed no token")
    return match.group(1)


def server_output(server: DaphneServer) -> list[str]:
    return server.stdout_lines() + server.stderr_lines()


def last_output(server: DaphneServer) -> str:
    """The end of the server's output, for a problem's message."""
    return "last server output:\n" + "\n".join(server_output(server)[-30:])


def fmt(value: float | None, spec: str = "") -> str:
    """`value` formatted with `spec`, n/a when it is None or NaN."""
    return "n/a" if value is None or value != value else format(value, spec)


def run(bench: Callable[[], int], child: Callable[[dict[str, Any]], object]) -> NoReturn:
    """A benchmark's entry point: `python -m bench.NAME` runs `bench`; the same module started by
    `Child` (`--child CONFIG`) runs `child` with the config."""
    if sys.argv[1:2] == ["--child"]:
        child(json.loads(sys.argv[2]))
        raise SystemExit(0)
    raise SystemExit(bench())


class Child:
    """`python -m MODULE --child CONFIG` (see `run`), driven by JSON lines; other lines it prints
    go to stderr."""

    def __init__(self, module: str, **config: Any) -> None:
        self.module = module
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "--child", json.dumps(config)],
            cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def reply(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                message: dict[str, Any] = json.loads(line)
                if "fatal" in message:
                    raise BenchFailed(f"{self.module}: {message['fatal']}")
                return message
            print(f"[{self.module}] {line.rstrip()}", file=sys.stderr)
        raise BenchFailed(f"{self.module} exited with status {self.process.wait()}")

    def call(self, op: str, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **command}) + "\n")
        self.process.stdin.flush()
        return self.reply()

    def close(self) -> None:
        try:
            self.process.communicate(timeout=15)  # closes its stdin: the child ends
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def send(message: Mapping[str, Any]) -> None:  # a child's reply to its parent
    print(json.dumps(message), flush=True)


async def commands() -> AsyncIterator[dict[str, Any]]:
    """A child's commands from its parent, until its stdin closes."""
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        yield json.loads(line)


def finish(problems: list[str], heading: str = "\nFAILED:") -> int:
    """Print the problems of a run under `heading`; the exit status (1 with problems)."""
    if problems:
        print("\n".join([heading, *(f"  {problem}" for problem in problems)]))
    return 1 if problems else 0
