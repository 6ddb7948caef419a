"""The SSE consumer at ASGI level (ApplicationCommunicator; HttpCommunicator cannot stream)."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from accounts.tokens import issue_token
from errors.asgi import CorrelationIdASGIMiddleware
from errors.limits import current_limit
from eventstream import hub as hubs
from eventstream import streams, tickets
from eventstream.models import StreamTicket
from tests.accounts.clients import CHALLENGE
from tests.conftest import JsonLog
from tests.support.servers import free_port
from tests.support.tcp_proxy import TcpProxy
from workspaces import events
from workspaces.consumers import WorkspaceEventsConsumer

pytestmark = pytest.mark.django_db(transaction=True)


def get_hub() -> hubs.Hub:
    """The hub of workspace events in the running event loop."""
    return hubs.get_hub(events.WORKSPACE_EVENTS)


@pytest.fixture(autouse=True)
def _layer_of_the_test(request: pytest.FixtureRequest, settings: Any) -> Iterator[None]:
    """The in-memory channel layer, except for the tests marked `redis`.

    Each test here runs its async code in an event loop of its own (async_to_sync), in one
    process. channels_redis is made for one loop per process: the receive state it keeps on the
    layer outlives a test's loop, and a later loop can wait on it for ever. The service itself
    runs one loop per process; its behaviour on Redis is tested by the tests marked `redis` here
    and by the real-server tests (test_sse_server.py).
    """
    if request.node.get_closest_marker("redis") is None:
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "eventstream.compat.InMemoryChannelLayer",
                "CONFIG": {"capacity": 1000},
            }
        }
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


consumers: weakref.WeakSet[WorkspaceEventsConsumer] = weakref.WeakSet()


class TrackedConsumer(WorkspaceEventsConsumer):
    """The real consumer, remembered weakly so a test can see what outlives a stream."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        consumers.add(self)
        await super().__call__(scope, receive, send)


APP = CorrelationIdASGIMiddleware(TrackedConsumer.as_asgi())


def scope(headers: dict[str, str], method: str = "GET", query: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": "/api/events/",
        "raw_path": b"/api/events/",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }


class Stream:
    def __init__(self, communicator: ApplicationCommunicator) -> None:
        self.communicator = communicator
        self.buffer = b""
        self.ended = False  # whether the last body message ended the response

    async def read_until(self, marker: bytes, timeout: float = 3) -> bytes:
        """Body bytes up to and including the first chunk that contains `marker`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while marker not in self.buffer:
            message = await self.communicator.receive_output(max(0.01, deadline - loop.time()))
            self.buffer += message.get("body", b"")
            self.ended = not message.get("more_body", False)
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
    headers: dict[str, str], method: str = "GET", query: str = ""
) -> tuple[dict[str, Any], Stream]:
    communicator = ApplicationCommunicator(APP, scope(headers, method, query))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(3)
    return start, Stream(communicator)


async def the_open_stream() -> streams.Stream:
    """The one open stream, once it is live (its opening events and replay written)."""
    (consumer,) = list(consumers)
    for _ in range(200):
        stream = consumer.stream
        if stream is not None and not stream.holding:
            return stream
        await asyncio.sleep(0.01)
    raise AssertionError("the stream never went live")


async def group_members(owner_id: int) -> int:
    """How many channels are in the owner's group, on the layer the tests run with."""
    layer = get_channel_layer()
    group = events.owner_group(owner_id)
    if hasattr(layer, "groups"):  # the in-memory layer
        return len(layer.groups.get(group, {}))
    # channels_redis keeps a group's members in a sorted set
    return int(await layer.connection(0).zcard(layer._group_key(group)))


def event_message(owner_id: int, n: int, event: dict[str, Any]) -> dict[str, Any]:
    return events.group_message(owner_id, f"{n}-0", event)


def assert_internal_error_event(event: dict[str, str], correlation_id: str) -> None:
    """`event` is an `error` event whose envelope says no more than that something failed."""
    assert event["event"] == "error"
    assert json.loads(event["data"]) == {
        "error": {
            "code": "internal_error",
            "message": "Internal server error",
            "correlation_id": correlation_id,
        }
    }


