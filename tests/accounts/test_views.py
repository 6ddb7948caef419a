"""`POST /api/auth/token/` (credentials in, a new token out) and `POST /api/auth/logout/`
(the calling token revoked): accounts/views.py through the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.accounts.clients import (
    CHALLENGE,
    LIST,
    LOGOUT,
    URL,
    api,
    login,
    status_with,
    token_of,
)

pytestmark = pytest.mark.django_db

WRONG_CREDENTIALS = "Unable to log in with the provided credentials."


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
        URL,
        "username=alice&password=alice-password",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert status_with(response.json()["token"]) == 200


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
    assert response["WWW-Authenticate"] == CHALLENGE
    assert response.json()["error"]["code"] == "authentication_error"


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


@pytest.mark.parametrize(
    ("data", "field_errors"),
    [
        ({"username": "alice"}, {"password": ["This field is required."]}),
        ({"password": "alice-password"}, {"username": ["This field is required."]}),
        (
            {"username": "", "password": ""},
            {
                "username": ["This field may not be blank."],
                "password": ["This field may not be blank."],
            },
        ),
        (
            {"username": "a" * 151, "password": "alice-password"},
            {"username": ["Ensure this field has no more than 150 characters."]},
        ),
        (
            {"username": "alice", "password": "p" * 129},
            {"password": ["Ensure this field has no more than 128 characters."]},
        ),
    ],
)
def test_invalid_credentials_are_400_by_field(
    alice: User, data: dict[str, str], field_errors: dict[str, list[str]]
) -> None:
    response = APIClient().post(URL, data, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]["field_errors"] == field_errors
    assert not AuthToken.objects.exists()


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(alice: User) -> None:
    unknown = login(APIClient(), "alice-password", username="mallory")
    wrong = login(APIClient(), "nope")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["error"]["message"] == wrong.json()["error"]["message"]
    assert unknown.json()["error"]["message"] == WRONG_CREDENTIALS


def test_the_password_is_taken_as_sent_spaces_and_all(db: Any) -> None:
    User.objects.create_user("alice", password="  spaced  ")
    assert login(APIClient(), "spaced").status_code == 401
    assert login(APIClient(), "  spaced  ").status_code == 200


def test_a_multipart_body_is_415(alice: User) -> None:
    response = APIClient().post(URL, {"username": "alice", "password": "alice-password"})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_the_token_endpoint_takes_only_post(db: Any) -> None:
    response = APIClient().get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_logout_then_the_token_is_401(alice: User) -> None:
    token = token_of()
    assert status_with(token) == 200
    assert api(token).post(LOGOUT).status_code == 204
    response = api(token).get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE
    assert not AuthToken.objects.filter(user=alice).exists()


def test_logout_with_an_expired_token_is_401_token_expired(alice: User, settings: Any) -> None:
    settings.TOKEN_TTL = 60
    token = token_of()
    AuthToken.objects.update(created=timezone.now() - timedelta(seconds=61))
    response = api(token).post(LOGOUT)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"
