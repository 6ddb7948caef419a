"""API authentication of the Cortex service: hashed expiring tokens and the token endpoints."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        # Connecting the password-change receivers and registering the OpenAPI extension.
        from . import schema, signals  # noqa: F401
