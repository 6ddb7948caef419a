"""Stack `errors+metrics`: the `errors` stack with Prometheus metrics on, as it ships."""

from __future__ import annotations

from .settings_errors import *  # noqa: F403

ERRORS_ENABLE_MONITORING = True
