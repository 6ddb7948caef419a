"""The process's fan-out of each topic's events to its open streams.

One consumer per stream listening on the channel layer costs, per event and per stream, a
channel-layer message, a task wake-up and its own formatting of the same event; per stream, a
channel, a group membership and the tasks that wait on them. With thousands of streams that
was most of the server's memory and CPU. Instead, each process (each event loop) has one `Hub`
per topic (`topics.Topic`):

- it listens on one channel of its own, a member of the topic's group of each owner with
  at least one stream open here: joined when that owner's first stream opens, left when the
  last one closes (so a process with no stream of an owner gets none of its events);
- each event is formatted once and written to every local stream of its owner, in order
  (`Stream.deliver`); an event that cannot be formatted becomes an `error` event per stream;
- when the layer fails, it retries every second, joins its groups again and then sends every
  stream `events_lost`: events published meanwhile did not reach it, and a client that
  reconnects with Last-Event-ID gets them from the replay buffer;
- one ticker writes a heartbeat comment to each stream that has been quiet for
  `SSE_HEARTBEAT_SECONDS`, and renews the group memberships before the layer expires them.

Across processes this is the channel layer's usual fan-out (channels_redis with `REDIS_URL`):
one copy of an event per process, however many streams that process holds.

The hub also caps each owner's streams in this process (SSE_MAX_STREAMS_PER_USER). The cap is
per process because what it protects is per process (its file descriptors and memory), and the
hub knows its streams without asking anyone: nothing to keep in step, nothing left behind by a
process that dies. With N processes a user may hold N times the cap in all.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import time
import weakref
from typing import Any

import orjson
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from . import sse
from .conf import stream_settings
from .replay import parse_id
from .streams import Stream, TooManyStreams
from .topics import Topic

logger = logging.getLogger(__name__)

HEARTBEAT = sse.comment("heartbeat")
# Memberships are renewed this often at most; a layer's `group_expiry` (a day by default)
# makes them renewed at least twice per expiry.
RENEW_SECONDS = 3600.0
RETRY_SECONDS = 1.0
# Events remembered per process to drop a second delivery of one (see Hub._recent).
RECENT_EVENTS = 1024
GAP_MESSAGE = _("Events may have been missed; reconnect with Last-Event-ID to get them")
# A fan-out to thousands of streams never waits; it lets the event loop run other work (the
# request that published the event, for one) between batches of this many writes.
YIELD_EVERY = 250


class Hub:
    """Fans the topic's events out to the open streams of this event loop (module docstring)."""

    def __init__(self, layer: Any, topic: Topic) -> None:
        self.layer = layer
        self.topic = topic
        self.streams: dict[int, set[Stream]] = {}
        self.joined: set[int] = set()
        self._membership: dict[int, asyncio.Task[None]] = {}
        self._channel: asyncio.Future[str] | None = None
        self._receiver: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        expiry = getattr(layer, "group_expiry", None) or 2 * RENEW_SECONDS
        self.renew_seconds = min(RENEW_SECONDS, expiry / 2)
        # (owner, event id) of the latest events fanned out. channels_redis delivers at least
        # once: after a broken link it hands out again what was in flight, which the streams
        # have already written.
        self._recent: collections.OrderedDict[tuple[Any, str], None] = collections.OrderedDict()

    # --- streams ----------------------------------------------------------------------------

    async def subscribe(self, stream: Stream) -> None:
        """Deliver the owner's events to `stream` from now on; raises if the layer fails.

        An owner may have SSE_MAX_STREAMS_PER_USER streams open here (`TooManyStreams` past
        that): one client holding thousands would use up the process's file descriptors, and
        every other user, /healthz included, would be refused. A stream that was cut off or
        stopped no longer counts, though it leaves only with its disconnect.

        The caller may cancel this (a deadline on a layer that does not answer): the stream is
        then dropped at once, and the owner's membership is settled in the background.
        """
        owner = stream.owner
        limit = stream_settings.max_streams_per_user
        # Counted and added with no await in between: two streams opening at once cannot both
        # take the last slot.
        if sum(not s.closed for s in self.streams.get(owner, ())) >= limit:
            raise TooManyStreams(limit, retry_after=stream_settings.heartbeat_seconds)
        self.streams.setdefault(owner, set()).add(stream)
        try:
            if self._channel is None:
                self._channel = _task(self.layer.new_channel())
            await asyncio.shield(self._channel)
            self._start()
            await asyncio.shield(self._sync(owner))
            if owner not in self.joined:  # left again meanwhile: every stream went and came
                await asyncio.shield(self._sync(owner))
        except BaseException:
            channel = self._channel
            if channel is not None and channel.done():
                failed = channel.cancelled() or channel.exception() is not None
                self._channel = None if failed else channel  # if failed, the next one asks again
            # Not `unsubscribe()`: waiting for the layer here would hold a cancelled caller up.
            # The membership settles in the background; the hub stops once that is done, if
            # no stream came meanwhile.
            if self._drop(stream):
                self._sync(stream.owner).add_done_callback(lambda _: self._stop_if_idle())
            raise

    async def unsubscribe(self, stream: Stream) -> None:
        """Stop delivering to `stream`; the owner's last stream here leaves the group."""
        owner = stream.owner
        if not self._drop(stream):
            return
        try:
            await asyncio.shield(self._sync(owner))
        except Exception:
            logger.exception("Could not leave %s", self.topic.group(owner))
        finally:
            self._stop_if_idle()

    def _drop(self, stream: Stream) -> bool:
        """Stop `stream` and forget it; whether it was its owner's last stream here."""
        stream.stop()
        streams = self.streams.get(stream.owner)
        if streams is None:
            return False
        streams.discard(stream)
        if streams:
            return False
        del self.streams[stream.owner]
        return True

    # --- group membership -------------------------------------------------------------------

    def _sync(self, owner: int) -> asyncio.Task[None]:
        """The task that brings `owner`'s membership in line with whether it has streams."""
        task = self._membership.get(owner)
        if task is None:
            task = self._membership[owner] = _task(self._reconcile(owner))
            # Its failure reaches whoever awaits it; one left to finish alone is not reported.
            task.add_done_callback(_retrieve)
        return task

    async def _reconcile(self, owner: int) -> None:
        try:
            channel = await self.channel_name()
            group = self.topic.group(owner)
            while (owner in self.streams) != (owner in self.joined):
                if owner in self.streams:
                    await self.layer.group_add(group, channel)
                    self.joined.add(owner)
                else:
                    self.joined.discard(owner)
                    await self.layer.group_discard(group, channel)
        finally:
            del self._membership[owner]

    async def channel_name(self) -> str:
        """The name of the hub's channel on the layer (once a stream has opened)."""
        assert self._channel is not None
        return await asyncio.shield(self._channel)

    async def _renew(self) -> None:
        """Join every group again: memberships expire, and a restarted Redis forgot them."""
        channel = await self.channel_name()
        for owner in list(self.joined):
            if owner in self.joined:
                await self.layer.group_add(self.topic.group(owner), channel)

    # --- the tasks --------------------------------------------------------------------------

    def _start(self) -> None:
        if self._receiver is None:
            self._receiver = _task(self._receive())
        if self._ticker is None:
            self._ticker = _task(self._tick())

    def _stop_if_idle(self) -> None:
        if not self.streams and not self._membership:
            self._stop()

    def _stop(self) -> None:
        for task in (self._receiver, self._ticker):
            if task is not None:
                task.cancel()
        self._receiver = self._ticker = None

    async def _receive(self) -> None:
        channel = await self.channel_name()
        failing = False
        while True:
            _reraise_cancellation()  # one the layer swallowed, returning as if nothing happened
            try:
                if failing:
                    await self._renew()
                    failing = False
                    logger.warning("%s are received again", self.topic.name)
                    await self._tell_of_gap()
                message = await self.layer.receive(channel)
            except Exception:
                _reraise_cancellation()
                if not failing:
                    logger.exception("%s cannot be received; retrying", self.topic.name)
                failing = True
                await asyncio.sleep(RETRY_SECONDS)
                continue
            await self.fan_out(message)

    async def fan_out(self, message: dict[str, Any]) -> None:
        """Write one event to every local stream of its owner."""
        streams = self.streams.get(message.get("owner"))  # type: ignore[arg-type]
        if not streams:
            return
        error: Exception | None = None
        try:
            event_id = str(message["id"])
            chunk = event_chunk(event_id, message["event"])
            order = parse_id(event_id)
        except Exception as exc:
            error = exc
        else:
            if self._seen(message.get("owner"), event_id):
                return
        for n, stream in enumerate(tuple(streams), 1):
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the loop answer requests meanwhile
            try:
                if error is None:
                    await stream.deliver(order, chunk)
                else:
                    await stream.deliver_error(error)
            except Exception:
                _write_failed(stream)

    def _seen(self, owner: Any, event_id: str) -> bool:
        """Whether this event was fanned out already; remembers the latest RECENT_EVENTS."""
        key = (owner, event_id)
        if key in self._recent:
            return True
        self._recent[key] = None
        if len(self._recent) > RECENT_EVENTS:
            self._recent.popitem(last=False)
        return False

    async def _tell_of_gap(self) -> None:
        """After the layer failed, tell every stream that events may have passed it by (in
        its client's language)."""
        notices: dict[str | None, bytes] = {}
        for streams in tuple(self.streams.values()):
            for stream in tuple(streams):
                notice = notices.get(stream.language)
                if notice is None:
                    with translation.override(stream.language):
                        message = str(GAP_MESSAGE)
                    notice = sse.event(
                        orjson.dumps({"message": message}).decode(), name="events_lost"
                    )
                    notices[stream.language] = notice
                try:
                    await stream.deliver(None, notice)
                except Exception:
                    _write_failed(stream)

    async def _tick(self) -> None:
        renewed = time.monotonic()
        while True:
            interval = stream_settings.heartbeat_seconds
            await asyncio.sleep(interval / 4)
            now = time.monotonic()
            quiet = [
                stream
                for streams in self.streams.values()
                for stream in streams
                if now - stream.last_write >= interval and not stream.busy and not stream.closed
            ]
            for stream in quiet:
                try:
                    await stream.write(HEARTBEAT)
                except Exception:
                    _write_failed(stream)
            if now - renewed >= self.renew_seconds:
                renewed = now
                try:
                    await self._renew()
                except Exception:  # the receiver notices a broken layer
                    _reraise_cancellation()


