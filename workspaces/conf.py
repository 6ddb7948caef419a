"""Settings the `workspaces` app reads, in one place.

cortex/settings.py declares each of them once, with its default, from the environment, and
refuses a bad value at start. Every property reads `django.conf.settings` on access, so
`override_settings` (and pytest-django's `settings` fixture) works in tests.
"""

from __future__ import annotations

from django.conf import settings


class WorkspacesSettings:
    """The `WORKSPACE_WEBHOOK_*` settings and whether Celery delivers in the background."""

    @property
    def webhook_url(self) -> str | None:
        """Where workspace.created events are POSTed; None when no webhook is configured."""
        return str(settings.WORKSPACE_WEBHOOK_URL) if settings.WORKSPACE_WEBHOOK_URL else None

    @property
    def webhook_timeout(self) -> float:
        """Seconds each attempt's connect, write and read may take."""
        return int(settings.WORKSPACE_WEBHOOK_TIMEOUT_MS) / 1000

    @property
    def webhook_attempts(self) -> int:
        """Attempts per event, the first included (at least one)."""
        return max(1, int(settings.WORKSPACE_WEBHOOK_ATTEMPTS))

    @property
    def webhook_backoff(self) -> float:
        """Seconds before the second attempt; doubled before each further one."""
        return int(settings.WORKSPACE_WEBHOOK_BACKOFF_MS) / 1000

    @property
    def celery_enabled(self) -> bool:
        """Whether deliveries go through Celery (CELERY_BROKER_URL is set)."""
        return bool(settings.CELERY_BROKER_URL)


workspaces_settings = WorkspacesSettings()
