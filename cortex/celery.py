"""The Celery app of Cortex, used when CELERY_BROKER_URL is set (README, "Background work").

Without CELERY_BROKER_URL the app is created (workspaces/tasks.py imports it) but unused: the
webhook is a Django task run by `manage.py db_worker`. With it, the web process publishes the
webhook's deliveries to Redis and workers deliver them::

    CELERY_BROKER_URL=redis://127.0.0.1:6379/1 .venv/bin/celery -A cortex.celery worker

Workers read the same settings as the web process (`CELERY_*` in cortex/settings.py) and log
through Django's LOGGING, so their lines are JSON with the correlation id of the request that
published the task (`errors.celery`).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging

import errors.celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cortex.settings")

app = Celery("cortex")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The web process imports this module only when it first publishes, after Django started; the
# receivers must be connected before that first publish (ErrorsConfig.ready() was too early).
errors.celery.connect()


@setup_logging.connect(weak=False)
def use_django_logging(**kwargs: Any) -> None:
    """Keep Django's LOGGING in workers: a receiver here stops Celery configuring its own."""
