"""Upgrading a database whose workspace names were unique under LOWER(): migration 0002."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from tests.workspaces.conftest import client_for
from workspaces.models import Workspace

# Migrations run outside a transaction, as `manage.py migrate` runs them.
pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("workspaces", "0001_initial")
LIST = "/api/workspaces/"


def migrate_to(name: str) -> None:
    call_command("migrate", "workspaces", name, verbosity=0)


def migrate_to_latest() -> None:
    call_command("migrate", "workspaces", verbosity=0)


def columns() -> list[str]:
    with connection.cursor() as cursor:
        table = Workspace._meta.db_table
        return [c.name for c in connection.introspection.get_table_description(cursor, table)]


@pytest.fixture
def old_workspace() -> Iterator[Any]:
    """The Workspace model as migration 0001 left it, on a database migrated back to 0001."""
    migrate_to("0001")
    state = MigrationExecutor(connection).loader.project_state(BEFORE)
    try:
        yield state.apps.get_model("workspaces", "Workspace")
    finally:
        Workspace.objects.all().delete()  # (a refused migration leaves the old rows behind)
        call_command("migrate", "workspaces", verbosity=0)


def names_of(api: APIClient) -> list[str]:
    response = api.get(LIST)
    assert response.status_code == 200
    return [w["name"] for w in response.json()["results"]]


def test_existing_names_are_folded_and_the_constraint_follows_them(
    old_workspace: Any, user: User, other_user: User
) -> None:
    for name in ("Straße", "Émile", "Project X"):
        old_workspace.objects.create(owner_id=user.pk, name=name)
    old_workspace.objects.create(owner_id=other_user.pk, name="STRASSE")

    migrate_to_latest()  # 0002 and what follows it, for the API

    keys = Workspace.objects.order_by("created_at").values_list("owner_id", "name", "name_key")
    assert list(keys) == [
        (user.pk, "Straße", "strasse"),
        (user.pk, "Émile", "émile"),
        (user.pk, "Project X", "project x"),
        (other_user.pk, "STRASSE", "strasse"),
    ]
    api = client_for(user)
    for name in ("STRASSE", "émile", "project x"):
        response = api.post(LIST, {"name": name}, format="json")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "workspace_name_conflict"
    assert names_of(api) == ["Straße", "Émile", "Project X"]

    # Backwards and forwards again: the names are kept, the keys filled again.
    migrate_to("0001")
    assert "name_key" not in columns()
    assert list(old_workspace.objects.order_by("created_at").values_list("name", flat=True)) == [
        "Straße",
        "Émile",
        "Project X",
        "STRASSE",
    ]
    migrate_to("0002")
    assert list(Workspace.objects.order_by("created_at").values_list("name_key", flat=True)) == [
        "strasse",
        "émile",
        "project x",
        "strasse",
    ]


def test_names_that_fold_alike_stop_the_migration_naming_them(
    old_workspace: Any, user: User, other_user: User
) -> None:
    # One name under case folding, two under LOWER() on either database.
    straße = old_workspace.objects.create(owner_id=user.pk, name="Straße")
    strasse = old_workspace.objects.create(owner_id=user.pk, name="STRASSE")
    old_workspace.objects.create(owner_id=user.pk, name="Other")
    sisyphus = old_workspace.objects.create(owner_id=other_user.pk, name="ΣΊΣΥΦΟΣ")
    old_workspace.objects.create(owner_id=other_user.pk, name="σίσυφος")
    old_workspace.objects.create(owner_id=other_user.pk, name="strasse")  # another owner's

    with pytest.raises(CommandError) as caught:
        migrate_to("0002")

    message = str(caught.value)
    assert "Rename all but one workspace of each group below, then run migrate again" in message
    assert f"owner 'alice' (id {user.pk}): 'Straße' (id {straße.pk}), " in message
    assert f"'STRASSE' (id {strasse.pk})" in message
    assert f"owner 'bob' (id {other_user.pk}): 'ΣΊΣΥΦΟΣ' (id {sisyphus.pk}), 'σίσυφος'" in message
    assert "Other" not in message and "'strasse'" not in message
    # Nothing changed: still at 0001, every workspace as it was.
    assert "name_key" not in columns()
    assert old_workspace.objects.count() == 6

    # Once they are renamed, the migration goes through.
    old_workspace.objects.filter(pk=strasse.pk).update(name="STRASSE 2")
    old_workspace.objects.filter(owner_id=other_user.pk, name="σίσυφος").delete()
    migrate_to_latest()
    assert names_of(client_for(user)) == ["Straße", "STRASSE 2", "Other"]
