"""Users, tokens and authenticated API clients for the workspaces tests."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from accounts.tokens import issue_token


@pytest.fixture
def user(db: Any) -> User:
    return User.objects.create_user("alice", password="alice-password")


@pytest.fixture
def other_user(db: Any) -> User:
    return User.objects.create_user("bob", password="bob-password")


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user).key}")
    return client


@pytest.fixture
def api(user: User) -> APIClient:
    """An API client authenticated as `user` with a token."""
    return client_for(user)


@pytest.fixture
def other_api(other_user: User) -> APIClient:
    """An API client authenticated as `other_user`."""
    return client_for(other_user)