def _reraise_cancellation() -> None:
    """Raise CancelledError if the current task is being cancelled.

    A cancelled `layer.receive()` may surface as another exception (channels_redis closes the
    connection under it, and redis-py then raises ConnectionError); caught as a layer failure,
    it would swallow the cancellation and the retry loop would run on after `_stop()`, keeping
    the event loop from closing.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _task(coroutine: Any) -> asyncio.Task[Any]:
    """A task of the hub's own. A task copies the context of the code that starts it, which
    is the stream that happened to come first; its correlation id has no business in the
    hub's log lines, so they run in a fresh context."""
    return asyncio.create_task(coroutine, context=contextvars.Context())


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _write_failed(stream: Stream) -> None:
    logger.exception(
        "Could not write to an event stream", extra={"correlation_id": stream.correlation_id}
    )
    stream.stop()


def event_chunk(event_id: str, event: dict[str, Any]) -> bytes:
    """One event in SSE form: its `type` names it."""
    return sse.event(orjson.dumps(event).decode(), name=event["type"], event_id=event_id)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Topic, Hub]] = (
    weakref.WeakKeyDictionary()
)


def get_hub(topic: Topic) -> Hub:
    """The hub of `topic` in the running event loop (one per daphne process)."""
    from channels.layers import get_channel_layer

    hubs = _hubs.setdefault(asyncio.get_running_loop(), {})
    hub = hubs.get(topic)
    if hub is None:
        layer = get_channel_layer()
        if layer is None:
            raise RuntimeError(f"{topic.name} need a channel layer (CHANNEL_LAYERS)")
        hub = hubs[topic] = Hub(layer, topic)
    return hub
