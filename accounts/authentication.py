"""`Authorization: Token <key>` or `Bearer <key>` with knox's hashed tokens; an expired one is
`token_expired`."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from .tokens import token_expired

# The authentication schemes a token is accepted with: knox's own, and RFC 6750's.
SCHEMES = ("Token", "Bearer")
# Every 401 names both (RFC 9110 §11.6.1: one challenge per scheme, comma-separated); RFC 6750
# gives a Bearer challenge at least one parameter.
CHALLENGE = 'Token, Bearer realm="api"'


class ExpiringTokenAuthentication(TokenAuthentication):
    """Knox's token authentication, with a 401 `token_expired` for an expired token.

    Knox itself deletes an expired token when it is presented and answers "Invalid token.";
    this keeps it (the user's next login deletes it), so a client is told each time that its
    token expired, and knows to log in again.

    The token may be sent as `Token <key>` (knox's scheme) or `Bearer <key>` (RFC 6750); scheme
    names are case-insensitive (RFC 9110). A header with another scheme is left to the other
    authentication classes.
    """

    # Read by errors.openapi: every view using this class may answer token_expired.
    error_codes = ("token_expired",)

    def authenticate(self, request: Request) -> tuple[Any, AuthToken] | None:
        """The user and token of an `Authorization: Token|Bearer <key>` header; None without
        one (or with another scheme); 401 for a malformed one, as knox answers for `Token`."""
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in {scheme.lower().encode() for scheme in SCHEMES}:
            return None
        if len(parts) == 1:
            raise AuthenticationFailed(gettext("Invalid token header. No credentials provided."))
        if len(parts) > 2:
            raise AuthenticationFailed(
                gettext("Invalid token header. Token string should not contain spaces.")
            )
        return self.authenticate_credentials(parts[1])

    def authenticate_header(self, request: Request) -> str:
        """The WWW-Authenticate of a 401 (DRF takes the first authentication class's)."""
        return CHALLENGE

    def authenticate_credentials(self, key: str | bytes) -> tuple[Any, AuthToken]:
        """The user and token of `key` (knox passes the header's bytes; callers may pass str)."""
        try:
            text = key.decode("utf-8") if isinstance(key, bytes) else key
            digest = hash_token(text)
        except UnicodeError:
            raise AuthenticationFailed(
                gettext("Invalid token header. Token string should not contain invalid characters.")
            ) from None
        # The digest is the table's primary key: one indexed lookup, no plaintext compared.
        token = AuthToken.objects.select_related("user").filter(digest=digest).first()
        if token is None:
            raise AuthenticationFailed(gettext("Invalid token."))
        if token_expired(token):
            raise AuthenticationFailed(gettext("Token has expired"), code="token_expired")
        user, token = self.validate_user(token)
        return user, token
