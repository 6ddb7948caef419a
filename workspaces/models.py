"""The Workspace model."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models

NAME_MAX_LENGTH = 100
# Case folding can lengthen a name: no character folds to more than three ("ﬄ" to "ffl").
NAME_KEY_MAX_LENGTH = 3 * NAME_MAX_LENGTH
DESCRIPTION_MAX_LENGTH = 1000
METADATA_MAX_BYTES = 16 * 1024

# Repositories tell this constraint's violations apart by its name (PostgreSQL reports it).
NAME_UNIQUE_CONSTRAINT = "workspace_owner_name_ci_unique"


def fold_name(name: str) -> str:
    """The form of a name that uniqueness compares: Python's Unicode case folding.

    The one rule on every database (SQLite's LOWER() folds ASCII only, PostgreSQL's follows
    its collation): "Émile" and "émile" are one name, and so are "Straße" and "STRASSE".
    """
    return name.casefold()


class Workspace(models.Model):
    """A named space owned by one user; names are unique per owner, ignoring case.

    `name_key` is `fold_name(name)`, stored so that the unique constraint compares names the
    same way on every database. The repository sets it with every write of the name, and so
    does `save()` for a workspace saved some other way; a queryset `.update(name=...)` would
    leave it stale, so names change through the repository only.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workspaces"
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    name_key = models.CharField(max_length=NAME_KEY_MAX_LENGTH, editable=False)
    description = models.TextField(blank=True, default="", max_length=DESCRIPTION_MAX_LENGTH)
    metadata = models.JSONField(default=dict, blank=True)
    # One more with each change (the repository's writes): the ETag, and what If-Match compares.
    version = models.PositiveBigIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # The database is the truth for uniqueness: two concurrent creates of one name
            # cannot both pass it, whatever the service checked before.
            models.UniqueConstraint(fields=["owner", "name_key"], name=NAME_UNIQUE_CONSTRAINT),
            models.CheckConstraint(condition=~models.Q(name=""), name="workspace_name_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, with `name_key` folded from the name being saved."""
        self.name_key = fold_name(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)
