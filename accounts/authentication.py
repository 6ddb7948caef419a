"""`Authorization: Token <key>` with knox's hashed tokens; an expired one is `token_expired`."""

from __future__ import annotations

from typing import Any

from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.exceptions import AuthenticationFailed

from .tokens import token_expired


class ExpiringTokenAuthentication(TokenAuthentication):
    """Knox's token authentication, with a 401 `token_expired` for an expired token.

    Knox itself deletes an expired token when it is presented and answers "Invalid token.";
    this keeps it (the user's next login deletes it), so a client is told each time that its
    token expired, and knows to log in again.
    """

    # Read by errors.openapi: every view using this class may answer token_expired.
    error_codes = ("token_expired",)

    def authenticate_credentials(self, key: str | bytes) -> tuple[Any, AuthToken]:
        """The user and token of `key` (knox passes the header's bytes; callers may pass str)."""
        try:
            text = key.decode("utf-8") if isinstance(key, bytes) else key
            digest = hash_token(text)
        except UnicodeError:
            raise AuthenticationFailed(
                "Invalid token header. Token string should not contain invalid characters."
            ) from None
        # The digest is the table's primary key: one indexed lookup, no plaintext compared.
        token = AuthToken.objects.select_related("user").filter(digest=digest).first()
        if token is None:
            raise AuthenticationFailed("Invalid token.")
        if token_expired(token):
            raise AuthenticationFailed("Token has expired", code="token_expired")
        user, token = self.validate_user(token)
        return user, token
