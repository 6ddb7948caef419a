"""Start the standalone project (no ERRORS_INTEGRATIONS) and print, as JSON, what its start-up
changed in other libraries: the test expects nothing.

Celery, sentry-sdk, httpx and requests are loaded before Django sets up, as a project that uses
them would have them; PROMETHEUS_MULTIPROC_DIR is the caller's.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import celery.signals
import httpx
import requests
import sentry_sdk  # noqa: F401
from django.core.management.base import BaseCommand
from sentry_sdk.integrations.logging import _IGNORED_LOGGERS

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "standalone_settings")

CELERY_SIGNALS = (
    "before_task_publish",
    "task_prerun",
    "task_postrun",
    "task_retry",
    "task_failure",
)


def snapshot() -> dict[str, Any]:
    manager = logging.Logger.manager
    loggers = {"root": logging.getLogger(), **manager.loggerDict}
    return {
        "BaseCommand.execute": BaseCommand.execute,
        "httpx.Client.send": httpx.Client.send,
        "httpx.AsyncClient.send": httpx.AsyncClient.send,
        "requests.Session.send": requests.Session.send,
        "sentry ignored loggers": sorted(_IGNORED_LOGGERS),
        "celery receivers": {
            name: list(getattr(celery.signals, name).receivers) for name in CELERY_SIGNALS
        },
        "logger filters": {
            name: list(getattr(logger, "filters", []))
            for name, logger in loggers.items()
            if getattr(logger, "filters", None)
        },
    }


def main() -> None:
    before = snapshot()
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    files = sorted(os.listdir(directory))

    import django

    django.setup()
    from django.core.checks import run_checks

    after = snapshot()
    # Django's own loggers exist only once set up: a filter on them would be a new entry.
    changed = sorted(name for name in before.keys() | after.keys() if before[name] != after[name])
    print(
        json.dumps(
            {
                "changed": changed,
                "logger filters": sorted(after["logger filters"]),
                # errors' own metrics may add files; none may go.
                "multiproc files removed": sorted(set(files) - set(os.listdir(directory))),
                "checks": [m.id for m in run_checks(tags=["compatibility"])],
            }
        )
    )


if __name__ == "__main__":
    main()
