"""Workspace events, published to the owner's event stream once the write is committed.

The SSE streams (`GET /api/events/`, the `eventstream` app) hear of them through the owner's
group of `WORKSPACE_EVENTS`. Publishing happens after commit, so no client ever hears of a
workspace that was rolled back; a failure to publish is logged and never fails the request, whose
write is already durable. Nor may it hold the request up: with REDIS_URL each step gives up after
REDIS_TIMEOUT, and while Redis is known to be down (cortex/redis_guard.py, the SSE_GUARD)
publishing is skipped at once. Streams open meanwhile are told `events_lost` once Redis is back.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from cortex import redis_guard
from errors.context import get_correlation_id
from eventstream.publish import publish as publish_event
from eventstream.replay import ReplayBuffer
from eventstream.replay import get_buffer as topic_buffer
from eventstream.topics import Topic

from . import webhooks

logger = logging.getLogger(__name__)

CREATED = "workspace.created"
UPDATED = "workspace.updated"
DELETED = "workspace.deleted"

# An owner's workspace events: group and Redis key as they have always been named.
WORKSPACE_EVENTS = Topic(
    name="Workspace events",
    group_prefix="workspaces.owner.",
    replay_prefix="cortex:workspace-events:",
    message_type="workspace.event",
)


def owner_group(owner_id: int) -> str:
    """The channel-layer group of one owner's workspace events."""
    return WORKSPACE_EVENTS.group(owner_id)


def group_message(owner_id: int, event_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer message that carries `event` to the owner's streams."""
    return WORKSPACE_EVENTS.message(owner_id, event_id, event)


def get_buffer() -> ReplayBuffer:
    """The replay buffer of workspace events."""
    return topic_buffer(WORKSPACE_EVENTS)


def publish_on_commit(event_type: str, *, owner_id: int, workspace: dict[str, Any]) -> None:
    """Publish `event_type` for `workspace` (already serialized) when the transaction commits.

    The event carries the correlation id of the request that caused it.
    """
    event = {
        "type": event_type,
        "workspace": workspace,
        "correlation_id": get_correlation_id(),
    }
    transaction.on_commit(lambda: publish(owner_id, event))


def publish(owner_id: int, event: dict[str, Any]) -> None:
    """Keep `event` for replay and send it to the owner's streams now; failures are logged.

    A `workspace.created` event also goes to WORKSPACE_WEBHOOK_URL, when set, in the background.
    """
    if event["type"] == CREATED:
        webhooks.notify_workspace_created(event)  # never raises; returns at once
    try:
        publish_event(WORKSPACE_EVENTS, owner_id, event)
    except redis_guard.RedisUnavailable:
        # The outage itself is logged once (WARNING) by the breaker; this says what it cost.
        logger.info(
            "%s not published: Redis cannot be reached",
            event["type"],
            extra={"event_type": event["type"]},
        )
    except Exception:
        logger.exception("Could not publish %s", event["type"], extra={"event_type": event["type"]})
