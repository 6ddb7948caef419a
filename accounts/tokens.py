"""API tokens: django-rest-knox's `AuthToken`, which stores only a hash (SHA-512) of each key.

A login issues a new token; a user keeps at most TOKEN_LIMIT_PER_USER of them (the oldest go
first). A token works for TOKEN_TTL seconds from its issue — the current TOKEN_TTL, so lowering
it also shortens the tokens already out — and never past the expiry stored with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from knox.models import AuthToken


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: `key` is the only copy of the secret, shown once to the client."""

    key: str
    token: AuthToken
    expires_at: datetime


def _ttl() -> timedelta:
    return timedelta(seconds=settings.TOKEN_TTL)


def token_expires_at(token: AuthToken) -> datetime:
    """When `token` stops working."""
    by_ttl: datetime = token.created + _ttl()
    return by_ttl if token.expiry is None else min(by_ttl, token.expiry)


def token_expired(token: AuthToken) -> bool:
    """Whether `token` has expired."""
    return token_expires_at(token) <= timezone.now()


def issue_token(user: Any) -> IssuedToken:
    """A new token for `user`; their expired ones, and the oldest beyond the limit, are deleted."""
    limit = settings.TOKEN_LIMIT_PER_USER
    with transaction.atomic():
        # Concurrent logins of one user take turns here, so the limit holds (on SQLite every
        # write transaction already takes the database's write lock when it begins).
        list(get_user_model()._default_manager.select_for_update().filter(pk=user.pk).values("pk"))
        token, key = AuthToken.objects.create(user=user, expiry=_ttl())
        others = AuthToken.objects.filter(user=user).exclude(digest=token.digest)
        now = timezone.now()
        others.filter(Q(created__lte=now - _ttl()) | Q(expiry__lte=now)).delete()
        kept = list(others.order_by("-created").values_list("digest", flat=True)[: limit - 1])
        others.exclude(digest__in=kept).delete()
    return IssuedToken(key=key, token=token, expires_at=token_expires_at(token))


def revoke_token(token: AuthToken) -> None:
    """The token no longer works."""
    token.delete()


def revoke_tokens_of(user: Any) -> int:
    """None of `user`'s tokens works any more; how many there were."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted
