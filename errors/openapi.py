"""Error responses in the OpenAPI schema, for drf-spectacular (docs/openapi.md)."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from drf_spectacular.drainage import warn
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, force_instance
from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication

from . import catalog
from .conf import errors_settings
from .negotiation import negotiates_language

ERROR_CODES_EXTENSION = "x-error-codes"
ENVELOPE_COMPONENT = "ErrorEnvelope"
EXAMPLE_CORRELATION_ID = "6f1c2b9e-8d0a-4a53-9c1e-2b7f4d8e5a10"

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
ALWAYS = (
    "method_not_allowed",
    "not_acceptable",
    "internal_error",
    "database_error",
    "db_connection_error",
    "db_timeout",
)
# What any operation with a request body may answer about it.
BODY_CODES = ("validation_error", "parse_error", "payload_too_large", "unsupported_media_type")
# The header each error status documents besides the correlation id: name, description, type.
_STATUS_HEADERS = {
    401: ("WWW-Authenticate", "The authentication scheme to use.", "string"),
    405: ("Allow", "The methods this URL accepts.", "string"),
    412: ("ETag", "The resource's current version (RFC 9110, If-Match).", "string"),
    429: ("Retry-After", "Seconds to wait before retrying.", "integer"),
    503: ("Retry-After", "Seconds to wait before retrying.", "integer"),
}
ACCEPT_LANGUAGE = {
    "name": "Accept-Language",
    "in": "header",
    "required": False,
    "description": "The languages the client reads; error messages come in the best one served.",
    "schema": {"type": "string"},
}
_AUTH_ONLY_PERMISSIONS = (
    permissions.AllowAny,
    permissions.IsAuthenticated,
    permissions.IsAuthenticatedOrReadOnly,
)

ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The body of every error response.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "correlation_id"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "A stable snake_case code from the error catalog "
                    "(docs/errors.md); the codes each response can carry are listed in it.",
                },
                "message": {"type": "string", "description": "For humans; safe to show."},
                "correlation_id": {
                    "type": "string",
                    "description": "The request's id, also in the X-Correlation-ID header.",
                },
                "details": {
                    "type": "object",
                    "description": "Optional data about the error, safe for the client.",
                    "additionalProperties": True,
                    "properties": {
                        "field_errors": {
                            "type": "object",
                            "description": "Validation messages by dotted field path "
                            "(`name`, `metadata.color`, `items.0.name`, `non_field_errors`).",
                            "additionalProperties": {"type": "array", "items": {"type": "string"}},
                        },
                        "retry_after": {
                            "type": "integer",
                            "description": "Seconds to wait before retrying (429).",
                        },
                    },
                },
                "debug_info": {
                    "type": "object",
                    "description": "Exception and traceback; 5xx only, and only while DEBUG and "
                    "INCLUDE_EXCEPTION_DETAILS are on (never in production).",
                    "additionalProperties": True,
                },
            },
        }
    },
}


class ErrorResponsesAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the error responses each operation can answer with."""

    def get_operation(
        self,
        path: str,
        path_regex: str,
        path_prefix: str,
        method: str,
        registry: Any,
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for status, codes in sorted(self.get_error_codes(operation).items()):
            responses.setdefault(str(status), self._error_response(status, codes))
        if negotiates_language():
            operation.setdefault("parameters", []).append(ACCEPT_LANGUAGE)
        return operation

    # --- which codes --------------------------------------------------------------------------

    def get_error_codes(self, operation: dict[str, Any]) -> dict[int, list[str]]:
        """The error codes `operation` can answer with, grouped by HTTP status."""
        view, method = self.view, self.method
        parameters = [p for p in operation.get("parameters", []) if isinstance(p, dict)]
        self._query_parameters = [p for p in parameters if p.get("in") == "query"]
        wanted: list[str] = []
        if "requestBody" in operation:
            wanted += BODY_CODES
        elif self._query_parameters:
            wanted.append("validation_error")

        authenticators = list(view.get_authenticators())
        perms = list(view.get_permissions())
        throttles = list(view.get_throttles())
        auth_status = 403
        if authenticators:
            # Invalid credentials are refused even where permissions let anyone in (403 w/o scheme).
            wanted.append("authentication_error")
            # DRF answers 401 only when its first authenticator names a scheme, else 403.
            try:
                auth_status = 401 if authenticators[0].authenticate_header(view.request) else 403
            except Exception:  # a mock request may lack what the class reads
                auth_status = 401
        if any(not isinstance(p, _AUTH_ONLY_PERMISSIONS) for p in perms) or (
            any(isinstance(a, SessionAuthentication) for a in authenticators)
            and method not in permissions.SAFE_METHODS
        ):
            wanted.append("authorization_error")
        if any(p.get("in") == "path" for p in parameters):
            wanted.append("not_found")
        if throttles:
            wanted.append("rate_limit_exceeded")
        wanted += ALWAYS
        if errors_settings.max_concurrent_requests is not None:
            wanted.append("service_busy")  # errors.limits may answer any request

        for owner in (view, *authenticators, *perms, *throttles, *view.get_parsers()):
            declared = getattr(owner, "error_codes", None) or ()  # a sequence, or one by method
            if isinstance(declared, Mapping):
                declared = declared.get(method.lower(), ())
            wanted += [declared] if isinstance(declared, str) else declared

        by_status: dict[int, list[str]] = {}
        for code in wanted:
            entry = catalog.get(code)
            if entry is None:
                warn(
                    f"error code {code!r} declared for {method} {self.path} is not in the "
                    f"errors catalog; register it with errors.catalog.register()"
                )
                continue
            status = auth_status if code == "authentication_error" else entry.status
            if code not in by_status.setdefault(status, []):
                by_status[status].append(code)
        return by_status

    # --- how they are documented --------------------------------------------------------------

    def _error_response(self, status: int, codes: list[str]) -> dict[str, Any]:
        lines = [f"{HTTPStatus(status).phrase}. Codes:", ""]
        examples: dict[str, Any] = {}
        for code in codes:
            entry = catalog.get(code)
            assert entry is not None
            lines.append(f"- `{code}` — {entry.meaning}")
            examples[code] = {"summary": code, "value": self.error_example(entry)}
        headers = {
            errors_settings.correlation_id_header: {
                "description": "The request's correlation id (also in the body).",
                "schema": {"type": "string"},
            }
        }
        if status in _STATUS_HEADERS:
            name, description, type_ = _STATUS_HEADERS[status]
            headers[name] = {"description": description, "schema": {"type": type_}}
        if negotiates_language():
            headers["Content-Language"] = {
                "description": "The language of `message` (examples are in English).",
                "schema": {"type": "string"},
            }
        envelope = ResolvedComponent(
            name=ENVELOPE_COMPONENT,
            type=ResolvedComponent.SCHEMA,
            object=ENVELOPE_COMPONENT,
            schema=ENVELOPE_SCHEMA,
        )
        self.registry.register_on_missing(envelope)
        return {
            "description": "\n".join(lines),
            "headers": headers,
            "content": {"application/json": {"schema": envelope.ref, "examples": examples}},
            ERROR_CODES_EXTENSION: list(codes),
        }

    def error_example(self, entry: catalog.ErrorCode) -> dict[str, Any]:
        """A realistic envelope for `entry`, valid against ErrorEnvelope."""
        error: dict[str, Any] = {
            "code": entry.code,
            "message": catalog.english_message(entry),
            "correlation_id": EXAMPLE_CORRELATION_ID,
        }
        if entry.code == "validation_error":
            error["details"] = {"field_errors": self._example_field_errors()}
        elif entry.code == "rate_limit_exceeded":
            error["details"] = {"retry_after": 42}
        return {"error": error}

    def _example_field_errors(self) -> dict[str, list[str]]:
        """A field error on the operation's first body field, or else its first query parameter."""
        if self.method in BODY_METHODS:
            try:
                fields = list(force_instance(self.get_request_serializer()).fields)
            except Exception:  # an example is not worth failing the schema
                fields = []
            return {fields[0] if fields else "non_field_errors": ["This field is required."]}
        names = [str(p["name"]) for p in getattr(self, "_query_parameters", [])]
        return {names[0] if names else "non_field_errors": ["Invalid input."]}


def endpoints_by_code(schema: Mapping[str, Any]) -> dict[str, list[str]]:
    """`{code: ["POST /api/…", …]}` from the `x-error-codes` of a generated schema."""
    order = {m: i for i, m in enumerate(("get", "post", "put", "patch", "delete"))}
    found: dict[str, list[str]] = {}
    for path, operations in sorted(schema.get("paths", {}).items()):
        for method in sorted(operations, key=lambda m: (order.get(m, 99), m)):
            operation = operations[method]
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for code in response.get(ERROR_CODES_EXTENSION, ()):
                    endpoint = f"{method.upper()} {path}"
                    if endpoint not in found.setdefault(code, []):
                        found[code].append(endpoint)
    return found


def generate_schema(urlconf: str | None = None) -> dict[str, Any]:
    """The public OpenAPI schema of `urlconf` (ROOT_URLCONF by default), generated in-process."""
    from drf_spectacular.generators import SchemaGenerator

    return dict(SchemaGenerator(urlconf=urlconf).get_schema(request=None, public=True))
