"""The reference domain app: users' workspaces."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkspacesConfig(AppConfig):
    """Registers the app's own error codes with the `errors` catalog."""

    name = "workspaces"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from errors import catalog

        catalog.register(
            "workspace_name_conflict",
            status=409,
            category=catalog.Category.CONFLICT,
            severity=catalog.Severity.INFO,
            message=_("A workspace with this name already exists"),
            meaning="The caller already has a workspace of that name (names are unique per "
            "owner, ignoring case).",
        )
