"""An event stream: the caller's events of one topic as Server-Sent Events.

Channels' AsyncHttpConsumer ends the response when `handle()` returns, and a `handle()` that
loops instead never gets to see channel-layer messages or `http.disconnect` (channels #1249,
#1302). This consumer is a plain AsyncConsumer: opening the stream returns at once, so the
consumer keeps receiving and sees the disconnect the moment it comes. Events do not reach it
through a channel of its own: the process's hub (`hub`) listens for all of its streams and
writes each event to them (`streams`), with flow control and a bounded queue per stream.

A project routes a subclass that names its `topic`. The caller is authenticated by DRF's
authentication classes, as a view of the project would be (`authentication_classes`), after a
`?ticket=` (`eventstream.tickets`), which is how a browser's EventSource opens it. The answers carry
the CORS headers django-cors-headers would give a view (`eventstream.cors`), so a page on an
allowed origin can open the stream with a ticket and read its refusals.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import import_module
from typing import Any, ClassVar, cast

import orjson
from channels.consumer import AsyncConsumer, get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from django.conf import settings
from django.contrib.auth import get_user
from django.core.handlers.asgi import ASGIRequest
from django.utils import translation
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, MethodNotAllowed, NotAuthenticated
from rest_framework.request import Request
from rest_framework.settings import api_settings

from errors.asgi import error_response, header
from errors.context import get_correlation_id
from errors.exceptions import AppException
from errors.limits import request_slot

from . import flow, metrics, sse
from .authentication import TicketAuthentication
from .conf import stream_settings
from .cors import cors_headers
from .hub import event_chunk, get_hub
from .replay import get_buffer, parse_id
from .streams import Stream, StreamLagging, TooManyStreams
from .topics import Topic

__all__ = ["EventStreamConsumer", "EventsUnavailable", "StreamLagging", "TooManyStreams"]

ALLOWED_METHODS = ("GET", "HEAD")
STREAM_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
)
EVENTS_LOST = _("Some events are no longer held")
UNKNOWN_ID = _("Last-Event-ID is not an event id of this stream; events may have been missed")


class EventsUnavailable(AppException):
    """The stream could not join its owner's events: the channel layer (Redis) failed, refused
    or did not answer in time (SSE_GUARD). 503 `redis_unavailable` with Retry-After."""

    default_code = "redis_unavailable"

    def __init__(self) -> None:
        super().__init__(
            _("Live events are unavailable right now; try again later"),
            retry_after=settings.REDIS_RETRY_AFTER,
        )


class EventStreamConsumer(AsyncConsumer):
    """Streams the authenticated caller's events of `topic` until the client goes away."""

    topic: ClassVar[Topic]  # set by the subclass a project routes
    # Who the caller is: a ticket, else as an APIView asks (a token header, a session, ...).
    authentication_classes: ClassVar[Sequence[type[BaseAuthentication]]] = [
        TicketAuthentication,
        *cast(Sequence[type[BaseAuthentication]], api_settings.DEFAULT_AUTHENTICATION_CLASSES),
    ]

    stream: Stream | None = None
    flow_handle: Any = None  # the flow-control registration, see `flow`
    counted = False  # whether this stream is in the sse_open_streams gauge
    request: ASGIRequest  # the request as a Django view would see it
    resume_after: str | None = None  # Last-Event-ID, from the header or ?last_event_id=
    extra_headers: list[tuple[bytes, bytes]] = []  # on every answer: the project's, CORS

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Handle the connection's messages; whatever ends them (disconnect, shutdown, error)
        ends the stream.

        Unlike AsyncConsumer's own loop this one has no channel of its own to listen on (the
        process's hub does that for every stream) and so no task per source of messages.
        """
        self.scope = scope
        self.correlation_id = scope.get("correlation_id") or get_correlation_id() or ""
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            await self.cleanup()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Route a message to its handler.

        Channels' dispatch first closes stale database connections in the sync thread; the only
        database work here goes through database_sync_to_async, which does that itself.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def http_request(self, message: dict[str, Any]) -> None:
        """The request (its body is ignored): refuse it with an envelope, or open the stream.

        Its refusal and the stream's opening notices are in the client's language, chosen as
        LocaleMiddleware chooses it for a view (no middleware runs for a consumer).
        """
        if message.get("more_body") or self.stream is not None:
            return
        with translation.override(client_language(self.scope)):
            await self.answer()

    async def answer(self) -> None:
        """Refuse the request with an envelope, or open the stream."""
        self.extra_headers = list(stream_settings.response_headers())
        try:
            self.request = session_request(self.scope)
            self.extra_headers += cors_headers(self.request)
            # ?last_event_id= for clients that cannot set the header (a new EventSource cannot).
            # Parsed here, so that a hostile query string (too many fields) is a 400.
            self.resume_after = header(self.scope, "last-event-id") or self.request.GET.get(
                "last_event_id"
            )
            if self.scope["method"] not in ALLOWED_METHODS:
                raise MethodNotAllowed(self.scope["method"])
            user_id = await self.authenticate()
            if self.scope["method"] == "HEAD":
                await self.send(self.stream_start())
                await self.send({"type": "http.response.body", "body": b""})
                raise StopConsumer()
            stream = await self.subscribe(user_id)
        except StopConsumer:
            raise
        except Exception as exc:
            await self.refuse(exc)
            return
        try:
            await self.open_stream(stream)
        except Exception as exc:
            if not self.counted:  # the response has not started: answer with the envelope
                await self.refuse(exc)
            # It has: its status can no longer change. End it with the error as its last
            # event rather than leave the server to cut it short.
            await stream.cut_off(exc)

    async def http_disconnect(self, message: dict[str, Any]) -> None:
        """The client went away (or the response ended): stop everything now."""
        raise StopConsumer()

    # --- opening -------------------------------------------------------------------------

    async def authenticate(self) -> int:
        """The id of the caller, as the authentication classes find it (401 if none does).

        The lookup takes a turn from the request budget (errors.limits), as any request that reads
        the database does, so a flood of streams cannot take the pool's connections.
        """
        async with request_slot():
            return await database_sync_to_async(self.authenticated_user_id)()

    def authenticated_user_id(self) -> int:
        """The caller's id from the authentication classes, answered as an APIView does: a 401
        names a scheme in WWW-Authenticate (the first class's that has one; a ticket is no
        HTTP authentication scheme)."""
        request = Request(
            self.request, authenticators=[auth() for auth in self.authentication_classes]
        )
        try:
            user = request.user
            if user is None or not user.is_authenticated:
                raise NotAuthenticated()
        except (AuthenticationFailed, NotAuthenticated) as exc:
            for authenticator in request.authenticators or ():
                scheme = authenticator.authenticate_header(request)  # type: ignore[union-attr]
                if scheme:
                    exc.auth_header = scheme  # type: ignore[union-attr]
                    break
            raise
        return int(user.pk)

    async def refuse(self, exc: BaseException) -> None:
        """Answer with the error envelope instead of a stream."""
        status, headers, body = error_response(exc, self.scope, self.correlation_id)
        if status == 405:
            headers.append((b"allow", b", ".join(m.encode() for m in ALLOWED_METHODS)))
        headers.extend(self.extra_headers)
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
        raise StopConsumer()

    async def subscribe(self, user_id: int) -> Stream:
        """A stream of `user_id`'s events, already receiving them (they wait until it opens)."""
        stream = Stream(
            user_id,
            self.base_send,
            limit=stream_settings.queue_size,
            correlation_id=self.correlation_id,
            path=self.scope.get("path", ""),
        )
        hub = get_hub(self.topic)
        try:
            # Bounded: the layer's own socket timeout is long (the hub's receive loop blocks on
            # Redis for seconds), and a client must not wait that long for its 503. Joining a
            # group this process is in already does not reach Redis, so it proves nothing.
            guard = stream_settings.guard
            await guard.bounded(hub.subscribe(stream), proves_up=user_id not in hub.joined)
        except TooManyStreams:
            raise  # 429, before the stream starts
        except Exception as exc:
            raise EventsUnavailable() from exc
        self.stream = stream
        return stream

    async def open_stream(self, stream: Stream) -> None:
        """Send the headers, the opening events and the replay, then let live events through.

        The stream joined the owner's group before this: an event published once the client
        has seen `connection_established` reaches it. Events published while the replay is
        read may come twice; the copies are dropped by id.
        """
        self.flow_handle = flow.attach(stream)
        await self.send(self.stream_start())
        metrics.stream_opened()
        self.counted = True  # and the response has started
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        established = {"user_id": stream.owner, "timestamp": now}
        await stream.write(
            sse.retry(stream_settings.retry_ms)
            + sse.event(orjson.dumps(established).decode(), name="connection_established")
        )
        if self.resume_after:
            await self.replay(stream, self.resume_after.strip())
        await stream.release()

    async def replay(self, stream: Stream, last_event_id: str) -> None:
        """Write what the client missed, or tell it that some of that is no longer held.

        At most SSE_REPLAY_BUFFER_SIZE events, written whether or not the client reads. An id
        the service never issued (garbage, negative, huge, non-ASCII) is unknown: the client
        gets `events_lost`, as for an id no longer held, and the stream goes on. A 400 instead
        would make EventSource give up for good rather than reconnect.
        """
        buffer = get_buffer(self.topic)
        replay = await database_sync_to_async(buffer.since, thread_sensitive=False)(
            stream.owner, last_event_id
        )
        if not replay.complete:
            if parse_id(last_event_id) is None:  # not echoed: it may be anything
                notice = {"last_event_id": None, "message": str(UNKNOWN_ID)}
            else:
                notice = {"last_event_id": last_event_id, "message": str(EVENTS_LOST)}
            await stream.write(sse.event(orjson.dumps(notice).decode(), name="events_lost"))
        for event_id, event in replay.events:
            try:
                chunk = event_chunk(event_id, event)
            except Exception as exc:
                chunk = stream.error_event(exc)
            await stream.write(chunk)
        if replay.events:
            stream.replayed_up_to = parse_id(replay.events[-1][0])

    def stream_start(self) -> dict[str, Any]:
        """The head of a stream's response: event-stream headers and `extra_headers`."""
        return {
            "type": "http.response.start",
            "status": 200,
            "headers": [*STREAM_HEADERS, *self.extra_headers],
        }

    async def cleanup(self) -> None:
        """Release the transport and leave the hub (and the group with the owner's last
        stream here); safe to call twice."""
        flow.detach(self.flow_handle)
        self.flow_handle = None
        if self.counted:
            self.counted = False
            metrics.stream_closed()
        stream, self.stream = self.stream, None
        if stream is not None:
            await get_hub(self.topic).unsubscribe(stream)


def client_language(scope: dict[str, Any]) -> str:
    """The language of LANGUAGES that the request's Accept-Language (or cookie) asks for, else
    LANGUAGE_CODE."""
    try:
        return translation.get_language_from_request(ASGIRequest(scope, io.BytesIO()))
    except Exception:  # a request too broken to read; refused later in the default language
        return str(settings.LANGUAGE_CODE)


def session_request(scope: dict[str, Any]) -> ASGIRequest:
    """The stream's request as Django's middleware would hand it to a view: its session and its
    lazily loaded session user (what DRF's SessionAuthentication reads)."""
    request = ASGIRequest(scope, io.BytesIO())
    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    request.user = SimpleLazyObject(lambda: get_user(request))  # type: ignore[assignment]
    return request
