"""`POST /api/events/tickets/`: a ticket for the caller, in the envelope when refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tokens import issue_token
from eventstream import tickets
from tests.accounts.clients import CHALLENGE

pytestmark = pytest.mark.django_db

TICKETS = "/api/events/tickets/"


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("alice", password="alice-password")


def test_a_token_gets_a_ticket_for_its_user_that_no_cache_keeps(alice: User, settings: Any) -> None:
    settings.SSE_TICKET_TTL_SECONDS = 45
    token = issue_token(alice).key
    response = APIClient().post(TICKETS, HTTP_AUTHORIZATION=f"Token {token}")

    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"ticket", "expires_at"}
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert (
        timezone.now() + timedelta(seconds=40)
        < expires_at
        <= timezone.now() + timedelta(seconds=45)
    )
    assert tickets.redeem(body["ticket"]) == alice.pk


def test_without_credentials_it_is_401_in_the_envelope() -> None:
    response = APIClient().post(TICKETS, HTTP_X_CORRELATION_ID="no-ticket")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE
    assert response.json() == {
        "error": {
            "code": "authentication_error",
            "message": "Authentication credentials were not provided.",
            "correlation_id": "no-ticket",
        }
    }


def test_a_session_gets_a_ticket_with_its_csrf_token_and_not_without(alice: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)

    refused = client.post(TICKETS)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "authorization_error"

    csrf = "k" * 32  # a page's CSRF cookie, sent back in the header as Django asks
    client.cookies["csrftoken"] = csrf
    response = client.post(TICKETS, HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 201, response.content
    assert tickets.redeem(response.json()["ticket"]) == alice.pk


def test_only_post_is_allowed(alice: User) -> None:
    token = issue_token(alice).key
    response = APIClient().get(TICKETS, HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
