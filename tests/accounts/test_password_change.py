"""A password change revokes every API token of the user, however the password is changed."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.forms import AdminPasswordChangeForm, SetPasswordForm
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.contrib.auth.management.commands import changepassword
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-and-long-passphrase"


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2 with one iteration: a preferred hasher for the rehash test, without the wait."""

    iterations = 1


def login(username: str, password: str) -> Any:
    return APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


def token_of(username: str = "alice", password: str = "alice-password") -> str:
    response = login(username, password)
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


def status_with(token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return int(client.get("/api/workspaces/").status_code)


@pytest.fixture
def alice(db: Any) -> User:
    return User.objects.create_user("alice", password="alice-password")


def set_password_and_save(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    user.set_password(NEW_PASSWORD)
    user.save()


def set_password_and_save_only_it(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    user.set_password(NEW_PASSWORD)
    user.save(update_fields=["password"])


def changepassword_command(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD)
    out = StringIO()
    call_command("changepassword", user.username, stdout=out)
    assert "Password changed successfully" in out.getvalue()


def set_password_form(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    """The "forgot password" flow."""
    form = SetPasswordForm(user, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert form.is_valid(), form.errors
    form.save()


def admin_password_form(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin's "change password" page."""
    form = AdminPasswordChangeForm(
        user, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )
    assert form.is_valid(), form.errors
    form.save()


CHANGES: dict[str, Callable[[User, pytest.MonkeyPatch], None]] = {
    "set_password + save": set_password_and_save,
    "save(update_fields=[password])": set_password_and_save_only_it,
    "changepassword": changepassword_command,
    "SetPasswordForm": set_password_form,
    "AdminPasswordChangeForm": admin_password_form,
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_password_change_revokes_all_tokens(
    alice: User, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = [token_of(), token_of()]
    bob = User.objects.create_user("bob", password="bob-password")
    bobs = token_of("bob", "bob-password")
    user = User.objects.get(pk=alice.pk)  # as the command or a form would load it
    CHANGES[change](user, monkeypatch)
    assert [status_with(token) for token in tokens] == [401, 401]
    assert status_with(bobs) == 200 and bob.is_active
    # The new password gives a token that works.
    assert status_with(token_of(password=NEW_PASSWORD)) == 200


def test_an_unusable_password_revokes_them_too(alice: User) -> None:
    token = token_of()
    alice.set_unusable_password()
    alice.save()
    assert status_with(token) == 401


def test_a_hash_assigned_directly_revokes_them_too(alice: User) -> None:
    token = token_of()
    alice.password = make_password(NEW_PASSWORD)
    alice.save()
    assert status_with(token) == 401


def test_other_saves_of_the_user_keep_the_tokens(alice: User) -> None:
    token = token_of()
    alice.first_name = "Alice"
    alice.save()
    alice.email = "alice@example.com"
    alice.save(update_fields=["email"])
    assert status_with(token) == 200


def test_djangos_rehash_on_login_is_no_password_change(alice: User, settings: Any) -> None:
    """After an upgrade of the hashers, a login rehashes the password: the tokens stay."""
    token = token_of()
    old_hash = User.objects.get(pk=alice.pk).password
    settings.PASSWORD_HASHERS = [
        f"{__name__}.FastPBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    second = token_of()  # this login rehashes the stored MD5 hash with PBKDF2
    new_hash = User.objects.get(pk=alice.pk).password
    assert old_hash.startswith("md5$") and new_hash.startswith("pbkdf2_sha256$")
    assert [status_with(token), status_with(second)] == [200, 200]
