"""`Authorization: Token <key>` (accounts/authentication.py): a valid token is its user; an
unknown, malformed or inactive user's one is 401; an expired one is 401 `token_expired`, every
time it is presented, and stays until the user's next login deletes it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.test import APIClient

from accounts.authentication import ExpiringTokenAuthentication
from accounts.tokens import issue_token
from tests.accounts.clients import LIST, api, status_with, token_of
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db

INVALID_CHARACTERS = "Invalid token header. Token string should not contain invalid characters."


def test_a_valid_token_acts_as_its_user(alice: User) -> None:
    bob = User.objects.create_user("bob", password="bob-password")
    response = api(token_of()).post(LIST, {"name": "Mine"}, format="json")
    assert response.status_code == 201
    assert Workspace.objects.get(id=response.json()["id"]).owner == alice
    assert api(issue_token(bob).key).get(LIST).json()["count"] == 0


def test_an_unknown_token_is_401_invalid_token(db: Any) -> None:
    response = api("0" * 64).get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("authentication_error", "Invalid token.")


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
        (
            "Token caf\u00e9",
            "Invalid token header. Token string should not contain invalid characters.",
        ),
        ("Token " + "0" * 64, "Invalid token."),
    ],
)
def test_malformed_token_headers_are_401(db: Any, authorization: str, message: str) -> None:
    response = APIClient().get(LIST, HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == message


def test_an_expired_token_is_kept_until_the_next_login(alice: User, settings: Any) -> None:
    settings.TOKEN_TTL = 60
    token = token_of()
    AuthToken.objects.update(created=timezone.now() - timedelta(seconds=61))
    for _ in range(2):
        assert api(token).get(LIST).json()["error"]["code"] == "token_expired"
    assert AuthToken.objects.filter(user=alice).count() == 1


@pytest.mark.parametrize(
    ("key", "message", "code"),
    [
        # knox hands over the header's bytes; bytes that are not UTF-8 cannot be a token.
        (b"\xff\xfe" + b"0" * 62, INVALID_CHARACTERS, "authentication_failed"),
        (b"caf\xe9", INVALID_CHARACTERS, "authentication_failed"),
        (b"0" * 64, "Invalid token.", "authentication_failed"),
        # Callers with text (the event stream's consumer) may pass a str.
        ("0" * 64, "Invalid token.", "authentication_failed"),
        ("caf\u00e9", "Invalid token.", "authentication_failed"),
    ],
)
def test_keys_that_are_no_token_are_refused(
    db: Any, key: str | bytes, message: str, code: str
) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        ExpiringTokenAuthentication().authenticate_credentials(key)
    assert str(caught.value.detail) == message
    assert caught.value.get_codes() == code


@pytest.mark.parametrize("as_bytes", [True, False])
def test_a_valid_key_gives_its_user_and_token(alice: User, as_bytes: bool) -> None:
    issued = issue_token(alice)
    key = issued.key.encode() if as_bytes else issued.key
    user, token = ExpiringTokenAuthentication().authenticate_credentials(key)
    assert user == alice
    assert token.digest == issued.token.digest


def test_an_expired_key_is_token_expired(alice: User) -> None:
    issued = issue_token(alice)
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    with pytest.raises(AuthenticationFailed) as caught:
        ExpiringTokenAuthentication().authenticate_credentials(issued.key)
    assert caught.value.get_codes() == "token_expired"
    assert AuthToken.objects.filter(digest=issued.token.digest).exists()


def test_without_a_header_the_request_is_anonymous(db: Any) -> None:
    response = APIClient().get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "authentication_error"
