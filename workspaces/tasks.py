"""Background tasks of the workspaces app: the webhook's delivery.

- `deliver_webhook`, a Django task (TASKS: django-tasks-db, run by `manage.py db_worker`): how
  the webhook is delivered unless CELERY_BROKER_URL is set.
- `deliver_workspace_created`, a Celery task (cortex/celery.py): how it is delivered when
  CELERY_BROKER_URL is set.
"""

from __future__ import annotations

from typing import Any

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the django-tasks backport
    from django_tasks import task  # type: ignore[no-redef,unused-ignore]

from cortex.celery import app
from errors.tasks import correlated
from workspaces import webhooks


@task()
@correlated
def deliver_webhook(event: dict[str, Any], attempt: int = 1) -> bool:
    """POST one `workspace.created` event to the webhook: attempt number `attempt`; a retryable
    failure enqueues the next one after the webhook's backoff. True once the receiver accepted
    it. Enqueued with `errors.tasks.enqueue`, so it runs under the request's correlation id."""
    return webhooks.deliver_attempt(event, attempt)


@app.task(
    bind=True,
    name="workspaces.deliver_workspace_created",
    # Acknowledged once done, not when received: a worker killed mid-delivery leaves the message
    # to be delivered again (after the broker's visibility timeout) by another worker.
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def deliver_workspace_created(self: Any, event: dict[str, Any]) -> bool:
    """POST one `workspace.created` event to the webhook: one attempt per run, retried by
    Celery with the webhook's backoff; True once the receiver accepted it."""
    return webhooks.deliver_in_task(self, event)
