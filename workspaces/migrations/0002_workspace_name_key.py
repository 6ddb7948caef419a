"""Workspace names: unique per owner under Unicode case folding, the same on every database.

Until now the unique constraint compared LOWER(name), which PostgreSQL folds by its collation
and SQLite for ASCII letters only ("Émile" and "émile" were two names there). This adds
`name_key`, the name folded by Python's `str.casefold()` (`workspaces.models.fold_name`), fills
it for every existing workspace, and moves the constraint (same name) to (owner, name_key).

Collisions: an owner may already have names that are one name under case folding but were not
under LOWER() ("Émile"/"émile" on SQLite, "Straße"/"STRASSE" on either database). Then the
migration refuses and changes nothing (it runs in one transaction): its error names each owner
and the workspaces (names and ids) concerned. Rename all but one of each group (through the
API, say) and run `migrate` again. It never renames or deletes a workspace itself: names are
the users' data, and neither clients nor webhooks would hear of a rename made here.

Backwards, the constraint goes back to LOWER(name) and the column is dropped; no name has been
changed, so nothing is lost.
"""

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import CommandError
from django.db import migrations, models

BATCH_SIZE = 500


def fold(name: str) -> str:
    # `workspaces.models.fold_name` as of this migration.
    return name.casefold()


def owner_label(owner: Any) -> str:
    try:
        owner._meta.get_field("username")
    except FieldDoesNotExist:
        return f"owner id {owner.pk}"
    return f"owner {owner.username!r} (id {owner.pk})"


def collision_message(groups: list[list[Any]]) -> str:
    lines = [
        "Some owners have workspace names that are one name under Unicode case folding, which "
        "workspace names must now be unique under. Nothing was changed. Rename all but one "
        "workspace of each group below, then run migrate again:"
    ]
    for group in groups:
        names = ", ".join(f"{w.name!r} (id {w.pk})" for w in group)
        lines.append(f"  {owner_label(group[0].owner)}: {names}")
    return "\n".join(lines)


def fill_name_keys(apps: Any, schema_editor: Any) -> None:
    """Set `name_key` for every workspace, or refuse when two names of one owner fold alike."""
    workspace_model = apps.get_model("workspaces", "Workspace")
    workspaces = workspace_model.objects.using(schema_editor.connection.alias)

    groups: dict[tuple[Any, str], list[Any]] = {}
    rows = workspaces.select_related("owner").order_by("owner_id", "created_at", "id")
    for workspace in rows.iterator(chunk_size=BATCH_SIZE):
        groups.setdefault((workspace.owner_id, fold(workspace.name)), []).append(workspace)
    collisions = [group for group in groups.values() if len(group) > 1]
    if collisions:
        raise CommandError(collision_message(collisions))

    filled = []
    for (_, key), (workspace,) in groups.items():
        workspace.name_key = key
        filled.append(workspace)
    workspaces.bulk_update(filled, ["name_key"], batch_size=BATCH_SIZE)


class Migration(migrations.Migration):
    dependencies = [
        ("workspaces", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="workspace",
            name="name_key",
            field=models.CharField(default="", editable=False, max_length=300),
            preserve_default=False,
        ),
        migrations.RunPython(fill_name_keys, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="workspace",
            name="workspace_owner_name_ci_unique",
        ),
        migrations.AddConstraint(
            model_name="workspace",
            constraint=models.UniqueConstraint(
                fields=("owner", "name_key"), name="workspace_owner_name_ci_unique"
            ),
        ),
    ]
