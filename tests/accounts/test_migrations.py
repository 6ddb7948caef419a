"""Upgrading a database that has DRF authtoken tokens: they keep working, stored hashed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

# Migrations run outside a transaction, as `manage.py migrate` runs them.
pytestmark = pytest.mark.django_db(transaction=True)

LEGACY_KEY = "0123456789abcdef0123456789abcdef01234567"
EXPIRED_KEY = "fedcba9876543210fedcba9876543210fedcba98"


def status_with(key: str) -> tuple[int, str | None]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/workspaces/")
    code = response.json()["error"]["code"] if response.status_code >= 400 else None
    return response.status_code, code


def run_migration() -> None:
    """`manage.py migrate` on a database that has not run the accounts migration yet."""
    call_command("migrate", "accounts", "zero", verbosity=0)
    call_command("migrate", "accounts", verbosity=0)


@pytest.fixture
def legacy_table() -> Any:
    """DRF authtoken's table as its migrations made it (the app is no longer installed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            'CREATE TABLE authtoken_token ("key" varchar(40) NOT NULL PRIMARY KEY, '
            '"created" timestamp with time zone NOT NULL, "user_id" integer NOT NULL)'
            if connection.vendor == "postgresql"
            else 'CREATE TABLE authtoken_token ("key" varchar(40) NOT NULL PRIMARY KEY, '
            '"created" datetime NOT NULL, "user_id" integer NOT NULL)'
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE authtoken_token")


def test_drf_tokens_become_hashed_knox_tokens(legacy_table: Any, settings: Any) -> None:
    settings.TOKEN_TTL = 3600
    alice = User.objects.create_user("alice", password="alice-password")
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
            [
                (LEGACY_KEY, now - timedelta(seconds=600), alice.pk),
                (EXPIRED_KEY, now - timedelta(seconds=7200), alice.pk),
            ],
        )
    assert status_with(LEGACY_KEY) == (401, "authentication_error")

    run_migration()

    assert status_with(LEGACY_KEY) == (200, None)
    assert status_with(EXPIRED_KEY) == (401, "authentication_error")
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)  # no plaintext key left
    # It still expires TOKEN_TTL after it was first issued.
    settings.TOKEN_TTL = 599
    assert status_with(LEGACY_KEY) == (401, "token_expired")


def test_a_database_without_drf_tokens_is_left_alone(db: Any) -> None:
    run_migration()
    assert "authtoken_token" not in connection.introspection.table_names()