async def _let_go_of_this_loop() -> None:
    """End what the test left running, so that its event loop can close.

    Each run has a loop of its own. channels_redis may swallow the cancelling of a receive that
    waits on Redis (it then waits again), and now and then the hub's receiver, cancelled when
    its last stream left, has still not run when the test ends: closing the loop would wait for
    it for ever. The tasks get two seconds; one that is still pending is let go of (the service
    runs one loop per process, which never closes). The connections of this loop are closed,
    and the next run gets a channel layer of its own.
    """
    current = asyncio.current_task()
    # A task that is cancelled may start another as it ends (a stream dropped while it opened
    # settles its owner's membership in a task of its own): sweep until none is left.
    for _ in range(5):
        others = [task for task in asyncio.all_tasks() if task is not current]
        if not others:
            break
        for task in others:
            task.cancel()
        _, pending = await asyncio.wait(others, timeout=2)
        for task in pending:
            asyncio.tasks._unregister_task(task)
    layer = get_channel_layer()
    if hasattr(layer, "close_pools"):
        await layer.close_pools()
    channel_layers.backends.clear()


def run(test: Callable[[], Awaitable[None]]) -> None:
    async def scenario() -> None:
        try:
            await test()
        finally:
            await _let_go_of_this_loop()

    async_to_sync(scenario)()


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("alice", password="pw")


@pytest.fixture
def token(alice: User) -> str:
    return issue_token(alice).key


def headers_of(start: dict[str, Any]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in start["headers"]}


def test_no_credentials_get_the_envelope_not_a_stream() -> None:
    async def scenario() -> None:
        start, stream = await open_stream({"X-Correlation-ID": "refused-1"})
        assert start["status"] == 401
        headers = headers_of(start)
        assert headers["content-type"] == "application/json"
        assert headers["www-authenticate"] == CHALLENGE
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
    AuthToken.objects.update(created=timezone.now() - timedelta(seconds=5))

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
        await layer.group_send(group, event_message(alice.pk, 1, {}))
        assert_internal_error_event(await stream.next_event(), "stream-err")
        # The stream stays open: the next good event still arrives.
        good = {"type": "workspace.deleted", "workspace": {"id": "w2"}, "correlation_id": "c"}
        await layer.group_send(group, event_message(alice.pk, 2, good))
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
        hub = get_hub()
        open_stream_ = await the_open_stream()
        assert hub.streams == {alice.pk: {open_stream_}}
        assert await group_members(alice.pk) == 1
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(1)
        assert open_stream_.closed
        assert hub.streams == {} and hub.joined == set()
        assert await group_members(alice.pk) == 0
        del open_stream_, stream

    consumers.clear()
    run(scenario)
    gc.collect()
    assert len(consumers) == 0


def test_streams_of_one_owner_share_one_membership(alice: User, token: str) -> None:
    async def scenario() -> None:
        opened = []
        for n in range(3):
            _, stream = await open_stream(
                {"Authorization": f"Token {token}", "X-Correlation-ID": f"share-{n}"}
            )
            await stream.next_event()
            await stream.next_event()
            opened.append(stream)
        assert await group_members(alice.pk) == 1  # the hub's channel, for all three
        event = {"type": "workspace.created", "workspace": {"id": "w"}, "correlation_id": "c"}
        await database_sync_to_async(events.publish)(alice.pk, event)
        for stream in opened:
            assert json.loads((await stream.next_event())["data"]) == event

        first, *others = opened
        await first.communicator.send_input({"type": "http.disconnect"})
        await first.communicator.wait(1)
        assert len(get_hub().streams[alice.pk]) == 2
        assert await group_members(alice.pk) == 1  # the other two still listen
        for stream in others:
            await stream.communicator.send_input({"type": "http.disconnect"})
            await stream.communicator.wait(1)
        assert await group_members(alice.pk) == 0

    run(scenario)


