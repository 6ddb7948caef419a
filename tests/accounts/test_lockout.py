"""Password guessing per account: bounded, without a stranger locking the owner out.

LOGIN_ACCOUNT_FAILURES wrong passwords for an account within LOGIN_ACCOUNT_WINDOW seconds lock
it for every address that has failures of its own; an address without failures is still
checked, and the owner's right password from there succeeds.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.conftest import JsonLog

pytestmark = pytest.mark.django_db

URL = "/api/auth/token/"


def attempt(address: str, password: str, username: str = "alice") -> Any:
    client = APIClient(REMOTE_ADDR=address)
    return client.post(URL, {"username": username, "password": password}, format="json")


@pytest.fixture
def alice(db: Any) -> User:
    return User.objects.create_user("alice", password="alice-password")


@pytest.fixture(autouse=True)
def _bounds(settings: Any) -> None:
    settings.LOGIN_ACCOUNT_FAILURES = 3
    settings.LOGIN_ACCOUNT_WINDOW = 600
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "1000/minute", "user": "1000/minute"},
    }


def lock_alice(addresses: list[str], password: str = "wrong") -> None:
    for address in addresses:
        assert attempt(address, password).status_code == 401


def assert_locked_out(response: Any) -> None:
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert error["message"] == "Too many failed logins for this account; try again later."
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 600
    assert error["details"]["retry_after"] == retry_after


def test_addresses_with_failures_are_refused_once_the_account_has_enough(alice: User) -> None:
    lock_alice(["203.0.113.1", "203.0.113.2", "203.0.113.3"])
    for address in ("203.0.113.1", "203.0.113.3"):
        assert_locked_out(attempt(address, "wrong"))
        # Not even checked: the right password from there is refused too.
        assert_locked_out(attempt(address, "alice-password"))
    assert not AuthToken.objects.exists()


def test_an_address_with_failures_for_another_account_is_refused_too(alice: User) -> None:
    lock_alice(["203.0.113.1", "203.0.113.2", "203.0.113.3"])
    assert attempt("198.51.100.9", "wrong", username="bob").status_code == 401
    assert_locked_out(attempt("198.51.100.9", "alice-password"))


def test_a_fresh_address_is_still_checked_and_the_owner_gets_in(alice: User) -> None:
    lock_alice(["203.0.113.1", "203.0.113.2", "203.0.113.3"])
    # A stranger's fresh address gets one guess, then it has failures of its own.
    assert attempt("203.0.113.4", "wrong").status_code == 401
    assert_locked_out(attempt("203.0.113.4", "alice-password"))
    # The owner, from an address without failures, logs in.
    response = attempt("198.51.100.20", "alice-password")
    assert response.status_code == 200
    assert response.json()["token"]


def test_below_the_bound_the_right_password_works_anywhere(alice: User) -> None:
    lock_alice(["203.0.113.1", "203.0.113.1"])
    assert attempt("203.0.113.1", "alice-password").status_code == 200


def test_other_accounts_are_not_affected(alice: User) -> None:
    User.objects.create_user("bob", password="bob-password")
    lock_alice(["203.0.113.1", "203.0.113.2", "203.0.113.3"])
    assert attempt("203.0.113.1", "bob-password", username="bob").status_code == 200


def test_unknown_usernames_are_counted_the_same(db: Any) -> None:
    for _ in range(3):
        assert attempt("203.0.113.1", "x", username="nobody").status_code == 401
    assert_locked_out(attempt("203.0.113.1", "x", username="nobody"))


def test_the_username_is_counted_without_regard_to_case(alice: User) -> None:
    for name in ("alice", "ALICE", "Alice"):
        assert attempt("203.0.113.1", "wrong", username=name).status_code == 401
    assert_locked_out(attempt("203.0.113.1", "alice-password"))


def test_the_lock_ends_with_the_window(alice: User, settings: Any) -> None:
    settings.LOGIN_ACCOUNT_WINDOW = 1
    lock_alice(["203.0.113.1", "203.0.113.2", "203.0.113.3"])
    response = attempt("203.0.113.1", "alice-password")
    assert_locked_out(response)
    assert response["Retry-After"] == "1"
    time.sleep(1.1)
    assert attempt("203.0.113.1", "alice-password").status_code == 200


def test_a_lockout_is_logged_once_without_the_password(alice: User, json_log: JsonLog) -> None:
    lock_alice(["203.0.113.1", "203.0.113.2", "203.0.113.3"], password="guessed-secret")
    attempt("203.0.113.4", "guessed-secret")
    attempt("203.0.113.1", "alice-password")
    records = [r for r in json_log.records() if r["logger"] == "accounts"]
    assert len(records) == 1, records
    (record,) = records
    assert record["level"] == "WARNING"
    assert record["username"] == "alice"
    assert record["client_address"] == "203.0.113.3"
    assert record["failures"] == 3
    assert "locked" in record["message"]
    text = json_log.stream.getvalue()
    assert "guessed-secret" not in text
    assert "alice-password" not in text


@pytest.mark.redis
def test_the_counts_live_in_redis(alice: User, settings: Any, redis_url: str) -> None:
    import redis

    lock_alice(["203.0.113.1"])
    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    assert len(client.keys("*login_failures:account:*")) == 2  # the count and its window's end
    assert len(client.keys("*login_failures:address:203.0.113.1*")) == 2


def test_while_redis_is_down_failures_are_counted_in_the_process(
    alice: User, settings: Any
) -> None:
    from tests.support.servers import free_port

    settings.CACHES = {  # a Redis that refuses every connection
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    lock_alice(["203.0.113.1", "203.0.113.2", "203.0.113.3"])
    assert_locked_out(attempt("203.0.113.1", "alice-password"))
    assert attempt("203.0.113.9", "alice-password").status_code == 200
