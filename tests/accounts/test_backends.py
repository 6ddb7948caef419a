"""accounts.backends.ModelBackend: no pooled connection is held while a password is hashed."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import override_settings

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Whether the thread's connection was open each time the hasher ran.
held_while_hashing: list[bool] = []


class RecordingHasher(MD5PasswordHasher):
    """MD5 (fast, for tests) that notes whether a connection is open while it hashes."""

    algorithm = "recording_md5"

    def encode(self, password: str, salt: str, iterations: Any = None) -> str:
        held_while_hashing.append(connection.connection is not None)
        return super().encode(password, salt)


@pytest.fixture
def recording_hasher() -> Any:
    held_while_hashing.clear()
    with override_settings(PASSWORD_HASHERS=[f"{__name__}.RecordingHasher"]):
        yield
    held_while_hashing.clear()


def test_the_connection_goes_back_to_the_pool_while_a_password_is_checked(
    recording_hasher: None,
) -> None:
    User.objects.create_user("hasher", password="right-password")
    held_while_hashing.clear()

    assert authenticate(username="hasher", password="wrong-password") is None
    user = authenticate(username="hasher", password="right-password")

    assert user is not None and user.username == "hasher"
    assert held_while_hashing == [False, False]
    # The next query takes a connection again.
    assert User.objects.filter(username="hasher").exists()


def test_an_unknown_user_is_hashed_for_as_long_without_a_connection(
    recording_hasher: None,
) -> None:
    assert authenticate(username="nobody", password="any-password") is None
    assert held_while_hashing == [False]


def test_inside_a_transaction_the_connection_is_kept(recording_hasher: None) -> None:
    User.objects.create_user("atomic", password="right-password")
    held_while_hashing.clear()
    with transaction.atomic():
        assert authenticate(username="atomic", password="right-password") is not None
    assert held_while_hashing == [True]