def test_a_full_queue_closes_the_stream_with_an_explanation(
    alice: User, token: str, settings: Any, json_log: JsonLog
) -> None:
    settings.SSE_QUEUE_SIZE = 2

    async def scenario() -> None:
        _, stream = await open_stream(
            {"Authorization": f"Token {token}", "X-Correlation-ID": "stream-lag"}
        )
        await stream.next_event()
        await stream.next_event()
        live = await the_open_stream()
        live.pauseProducing()  # what Twisted does when the client stops reading
        layer = get_channel_layer()
        group = events.owner_group(alice.pk)
        for n in range(6):
            event = {"type": "workspace.created", "workspace": {"n": n}, "correlation_id": "c"}
            await layer.group_send(group, event_message(alice.pk, n, event))
        # The queued events were dropped; the explanation ends the response.
        error = await stream.next_event()
        assert error["event"] == "error"
        assert json.loads(error["data"])["error"]["code"] == "stream_lagging"
        assert stream.ended
        # A server tells the application once the response is over, as daphne does.
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)
        assert await group_members(alice.pk) == 0

    consumers.clear()
    run(scenario)
    lagging = [r for r in json_log.records() if r.get("error_code") == "stream_lagging"]
    assert [r["correlation_id"] for r in lagging] == ["stream-lag"]


def test_a_client_that_reads_again_gets_what_waited_in_order(alice: User, token: str) -> None:
    async def scenario() -> None:
        _, stream = await open_stream({"Authorization": f"Token {token}"})
        await stream.next_event()
        await stream.next_event()
        live = await the_open_stream()
        live.pauseProducing()
        for n in range(3):
            event = {"type": "workspace.updated", "workspace": {"n": n}, "correlation_id": "c"}
            await get_hub().fan_out(event_message(alice.pk, n + 1, event))
        assert await stream.communicator.receive_nothing(0.1)
        live.resumeProducing()
        received = [await stream.next_event() for _ in range(3)]
        assert [e["id"] for e in received] == ["1-0", "2-0", "3-0"]
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

    run(scenario)


def test_a_session_authenticates_the_stream(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    name = django_settings.SESSION_COOKIE_NAME
    cookie = f"{name}={client.cookies[name].value}"

    async def scenario() -> None:
        start, stream = await open_stream({"Cookie": cookie})
        assert start["status"] == 200
        await stream.next_event()
        established = await stream.next_event()
        assert json.loads(established["data"])["user_id"] == alice.pk
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

        start, stream = await open_stream({"Cookie": f"{name}=stale"})
        assert start["status"] == 401
        await stream.communicator.wait(3)

    run(scenario)
    client.logout()

    async def logged_out() -> None:
        start, stream = await open_stream({"Cookie": cookie})
        assert start["status"] == 401
        await stream.communicator.wait(3)

    run(logged_out)


def test_a_failing_channel_layer_refuses_with_503_redis_unavailable(
    token: str, settings: Any, json_log: JsonLog
) -> None:
    nobody_listens = free_port()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{nobody_listens}/0"]},
        }
    }

    async def scenario() -> None:
        start, stream = await open_stream(
            {"Authorization": f"Token {token}", "X-Correlation-ID": "no-layer"}
        )
        assert start["status"] == 503
        assert headers_of(start)["retry-after"] == "5"  # REDIS_RETRY_AFTER
        body = json.loads((await stream.communicator.receive_output(3))["body"])
        assert body["error"]["code"] == "redis_unavailable"
        assert body["error"]["correlation_id"] == "no-layer"
        assert "6379" not in json.dumps(body) and str(nobody_listens) not in json.dumps(body)
        await stream.communicator.wait(3)
        assert get_hub().streams == {}

    run(scenario)
    (record,) = [r for r in json_log.records() if r["logger"] == "errors"]
    assert (record["error_code"], record["status_code"]) == ("redis_unavailable", 503)
    assert record["correlation_id"] == "no-layer"
    # An outage of Redis, not a fault of this request: a WARNING without a traceback (the
    # breaker logs the outage itself, once).
    assert record["level"] == "WARNING"
    assert "exception" not in record


