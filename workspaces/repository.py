"""WorkspaceRepository: the only code that touches the Workspace ORM.

It is also the only code of the app that catches database exceptions, and it lets none of them
through: the name constraint becomes `workspace_name_conflict`, a missing row a `not_found`,
and everything else the database exception of the `errors` app that fits (connection failures
503, timeouts 504). Nothing it raises carries SQL or driver text.

Every write of a name also writes its `name_key` (`fold_name`), the column the unique
constraint compares, so that names are compared by one rule on every database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from errors.db import DbErrorKind, classify, constraint_name, translate
from errors.exceptions import ConflictException, NotFoundException
from safewrites.preconditions import PreconditionFailed

from .models import NAME_UNIQUE_CONSTRAINT, Workspace, fold_name


def name_conflict(name: str) -> ConflictException:
    """The error for a second workspace of the same name (for the same owner)."""
    return ConflictException(
        _("A workspace named '%(name)s' already exists"),
        code="workspace_name_conflict",
        params={"name": name},
        details={"name": name},
    )


@dataclass(frozen=True, slots=True)
class WorkspacePage:
    """One page of an owner's workspaces and how many there are in all."""

    items: list[Workspace]
    count: int


@contextmanager
def _database_errors(name: str | None = None) -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        # PostgreSQL names the violated constraint; SQLite does not, but the name constraint is
        # the only unique one a workspace write can break (the primary key is a fresh UUID4).
        if (
            name is not None
            and classify(exc) is DbErrorKind.UNIQUE_VIOLATION
            and constraint_name(exc) in (None, NAME_UNIQUE_CONSTRAINT)
        ):
            raise name_conflict(name) from exc
        raise translate(exc) from exc
    except DatabaseError as exc:
        raise translate(exc) from exc


class WorkspaceRepository:
    """Reads and writes workspaces, always scoped to one owner."""

    def get(self, *, owner_id: int, workspace_id: uuid.UUID) -> Workspace:
        """The owner's workspace; another owner's is as missing as one that never existed."""
        with _database_errors():
            workspace = Workspace.objects.filter(id=workspace_id, owner_id=owner_id).first()
        if workspace is None:
            raise NotFoundException(
                _("Workspace not found"), resource_type="workspace", resource_id=workspace_id
            )
        return workspace

    def list(self, *, owner_id: int, limit: int, offset: int) -> WorkspacePage:
        """A page of the owner's workspaces, oldest first."""
        with _database_errors():
            queryset = Workspace.objects.filter(owner_id=owner_id)
            return WorkspacePage(list(queryset[offset : offset + limit]), queryset.count())

    def name_taken(self, *, owner_id: int, name: str, exclude_id: uuid.UUID | None = None) -> bool:
        """Whether the owner has another workspace of this name, ignoring case (`fold_name`)."""
        with _database_errors():
            queryset = Workspace.objects.filter(owner_id=owner_id, name_key=fold_name(name))
            if exclude_id is not None:
                queryset = queryset.exclude(id=exclude_id)
            return queryset.exists()

    def create(
        self, *, owner_id: int, name: str, description: str, metadata: dict[str, Any]
    ) -> Workspace:
        """Insert a workspace; a name the owner already uses raises the name conflict."""
        workspace = Workspace(
            owner_id=owner_id,
            name=name,
            name_key=fold_name(name),
            description=description,
            metadata=metadata,
        )
        # The savepoint keeps the request's transaction usable after a constraint violation.
        with _database_errors(name), transaction.atomic():
            workspace.save(force_insert=True)
        return workspace

    def update(
        self, workspace: Workspace, versions: frozenset[int] | None = None, **changes: Any
    ) -> Workspace:
        """Save field changes of a workspace (a new name with its `name_key`) as its next version.

        With `versions`, the write happens only if the stored version is one of them, in the
        same UPDATE: a concurrent change in between makes it `PreconditionFailed`, not lost.
        """
        if "name" in changes:
            changes = {**changes, "name_key": fold_name(changes["name"])}
        changes["updated_at"] = timezone.now()
        rows = self._rows(workspace, versions)
        with _database_errors(changes.get("name", workspace.name)), transaction.atomic():
            if not rows.update(**changes, version=F("version") + 1):
                raise self._stale(workspace)
            workspace.refresh_from_db(fields=["version"])
        for field, value in changes.items():
            setattr(workspace, field, value)
        return workspace

    def delete(self, workspace: Workspace, versions: frozenset[int] | None = None) -> None:
        """Delete a workspace; with `versions`, only if the stored version is one of them."""
        with _database_errors(), transaction.atomic():
            deleted, _counts = self._rows(workspace, versions).delete()
            if not deleted:
                raise self._stale(workspace)

    def _rows(self, workspace: Workspace, versions: frozenset[int] | None) -> QuerySet[Workspace]:
        rows = Workspace.objects.filter(id=workspace.id, owner_id=workspace.owner_id)
        return rows if versions is None else rows.filter(version__in=versions)

    def _stale(self, workspace: Workspace) -> Exception:
        """The error for a write that matched no row: 412 with the current version, or 404."""
        current = self.get(owner_id=workspace.owner_id, workspace_id=workspace.id)
        return PreconditionFailed(current.version)
