"""`publish`: an event is kept for replay, then sent to its owner's group, through the guard."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from channels.layers import channel_layers, get_channel_layer

from eventstream.publish import publish
from eventstream.replay import get_buffer
from eventstream.topics import Topic

T = TypeVar("T")
TOPIC = Topic(
    name="Test events", group_prefix="test.owner.", replay_prefix="test:", message_type="t.event"
)
calls: list[str] = []


class RecordingGuard:
    """A guard that says what went through it."""

    def call(self, operation: Callable[[], T]) -> T:
        calls.append("call")
        return operation()

    async def bounded(self, operation: Awaitable[T], *, proves_up: bool = True) -> T:
        calls.append("bounded")
        return await operation


recording_guard = RecordingGuard()


@pytest.fixture(autouse=True)
def _memory(settings: Any) -> Any:
    settings.REDIS_URL = None
    settings.SSE_GUARD = f"{__name__}.recording_guard"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "eventstream.compat.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    calls.clear()
    yield
    channel_layers.backends.clear()


def test_an_event_is_kept_for_replay_and_reaches_the_owner_s_group() -> None:
    layer = get_channel_layer()
    channel = asyncio.run(layer.new_channel())
    asyncio.run(layer.group_add(TOPIC.group(3), channel))
    event = {"type": "thing.created", "thing": {"id": 1}}
    event_id = publish(TOPIC, 3, event)
    assert calls == ["call", "bounded"]
    assert asyncio.run(layer.receive(channel)) == TOPIC.message(3, event_id, event)
    replay = get_buffer(TOPIC).since(3, "0-0")
    assert replay.events[-1] == (event_id, event)


def test_what_the_guard_refuses_is_raised() -> None:
    class Refused(Exception):
        pass

    def refuse(operation: Callable[[], Any]) -> Any:
        raise Refused

    recording_guard.call = refuse  # type: ignore[method-assign]
    try:
        with pytest.raises(Refused):
            publish(TOPIC, 3, {"type": "thing.deleted"})
    finally:
        del recording_guard.call
