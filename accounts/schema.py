"""The OpenAPI security schemes of `ExpiringTokenAuthentication` (drf-spectacular extension).

drf-spectacular's own knox extension matches knox's class only, not subclasses, and would
rename the scheme; this keeps the name `tokenAuth` that the schema has always had
(`Authorization: Token <token>`) and adds `bearerAuth` (`Authorization: Bearer <token>`), the
same token: an operation asks for one or the other.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object

TOKEN_SCHEME = "tokenAuth"
BEARER_SCHEME = "bearerAuth"


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ExpiringTokenAuthentication"
    name = [TOKEN_SCHEME, BEARER_SCHEME]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        # Alternatives (a list of requirements), not both at once (one requirement of two).
        return [{TOKEN_SCHEME: []}, {BEARER_SCHEME: []}]

    def get_security_definition(self, auto_schema: Any) -> list[Any]:
        token = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Token"
        )
        bearer = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer"
        )
        bearer["description"] = 'The same token as tokenAuth, sent as "Bearer <token>".'
        return [token, bearer]
