"""Accounts made by a separate process on the database a test's servers use.

On SQLite the test database lives in the test process's memory, so a real server needs a
database file of its own, migrated and with the test's accounts in it; on PostgreSQL the
servers share the test's database, where a transactional test's flush removes the accounts
again. Either way the accounts are made by `python -m tests.support.accounts` with DATABASE_URL
set, which migrates (a no-op on a migrated database), makes each user with a password
(`<name>-password`) and a token, optionally one more user whose only token has expired, and
prints them as JSON. `make_accounts()` runs it and reads the answer.

User ids repeat between runs (each test database starts its sequences again), and so would the
Redis keys of a previous run's users: `forget_events()` deletes them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tests.support.servers import REPO_ROOT, server_environment


@dataclass(frozen=True)
class Made:
    """What the process made: by name, {"id", "password", "token"}; the expired token if asked."""

    accounts: dict[str, dict[str, Any]]
    expired_token: str | None


def make_accounts(
    database_url: str,
    names: tuple[str, ...],
    *,
    expired: bool = False,
    settings_module: str = "cortex.settings",
) -> Made:
    """Make `names` (and with `expired`, a user `expired`) on `database_url`, in a new process."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.accounts",
            *(["--expired"] if expired else []),
            *names,
        ],
        cwd=REPO_ROOT,
        env=server_environment({"DATABASE_URL": database_url}, settings_module),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout.strip().splitlines()[-1])
    return Made(made["accounts"], made["expired_token"])


def group_key(user_id: int) -> str:
    """Where channels_redis keeps the members of `workspaces.owner.<id>` (prefix "asgi")."""
    return f"asgi:group:workspaces.owner.{user_id}"


def replay_key(user_id: int) -> str:
    """The user's replay buffer of workspace events."""
    return f"cortex:workspace-events:{user_id}"


def forget_events(redis_url: str | None, user_ids: Iterable[int], *more_keys: str) -> None:
    """Delete the group and the replay buffer of each user's events (and `more_keys`) in Redis;
    nothing without a Redis URL."""
    if not redis_url:
        return
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        keys = [key for user_id in user_ids for key in (group_key(user_id), replay_key(user_id))]
        client.delete(*keys, *more_keys)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--expired", action="store_true", help="also a user with an expired token")
    parser.add_argument("names", nargs="+")
    args = parser.parse_args()

    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from knox.models import AuthToken

    from accounts.tokens import issue_token

    call_command("migrate", verbosity=0)
    accounts = {}
    for name in args.names:
        user = User.objects.create_user(name, password=f"{name}-password")
        token = issue_token(user).key
        accounts[name] = {"id": user.pk, "password": f"{name}-password", "token": token}
    expired_token = None
    if args.expired:
        expired = issue_token(User.objects.create_user("expired", password="expired-password"))
        AuthToken.objects.filter(digest=expired.token.digest).update(
            expiry=timezone.now() - timedelta(seconds=1)
        )
        expired_token = expired.key
    connection.close()
    print(json.dumps({"accounts": accounts, "expired_token": expired_token}))


if __name__ == "__main__":
    main()
