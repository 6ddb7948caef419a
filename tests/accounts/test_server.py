"""Hostile clients at the token endpoint, and a token's life, against a real daphne process.

The service runs as in production (`cortex.settings`, PBKDF2 password hashes) on the pytest
PostgreSQL database, with Redis when REDIS_URL is set; the tests commit their users
(transactional tests) so that the server sees them. Nothing is mocked: requests go over TCP
from 127.0.0.1, so different clients are told apart through `TRUSTED_PROXIES=127.0.0.1` and an
`X-Forwarded-For` that this test plays the proxy for.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken

from tests.accounts.clients import CHALLENGE
from tests.support.fixtures import DaphneFactory
from tests.support.servers import (
    REPO_ROOT,
    DaphneServer,
    current_database_url,
    server_environment,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TOKEN = "/api/auth/token/"
LOGOUT = "/api/auth/logout/"
LIST = "/api/workspaces/"
UNLIMITED = "100000/minute"


def make_user(username: str, password: str) -> User:
    """A committed user whose password the server can check (it does not know the tests' MD5)."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        return User.objects.create_user(username, password=password)


def service(start: DaphneFactory, **env: str) -> DaphneServer:
    """A server on the test database (and the tests' Redis database, when there is Redis)."""
    base = {
        "DATABASE_URL": current_database_url(),
        "LOGIN_THROTTLE_RATE": UNLIMITED,
        "USER_THROTTLE_RATE": UNLIMITED,
    }
    if os.environ.get("REDIS_URL"):
        # The database the tests' cache uses, which each test starts with empty.
        base["REDIS_URL"] = str(settings.CACHES["default"]["LOCATION"])
    return start({**base, **env})


def login(
    server: DaphneServer, password: str, *, username: str = "alice", via: str | None = None
) -> httpx.Response:
    """POST credentials; `via`: the X-Forwarded-For the request arrives with."""
    headers = {} if via is None else {"X-Forwarded-For": via}
    return httpx.post(
        server.url + TOKEN,
        json={"username": username, "password": password},
        headers=headers,
        timeout=30,
    )


def get_list(server: DaphneServer, token: str) -> httpx.Response:
    return httpx.get(server.url + LIST, headers={"Authorization": f"Token {token}"}, timeout=10)


def token_from(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def assert_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(response.headers["Retry-After"]) >= 1


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


# --- client identity for the per-address throttle --------------------------------------------


def test_a_new_x_forwarded_for_each_time_does_not_escape_the_throttle(
    daphne_factory: DaphneFactory,
) -> None:
    make_user("alice", "alice-password")
    server = service(daphne_factory, LOGIN_THROTTLE_RATE="5/minute")
    responses = [login(server, "wrong", via=f"198.51.100.{n}") for n in range(8)]
    assert [r.status_code for r in responses] == [401] * 5 + [429] * 3
    assert_429(responses[-1])
    # Refused before the password is checked: the right one is refused too.
    assert_429(login(server, "alice-password", via="198.51.100.77"))


def test_behind_a_trusted_proxy_the_forwarded_client_is_throttled(
    daphne_factory: DaphneFactory,
) -> None:
    make_user("alice", "alice-password")
    server = service(daphne_factory, LOGIN_THROTTLE_RATE="3/minute", TRUSTED_PROXIES="127.0.0.1")
    # The proxy appends the address it saw; what the client wrote before it does not count.
    attacker = [login(server, "wrong", via=f"6.6.6.{n}, 198.51.100.1") for n in range(4)]
    assert [r.status_code for r in attacker] == [401, 401, 401, 429]
    # Another client behind the same proxy has its own allowance.
    assert login(server, "wrong", via="198.51.100.2").status_code == 401
    assert token_from(login(server, "alice-password", via="198.51.100.2"))


# --- the per-account bound -------------------------------------------------------------------


def test_an_account_under_attack_stays_open_to_its_owner(daphne_factory: DaphneFactory) -> None:
    make_user("alice", "alice-password")
    server = service(
        daphne_factory,
        TRUSTED_PROXIES="127.0.0.1",
        LOGIN_ACCOUNT_FAILURES="3",
        LOGIN_ACCOUNT_WINDOW="600",
    )
    attackers = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
    assert [login(server, "guess-1", via=a).status_code for a in attackers] == [401] * 3
    # The account is locked for addresses that have failed: not even the password is checked.
    refused = login(server, "alice-password", via="203.0.113.1")
    assert_429(refused)
    assert refused.json()["error"]["details"]["retry_after"] == int(refused.headers["Retry-After"])
    assert int(refused.headers["Retry-After"]) <= 600
    # A fresh address gets one guess, then it is refused too.
    assert login(server, "guess-2", via="203.0.113.4").status_code == 401
    assert_429(login(server, "alice-password", via="203.0.113.4"))
    # The owner, from an address without failures, gets in.
    token = token_from(login(server, "alice-password", via="192.0.2.10"))
    assert get_list(server, token).status_code == 200

    records = [r for r in server.log_records() if r.get("logger") == "accounts"]
    assert len(records) == 1, records
    assert records[0]["level"] == "WARNING"
    assert records[0]["username"] == "alice"
    output = server.output()
    for password in ("guess-1", "guess-2", "alice-password"):
        assert password not in output


@pytest.mark.redis
def test_every_process_shares_the_failure_counts(daphne_factory: DaphneFactory) -> None:
    make_user("alice", "alice-password")
    env = {"TRUSTED_PROXIES": "127.0.0.1", "LOGIN_ACCOUNT_FAILURES": "2"}
    first, second = service(daphne_factory, **env), service(daphne_factory, **env)
    assert login(first, "wrong", via="203.0.113.1").status_code == 401
    assert login(second, "wrong", via="203.0.113.2").status_code == 401
    assert_429(login(first, "alice-password", via="203.0.113.2"))
    assert_429(login(second, "alice-password", via="203.0.113.1"))
    assert token_from(login(second, "alice-password", via="192.0.2.10"))


# --- the token's life ------------------------------------------------------------------------


def test_the_life_of_a_token(daphne_factory: DaphneFactory) -> None:
    alice = make_user("alice", "alice-password")
    server = service(daphne_factory, TOKEN_LIMIT_PER_USER="3")

    # Each login: a new token, and all of them work.
    first, second = (token_from(login(server, "alice-password")) for _ in range(2))
    assert first != second
    assert [get_list(server, t).status_code for t in (first, second)] == [200, 200]

    # The database holds hashes only.
    table = connection.ops.quote_name(AuthToken._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        stored = [str(value) for row in cursor.fetchall() for value in row]
    assert stored and not any(key in value for key in (first, second) for value in stored)

    # At most three per user: the oldest goes.
    third, fourth = (token_from(login(server, "alice-password")) for _ in range(2))
    assert [get_list(server, t).status_code for t in (first, second, third, fourth)] == [
        401,
        200,
        200,
        200,
    ]

    # Logout revokes the calling token only.
    logout = httpx.post(server.url + LOGOUT, headers={"Authorization": f"Token {second}"})
    assert logout.status_code == 204
    assert logout.content == b""
    assert [get_list(server, t).status_code for t in (second, third, fourth)] == [401, 200, 200]

    # An expired token: 401 token_expired.
    AuthToken.objects.filter(digest=hash_token(third)).update(
        created=timezone.now() - timedelta(days=2)
    )
    expired = get_list(server, third)
    assert expired.status_code == 401
    assert expired.headers["WWW-Authenticate"] == CHALLENGE
    assert expired.json()["error"]["code"] == "token_expired"
    assert expired.json()["error"]["message"] == "Token has expired"

    # A password change revokes them all.
    user = User.objects.get(pk=alice.pk)
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        user.set_password("a-new-passphrase")
        user.save()
    refused = get_list(server, fourth)
    assert refused.status_code == 401
    assert error_code(refused) == "authentication_error"
    assert login(server, "alice-password").status_code == 401
    assert get_list(server, token_from(login(server, "a-new-passphrase"))).status_code == 200


def test_the_demo_user_command_prints_a_token_that_the_server_accepts(
    daphne_factory: DaphneFactory,
) -> None:
    environment = server_environment({"DATABASE_URL": current_database_url()})
    printed = subprocess.run(
        [sys.executable, "manage.py", "demo_user"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    token = printed.split("API token: ", 1)[1].split()[0]
    server = service(daphne_factory)
    assert get_list(server, token).status_code == 200
    assert token_from(login(server, "demo-password", username="demo"))
