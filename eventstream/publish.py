"""Publishing an event: kept for replay, then sent to the group of its owner's streams."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from .conf import stream_settings
from .replay import get_buffer
from .topics import Topic


def publish(topic: Topic, owner_id: int, event: dict[str, Any]) -> str:
    """Store `event` (a dict with a `type`, which names it on the wire) in the owner's replay
    buffer and send it to the owner's open streams, in every process; its id.

    Both go through SSE_GUARD, whose error is raised as it is. Call it once the change the event
    tells of is durable (after commit), so no client hears of one that was rolled back.
    """
    guard = stream_settings.guard
    event_id = guard.call(lambda: get_buffer(topic).append(owner_id, event))
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(_group_send)(layer, topic, owner_id, event_id, event)
    return event_id


async def _group_send(
    layer: Any, topic: Topic, owner_id: int, event_id: str, event: dict[str, Any]
) -> None:
    message = topic.message(owner_id, event_id, event)
    await stream_settings.guard.bounded(layer.group_send(topic.group(owner_id), message))
