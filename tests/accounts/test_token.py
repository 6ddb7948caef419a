"""`POST /api/auth/token/`: credentials in, token out; throttled per client address."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

URL = "/api/auth/token/"


def login(client: APIClient, password: str) -> Any:
    """POST alice's credentials as JSON."""
    return client.post(URL, {"username": "alice", "password": password}, format="json")


@pytest.fixture
def alice(db: Any) -> User:
    return User.objects.create_user("alice", password="alice-password")


def test_credentials_give_a_token_that_works(alice: User) -> None:
    response = login(APIClient(), "alice-password")
    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=alice).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/workspaces/").status_code == 200


def test_the_same_token_until_it_expires_then_a_new_one(alice: User, settings: Any) -> None:
    settings.TOKEN_TTL = 60
    client = APIClient()
    first = login(client, "alice-password").json()["token"]
    again = login(client, "alice-password").json()["token"]
    assert again == first
    Token.objects.filter(key=first).update(created=timezone.now() - timedelta(seconds=120))
    renewed = login(client, "alice-password").json()["token"]
    assert renewed != first
    assert not Token.objects.filter(key=first).exists()


def test_wrong_password_is_401(alice: User) -> None:
    response = login(APIClient(), "nope")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "authentication_error"
    assert error["message"] == "Unable to log in with the provided credentials."
    assert "alice-password" not in response.content.decode()


def test_missing_fields_are_400(db: Any) -> None:
    response = APIClient().post(URL, {}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field_errors"] == {
        "username": ["This field is required."],
        "password": ["This field is required."],
    }


def test_token_requests_are_throttled_per_address(alice: User, settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "2/minute", "user": "100/minute"},
    }
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    for _ in range(2):
        assert login(client, "x").status_code == 401
    response = login(client, "alice-password")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(response["Retry-After"]) >= 1
    # Another address is not affected.
    other = APIClient(REMOTE_ADDR="203.0.113.8")
    assert login(other, "alice-password").status_code == 200


@pytest.mark.redis
def test_throttle_counters_live_in_redis(alice: User, settings: Any, redis_url: str) -> None:
    import redis

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "1/minute", "user": "100/minute"},
    }
    login(APIClient(REMOTE_ADDR="198.51.100.1"), "x")
    cache_url = settings.CACHES["default"]["LOCATION"]
    keys = redis.Redis.from_url(cache_url).keys("*throttle_login_198.51.100.1*")
    assert len(keys) == 1


def test_demo_user_command_is_idempotent(db: Any) -> None:
    outputs = []
    for _ in range(2):
        out = StringIO()
        call_command("demo_user", stdout=out)
        outputs.append(out.getvalue())
    token = Token.objects.get(user__username="demo").key
    assert all(f"API token: {token}" in output for output in outputs)
    assert User.objects.filter(username="demo").count() == 1
