"""The SSE consumer at ASGI level (ApplicationCommunicator; HttpCommunicator cannot stream)."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token

from errors.asgi import CorrelationIdMiddleware
from tests.conftest import JsonLog
from workspaces import events
from workspaces.consumers import WorkspaceEventsConsumer

pytestmark = pytest.mark.django_db(transaction=True)

consumers: weakref.WeakSet[WorkspaceEventsConsumer] = weakref.WeakSet()


class TrackedConsumer(WorkspaceEventsConsumer):
    """The real consumer, remembered weakly so a test can see what outlives a stream."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        consumers.add(self)
        await super().__call__(scope, receive, send)


APP = CorrelationIdMiddleware(AuthMiddlewareStack(TrackedConsumer.as_asgi()))


def scope(headers: dict[str, str], method: str = "GET") -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": "/api/events/",
        "raw_path": b"/api/events/",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }


class Stream:
    def __init__(self, communicator: ApplicationCommunicator) -> None:
        self.communicator = communicator
        self.buffer = b""

    async def read_until(self, marker: bytes, timeout: float = 3) -> bytes:
        """Body bytes up to and including the first chunk that contains `marker`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while marker not in self.buffer:
            message = await self.communicator.receive_output(max(0.01, deadline - loop.time()))
            self.buffer += message.get("body", b"")
        head, _, self.buffer = self.buffer.partition(marker)
        return head + marker

    async def next_event(self, timeout: float = 3) -> dict[str, str]:
        raw = (await self.read_until(b"\n\n", timeout)).decode()
        fields: dict[str, str] = {}
        for line in raw.strip("\n").split("\n"):
            name, _, value = line.partition(": ")
            fields[name] = fields[name] + "\n" + value if name in fields else value
        return fields


async def open_stream(
    headers: dict[str, str], method: str = "GET"
) -> tuple[dict[str, Any], Stream]:
    communicator = ApplicationCommunicator(APP, scope(headers, method))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(3)
    return start, Stream(communicator)


async def the_running_consumer() -> WorkspaceEventsConsumer:
    """The one open stream's consumer, once its pump runs (after it has joined the group)."""
    (consumer,) = list(consumers)
    for _ in range(200):
        if consumer.pump is not None:
            return consumer
        await asyncio.sleep(0.01)
    raise AssertionError("the stream's pump never started")


