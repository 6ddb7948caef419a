"""Celery tasks of the workspaces app (used when CELERY_BROKER_URL is set; cortex/celery.py)."""

from __future__ import annotations

from typing import Any

from cortex.celery import app
from workspaces import webhooks


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
