"""`POST /api/auth/token/` and `POST /api/auth/logout/`: the life of an API token.

A login issues a new token, only its hash is stored, a user holds at most TOKEN_LIMIT_PER_USER,
each expires after TOKEN_TTL (401 `token_expired`), logout revokes the calling one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

URL = "/api/auth/token/"
LOGOUT = "/api/auth/logout/"
LIST = "/api/workspaces/"


def login(client: APIClient, password: str, username: str = "alice") -> Any:
    """POST credentials as JSON."""
    return client.post(URL, {"username": username, "password": password}, format="json")


def token_of(password: str = "alice-password") -> str:
    response = login(APIClient(), password)
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


def api(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def status_with(token: str) -> int:
    return int(api(token).get(LIST).status_code)


@pytest.fixture
def alice(db: Any) -> User:
    return User.objects.create_user("alice", password="alice-password")


def test_credentials_give_a_token_that_works(alice: User, settings: Any) -> None:
    settings.TOKEN_TTL = 3600
    before = timezone.now()
    response = login(APIClient(), "alice-password")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    expires_at = datetime.fromisoformat(body["expires_at"])
    ttl = timedelta(seconds=3600)
    assert before + ttl <= expires_at <= timezone.now() + ttl
    assert status_with(body["token"]) == 200


def test_an_urlencoded_form_works_too(alice: User) -> None:
    response = APIClient().post(
        URL, "username=alice&password=alice-password",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert status_with(response.json()["token"]) == 200


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


def test_an_expired_token_is_401_token_expired(alice: User, settings: Any) -> None:
    settings.TOKEN_TTL = 60
    old, fresh = token_of(), token_of()
    oldest = AuthToken.objects.order_by("created")[0]
    AuthToken.objects.filter(digest=oldest.digest).update(
        created=timezone.now() - timedelta(seconds=61)
    )
    response = api(old).get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("token_expired", "Token has expired")
    # Told so every time (the token is kept until the user's next login), not "Invalid token."
    assert api(old).get(LIST).json()["error"]["code"] == "token_expired"
    assert status_with(fresh) == 200
    # The next login deletes it.
    token_of()
    assert api(old).get(LIST).json()["error"]["code"] == "authentication_error"


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


def test_logout_revokes_the_calling_token_only(alice: User) -> None:
    mine, other = token_of(), token_of()
    response = api(mine).post(LOGOUT)
    assert response.status_code == 204
    assert response.content == b""
    refused = api(mine).get(LIST)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "Invalid token."
    assert status_with(other) == 200
    # Once revoked, the token cannot log out again.
    assert api(mine).post(LOGOUT).status_code == 401


def test_logout_needs_a_token(alice: User) -> None:
    response = APIClient().post(LOGOUT)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "authentication_error"


def test_an_inactive_users_token_is_refused(alice: User) -> None:
    token = token_of()
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = api(token).get(LIST)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "User inactive or deleted."


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("Token", "Invalid token header. No credentials provided."),
        ("Token a b", "Invalid token header. Token string should not contain spaces."),
        ("Token caf\u00e9", "Invalid token header. Token string should not contain invalid "
         "characters."),
        ("Token " + "0" * 64, "Invalid token."),
    ],
)
def test_malformed_token_headers_are_401(db: Any, authorization: str, message: str) -> None:
    response = APIClient().get(LIST, HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == message


def test_wrong_password_is_401(alice: User) -> None:
    response = login(APIClient(), "nope")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "authentication_error"
    assert error["message"] == "Unable to log in with the provided credentials."
    assert "alice-password" not in response.content.decode()
    assert not AuthToken.objects.exists()


def test_an_inactive_user_cannot_log_in(alice: User) -> None:
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert login(APIClient(), "alice-password").status_code == 401


def test_missing_fields_are_400(db: Any) -> None:
    response = APIClient().post(URL, {}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field_errors"] == {
        "username": ["This field is required."],
        "password": ["This field is required."],
    }


def test_a_login_records_last_login(alice: User) -> None:
    assert alice.last_login is None
    token_of()
    alice.refresh_from_db()
    assert alice.last_login is not None


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
        login(APIClient(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"),
              "wrong").status_code
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