def run(test: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(test)()


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("alice", password="pw")


@pytest.fixture
def token(alice: User) -> str:
    return Token.objects.create(user=alice).key


def headers_of(start: dict[str, Any]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in start["headers"]}


def test_no_credentials_get_the_envelope_not_a_stream() -> None:
    async def scenario() -> None:
        start, stream = await open_stream({"X-Correlation-ID": "refused-1"})
        assert start["status"] == 401
        headers = headers_of(start)
        assert headers["content-type"] == "application/json"
        assert headers["www-authenticate"] == "Token"
        assert headers["x-correlation-id"] == "refused-1"
        body = await stream.communicator.receive_output(3)
        assert json.loads(body["body"])["error"] == {
            "code": "authentication_error",
            "message": "Authentication credentials were not provided.",
            "correlation_id": "refused-1",
        }
        await stream.communicator.wait(3)

    run(scenario)


def test_an_expired_token_is_token_expired(token: str, settings: Any) -> None:
    settings.TOKEN_TTL = 1
    Token.objects.filter(key=token).update(created=timezone.now() - timedelta(seconds=5))

    async def scenario() -> None:
        start, stream = await open_stream({"Authorization": f"Token {token}"})
        assert start["status"] == 401
        body = await stream.communicator.receive_output(3)
        assert json.loads(body["body"])["error"]["code"] == "token_expired"

    run(scenario)


def test_other_methods_are_405(token: str) -> None:
    async def scenario() -> None:
        start, stream = await open_stream({"Authorization": f"Token {token}"}, method="POST")
        assert start["status"] == 405
        body = await stream.communicator.receive_output(3)
        assert json.loads(body["body"])["error"]["code"] == "method_not_allowed"

    run(scenario)


def test_the_event_sequence(alice: User, token: str, settings: Any) -> None:
    settings.SSE_HEARTBEAT_SECONDS = 1

    async def scenario() -> None:
        start, stream = await open_stream(
            {"Authorization": f"Token {token}", "X-Correlation-ID": "stream-1"}
        )
        assert start["status"] == 200
        headers = headers_of(start)
        assert headers["content-type"] == "text/event-stream; charset=utf-8"
        assert headers["cache-control"] == "no-cache"
        assert headers["x-accel-buffering"] == "no"
        assert headers["x-correlation-id"] == "stream-1"
        assert "connection" not in headers

        assert await stream.next_event() == {"retry": "3000"}
        established = await stream.next_event()
        assert established["event"] == "connection_established"
        data = json.loads(established["data"])
        assert data["user_id"] == alice.pk
        assert data["timestamp"].endswith("Z")

        event = {"type": "workspace.created", "workspace": {"id": "w1"}, "correlation_id": "c-9"}
        await database_sync_to_async(events.publish)(alice.pk, event)
        created = await stream.next_event()
        assert created["event"] == "workspace.created"
        assert created["id"]
        assert json.loads(created["data"]) == event

        assert await stream.next_event(timeout=2.5) == {"": "heartbeat"}  # ": heartbeat"
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

    run(scenario)


def test_an_event_that_cannot_be_produced_becomes_an_error_event(
    alice: User, token: str, json_log: JsonLog
) -> None:
    async def scenario() -> None:
        _, stream = await open_stream(
            {"Authorization": f"Token {token}", "X-Correlation-ID": "stream-err"}
        )
        await stream.next_event()
        await stream.next_event()
        layer = get_channel_layer()
        group = events.owner_group(alice.pk)
        await layer.group_send(group, {"type": "workspace.event", "id": "1-0", "event": {}})
        error = await stream.next_event()
        assert error["event"] == "error"
        assert json.loads(error["data"]) == {
            "error": {
                "code": "internal_error",
                "message": "Internal server error",
                "correlation_id": "stream-err",
            }
        }
        # The stream stays open: the next good event still arrives.
        good = {"type": "workspace.deleted", "workspace": {"id": "w2"}, "correlation_id": "c"}
        await layer.group_send(group, {"type": "workspace.event", "id": "2-0", "event": good})
        assert (await stream.next_event())["event"] == "workspace.deleted"
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

    run(scenario)
    errors = [r for r in json_log.records() if r["logger"] == "errors"]
    assert [(r["error_code"], r["correlation_id"]) for r in errors] == [
        ("internal_error", "stream-err")
    ]


def test_a_disconnect_leaves_the_group_and_nothing_behind(alice: User, token: str) -> None:
    async def scenario() -> None:
        _, stream = await open_stream({"Authorization": f"Token {token}"})
        await stream.next_event()
        await stream.next_event()
        consumer = await the_running_consumer()
        pump = consumer.pump
        assert pump is not None and not pump.done()
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(1)
        assert pump.cancelled()
        layer = get_channel_layer()
        group = events.owner_group(alice.pk)
        if hasattr(layer, "groups"):  # the in-memory layer
            assert not layer.groups.get(group)
        else:  # channels_redis keeps a group's members in a sorted set
            assert await layer.connection(0).zcard(layer._group_key(group)) == 0
        del consumer, pump, stream

    consumers.clear()
    run(scenario)
    gc.collect()
    assert len(consumers) == 0


def test_a_full_queue_closes_the_stream_with_an_explanation(
    alice: User, token: str, settings: Any
) -> None:
    settings.SSE_QUEUE_SIZE = 2

    async def scenario() -> None:
        _, stream = await open_stream({"Authorization": f"Token {token}"})
        await stream.next_event()
        await stream.next_event()
        consumer = await the_running_consumer()
        assert consumer.flow is not None
        consumer.flow.pauseProducing()  # what Twisted does when the client stops reading
        layer = get_channel_layer()
        group = events.owner_group(alice.pk)
        for n in range(6):
            event = {"type": "workspace.created", "workspace": {"n": n}, "correlation_id": "c"}
            message = {"type": "workspace.event", "id": f"{n}-0", "event": event}
            await layer.group_send(group, message)
        error = await stream.next_event()
        assert error["event"] == "error"
        assert json.loads(error["data"])["error"]["code"] == "stream_lagging"
        await stream.communicator.wait(3)
        del consumer

    consumers.clear()
    run(scenario)


def test_last_event_id_replays_what_was_missed(alice: User, token: str) -> None:
    ids = [
        events.get_buffer().append(alice.pk, {"type": "workspace.updated", "workspace": {"n": n}})
        for n in range(3)
    ]

    async def scenario() -> None:
        _, stream = await open_stream(
            {"Authorization": f"Token {token}", "Last-Event-ID": ids[0]}
        )
        await stream.next_event()
        await stream.next_event()
        replayed = [await stream.next_event(), await stream.next_event()]
        assert [e["id"] for e in replayed] == ids[1:]
        assert [json.loads(e["data"])["workspace"]["n"] for e in replayed] == [1, 2]
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

    run(scenario)


def test_an_unknown_last_event_id_says_events_were_lost(token: str) -> None:
    async def scenario() -> None:
        _, stream = await open_stream(
            {"Authorization": f"Token {token}", "Last-Event-ID": "1-0"}
        )
        await stream.next_event()
        await stream.next_event()
        lost = await stream.next_event()
        assert lost["event"] == "events_lost"
        assert json.loads(lost["data"])["last_event_id"] == "1-0"
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

    run(scenario)


def test_open_streams_are_counted(token: str) -> None:
    from prometheus_client import REGISTRY

    def open_now() -> float:
        return REGISTRY.get_sample_value("sse_open_streams") or 0.0

    async def scenario() -> None:
        before = open_now()
        _, stream = await open_stream({"Authorization": f"Token {token}"})
        await stream.next_event()
        await stream.next_event()
        assert open_now() == before + 1
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)
        assert open_now() == before

    run(scenario)
