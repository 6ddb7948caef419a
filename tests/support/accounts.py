"""Accounts made by a separate process on the database a test's servers use.

On SQLite the test database lives in the test process's memory, so a real server needs a
database file of its own, migrated and with the test's accounts in it; on PostgreSQL the
servers share the test's database, where a transactional test's flush removes the accounts
again. Either way the accounts are made by `python -m tests.support.accounts` with DATABASE_URL
set, which migrates (a no-op on a migrated database), makes each user with a password
(`<name>-password`) and a token, optionally one more user whose only token has expired, and
prints them as JSON. `make_accounts()` runs it and reads the answer.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
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