def test_a_stream_waits_for_its_turn_to_read_the_database(token: str, settings: Any) -> None:
    settings.ERRORS_MAX_CONCURRENT_REQUESTS = 1
    settings.ERRORS_QUEUE_TIMEOUT = 0.3

    async def scenario() -> None:
        limit = current_limit()
        assert limit is not None
        held = await limit.acquire(1.0)  # a request holds the only turn
        assert held is not None
        start, stream = await open_stream({"Authorization": f"Token {token}"})
        assert start["status"] == 503
        assert headers_of(start)["retry-after"] == "1"
        body = json.loads((await stream.communicator.receive_output(3))["body"])
        assert body["error"]["code"] == "service_busy"
        await stream.communicator.wait(3)
        held.release()
        start, stream = await open_stream({"Authorization": f"Token {token}"})
        assert start["status"] == 200
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

    run(scenario)


def test_last_event_id_replays_what_was_missed(alice: User, token: str) -> None:
    ids = [
        events.get_buffer().append(alice.pk, {"type": "workspace.updated", "workspace": {"n": n}})
        for n in range(3)
    ]

    async def scenario() -> None:
        _, stream = await open_stream({"Authorization": f"Token {token}", "Last-Event-ID": ids[0]})
        await stream.next_event()
        await stream.next_event()
        replayed = [await stream.next_event(), await stream.next_event()]
        assert [e["id"] for e in replayed] == ids[1:]
        assert [json.loads(e["data"])["workspace"]["n"] for e in replayed] == [1, 2]
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

    run(scenario)


def test_the_last_event_id_query_parameter_replays_like_the_header(alice: User) -> None:
    """A new EventSource cannot set Last-Event-ID: `?last_event_id=` does the same, with a
    ticket (the header wins when both are sent)."""
    ids = [
        events.get_buffer().append(alice.pk, {"type": "workspace.updated", "workspace": {"n": n}})
        for n in range(3)
    ]
    ticket = tickets.issue(alice.pk).ticket

    async def scenario() -> None:
        query = urlencode({"ticket": ticket, "last_event_id": ids[0]})
        start, stream = await open_stream({}, query=query)
        assert start["status"] == 200
        await stream.next_event()
        established = await stream.next_event()
        assert json.loads(established["data"])["user_id"] == alice.pk
        replayed = [await stream.next_event(), await stream.next_event()]
        assert [e["id"] for e in replayed] == ids[1:]
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

    run(scenario)


def test_a_query_string_with_too_many_fields_is_a_400(token: str) -> None:
    async def scenario() -> None:
        fields = "&".join(f"f{n}=1" for n in range(25))  # many, but not too many: it opens
        start, stream = await open_stream({"Authorization": f"Token {token}"}, query=fields)
        assert start["status"] == 200
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

        query = "&".join(f"f{n}=1" for n in range(1001))  # DATA_UPLOAD_MAX_NUMBER_FIELDS: 1000
        start, stream = await open_stream({"Authorization": f"Token {token}"}, query=query)
        assert start["status"] == 400
        body = await stream.communicator.receive_output(3)
        assert json.loads(body["body"])["error"]["code"] == "bad_request"
        await stream.communicator.wait(3)

    run(scenario)


async def refusal(start: dict[str, Any], stream: Stream) -> dict[str, Any]:
    """The envelope's `error` of a refused stream, after checking the head of a 401."""
    assert start["status"] == 401, start
    assert headers_of(start)["www-authenticate"] == CHALLENGE
    body = await stream.communicator.receive_output(3)
    await stream.communicator.wait(3)
    return dict(json.loads(body["body"])["error"])


def test_a_ticket_opens_its_users_stream_once(alice: User) -> None:
    ticket = tickets.issue(alice.pk).ticket

    async def scenario() -> None:
        start, stream = await open_stream({}, query=f"ticket={ticket}")
        assert start["status"] == 200
        await stream.next_event()
        established = await stream.next_event()
        assert established["event"] == "connection_established"
        assert json.loads(established["data"])["user_id"] == alice.pk
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

        again = await refusal(*await open_stream({}, query=f"ticket={ticket}"))
        assert again["code"] == "authentication_error"
        assert again["message"] == "Invalid ticket; it may have been used already."

    run(scenario)


