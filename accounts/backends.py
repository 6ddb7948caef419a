"""Password checks that give the database connection back while they hash.

A password hash is deliberately slow (Django's PBKDF2 takes a good fraction of a second of CPU).
Django's `ModelBackend` keeps the connection it fetched the user with for the whole request, so
every login in progress holds one of the pool's few connections while it only computes. This
backend lends the connection back to the pool (outside a transaction) once the user is read;
the next query takes one again.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import backends, get_user_model
from django.db import connections
from django.http import HttpRequest


def lend_connections_back() -> None:
    """Return this thread's pooled connections to their pools, unless a transaction is open."""
    for connection in connections.all(initialized_only=True):
        if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
            connection.close()


class ModelBackend(backends.ModelBackend):
    """Django's `ModelBackend`, holding no pooled connection while the password is hashed."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            lend_connections_back()
            # Hash once anyway, so that a missing user takes as long as a wrong password (#20760).
            user_model().set_password(password)
            return None
        lend_connections_back()
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
