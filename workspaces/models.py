"""The Workspace model."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 1000
METADATA_MAX_BYTES = 16 * 1024

# Repositories tell this constraint's violations apart by its name (PostgreSQL reports it).
NAME_UNIQUE_CONSTRAINT = "workspace_owner_name_ci_unique"


class Workspace(models.Model):
    """A named space owned by one user; names are unique per owner, ignoring case."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workspaces"
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    description = models.TextField(blank=True, default="", max_length=DESCRIPTION_MAX_LENGTH)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # The database is the truth for uniqueness: two concurrent creates of one name
            # cannot both pass it, whatever the service checked before.
            models.UniqueConstraint(Lower("name"), "owner", name=NAME_UNIQUE_CONSTRAINT),
            models.CheckConstraint(condition=~models.Q(name=""), name="workspace_name_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name
