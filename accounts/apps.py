"""API authentication of the Cortex service: expiring tokens and the token endpoint."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
