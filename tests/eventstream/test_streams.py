"""`Stream`: order, the bounded queue and the cut-off, against an ASGI `send` that records."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from eventstream.streams import Stream


class Recorder:
    """An ASGI `send` that keeps every message, as a server would write them."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.messages]


def stream_for(send: Recorder, limit: int = 2) -> Stream:
    return Stream(7, send, limit=limit, correlation_id="cid-7", path="/api/events/")


def chunk(n: int) -> bytes:
    return f"id: {n}-0\ndata: {n}\n\n".encode()


def test_while_opening_nothing_is_cut_off_and_replayed_events_are_dropped() -> None:
    async def scenario() -> None:
        send = Recorder()
        stream = stream_for(send, limit=2)
        for n in range(1, 6):  # more than the limit, while the stream is still opening
            await stream.deliver((n, 0), chunk(n))
        assert send.messages == [] and not stream.closed
        stream.replayed_up_to = (3, 0)  # the replay covered 1..3
        await stream.release()
        assert send.bodies == [chunk(4), chunk(5)]
        await stream.deliver((3, 0), chunk(3))  # a late copy of a replayed event
        await stream.deliver((6, 0), chunk(6))
        assert send.bodies == [chunk(4), chunk(5), chunk(6)]

    asyncio.run(scenario())


def test_a_paused_stream_queues_in_order_and_writes_them_on_resume() -> None:
    async def scenario() -> None:
        send = Recorder()
        stream = stream_for(send, limit=4)
        await stream.release()
        stream.pauseProducing()
        for n in (1, 2, 3):
            await stream.deliver((n, 0), chunk(n))
        assert send.messages == [] and stream.busy
        stream.resumeProducing()
        await stream.deliver((4, 0), chunk(4))  # while the queue drains: after the others
        for _ in range(10):
            await asyncio.sleep(0)
        assert send.bodies == [chunk(1), chunk(2), chunk(3), chunk(4)]
        assert all(m["more_body"] for m in send.messages)
        assert not stream.busy

    asyncio.run(scenario())


def test_a_stream_too_far_behind_gets_stream_lagging_and_nothing_more() -> None:
    async def scenario() -> None:
        send = Recorder()
        stream = stream_for(send, limit=2)
        await stream.release()
        stream.pauseProducing()
        for n in (1, 2, 3):  # the third does not fit
            await stream.deliver((n, 0), chunk(n))
        assert stream.closed
        (final,) = send.messages
        assert final["more_body"] is False
        text = final["body"].decode()
        assert text.startswith("event: error\ndata: ")
        error = json.loads(text.split("data: ", 1)[1])["error"]
        assert (error["code"], error["correlation_id"]) == ("stream_lagging", "cid-7")
        stream.resumeProducing()
        await stream.deliver((4, 0), chunk(4))
        await asyncio.sleep(0)
        assert len(send.messages) == 1

    asyncio.run(scenario())
