"""Input and output shapes of the workspaces API."""

from __future__ import annotations

from typing import Any, cast

import orjson
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers
from rest_framework.fields import empty

from .models import DESCRIPTION_MAX_LENGTH, METADATA_MAX_BYTES, NAME_MAX_LENGTH, Workspace
from .validators import StorableJSONValidator


class TextField(serializers.CharField):
    """A `CharField` that takes strings only, no longer than `max_length` as sent.

    DRF's turns a number into its text (`"name": 5` is saved as "5", `1e400` as "inf"), and
    measures the length once whitespace is trimmed (any amount of it passes as blank); the
    schema says a string of at most `maxLength` characters, so that is what is checked.
    """

    def run_validation(self, data: Any = empty) -> Any:
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class MetadataField(serializers.JSONField):
    """A JSON object of at most 16 kB that every database stores, and gives back, as sent."""

    default_error_messages = {
        # DRF fills in `{name}` placeholders (Field.fail), as in its own messages.
        "not_object": _("Must be a JSON object."),
        "too_big": _("Must be at most {max_kilobytes} kB once serialized."),
        "too_deep": _("Must be nested less deeply."),
    }
    storable = StorableJSONValidator()

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("not_object")
        # Before JSONField's own check, which refuses infinity without saying where it is.
        self.storable(data)
        value = super().to_internal_value(data)
        try:
            size = len(orjson.dumps(value))
        except orjson.JSONEncodeError:  # deeper than orjson (and so the events) can write
            self.fail("too_deep")
        if size > METADATA_MAX_BYTES:
            self.fail("too_big", max_kilobytes=METADATA_MAX_BYTES // 1024)
        return cast(dict[str, Any], value)


class MetadataFieldSchema(OpenApiSerializerFieldExtension):
    """An object of storable JSON values in the OpenAPI schema (a recursive component).

    `{"type": "object"}` alone would promise any number; the bounds come from the field's own
    validator, so the schema cannot drift from what it takes.
    """

    target_class = MetadataField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        ref = {"$ref": "#/components/schemas/MetadataValue"}
        storable = MetadataField.storable
        value = ResolvedComponent(
            name="MetadataValue",
            type=ResolvedComponent.SCHEMA,
            object="MetadataValue",
            schema={
                "description": "Any JSON value; its numbers within the 64-bit integer "
                "range, its strings and keys without NUL characters or unpaired surrogates.",
                "nullable": True,
                "anyOf": [
                    {"type": "string"},
                    {"type": "boolean"},
                    {
                        "type": "number",
                        "minimum": storable.min_number,
                        "maximum": storable.max_number,
                    },
                    {"type": "array", "items": ref},
                    {"type": "object", "additionalProperties": ref},
                ],
            },
        )
        auto_schema.registry.register_on_missing(value)
        return {"type": "object", "additionalProperties": value.ref}


def _not_only_whitespace() -> str:
    """A regex that finds a character `str.strip()` keeps: a name is more than whitespace.

    DRF refuses a name that is blank once stripped; the same rule as a pattern puts it in the
    OpenAPI schema, in escapes that Python and ECMA-262 (JSON Schema) regexes read alike. The
    class is derived from `str.isspace`, so it cannot drift from what DRF strips (every such
    character is in the Basic Multilingual Plane, which `\\uXXXX` covers).
    """
    spaces = "".join(f"\\u{code:04x}" for code in range(0x10000) if chr(code).isspace())
    return f"[^{spaces}]"


NOT_ONLY_WHITESPACE = RegexValidator(
    _not_only_whitespace(), message=_("This field may not be blank."), code="blank"
)


class WorkspaceInput(serializers.Serializer[Any]):
    """What a client may send to create or replace (PUT) a workspace; PATCH sends a part."""

    name = TextField(max_length=NAME_MAX_LENGTH, validators=[NOT_ONLY_WHITESPACE])
    description = TextField(
        max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, required=False, default=""
    )
    metadata = MetadataField(required=False, default=dict)


# The list's page size (workspaces/pagination.py) and its offsets.
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = 10**9


class QueryIntegerField(serializers.IntegerField):
    """An integer query parameter; sent empty (`?limit=`) it is invalid, not absent.

    DRF reads an empty form value of an optional field as "not sent" and uses the default; the
    schema says integer, and an empty string is none.
    """

    def get_value(self, dictionary: Any) -> Any:
        if self.field_name in dictionary and dictionary[self.field_name] == "":
            return ""
        return super().get_value(dictionary)


class PageInput(serializers.Serializer[Any]):
    """Query parameters of the list endpoint."""

    limit = QueryIntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    # Databases take 64-bit offsets at most; far beyond any real list anyway.
    offset = QueryIntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


class WorkspaceOutput(serializers.ModelSerializer[Workspace]):
    """A workspace as clients see it."""

    class Meta:
        model = Workspace
        fields = ["id", "name", "description", "metadata", "version", "created_at", "updated_at"]
        read_only_fields = fields


def workspace_data(workspace: Workspace) -> dict[str, Any]:
    """The JSON-ready representation of a workspace (API responses and events alike)."""
    return dict(WorkspaceOutput(workspace).data)
