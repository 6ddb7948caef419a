"""The OpenAPI security scheme of `ExpiringTokenAuthentication` (drf-spectacular extension).

drf-spectacular's own knox extension matches knox's class only, not subclasses, and would
rename the scheme; this keeps the name `tokenAuth` that the schema has always had.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ExpiringTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> Any:
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Token"
        )
