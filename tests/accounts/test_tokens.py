"""API tokens (accounts/tokens.py): a new one per login, only its hash stored, at most
TOKEN_LIMIT_PER_USER per user, each working for TOKEN_TTL and never past its stored expiry.

The token endpoint's throttle and the `demo_user` command, which issue tokens, are here too; how
a token is checked on a request is in test_authentication.py, the endpoints in test_views.py.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.accounts.clients import LIST, api, login, status_with, token_of

pytestmark = pytest.mark.django_db


def test_each_login_gets_a_new_token_and_all_of_them_work(alice: User) -> None:
    first, second = token_of(), token_of()
    assert first != second
    assert status_with(first) == 200
    assert status_with(second) == 200


def test_the_database_holds_no_token_in_plain_text(alice: User) -> None:
    keys = [token_of(), token_of()]
    table = connection.ops.quote_name(AuthToken._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # every column of every row
        values = [str(value) for row in cursor.fetchall() for value in row]
    assert len(values) == 2 * len(AuthToken._meta.concrete_fields)
    for key in keys:
        assert not any(key in value for value in values), key


def test_a_login_beyond_the_limit_deletes_the_oldest_token(alice: User, settings: Any) -> None:
    settings.TOKEN_LIMIT_PER_USER = 3
    tokens = [token_of() for _ in range(5)]
    assert [status_with(token) for token in tokens] == [401, 401, 200, 200, 200]
    assert AuthToken.objects.filter(user=alice).count() == 3
    response = api(tokens[0]).get(LIST)
    assert response.json()["error"]["code"] == "authentication_error"
    assert response.json()["error"]["message"] == "Invalid token."


def test_a_lower_token_ttl_shortens_tokens_already_issued(alice: User, settings: Any) -> None:
    settings.TOKEN_TTL = 3600
    token = token_of()
    AuthToken.objects.update(created=timezone.now() - timedelta(seconds=120))
    assert status_with(token) == 200
    settings.TOKEN_TTL = 60
    assert api(token).get(LIST).json()["error"]["code"] == "token_expired"


def test_the_stored_expiry_bounds_a_token_too(alice: User) -> None:
    token = token_of()
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    assert api(token).get(LIST).json()["error"]["code"] == "token_expired"


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


def test_a_new_x_forwarded_for_each_time_is_still_one_client(alice: User, settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "5/minute", "user": "100/minute"},
    }
    statuses = [
        login(
            APIClient(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"), "wrong"
        ).status_code
        for n in range(8)
    ]
    assert statuses == [401] * 5 + [429] * 3
    # Nor does naming someone else's address lock them out.
    victim = APIClient(REMOTE_ADDR="198.51.100.1")
    assert login(victim, "alice-password").status_code == 200


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


def test_demo_user_command_prints_a_working_token_each_time(db: Any) -> None:
    tokens = []
    for _ in range(2):
        out = StringIO()
        call_command("demo_user", stdout=out)
        tokens.append(out.getvalue().split("API token: ", 1)[1].split()[0])
    assert tokens[0] != tokens[1]
    assert [status_with(token) for token in tokens] == [200, 200]
    assert User.objects.filter(username="demo").count() == 1
    assert login(APIClient(), "demo-password", username="demo").status_code == 200
