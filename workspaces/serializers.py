"""Input and output shapes of the workspaces API."""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework import serializers

from .models import DESCRIPTION_MAX_LENGTH, METADATA_MAX_BYTES, NAME_MAX_LENGTH, Workspace


class WorkspaceInput(serializers.Serializer[Any]):
    """What a client may send to create or replace (PUT) a workspace; PATCH sends a part."""

    name = serializers.CharField(max_length=NAME_MAX_LENGTH)
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, required=False, default=""
    )
    metadata = serializers.JSONField(required=False, default=dict)

    def validate_metadata(self, value: Any) -> dict[str, Any]:
        """Metadata is a JSON object of at most 16 kB once serialized."""
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        if len(orjson.dumps(value)) > METADATA_MAX_BYTES:
            raise serializers.ValidationError(
                f"Must be at most {METADATA_MAX_BYTES // 1024} kB once serialized."
            )
        return value


MAX_OFFSET = 10**9


class PageInput(serializers.Serializer[Any]):
    """Query parameters of the list endpoint."""

    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    # Databases take 64-bit offsets at most; far beyond any real list anyway.
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


class WorkspaceOutput(serializers.ModelSerializer[Workspace]):
    """A workspace as clients see it."""

    class Meta:
        model = Workspace
        fields = ["id", "name", "description", "metadata", "created_at", "updated_at"]
        read_only_fields = fields


def workspace_data(workspace: Workspace) -> dict[str, Any]:
    """The JSON-ready representation of a workspace (API responses and events alike)."""
    return dict(WorkspaceOutput(workspace).data)
