"""Token authentication whose tokens expire after TOKEN_TTL seconds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


def token_expired(token: Token) -> bool:
    """Whether `token` is older than TOKEN_TTL seconds."""
    return token.created < timezone.now() - timedelta(seconds=settings.TOKEN_TTL)


def issue_token(user: Any) -> Token:
    """The user's current token, replaced by a new one when it has expired."""
    with transaction.atomic():
        token, created = Token.objects.select_for_update().get_or_create(user=user)
        if not created and token_expired(token):
            token.delete()
            token = Token.objects.create(user=user)
    return token


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`; an expired token answers 401 `token_expired`."""

    # Read by errors.openapi: every view using this class may answer token_expired.
    error_codes = ("token_expired",)

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise AuthenticationFailed("Token has expired", code="token_expired")
        return user, token
