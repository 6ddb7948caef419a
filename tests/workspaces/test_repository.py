"""WorkspaceRepository against the real database: queries, scoping and error translation."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection

from errors.exceptions import ConflictException, DatabaseException, NotFoundException
from safewrites.preconditions import PreconditionFailed
from workspaces.models import Workspace
from workspaces.repository import WorkspaceRepository

repo = WorkspaceRepository()


def make(owner: User, name: str, **fields: Any) -> Workspace:
    return repo.create(
        owner_id=owner.pk,
        name=name,
        description=fields.get("description", ""),
        metadata=fields.get("metadata", {}),
    )


@pytest.mark.django_db
def test_create_then_get_scoped_to_the_owner(user: User, other_user: User) -> None:
    workspace = make(user, "Alpha", metadata={"k": "v"})
    assert repo.get(owner_id=user.pk, workspace_id=workspace.id) == workspace
    with pytest.raises(NotFoundException) as caught:
        repo.get(owner_id=other_user.pk, workspace_id=workspace.id)
    assert caught.value.details == {"resource_type": "workspace", "resource_id": str(workspace.id)}


@pytest.mark.django_db
def test_list_pages_and_counts(user: User, other_user: User) -> None:
    for index in range(3):
        make(user, f"W{index}")
    make(other_user, "Other")
    page = repo.list(owner_id=user.pk, limit=2, offset=1)
    assert [w.name for w in page.items] == ["W1", "W2"]
    assert page.count == 3


@pytest.mark.django_db
def test_name_taken_ignores_case_and_the_excluded_workspace(user: User) -> None:
    workspace = make(user, "Alpha")
    assert repo.name_taken(owner_id=user.pk, name="ALPHA")
    assert not repo.name_taken(owner_id=user.pk, name="alpha", exclude_id=workspace.id)
    assert not repo.name_taken(owner_id=user.pk, name="Beta")


@pytest.mark.django_db
def test_the_unique_constraint_becomes_the_name_conflict(user: User) -> None:
    make(user, "Alpha")
    with pytest.raises(ConflictException) as caught:
        make(user, "aLPHA")
    assert caught.value.code == "workspace_name_conflict"
    assert caught.value.status_code == 409
    assert isinstance(caught.value.__cause__, IntegrityError)
    assert "workspaces_workspace" not in str(caught.value)
    # The savepoint kept the surrounding transaction usable.
    assert Workspace.objects.count() == 1


# Names that are one under Unicode case folding. SQLite's LOWER() (ASCII only) tells each pair
# apart, and no LOWER() makes "Straße" and "STRASSE" one ("ß" lowers to itself).
FOLDED_ALIKE = [("Émile", "émile"), ("Straße", "STRASSE"), ("ΣΊΣΥΦΟΣ", "σίσυφος")]


@pytest.mark.django_db
@pytest.mark.parametrize(("first", "second"), FOLDED_ALIKE)
def test_names_that_fold_alike_are_taken(user: User, first: str, second: str) -> None:
    make(user, first)
    assert repo.name_taken(owner_id=user.pk, name=second)


@pytest.mark.django_db
@pytest.mark.parametrize(("first", "second"), FOLDED_ALIKE)
def test_the_unique_constraint_refuses_names_that_fold_alike(
    user: User, first: str, second: str
) -> None:
    # No early check here: the database constraint itself refuses the second name.
    make(user, first)
    with pytest.raises(ConflictException) as caught:
        make(user, second)
    assert caught.value.code == "workspace_name_conflict"
    assert caught.value.details == {"name": second}
    assert isinstance(caught.value.__cause__, IntegrityError)
    assert list(Workspace.objects.values_list("name", flat=True)) == [first]


@pytest.mark.django_db
def test_a_rename_stores_the_folded_name_with_the_name(user: User) -> None:
    workspace = make(user, "Alpha")
    assert workspace.name_key == "alpha"
    repo.update(workspace, name="STRAßE")
    workspace.refresh_from_db()
    assert (workspace.name, workspace.name_key) == ("STRAßE", "strasse")
    with pytest.raises(ConflictException):
        make(user, "Strasse")
    # "Alpha" is free again, under every spelling.
    assert not repo.name_taken(owner_id=user.pk, name="ALPHA")


@pytest.mark.django_db
def test_a_workspace_saved_outside_the_repository_gets_its_folded_name(user: User) -> None:
    workspace = Workspace.objects.create(owner=user, name="Émile")
    assert Workspace.objects.get(id=workspace.id).name_key == "émile"
    workspace.name = "ÉMILIE"
    workspace.save(update_fields=["name"])
    assert Workspace.objects.get(id=workspace.id).name_key == "émilie"


@pytest.mark.django_db
def test_update_onto_a_taken_name_is_the_name_conflict(user: User) -> None:
    make(user, "Alpha")
    beta = make(user, "Beta")
    with pytest.raises(ConflictException):
        repo.update(beta, name="alpha")
    beta.refresh_from_db()
    assert beta.name == "Beta"


@pytest.mark.django_db
def test_update_onto_a_name_that_folds_alike_is_the_name_conflict(user: User) -> None:
    make(user, "Straße")
    other = make(user, "Other")
    with pytest.raises(ConflictException) as caught:
        repo.update(other, name="STRASSE")
    assert isinstance(caught.value.__cause__, IntegrityError)
    other.refresh_from_db()
    assert (other.name, other.name_key) == ("Other", "other")


def close_pool() -> None:
    getattr(connection, "close_pool")()  # noqa: B009 (PostgreSQL backend only)


@pytest.fixture
def unreachable_database() -> Iterator[None]:
    """Point the default connection at a port where nothing listens, then restore it.

    (SQLite's test database lives in memory and cannot be made unreachable; the handler-level
    test in tests/errors/test_db.py covers SQLite's CANTOPEN.)
    """
    original = dict(connection.settings_dict)
    connection.close()
    close_pool()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(closed_port))
    try:
        yield
    finally:
        connection.close()
        close_pool()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_becomes_db_connection_error(
    user: User, unreachable_database: None
) -> None:
    with pytest.raises(DatabaseException) as caught:
        repo.get(owner_id=user.pk, workspace_id=uuid.uuid4())
    assert caught.value.code == "db_connection_error"
    assert caught.value.status_code == 503
    assert caught.value.retry_after == 5
    assert caught.value.message == "Database unavailable"


# --- versions: the write compares them -----------------------------------------------------------


@pytest.mark.django_db
def test_an_update_bumps_the_version_and_updated_at(user: User) -> None:
    workspace = make(user, "Counted")
    before = workspace.updated_at
    repo.update(workspace, description="one")
    assert workspace.version == 2 and workspace.updated_at > before
    stored = Workspace.objects.get(id=workspace.id)
    assert (stored.version, stored.description, stored.updated_at) == (
        2,
        "one",
        workspace.updated_at,
    )


@pytest.mark.django_db
def test_the_update_itself_refuses_a_version_changed_since_it_was_read(user: User) -> None:
    # Both read version 1 (as two requests that passed the view's early check); one writes first.
    mine = make(user, "Raced")
    theirs = Workspace.objects.get(id=mine.id)
    repo.update(theirs, frozenset({1}), description="theirs")
    with pytest.raises(PreconditionFailed) as refused:
        repo.update(mine, frozenset({1}), description="mine")
    assert refused.value.headers == {"ETag": '"2"'}
    stored = Workspace.objects.get(id=mine.id)
    assert (stored.version, stored.description) == (2, "theirs")


@pytest.mark.django_db
def test_the_delete_itself_refuses_a_version_changed_since_it_was_read(user: User) -> None:
    mine = make(user, "Raced delete")
    repo.update(Workspace.objects.get(id=mine.id), description="changed")
    with pytest.raises(PreconditionFailed):
        repo.delete(mine, frozenset({1}))
    assert Workspace.objects.filter(id=mine.id).exists()
    repo.delete(mine, frozenset({2}))
    assert not Workspace.objects.filter(id=mine.id).exists()


@pytest.mark.django_db
def test_a_versioned_write_to_a_workspace_deleted_meanwhile_is_404(user: User) -> None:
    mine = make(user, "Vanished")
    Workspace.objects.filter(id=mine.id).delete()
    with pytest.raises(NotFoundException):
        repo.update(mine, frozenset({1}), description="x")
    with pytest.raises(NotFoundException):
        repo.update(mine, None, description="x")
