"""Node tests of the JavaScript clients against the real service (`node --test`, Node 20+).

The clients' tests are JavaScript, run by Node's own test runner with nothing installed from npm:
`errors`' client (tests/errors/js/, from tests/errors/test_client_js.py) and `eventstream`'s
EventStream (tests/eventstream/js/, from tests/eventstream/test_stream_js.py). `run_node_tests`
starts what they talk to and hands them the addresses and credentials in environment variables:

- `CORTEX_URL`: a daphne serving the test URLconf (the service plus the raising views under
  /t/) on the test's database, with Redis when REDIS_URL is set. Throttles are set high, so
  the many requests of one account are never refused; only 127.0.0.1 is an allowed host, so a
  request for `localhost` is a real `bad_request` (DisallowedHost); a stream may queue 2 chunks,
  so a client that stops reading is cut off (`stream_lagging`) soon.
- `CORTEX_DEGRADED_URL`: a second daphne on the same database whose Redis is a closed port
  (`redis_unavailable` when a stream opens) and which runs one request at a time and lets the
  next wait 1 s (`service_busy`).
- `CORTEX_ACCOUNTS`: users with a password and a token each (JSON); `CORTEX_EXPIRED_TOKEN`: a
  token that has expired (`token_expired`).
- `CORTEX_CATALOG`: every code of the catalog with its status, so the Node tests can check that
  each one the service can produce is decoded; `CORTEX_DB_VENDOR` and `CORTEX_DJANGO_VERSION`
  say which of them this database and this Django can produce.

The accounts are made by a separate process on the servers' database (`tests.support.accounts`:
the test's own database on PostgreSQL, a migrated file of its own on SQLite).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import django
from django.db import connection

from errors import catalog
from tests.conftest import require
from tests.support.accounts import forget_events, make_accounts
from tests.support.fixtures import DaphneFactory
from tests.support.servers import REPO_ROOT, current_database_url, free_port

ACCOUNTS = ("alice", "bob", "carol", "dave")
NODE_TIMEOUT = 300.0


def node_or_skip() -> str:
    """The `node` executable (Node 20 or later); fails under CI, skips elsewhere, without one."""
    node = shutil.which("node")
    version = ""
    if node:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    match = re.fullmatch(r"v(\d+)\..*", version)
    usable = node is not None and match is not None and int(match.group(1)) >= 20
    require("Node 20 or later", usable, f"found {version or 'no node'}")
    assert node is not None
    return node


def database_url(tmp_path: Path) -> str:
    """Where the servers keep their data: the test's PostgreSQL database, or a new SQLite file."""
    if connection.vendor == "postgresql":
        return current_database_url()
    return f"sqlite:///{tmp_path / 'cortex.sqlite3'}"


def run_node_tests(directory: Path, daphne_factory: DaphneFactory, tmp_path: Path) -> None:
    """Run the Node tests in `directory` against the servers the module docstring lists."""
    node = node_or_skip()
    url = database_url(tmp_path)
    made = make_accounts(url, ACCOUNTS, expired=True, settings_module="tests.settings")
    accounts = made.accounts
    user_ids = [int(account["id"]) for account in accounts.values()]
    redis_url = os.environ.get("REDIS_URL") or None
    forget_events(redis_url, user_ids)

    main_env = {
        "DATABASE_URL": url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "USER_THROTTLE_RATE": "100000/minute",
        "LOGIN_THROTTLE_RATE": "1000/minute",
        "SSE_HEARTBEAT_SECONDS": "1",
        "SSE_QUEUE_SIZE": "2",
        "SSE_REPLAY_BUFFER_SIZE": "8",
        # /t/db/unreachable waits this long for its pool on PostgreSQL (2 s by default).
        "DB_POOL_TIMEOUT": "1",
    }
    if redis_url:
        main_env["REDIS_URL"] = redis_url
    main = daphne_factory(main_env, "tests.settings")
    degraded = daphne_factory(
        {
            "DATABASE_URL": url,
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "MAX_CONCURRENT_REQUESTS": "1",
            "REQUEST_QUEUE_TIMEOUT": "1",
            # Writes without If-Match get 428 here (the main server lets them through).
            "REQUIRE_IF_MATCH": "true",
        },
        "tests.settings",
    )

    codes = [{"code": e.code, "status": e.status} for e in catalog.entries()]
    env = {
        **os.environ,
        "CORTEX_URL": main.url,
        "CORTEX_DEGRADED_URL": degraded.url,
        "CORTEX_ACCOUNTS": json.dumps(accounts),
        "CORTEX_EXPIRED_TOKEN": str(made.expired_token),
        "CORTEX_CATALOG": json.dumps(codes),
        "CORTEX_DB_VENDOR": connection.vendor,
        "CORTEX_DJANGO_VERSION": django.get_version(),
    }
    # One file at a time: several use the degraded server, which serves one request at a time.
    node_test(node, [directory], env, forget=(redis_url, user_ids), concurrency=1)


def node_test(
    node: str,
    paths: list[Path],
    env: dict[str, str],
    *,
    forget: tuple[str | None, list[int]],
    concurrency: int | None = None,
    timeout: float = NODE_TIMEOUT,
) -> None:
    """`node --test` on `paths`; fails with its output unless it passes at least one test.

    The Redis keys of the accounts' events (`forget`: the Redis URL and the user ids) are
    deleted afterwards, whatever happened.
    """
    options = [f"--test-concurrency={concurrency}"] if concurrency else []
    try:
        result = subprocess.run(
            [node, "--test", *options, "--test-reporter=spec", *map(str, paths)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        forget_events(*forget)
    print(result.stdout)
    print(result.stderr, file=sys.stderr)
    assert result.returncode == 0, f"node --test failed:\n{result.stdout}\n{result.stderr}"
    passed = re.search(r"\bpass (\d+)", result.stdout)
    assert passed is not None and int(passed.group(1)) > 0, "node found no tests"
