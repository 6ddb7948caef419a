"""One open event stream: the chunks bound for one client, written in order, bounded in memory.

A `Stream` is what the process's hub (`hub`) knows of a client: it writes each chunk
through the response's ASGI `send` at once while the client keeps up. When the client stops
reading, Twisted pauses the stream (it is the response's push producer, see `flow`); chunks
then wait in a queue of at most `limit`, written out in order once the client reads again. A
client that falls further behind is cut off: it gets a last `error` event (`stream_lagging`)
and the response ends, so a slow client costs the server a bounded amount of memory.

While the stream opens (`holding`), chunks wait too, without the limit (the client cannot have
fallen behind yet, and the response may not have started): they follow the opening events and
the Last-Event-ID replay, and events already replayed are dropped by id.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import orjson
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from errors import catalog
from errors.catalog import Category, Severity
from errors.context import reset_correlation_id, set_correlation_id
from errors.exceptions import AppException, RateLimitException
from errors.handling import report_error
from errors.normalize import normalize
from errors.render import envelope

from . import sse

EventId = tuple[int, int]
Send = Callable[[dict[str, Any]], Awaitable[None]]


catalog.register(
    "stream_lagging",
    status=408,
    category=Category.REQUEST,
    severity=Severity.WARNING,
    message=_("The client fell too far behind; reconnect with Last-Event-ID"),
    meaning=(
        "Sent as the last event of a stream whose client stopped reading; the client may "
        "reconnect with Last-Event-ID to get what it missed."
    ),
)


class StreamLagging(AppException):
    """The client read too slowly; its stream is closed rather than buffered without bound."""

    default_code = "stream_lagging"


class TooManyStreams(RateLimitException):
    """The user already has SSE_MAX_STREAMS_PER_USER streams open in this process (429).

    Refused before the stream starts, so the client gets the envelope and `Retry-After`; a slot
    frees as soon as one of the user's streams ends.
    """

    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(
            _("Too many open event streams: at most %(limit)s per user; close one and retry"),
            details={"max_streams": limit},
            params={"limit": limit},
            retry_after=retry_after,
        )


class Stream:
    """The writing side of one event-stream response (see the module docstring)."""

    __slots__ = (
        "owner",
        "correlation_id",
        "path",
        "language",
        "limit",
        "last_write",
        "replayed_up_to",
        "holding",
        "paused",
        "closed",
        "_send",
        "_pending",
        "_drainer",
        "__weakref__",
    )

    def __init__(
        self, owner: int, send: Send, *, limit: int, correlation_id: str, path: str
    ) -> None:
        self.owner = owner
        self.correlation_id = correlation_id
        self.path = path
        # The client's language when the stream opened: its error event is in it.
        self.language = translation.get_language()
        self.limit = limit
        self.last_write = time.monotonic()
        self.replayed_up_to: EventId | None = None
        self.holding = True  # until the opening events and the replay are written
        self.paused = False
        self.closed = False
        self._send = send
        self._pending: deque[tuple[EventId | None, bytes]] | None = None
        self._drainer: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        """Whether a chunk offered now would wait instead of being written at once."""
        return bool(self.holding or self.paused or self._pending or self._drainer)

    async def write(self, chunk: bytes) -> None:
        """Write `chunk` now, whatever is queued (the opening events and the replay)."""
        self.last_write = time.monotonic()
        await self._send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def deliver(self, event_id: EventId | None, chunk: bytes) -> None:
        """Write `chunk` in its turn; cut the stream off if it has too much waiting already."""
        if self.closed:
            return
        replayed = self.replayed_up_to
        if event_id is not None and replayed is not None and event_id <= replayed:
            return  # published while the replay was read: already written
        if not self.busy:
            await self.write(chunk)
            return
        pending = self._pending
        if pending is None:
            pending = self._pending = deque()
        if len(pending) >= self.limit and not self.holding:
            await self.cut_off(StreamLagging())
            return
        pending.append((event_id, chunk))

    async def deliver_error(self, exc: BaseException) -> None:
        """An event that could not be produced: this stream gets an `error` event instead."""
        if not self.closed:
            await self.deliver(None, self.error_event(exc))

    def error_event(self, exc: BaseException) -> bytes:
        """`exc` as an `error` event carrying the envelope, logged once with this stream's id."""
        info = normalize(exc)
        token = set_correlation_id(self.correlation_id)
        try:
            report_error(info, SimpleNamespace(method="GET", path=self.path))
        finally:
            reset_correlation_id(token)
        with translation.override(self.language):
            body = orjson.dumps(envelope(info, self.correlation_id), default=str)
        return sse.event(body.decode(), name="error")

    async def release(self) -> None:
        """The stream is open: write what waited (newer than the replay), then go live."""
        pending = self._pending
        if pending and self.replayed_up_to is not None:
            replayed = self.replayed_up_to
            pending = self._pending = deque(
                (event_id, chunk)
                for event_id, chunk in pending
                if event_id is None or event_id > replayed
            )
        self.holding = False
        if pending and not self.paused:
            await self._drain()

    async def cut_off(self, exc: BaseException) -> None:
        """End the response with `exc` as its last event; whatever waited is dropped.

        The server then tells the consumer the response is over (`http.disconnect`).
        """
        if self.closed:
            return
        self.closed = True
        self._pending = None
        final = self.error_event(exc)
        await self._send({"type": "http.response.body", "body": final, "more_body": False})

    def stop(self) -> None:
        """The stream is over: drop what waits and stop writing."""
        self.closed = True
        self._pending = None
        drainer, self._drainer = self._drainer, None
        if drainer is not None and drainer is not asyncio.current_task():
            drainer.cancel()

    async def _drain(self) -> None:
        pending = self._pending
        while pending and not self.paused and not self.closed:
            _, chunk = pending.popleft()
            await self.write(chunk)
        if pending is not None and not pending:
            self._pending = None

    async def _run_drainer(self) -> None:
        try:
            await self._drain()
        finally:
            self._drainer = None

    # Twisted's IPushProducer interface (see `flow`), called by the HTTP channel.

    def pauseProducing(self) -> None:  # noqa: N802
        self.paused = True

    def resumeProducing(self) -> None:  # noqa: N802
        self.paused = False
        if self._pending and not self.holding and self._drainer is None and not self.closed:
            self._drainer = asyncio.get_running_loop().create_task(self._run_drainer())

    def stopProducing(self) -> None:  # noqa: N802
        # The connection is gone; the consumer hears it as `http.disconnect` and stops us.
        self.paused = True
