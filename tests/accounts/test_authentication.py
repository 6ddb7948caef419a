"""`Authorization: Token <key>` or `Bearer <key>` (accounts/authentication.py): a valid token is
its user; an unknown, malformed or inactive user's one is 401; an expired one is 401
`token_expired`, every time it is presented, and stays until the user's next login deletes it.
Every 401 names both schemes in WWW-Authenticate. The event stream, which authenticates with the
same classes, takes a Bearer token too.
"""

from __future__ import annotations

import json
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
from eventstream import tickets
from tests.accounts.clients import CHALLENGE, LIST, LOGOUT, api, status_with, token_of
from tests.eventstream.test_consumers import headers_of, open_stream, run
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
    assert response["WWW-Authenticate"] == CHALLENGE
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
    assert response["WWW-Authenticate"] == CHALLENGE
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
    assert response["WWW-Authenticate"] == CHALLENGE
    assert response.json()["error"]["code"] == "authentication_error"


# --- Bearer (RFC 6750) ---------------------------------------------------------------------


def test_a_bearer_token_acts_as_its_user(alice: User) -> None:
    bob = User.objects.create_user("bob", password="bob-password")
    token = token_of()
    response = api(token, "Bearer").post(LIST, {"name": "Mine"}, format="json")
    assert response.status_code == 201, response.content
    assert Workspace.objects.get(id=response.json()["id"]).owner == alice
    listed = api(token, "Bearer").get(LIST)
    assert listed.status_code == 200
    assert [w["name"] for w in listed.json()["results"]] == ["Mine"]
    assert api(issue_token(bob).key, "Bearer").get(LIST).json()["count"] == 0


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR", "token", "TOKEN", "tOkEn"])
def test_scheme_names_are_case_insensitive(alice: User, scheme: str) -> None:
    response = api(token_of(), scheme).get(LIST)
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 0


def test_the_whitespace_around_the_token_does_not_matter(alice: User) -> None:
    response = APIClient().get(LIST, HTTP_AUTHORIZATION=f"  Bearer \t {token_of()}  ")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "Token"])
@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ("", "Invalid token header. No credentials provided."),
        (" a b", "Invalid token header. Token string should not contain spaces."),
        (" caf\u00e9", INVALID_CHARACTERS),
        (" " + "0" * 64, "Invalid token."),
    ],
)
def test_malformed_headers_get_the_same_401_whatever_the_scheme(
    db: Any, scheme: str, credentials: str, message: str
) -> None:
    response = APIClient().get(
        LIST, HTTP_AUTHORIZATION=scheme + credentials, HTTP_X_CORRELATION_ID="malformed-1"
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE
    assert response.json() == {
        "error": {
            "code": "authentication_error",
            "message": message,
            "correlation_id": "malformed-1",
        }
    }


def test_an_unknown_bearer_token_is_401_invalid_token(db: Any) -> None:
    response = api("0" * 64, "Bearer").get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("authentication_error", "Invalid token.")


def test_an_expired_bearer_token_is_401_token_expired(alice: User, settings: Any) -> None:
    settings.TOKEN_TTL = 60
    token = token_of()
    AuthToken.objects.update(created=timezone.now() - timedelta(seconds=61))
    response = api(token, "Bearer").get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("token_expired", "Token has expired")


def test_an_inactive_users_bearer_token_is_refused(alice: User) -> None:
    token = token_of()
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = api(token, "Bearer").get(LIST)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "User inactive or deleted."


@pytest.mark.parametrize("scheme", ["Basic", "Bearerx", "Tokens", "Bear", "Digest"])
def test_other_schemes_are_not_a_token(alice: User, scheme: str) -> None:
    """A header of another scheme is left to the other classes: here, nobody is logged in."""
    response = api(token_of(), scheme).get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE
    assert response.json()["error"]["message"] == "Authentication credentials were not provided."


def test_logout_with_a_bearer_token_revokes_it(alice: User) -> None:
    token, other = token_of(), token_of()
    assert api(token, "Bearer").post(LOGOUT).status_code == 204
    assert api(token, "Bearer").get(LIST).status_code == 401
    assert api(token).get(LIST).status_code == 401
    assert status_with(other) == 200


def test_the_challenge_names_each_scheme_once_with_valid_syntax(db: Any) -> None:
    """RFC 9110 §11.6.1: comma-separated challenges, each `scheme [params]`; RFC 6750 §3: a
    Bearer challenge has at least one auth-param."""
    header = APIClient().get(LIST)["WWW-Authenticate"]
    challenges = [part.strip() for part in header.split(",")]
    assert [c.split(" ", 1)[0] for c in challenges] == ["Token", "Bearer"]
    assert challenges[1] == 'Bearer realm="api"'
    assert ExpiringTokenAuthentication().authenticate_header(None) == header  # type: ignore[arg-type]


# --- the event stream (GET /api/events/), which authenticates with the same classes ---------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "Token"])
def test_a_bearer_token_opens_the_event_stream(alice: User, scheme: str) -> None:
    token = issue_token(alice).key

    async def scenario() -> None:
        # HEAD: authenticated as GET is, the stream's head without the stream.
        start, _ = await open_stream({"Authorization": f"{scheme} {token}"}, method="HEAD")
        assert start["status"] == 200, start
        assert headers_of(start)["content-type"].startswith("text/event-stream")

    run(scenario)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("authorization", "code", "message"),
    [
        ("Bearer", "authentication_error", "Invalid token header. No credentials provided."),
        (
            "Bearer a b",
            "authentication_error",
            "Invalid token header. Token string should not contain spaces.",
        ),
        ("Bearer " + "0" * 64, "authentication_error", "Invalid token."),
        ("EXPIRED", "token_expired", "Token has expired"),
    ],
)
def test_a_refused_bearer_token_gets_the_streams_401_envelope(
    alice: User, authorization: str, code: str, message: str
) -> None:
    if authorization == "EXPIRED":
        issued = issue_token(alice)
        AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
        authorization = f"Bearer {issued.key}"

    async def scenario() -> None:
        start, stream = await open_stream(
            {"Authorization": authorization, "X-Correlation-ID": "stream-1"}
        )
        assert start["status"] == 401, start
        assert headers_of(start)["www-authenticate"] == CHALLENGE
        body = await stream.communicator.receive_output(3)
        await stream.communicator.wait(3)
        assert json.loads(body["body"]) == {
            "error": {"code": code, "message": message, "correlation_id": "stream-1"}
        }

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_ticket_with_another_users_bearer_token_is_refused(alice: User) -> None:
    """A ticket binds the stream to its user: credentials of someone else, Bearer ones too,
    refuse it (eventstream.authentication asks the other classes)."""
    bob = User.objects.create_user("bob", password="bob-password")
    ticket = tickets.issue(alice.pk).ticket
    bobs = issue_token(bob).key

    async def scenario() -> None:
        start, stream = await open_stream(
            {"Authorization": f"Bearer {bobs}"}, query=f"ticket={ticket}"
        )
        assert start["status"] == 401, start
        assert headers_of(start)["www-authenticate"] == CHALLENGE
        body = await stream.communicator.receive_output(3)
        await stream.communicator.wait(3)
        error = json.loads(body["body"])["error"]
        assert error["message"] == "The ticket was issued to another user."

    run(scenario)
