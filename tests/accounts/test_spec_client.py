"""The design document's own `ApiClient` (tests/accounts/js/spec_client.mjs) against the service.

The client sends `Authorization: Bearer <token>`. Its Node test (tests/accounts/js/, Node's own
test runner, nothing from npm) drives it through a workspace's life against a daphne serving the
service as in production (`cortex.settings`), on the test's database (PostgreSQL) or a migrated
SQLite file of its own, with Redis when REDIS_URL is set. The test gets the address in
`CORTEX_URL` and the account (`alice`, a password, a token) in `CORTEX_ACCOUNTS`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.accounts import forget_events, make_accounts
from tests.support.fixtures import DaphneFactory
from tests.support.node import database_url, node_or_skip, node_test
from tests.support.servers import REPO_ROOT

pytestmark = [pytest.mark.django_db(transaction=True)]

JS_TESTS = REPO_ROOT / "tests" / "accounts" / "js"
NODE_TIMEOUT = 120.0


def test_the_design_documents_client_against_the_service(
    daphne_factory: DaphneFactory, tmp_path: Path
) -> None:
    node = node_or_skip()
    url = database_url(tmp_path)
    accounts = make_accounts(url, ("alice",)).accounts
    user_ids = [int(account["id"]) for account in accounts.values()]
    redis_url = os.environ.get("REDIS_URL") or None
    forget_events(redis_url, user_ids)

    server_env = {
        "DATABASE_URL": url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "USER_THROTTLE_RATE": "100000/minute",
        "LOGIN_THROTTLE_RATE": "1000/minute",
    }
    if redis_url:
        server_env["REDIS_URL"] = redis_url
    server = daphne_factory(server_env)
    env = {**os.environ, "CORTEX_URL": server.url, "CORTEX_ACCOUNTS": json.dumps(accounts)}
    node_test(node, [JS_TESTS], env, forget=(redis_url, user_ids), timeout=NODE_TIMEOUT)