@pytest.mark.parametrize(
    ("ticket", "message"),
    [
        ("", "Invalid ticket."),
        ("x" * 43, "Invalid ticket; it may have been used already."),  # forged
        ("not a ticket", "Invalid ticket."),
        ("é" * 43, "Invalid ticket."),
    ],
)
def test_a_forged_ticket_is_401_in_the_envelope(ticket: str, message: str) -> None:
    async def scenario() -> None:
        start, stream = await open_stream(
            {"X-Correlation-ID": "forged-ticket"}, query=urlencode({"ticket": ticket})
        )
        assert await refusal(start, stream) == {
            "code": "authentication_error",
            "message": message,
            "correlation_id": "forged-ticket",
        }

    run(scenario)


def test_an_expired_ticket_is_401(alice: User) -> None:
    ticket = tickets.issue(alice.pk).ticket
    StreamTicket.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    async def scenario() -> None:
        error = await refusal(*await open_stream({}, query=f"ticket={ticket}"))
        assert error["message"] == "Ticket has expired."

    run(scenario)
    assert not StreamTicket.objects.exists()  # spent all the same


def test_a_ticket_with_another_users_credentials_is_refused(alice: User, token: str) -> None:
    """Bound to the caller: a ticket of bob's in a request that is alice's opens nothing."""
    bob = User.objects.create_user("bob", password="pw")
    bobs_ticket, alices_ticket = tickets.issue(bob.pk).ticket, tickets.issue(alice.pk).ticket
    alice_token = {"Authorization": f"Token {token}"}

    async def scenario() -> None:
        error = await refusal(*await open_stream(alice_token, query=f"ticket={bobs_ticket}"))
        assert error["message"] == "The ticket was issued to another user."

        start, stream = await open_stream(alice_token, query=f"ticket={alices_ticket}")
        assert start["status"] == 200
        await stream.next_event()
        assert json.loads((await stream.next_event())["data"])["user_id"] == alice.pk
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

    run(scenario)


def test_a_ticket_of_a_deactivated_user_is_refused(alice: User) -> None:
    ticket = tickets.issue(alice.pk).ticket
    User.objects.filter(pk=alice.pk).update(is_active=False)

    async def scenario() -> None:
        error = await refusal(*await open_stream({}, query=f"ticket={ticket}"))
        assert error["message"] == "User inactive or deleted."

    run(scenario)


