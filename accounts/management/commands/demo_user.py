"""`manage.py demo_user`: make sure a demo user exists and print a new API token for it."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from accounts.tokens import issue_token


class Command(BaseCommand):
    help = "Create the demo user if needed and print a new API token for it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="demo")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=username)
        if created:
            user.set_password(os.environ.get("DEMO_PASSWORD", "demo-password"))
            user.save(update_fields=["password"])
        # Only a hash of each token is stored, so the one printed is a new one (the user's
        # oldest beyond TOKEN_LIMIT_PER_USER are deleted).
        token = issue_token(user)
        port = os.environ.get("PORT", "8000")
        self.stdout.write(f"Demo user: {username}  API token: {token.key}")
        self.stdout.write(
            f'Try: curl -H "Authorization: Token {token.key}" http://127.0.0.1:{port}/api/workspaces/'
        )
