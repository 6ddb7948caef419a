"""Business rules of workspaces: naming, ownership, transactions and events.

Views call these functions; these call the repository. Another owner's workspace is always
"not found" (a 403 would tell the caller it exists).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils.translation import gettext

from errors.exceptions import ValidationException
from safewrites.preconditions import check

from . import events
from .models import NAME_MAX_LENGTH, fold_name
from .repository import WorkspacePage, WorkspaceRepository, name_conflict
from .serializers import workspace_data

repository = WorkspaceRepository()


def normalize_name(name: str) -> str:
    """Names are stored trimmed; a name that is blank once trimmed is refused."""
    name = name.strip()
    if not name:
        # DRF's own messages (and msgids): translated by DRF's catalog, as its fields' are.
        raise ValidationException(field_errors={"name": [gettext("This field may not be blank.")]})
    if len(name) > NAME_MAX_LENGTH:
        message = gettext("Ensure this field has no more than {max_length} characters.").format(
            max_length=NAME_MAX_LENGTH
        )
        raise ValidationException(field_errors={"name": [message]})
    return name


def _check_name_free(owner_id: int, name: str, exclude_id: uuid.UUID | None = None) -> None:
    # A friendly early answer; the unique constraint stays the truth when two requests race.
    if repository.name_taken(owner_id=owner_id, name=name, exclude_id=exclude_id):
        raise name_conflict(name)


def workspace_list(*, owner_id: int, limit: int, offset: int) -> WorkspacePage:
    """A page of the owner's workspaces."""
    return repository.list(owner_id=owner_id, limit=limit, offset=offset)


def workspace_get(*, owner_id: int, workspace_id: uuid.UUID) -> Any:
    """The owner's workspace, or `not_found`."""
    return repository.get(owner_id=owner_id, workspace_id=workspace_id)


@transaction.atomic
def workspace_create(
    *, owner_id: int, name: str, description: str = "", metadata: dict[str, Any] | None = None
) -> Any:
    """Create a workspace and announce it once committed."""
    name = normalize_name(name)
    _check_name_free(owner_id, name)
    workspace = repository.create(
        owner_id=owner_id, name=name, description=description, metadata=metadata or {}
    )
    events.publish_on_commit(events.CREATED, owner_id=owner_id, workspace=workspace_data(workspace))
    return workspace


@transaction.atomic
def workspace_update(
    *,
    owner_id: int,
    workspace_id: uuid.UUID,
    changes: dict[str, Any],
    versions: frozenset[int] | None = None,
) -> Any:
    """Apply `changes` (a full replacement for PUT, a part for PATCH) and announce them; with
    `versions` (If-Match), only to one of those versions (else 412 `precondition_failed`)."""
    workspace = repository.get(owner_id=owner_id, workspace_id=workspace_id)
    check(versions, workspace.version)
    if "name" in changes:
        changes = {**changes, "name": normalize_name(changes["name"])}
        if fold_name(changes["name"]) != fold_name(workspace.name):
            _check_name_free(owner_id, changes["name"], exclude_id=workspace.id)
    if changes:
        workspace = repository.update(workspace, versions, **changes)
        events.publish_on_commit(
            events.UPDATED, owner_id=owner_id, workspace=workspace_data(workspace)
        )
    return workspace


@transaction.atomic
def workspace_delete(
    *, owner_id: int, workspace_id: uuid.UUID, versions: frozenset[int] | None = None
) -> None:
    """Delete the owner's workspace and announce it; with `versions` (If-Match), only if it is
    one of those versions (else 412 `precondition_failed`)."""
    workspace = repository.get(owner_id=owner_id, workspace_id=workspace_id)
    check(versions, workspace.version)
    data = workspace_data(workspace)
    repository.delete(workspace, versions)
    events.publish_on_commit(events.DELETED, owner_id=owner_id, workspace=data)