def test_an_allowed_origin_gets_cors_headers_on_the_stream_and_on_its_refusals(
    alice: User, settings: Any
) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]
    settings.CORS_EXPOSE_HEADERS = ["X-Correlation-ID", "Retry-After"]
    ticket = tickets.issue(alice.pk).ticket

    async def scenario() -> None:
        origin = {"Origin": "https://app.example"}
        start, stream = await open_stream(origin, query=f"ticket={ticket}")
        headers = headers_of(start)
        assert start["status"] == 200
        assert headers["access-control-allow-origin"] == "https://app.example"
        assert headers["access-control-expose-headers"] == "X-Correlation-ID, Retry-After"
        assert headers["vary"] == "origin"
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

        start, stream = await open_stream(origin, query=f"ticket={ticket}")  # spent
        assert headers_of(start)["access-control-allow-origin"] == "https://app.example"
        await refusal(start, stream)

        start, stream = await open_stream({"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in headers_of(start)
        await refusal(start, stream)

    run(scenario)


def test_an_unknown_last_event_id_says_events_were_lost(token: str) -> None:
    async def scenario() -> None:
        _, stream = await open_stream({"Authorization": f"Token {token}", "Last-Event-ID": "1-0"})
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


def test_a_failure_after_the_stream_started_ends_it_with_an_error_event(
    token: str, settings: Any, json_log: JsonLog
) -> None:
    # The replay buffer lives on a Redis that does not answer: the stream has started (200)
    # when reading the replay fails, so the error is its last event, not a server error page;
    # an error of Redis's own that nothing caught, it says `redis_unavailable`.
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"

    async def scenario() -> None:
        start, stream = await open_stream(
            {
                "Authorization": f"Token {token}",
                "Last-Event-ID": "1-0",
                "X-Correlation-ID": "replay-broken",
            }
        )
        assert start["status"] == 200
        await stream.next_event()
        assert (await stream.next_event())["event"] == "connection_established"
        event = await stream.next_event()
        assert event["event"] == "error"
        assert json.loads(event["data"])["error"]["code"] == "redis_unavailable"
        assert stream.ended
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)
        assert get_hub().streams == {}

    run(scenario)
    (record,) = [r for r in json_log.records() if r["logger"] == "errors"]
    assert (record["error_code"], record["correlation_id"]) == (
        "redis_unavailable",
        "replay-broken",
    )


def test_a_burst_of_events_reaches_the_stream_whole_and_in_order(alice: User, token: str) -> None:
    # 500 events on the hub's channel before the hub gets to run once: more than Channels'
    # default channel capacity (100), past which a layer drops messages silently.
    burst = 500

    async def scenario() -> None:
        _, stream = await open_stream({"Authorization": f"Token {token}"})
        await stream.next_event()
        await stream.next_event()
        layer = get_channel_layer()
        channel = await get_hub().channel_name()
        for n in range(1, burst + 1):
            event = {"type": "workspace.updated", "workspace": {"n": n}, "correlation_id": "c"}
            await layer.send(channel, event_message(alice.pk, n, event))
        received = [await stream.next_event() for _ in range(burst)]
        assert [e["id"] for e in received] == [f"{n}-0" for n in range(1, burst + 1)]
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

    run(scenario)


@pytest.mark.redis
def test_streams_hear_events_again_after_the_link_to_redis_comes_back(
    alice: User, token: str, settings: Any, redis_url: str, json_log: JsonLog
) -> None:
    from urllib.parse import urlsplit

    from channels_redis.core import RedisChannelLayer

    target = urlsplit(redis_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    database = target.path or "/0"
    layer = settings.CHANNEL_LAYERS["default"]  # the service's configuration, through the proxy
    (host,) = layer["CONFIG"]["hosts"]
    proxied = {**host, "address": f"redis://127.0.0.1:{proxy.port}{database}"}
    settings.CHANNEL_LAYERS = {
        "default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [proxied]}}
    }
    publisher = RedisChannelLayer(hosts=[redis_url])  # straight to Redis, not through the proxy
    group = events.owner_group(alice.pk)

    async def publish(n: int) -> None:
        event = {"type": "workspace.updated", "workspace": {"n": n}, "correlation_id": "c"}
        await publisher.group_send(group, event_message(alice.pk, n, event))

    async def scenario() -> None:
        _, stream = await open_stream(
            {"Authorization": f"Token {token}", "X-Correlation-ID": "outage-stream"}
        )
        await stream.next_event()
        await stream.next_event()
        await publish(1)
        assert (await stream.next_event())["id"] == "1-0"

        async def hub_says(words: str) -> None:
            for _ in range(100):
                if any(words in r["message"] for r in json_log.records()):
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(f"the hub never said {words!r}")

        # The process's link to Redis breaks, for longer than redis-py's own retries last (a
        # shorter break goes unnoticed: what was published waits in Redis meanwhile).
        await asyncio.to_thread(proxy.cut)
        await hub_says("cannot be received")
        await asyncio.to_thread(proxy.restore)
        # The hub retries every second and joins its groups again before it listens.
        await hub_says("received again")
        lost = await stream.next_event(timeout=5)
        assert lost["event"] == "events_lost"
        assert "Last-Event-ID" in json.loads(lost["data"])["message"]
        await publish(2)
        assert (await stream.next_event(timeout=5))["id"] == "2-0"
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)

    try:
        run(scenario)
    finally:
        proxy.close()
    hub_lines = [r for r in json_log.records() if r["logger"] == "eventstream.hub"]
    assert [r["message"] for r in hub_lines] == [
        "Workspace events cannot be received; retrying",
        "Workspace events are received again",
    ], hub_lines
    # The hub works for every stream of the process: its lines carry none's correlation id.
    assert [r["correlation_id"] for r in hub_lines] == [None, None]


# --- hostile clients: the per-user stream cap, Last-Event-IDs never issued, security headers --


@pytest.fixture
def bob_token() -> str:
    return issue_token(User.objects.create_user("bob", password="pw")).key


def assert_security_headers(start: dict[str, Any]) -> None:
    headers = headers_of(start)
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"


async def opened(headers: dict[str, str]) -> Stream:
    """A stream that answered 200 and has written its opening events."""
    start, stream = await open_stream(headers)
    assert start["status"] == 200, start
    assert await stream.next_event() == {"retry": "3000"}
    assert (await stream.next_event())["event"] == "connection_established"
    return stream


async def close(*opened_streams: Stream) -> None:
    for stream in opened_streams:
        await stream.communicator.send_input({"type": "http.disconnect"})
        await stream.communicator.wait(3)


def test_past_the_cap_a_user_gets_429_until_one_of_its_streams_closes(
    alice: User, token: str, bob_token: str, settings: Any, json_log: JsonLog
) -> None:
    settings.SSE_MAX_STREAMS_PER_USER = 2
    settings.SSE_HEARTBEAT_SECONDS = 7  # also the Retry-After of a refusal
    alice_auth = {"Authorization": f"Token {token}"}

    async def scenario() -> None:
        first, second = await opened(alice_auth), await opened(alice_auth)

        start, refused = await open_stream({**alice_auth, "X-Correlation-ID": "over-the-cap"})
        assert start["status"] == 429
        headers = headers_of(start)
        assert headers["content-type"] == "application/json"
        assert headers["retry-after"] == "7"
        assert headers["x-correlation-id"] == "over-the-cap"
        assert_security_headers(start)
        body = json.loads((await refused.communicator.receive_output(3))["body"])
        assert body == {
            "error": {
                "code": "rate_limit_exceeded",
                "message": "Too many open event streams: at most 2 per user; close one and retry",
                "correlation_id": "over-the-cap",
                "details": {"max_streams": 2, "retry_after": 7},
            }
        }
        await refused.communicator.wait(3)  # no stream: the response is over
        assert len(get_hub().streams[alice.pk]) == 2

        # Another user's stream opens meanwhile, and gets its events.
        bob = await opened({"Authorization": f"Token {bob_token}"})
        event = {"type": "workspace.created", "workspace": {"id": "b"}, "correlation_id": "c"}
        bob_id = (await database_sync_to_async(User.objects.get)(username="bob")).pk
        await database_sync_to_async(events.publish)(bob_id, event)
        assert json.loads((await bob.next_event())["data"]) == event

        # A stream that closes frees its slot at once.
        await close(first)
        third = await opened(alice_auth)
        start, refused_again = await open_stream(alice_auth)
        assert start["status"] == 429
        await refused_again.communicator.wait(3)
        await close(second, third, bob)
        assert get_hub().streams == {}

    run(scenario)
    refusals = [r for r in json_log.records() if r.get("error_code") == "rate_limit_exceeded"]
    assert [(r["status_code"], r["level"]) for r in refusals] == [(429, "WARNING")] * 2
    assert refusals[0]["correlation_id"] == "over-the-cap"


def test_a_stream_cut_off_for_lagging_frees_its_slot_before_its_disconnect(
    alice: User, token: str, settings: Any
) -> None:
    settings.SSE_MAX_STREAMS_PER_USER = 1
    settings.SSE_QUEUE_SIZE = 1

    async def scenario() -> None:
        lagging = await opened({"Authorization": f"Token {token}"})
        live = await the_open_stream()
        live.pauseProducing()
        for n in range(3):
            event = {"type": "workspace.updated", "workspace": {"n": n}, "correlation_id": "c"}
            await get_hub().fan_out(event_message(alice.pk, n + 1, event))
        last = await lagging.next_event()
        assert json.loads(last["data"])["error"]["code"] == "stream_lagging"
        assert lagging.ended
        # The server has not reported the disconnect yet; the user may open a new stream.
        fresh = await opened({"Authorization": f"Token {token}"})
        await close(lagging, fresh)

    consumers.clear()
    run(scenario)


def test_the_stream_and_its_refusals_carry_the_security_headers(token: str) -> None:
    async def scenario() -> None:
        start, stream = await open_stream({"Authorization": f"Token {token}"})
        assert start["status"] == 200
        assert_security_headers(start)
        await close(stream)
        for headers, method, status in (
            ({}, "GET", 401),
            ({"Authorization": f"Token {token}"}, "POST", 405),
            ({"Authorization": f"Token {token}"}, "HEAD", 200),
        ):
            start, refused = await open_stream(headers, method=method)
            assert start["status"] == status
            assert_security_headers(start)
            await refused.communicator.wait(3)

    run(scenario)


# Last-Event-ID values the service never issued. Header bytes as a client may send them: b"\xb2"
# is "²" in latin-1, which str.isdigit() takes and int() refuses.
NEVER_ISSUED = [
    pytest.param(b"junk", None, id="garbage"),
    pytest.param(b"-1-0", None, id="negative"),
    pytest.param(b"1-", None, id="half"),
    pytest.param(b"\xb2-0", None, id="superscript-two"),
    pytest.param("١٢-٣".encode(), None, id="arabic-indic-digits"),
    pytest.param("１-0".encode(), None, id="fullwidth-digit"),
    pytest.param(b"1_000-0", None, id="underscores"),
    pytest.param(b"9" * 30 + b"-0", None, id="over-64-bits"),
    pytest.param(b"9" * 5000 + b"-0", None, id="5000-digits"),
    pytest.param(b"18446744073709551616-0", None, id="2**64"),
    pytest.param(b"99999999999999-0", "99999999999999-0", id="in-the-future"),
    pytest.param(
        b"18446744073709551615-18446744073709551615",
        "18446744073709551615-18446744073709551615",
        id="the-largest-id",
    ),
]


@pytest.mark.parametrize("buffer", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
@pytest.mark.parametrize(("last_event_id", "echoed"), NEVER_ISSUED)
def test_a_last_event_id_never_issued_starts_the_stream_with_events_lost(
    alice: User,
    token: str,
    settings: Any,
    json_log: JsonLog,
    request: pytest.FixtureRequest,
    buffer: str,
    last_event_id: bytes,
    echoed: str | None,
) -> None:
    settings.REDIS_URL = request.getfixturevalue("redis_url") if buffer == "redis" else None
    replay = events.get_buffer()
    if buffer == "redis":
        replay.client.delete(replay._key(alice.pk))  # type: ignore[attr-defined]
    held = replay.append(alice.pk, {"type": "workspace.updated", "workspace": {"n": 0}})

    async def scenario() -> None:
        headers = scope({"Authorization": f"Token {token}", "X-Correlation-ID": "odd-id"})
        headers["headers"].append((b"last-event-id", last_event_id))
        communicator = ApplicationCommunicator(APP, headers)
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(3)
        assert start["status"] == 200
        stream = Stream(communicator)
        assert await stream.next_event() == {"retry": "3000"}
        assert (await stream.next_event())["event"] == "connection_established"
        lost = await stream.next_event()
        assert lost["event"] == "events_lost"
        assert "id" not in lost
        assert json.loads(lost["data"])["last_event_id"] == echoed
        # Nothing is replayed after an id the service cannot place, and the stream goes on.
        event = {"type": "workspace.created", "workspace": {"id": "w"}, "correlation_id": "c"}
        await database_sync_to_async(events.publish)(alice.pk, event)
        live = await stream.next_event()
        assert json.loads(live["data"]) == event and live["id"] != held
        await close(stream)

    try:
        run(scenario)
    finally:
        if buffer == "redis":
            replay.client.delete(replay._key(alice.pk))  # type: ignore[attr-defined]
    problems = [r for r in json_log.records() if r["level"] in ("ERROR", "CRITICAL")]
    assert problems == []
