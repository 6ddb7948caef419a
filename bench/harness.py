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

__all__ = ["REPO_ROOT", "DaphneServer", "BenchFailed", "Child"]

# The service as the benchmarks run it: production's logging and no throttle in the way.
SERVICE_ENV = {
    "DEBUG": "0",
    "LOG_FORMAT": "json",
    "USER_THROTTLE_RATE": "100000000/minute",
    "LOGIN_THROTTLE_RATE": "100000000/minute",
}


class BenchFailed(Exception):
    """Setting up or running the benchmark failed; the message says what."""


def percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of an ascending list (NaN when empty)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def ratio(numerator: float, denominator: float | None) -> float:
    """numerator / denominator, NaN when the denominator is 0, None or NaN."""
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
def database(url: str | None, *, create: bool = False) -> Iterator[str]:
    """The service's DATABASE_URL: `url` as it is, a fresh SQLite file when None, or with
    `create` a database of its own next to the maintenance connection `url`, dropped at the end.
    """
    if url is None:
        with tempfile.TemporaryDirectory(prefix="cortex-bench-") as workdir:
            yield f"sqlite:///{workdir}/bench.sqlite3"
        return
    if not create:
        yield url
        return
    name = f"cortex_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: Mapping[str, str], *args: str, settings: str = "cortex.settings") -> str:
    """`manage.py ARGS` in the environment the server gets; returns its stdout."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT, env=server_environment(env, settings), capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode:
        raise BenchFailed(f"manage.py {' '.join(args)}: {result.stdout[-2000:]}{result.stderr}")
    return result.stdout


def migrated_token(
    env: Mapping[str, str], *, migrate: bool = True, settings: str = "cortex.settings"
) -> str:
    """Migrate (unless told not to), create the user `bench` if needed; its new API token."""
    if migrate:
        manage(env, "migrate", "--noinput", "-v", "0", settings=settings)
    output = manage(env, "demo_user", "--username", "bench", settings=settings)
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
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


def send(message: Mapping[str, Any]) -> None:  # a child's reply to its parent
    print(json.dumps(message), flush=True)


async def commands() -> AsyncIterator[dict[str, Any]]:
    """A child's commands from its parent, until its stdin closes."""
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        yield json.loads(line)


def finish(problems: list[str]) -> int:
    """Print the problems of a run under FAILED; the exit status (1 with problems)."""
    if problems:
        print("\nFAILED:\n" + "\n".join(f"  {problem}" for problem in problems))
    return 1 if problems else 0
