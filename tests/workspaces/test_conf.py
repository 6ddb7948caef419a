"""`workspaces.conf`: the app's settings, read when asked for, so overrides apply at once."""

from __future__ import annotations

from typing import Any

import pytest

from workspaces.conf import workspaces_settings


@pytest.mark.parametrize(
    ("name", "value", "prop", "expected"),
    [
        (
            "WORKSPACE_WEBHOOK_URL",
            "https://hooks.example/x",
            "webhook_url",
            "https://hooks.example/x",
        ),
        ("WORKSPACE_WEBHOOK_URL", "", "webhook_url", None),
        ("WORKSPACE_WEBHOOK_URL", None, "webhook_url", None),
        ("WORKSPACE_WEBHOOK_TIMEOUT_MS", 1500, "webhook_timeout", 1.5),
        ("WORKSPACE_WEBHOOK_ATTEMPTS", 5, "webhook_attempts", 5),
        ("WORKSPACE_WEBHOOK_ATTEMPTS", 0, "webhook_attempts", 1),
        ("WORKSPACE_WEBHOOK_BACKOFF_MS", 0, "webhook_backoff", 0.0),
        ("CELERY_BROKER_URL", "redis://127.0.0.1:6379/1", "celery_enabled", True),
        ("CELERY_BROKER_URL", None, "celery_enabled", False),
    ],
)
def test_each_setting_is_read_on_access(
    settings: Any, name: str, value: Any, prop: str, expected: Any
) -> None:
    setattr(settings, name, value)
    assert getattr(workspaces_settings, prop) == expected
