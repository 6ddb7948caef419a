"""`manage.py errors_catalog`: every error code and where it can occur (docs/openapi.md)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser, no_translations
from django.test.utils import override_settings
from django.utils.module_loading import import_string

from errors import catalog

HEADER = """\
# Error codes

Every error is answered with one JSON envelope,
`{"error": {"code", "message", "correlation_id", "details"?}}`. Clients should branch on
`code`, which is stable; the message is for humans. "Endpoints" are the operations of the
OpenAPI schema documented to answer with the code; a code without endpoints is answered outside
the documented API (by middleware, for example) or by nothing the project exposes.
"""


class Command(BaseCommand):
    help = "Print the error catalog: code, status, category, severity, meaning, endpoints."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["markdown", "json"], default="markdown")
        parser.add_argument(
            "--urlconf",
            default=None,
            help="URLconf whose API is documented (default: SPECTACULAR_SETTINGS "
            "SERVE_URLCONF, else ROOT_URLCONF).",
        )

    @no_translations  # the catalog's language is the documentation's: English
    def handle(self, *args: Any, **options: Any) -> None:
        endpoints = self.endpoints(options["urlconf"])
        rows = [
            {
                "code": e.code,
                "status": e.status,
                "category": str(e.category),
                "severity": str(e.severity),
                "message": str(e.message),
                "meaning": e.meaning,
                "endpoints": endpoints.get(e.code, []) if endpoints is not None else None,
            }
            for e in catalog.entries()
        ]
        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(self.markdown(rows), ending="")

    def endpoints(self, urlconf: str | None) -> dict[str, list[str]] | None:
        """`{code: ["POST /api/…", …]}` (by `ErrorResponsesAutoSchema`), None without a schema."""
        try:
            from errors.openapi import ErrorResponsesAutoSchema, endpoints_by_code, generate_schema
        except ImportError:
            self.stderr.write(
                "Endpoints left out: they need djangorestframework and drf-spectacular "
                "(pip install 'django-cortex-errors[openapi]')."
            )
            return None
        if urlconf is None:
            spectacular = getattr(settings, "SPECTACULAR_SETTINGS", {}) or {}
            urlconf = spectacular.get("SERVE_URLCONF") or settings.ROOT_URLCONF
        rest_framework = dict(getattr(settings, "REST_FRAMEWORK", None) or {})
        schema_class = rest_framework.get("DEFAULT_SCHEMA_CLASS")
        if isinstance(schema_class, str):
            schema_class = import_string(schema_class)
        if not (
            isinstance(schema_class, type) and issubclass(schema_class, ErrorResponsesAutoSchema)
        ):
            rest_framework["DEFAULT_SCHEMA_CLASS"] = "errors.openapi.ErrorResponsesAutoSchema"
        try:
            with override_settings(REST_FRAMEWORK=rest_framework):
                return endpoints_by_code(generate_schema(urlconf))
        except Exception as exc:
            self.stderr.write(
                f"Endpoints left out: the OpenAPI schema could not be generated ({exc!r})."
            )
            return None

    @staticmethod
    def markdown(rows: list[dict[str, Any]]) -> str:
        with_endpoints = all(r["endpoints"] is not None for r in rows)
        columns = ["code", "status", "category", "severity", "meaning"]
        if with_endpoints:
            columns.append("endpoints")
        lines = [HEADER, "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
        for r in rows:
            cells = [
                f"`{r['code']}`",
                str(r["status"]),
                r["category"],
                r["severity"],
                r["meaning"].replace("|", "\\|").replace("\n", " "),  # escaped for a table cell
            ]
            if with_endpoints:
                cells.append("<br>".join(f"`{e}`" for e in r["endpoints"]) or "—")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"
