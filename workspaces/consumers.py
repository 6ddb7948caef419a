"""`GET /api/events/`: the caller's workspace events as Server-Sent Events.

Channels' AsyncHttpConsumer ends the response when `handle()` returns, and a `handle()` that
loops instead never gets to see channel-layer messages or `http.disconnect` (channels #1249,
#1302). This consumer is a plain AsyncConsumer: opening the stream returns at once, so the
consumer's dispatch loop keeps receiving group messages and the disconnect. Bytes reach the
client through one pump task per stream, from a bounded queue; the pump also sends heartbeats.
A client that stops reading pauses the pump (see `flow`), the queue fills, and the stream is
told it fell behind and is closed, so a slow client costs bounded memory.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed, MethodNotAllowed, NotAuthenticated

from accounts.authentication import ExpiringTokenAuthentication
from errors import metrics
from errors.asgi import error_response, header
from errors.catalog import Category, Severity
from errors.context import get_correlation_id
from errors.exceptions import AppException
from errors.handling import report_error
from errors.normalize import normalize
from errors.render import envelope

from . import sse
from .events import owner_group
from .flow import FlowControl
from .replay import get_buffer, parse_id

logger = logging.getLogger(__name__)

ALLOWED_METHODS = ("GET", "HEAD")
STREAM_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
    ],
}

class StreamLagging(AppException):
    """The client read too slowly; its stream is closed rather than buffered without bound."""

    status_code = 408
    default_code = "stream_lagging"
    default_message = "The client fell too far behind; reconnect with Last-Event-ID"
    category = Category.REQUEST
    severity = Severity.WARNING


class WorkspaceEventsConsumer(AsyncConsumer):
    """Streams the authenticated caller's workspace events until the client goes away."""

    queue: asyncio.Queue[Any]
    pump: asyncio.Task[None] | None = None
    flow: FlowControl | None = None
    group: str | None = None
    replayed_up_to: tuple[int, int] | None = None
    counted = False  # whether this stream is in the sse_open_streams gauge

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the consumer; whatever ends it (disconnect, shutdown, error) ends the stream."""
        self.correlation_id = scope.get("correlation_id") or get_correlation_id() or ""
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.cleanup()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Route a message to its handler.

        Channels closes stale database connections before every message, a hop to the sync
        thread; workspace events touch no database, and with thousands of streams those hops
        queued up behind each other on every event.
        """
        if message.get("type") == "workspace.event":
            await self.workspace_event(message)
        else:
            await super().dispatch(message)

    async def http_request(self, message: dict[str, Any]) -> None:
        """The request (its body is ignored): refuse it with an envelope, or open the stream."""
        if message.get("more_body"):
            return
        try:
            if self.scope["method"] not in ALLOWED_METHODS:
                raise MethodNotAllowed(self.scope["method"])
            user_id = await self.authenticate()
        except Exception as exc:
            await self.refuse(exc)
            return
        if self.scope["method"] == "HEAD":
            await self.send(STREAM_START)
            await self.send({"type": "http.response.body", "body": b""})
            raise StopConsumer()
        await self.open_stream(user_id)

    async def http_disconnect(self, message: dict[str, Any]) -> None:
        """The client went away: stop everything now."""
        raise StopConsumer()

    async def workspace_event(self, message: dict[str, Any]) -> None:
        """A group message: one of the owner's workspace events, queued for the client."""
        if self.replayed_up_to is not None:
            event_id = parse_id(str(message.get("id", "")))
            if event_id is not None and event_id <= self.replayed_up_to:
                return  # published while the replay was read: already queued
        await self.enqueue(self.format_event(message))

    # --- opening -------------------------------------------------------------------------

    async def authenticate(self) -> int:
        """The id of the caller: a valid token header, or a Django session."""
        try:
            return await self._authenticate()
        except (AuthenticationFailed, NotAuthenticated) as exc:
            exc.auth_header = "Token"  # type: ignore[union-attr]  # as DRF views answer
            raise

    async def _authenticate(self) -> int:
        authorization = header(self.scope, "authorization")
        if authorization:
            scheme, _, key = authorization.partition(" ")
            if scheme.lower() != "token" or not key.strip() or " " in key.strip():
                raise AuthenticationFailed("Invalid token header.")
            user, _token = await database_sync_to_async(
                ExpiringTokenAuthentication().authenticate_credentials
            )(key.strip())
            return int(user.pk)
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            return int(user.pk)
        raise NotAuthenticated()

    async def refuse(self, exc: BaseException) -> None:
        """Answer with the error envelope instead of a stream."""
        status, headers, body = error_response(exc, self.scope, self.correlation_id)
        if status == 405:
            headers.append((b"allow", b", ".join(m.encode() for m in ALLOWED_METHODS)))
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
        raise StopConsumer()

    async def open_stream(self, user_id: int) -> None:
        """Send the headers and the opening events, join the owner's group, start the pump."""
        self.queue = asyncio.Queue(maxsize=settings.SSE_QUEUE_SIZE)
        make_flow_control = self.scope.get("flow_control")
        self.flow = make_flow_control() if make_flow_control else FlowControl()
        await self.send(STREAM_START)
        metrics.stream_opened()
        self.counted = True
        # Join first: an event published once the client has seen `connection_established`
        # must reach it. Events published while the replay is read may come twice; the
        # duplicates are dropped by id in workspace_event.
        self.group = owner_group(user_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        established = {"user_id": user_id, "timestamp": now}
        opening = sse.retry(settings.SSE_RETRY_MS) + sse.event(
            orjson.dumps(established).decode(), name="connection_established"
        )
        await self.send({"type": "http.response.body", "body": opening, "more_body": True})
        last_event_id = header(self.scope, "last-event-id")
        if last_event_id:
            await self.replay(user_id, last_event_id.strip())
        self.pump = asyncio.create_task(self.run_pump())

    async def replay(self, user_id: int, last_event_id: str) -> None:
        """Queue what the client missed, or tell it that some of that is no longer held."""
        replay = await database_sync_to_async(get_buffer().since, thread_sensitive=False)(
            user_id, last_event_id
        )
        if not replay.complete:
            notice = {"last_event_id": last_event_id, "message": "Some events are no longer held"}
            await self.enqueue(sse.event(orjson.dumps(notice).decode(), name="events_lost"))
        for event_id, event in replay.events:
            await self.enqueue(self.format_event({"id": event_id, "event": event}))
        if replay.events:
            self.replayed_up_to = parse_id(replay.events[-1][0])

    # --- sending -------------------------------------------------------------------------

    def format_event(self, message: dict[str, Any]) -> bytes:
        """One domain event in SSE form; an event that cannot be produced becomes `error`."""
        try:
            event = message["event"]
            event_id = message.get("id")
            return sse.event(orjson.dumps(event).decode(), name=event["type"], event_id=event_id)
        except Exception as exc:
            return self.error_event(exc)

    async def enqueue(self, chunk: bytes) -> None:
        """Queue bytes for the pump; a full queue means the client is too far behind."""
        try:
            self.queue.put_nowait(chunk)
        except asyncio.QueueFull:
            await self.close_lagging()

    async def close_lagging(self) -> None:
        """End a stream whose client stopped reading, telling it why (it may replay the rest).

        Whatever was queued is dropped; the explanation is the last thing written, so the
        server holds at most one socket buffer's worth for this client until it goes away.
        """
        pump, self.pump = self.pump, None
        if pump is not None:
            pump.cancel()
        final = self.error_event(StreamLagging())
        await self.base_send({"type": "http.response.body", "body": final})
        raise StopConsumer()

    def error_event(self, exc: BaseException) -> bytes:
        """`exc` as an `error` event carrying the envelope; reported once like any error."""
        info = normalize(exc)
        scope = self.scope
        report_error(info, SimpleNamespace(method=scope.get("method"), path=scope.get("path")))
        return sse.event(orjson.dumps(envelope(info, self.correlation_id)).decode(), name="error")

    async def run_pump(self) -> None:
        """Move queued chunks to the client, with a heartbeat whenever it has been quiet."""
        heartbeat = settings.SSE_HEARTBEAT_SECONDS
        assert self.flow is not None
        while True:
            try:
                async with asyncio.timeout(heartbeat):
                    chunk = await self.queue.get()
            except TimeoutError:
                chunk = sse.comment("heartbeat")
            await self.flow.writable.wait()
            await self.base_send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def cleanup(self) -> None:
        """Leave the group, stop the pump and release the transport; safe to call twice."""
        pump, self.pump = self.pump, None
        if pump is not None and pump is not asyncio.current_task():
            pump.cancel()
        group, self.group = self.group, None
        if group is not None:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                logger.exception("Could not leave %s", group)
        if self.flow is not None:
            self.flow.release()
            self.flow = None
        if self.counted:
            self.counted = False
            metrics.stream_closed()
