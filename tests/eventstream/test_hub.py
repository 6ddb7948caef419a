"""`Hub`: one membership per owner, each event formatted once for all of the owner's streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from django.utils import translation

from eventstream.compat import InMemoryChannelLayer
from eventstream.hub import Hub, get_hub
from eventstream.streams import Stream, TooManyStreams
from eventstream.topics import Topic

TOPIC = Topic(
    name="Test events", group_prefix="test.owner.", replay_prefix="test:", message_type="t.event"
)


class Recorder:
    """An ASGI `send` that keeps each body written."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.bodies.append(message["body"])


async def live_stream(hub: Hub, owner: int) -> tuple[Stream, Recorder]:
    send = Recorder()
    stream = Stream(owner, send, limit=4, correlation_id=f"cid-{owner}", path="/events/")
    await hub.subscribe(stream)
    await stream.release()
    return stream, send


def run(scenario: Callable[[Hub], Awaitable[None]]) -> None:
    async def main() -> None:
        hub = Hub(InMemoryChannelLayer(), TOPIC)
        try:
            await scenario(hub)
        finally:
            for streams in list(hub.streams.values()):
                for stream in list(streams):
                    await hub.unsubscribe(stream)

    asyncio.run(main())


def test_an_owner_joins_its_group_once_and_leaves_it_with_its_last_stream() -> None:
    async def scenario(hub: Hub) -> None:
        first, _ = await live_stream(hub, 1)
        second, _ = await live_stream(hub, 1)
        channel = await hub.channel_name()
        assert hub.joined == {1}
        assert list(hub.layer.groups[TOPIC.group(1)]) == [channel]
        await hub.unsubscribe(first)
        assert hub.joined == {1}
        await hub.unsubscribe(second)
        assert hub.joined == set() and hub.streams == {}
        assert TOPIC.group(1) not in hub.layer.groups

    run(scenario)


def test_an_event_reaches_every_stream_of_its_owner_and_no_other() -> None:
    async def scenario(hub: Hub) -> None:
        _, first = await live_stream(hub, 1)
        _, second = await live_stream(hub, 1)
        _, other = await live_stream(hub, 2)
        event = {"type": "thing.created", "thing": {"id": 7}}
        await hub.layer.group_send(TOPIC.group(1), TOPIC.message(1, "5-0", event))
        for _ in range(100):
            if first.bodies and second.bodies:
                break
            await asyncio.sleep(0.01)
        data = b'{"type":"thing.created","thing":{"id":7}}'
        expected = b"id: 5-0\nevent: thing.created\ndata: " + data + b"\n\n"
        assert first.bodies == second.bodies == [expected]
        assert other.bodies == []

    run(scenario)


def test_an_event_delivered_twice_is_written_once() -> None:
    async def scenario(hub: Hub) -> None:
        _, send = await live_stream(hub, 1)
        message = TOPIC.message(1, "9-0", {"type": "thing.updated"})
        await hub.fan_out(message)
        await hub.fan_out(message)
        assert len(send.bodies) == 1

    run(scenario)


def test_an_event_that_cannot_be_formatted_is_an_error_event() -> None:
    async def scenario(hub: Hub) -> None:
        _, send = await live_stream(hub, 1)
        await hub.fan_out({"type": "t.event", "owner": 1, "id": "1-0", "event": {}})
        (body,) = send.bodies
        assert body.startswith(b"event: error\ndata: ")
        data = json.loads(body.split(b"data: ", 1)[1])
        assert data["error"]["code"] == "internal_error"

    run(scenario)


def test_streams_past_the_per_user_cap_are_refused(settings: Any) -> None:
    settings.SSE_MAX_STREAMS_PER_USER = 2
    settings.SSE_HEARTBEAT_SECONDS = 7

    async def scenario(hub: Hub) -> None:
        first, _ = await live_stream(hub, 1)
        await live_stream(hub, 1)
        with pytest.raises(TooManyStreams) as refused:
            await live_stream(hub, 1)
        assert refused.value.retry_after == 7
        await live_stream(hub, 2)  # another user's streams count apart
        first.stop()  # a stream that ended frees its slot at once
        await live_stream(hub, 1)

    run(scenario)


def test_each_event_loop_and_topic_has_a_hub_of_its_own(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "eventstream.compat.InMemoryChannelLayer"}}
    other = Topic(name="Other", group_prefix="o.", replay_prefix="o:", message_type="o.event")

    async def hubs() -> tuple[Hub, Hub, Hub]:
        return get_hub(TOPIC), get_hub(TOPIC), get_hub(other)

    first, again, other_hub = asyncio.run(hubs())
    assert first is again and first.topic is TOPIC and other_hub.topic is other
    assert asyncio.run(hubs())[0] is not first


def test_the_notice_of_a_gap_is_in_each_streams_language() -> None:
    async def scenario(hub: Hub) -> None:
        with translation.override("fr"):
            _, french = await live_stream(hub, 1)
        with translation.override("de"):
            _, german = await live_stream(hub, 2)
        french.bodies.clear()
        german.bodies.clear()

        await hub._tell_of_gap()

        assert french.bodies == [
            b"event: events_lost\ndata: "
            + orjson.dumps(
                {
                    "message": "Des événements ont peut-être été manqués ; "
                    "reconnectez-vous avec Last-Event-ID pour les recevoir"
                }
            )
            + b"\n\n"
        ]
        assert b"Ereignisse verpasst" in german.bodies[0]

    run(scenario)
