"""API authentication of the Cortex service: hashed expiring tokens and the token endpoints."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        # Connecting the password-change receivers and registering the OpenAPI extension.
        from errors import catalog

        from . import schema, signals  # noqa: F401

        catalog.register(
            "token_expired",
            status=401,
            category=catalog.Category.AUTHENTICATION,
            severity=catalog.Severity.INFO,
            message=gettext_lazy("Token has expired"),
            meaning="The API token was valid but has expired; obtain a new one.",
        )
