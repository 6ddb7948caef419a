"""A bounded buffer of each owner's recent events, for `Last-Event-ID` replay.

Each event gets an id when it is published, "<milliseconds>-<sequence>" like a Redis stream id,
so ids order the same way in both backends. With REDIS_URL the buffer is a capped Redis stream
per owner and topic, shared by every process; without it, a deque per owner in this process.

`Last-Event-ID` comes from the client and may be anything: garbage, negative or huge numbers,
digits of other scripts. A value that is not an id of ours in form, or one newer than the
newest event held for the owner (so never issued to it), is unknown: the replay is incomplete
(the client is told `events_lost`) and empty. It never reaches Redis unchecked, whose commands
refuse ids over 64 bits.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from .conf import stream_settings
from .topics import Topic

EventId = tuple[int, int]

# Two unsigned 64-bit numbers, as Redis stream ids are. [0-9], not \d or str.isdigit(), which
# also take "²" and "٣" (int() refuses the first); 20 digits at most, so int() never sees more.
_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
_MAX_PART = 2**64 - 1


def parse_id(event_id: str) -> EventId | None:
    """The sortable form of an event id, or None when it cannot be one of ours."""
    match = _ID.fullmatch(event_id)
    if match is None:
        return None
    first, second = int(match[1]), int(match[2])
    if first > _MAX_PART or second > _MAX_PART:
        return None
    return first, second


def _after(event_id: str, reference: EventId) -> bool:
    parsed = parse_id(event_id)
    return parsed is not None and parsed > reference


def _after_newest(event_id: EventId, newest: str) -> bool:
    held = parse_id(newest)
    return held is not None and event_id > held


def _format(event_id: EventId) -> str:
    return f"{event_id[0]}-{event_id[1]}"


@dataclass(frozen=True, slots=True)
class Replay:
    """What a reconnecting client missed; `complete` is False when some were dropped."""

    events: list[tuple[str, dict[str, Any]]]
    complete: bool


class ReplayBuffer(Protocol):
    def append(self, owner_id: int, event: dict[str, Any]) -> str:
        """Store `event` and return the id it was given."""

    def since(self, owner_id: int, last_event_id: str) -> Replay:
        """The events after `last_event_id`, oldest first."""


class MemoryReplayBuffer:
    """Per-process buffer: enough for one `make run` process and for tests."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._events: dict[int, deque[tuple[str, dict[str, Any]]]] = {}
        self._last = (0, 0)

    def append(self, owner_id: int, event: dict[str, Any]) -> str:
        with self._lock:
            now = int(time.time() * 1000)
            last_ms, last_seq = self._last
            self._last = (now, 0) if now > last_ms else (last_ms, last_seq + 1)
            event_id = f"{self._last[0]}-{self._last[1]}"
            self._events.setdefault(owner_id, deque(maxlen=self.size)).append((event_id, event))
            return event_id

    def since(self, owner_id: int, last_event_id: str) -> Replay:
        after = parse_id(last_event_id)
        with self._lock:
            held = list(self._events.get(owner_id, ()))
        if after is None:
            return Replay([], complete=False)
        missed = [(i, e) for i, e in held if _after(i, after)]
        # Nothing was dropped in between only if the oldest event held is no newer than the last
        # one the client saw; otherwise (or with nothing held at all) we cannot vouch for it. An
        # id newer than the newest held was never issued to this owner: unknown as well.
        complete = (
            bool(held) and not _after(held[0][0], after) and not _after_newest(after, held[-1][0])
        )
        return Replay(missed, complete)


class RedisReplayBuffer:
    """A capped Redis stream per owner, shared by every process of the service."""

    def __init__(
        self, url: str, size: int, timeout: float = 1.0, prefix: str = "eventstream:events:"
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.size = size
        self.prefix = prefix
        # Bounded like every use of Redis on a request path (REDIS_TIMEOUT): publishing runs in
        # the request that made the change. Retried once, at once, on a dropped connection only.
        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
        )

    def _key(self, owner_id: int) -> str:
        return f"{self.prefix}{owner_id}"

    def append(self, owner_id: int, event: dict[str, Any]) -> str:
        event_id = self.client.xadd(
            self._key(owner_id), {"e": orjson.dumps(event)}, maxlen=self.size, approximate=False
        )
        return event_id.decode() if isinstance(event_id, bytes) else str(event_id)

    def since(self, owner_id: int, last_event_id: str) -> Replay:
        seen = parse_id(last_event_id)
        if seen is None:
            return Replay([], complete=False)
        key = self._key(owner_id)
        # Written out from the parsed numbers: what Redis gets is canonical and in range. The
        # first id after `seen`, inclusive, spares XRANGE's "(" (refused after the largest id).
        ms, seq = seen
        following = (ms, seq + 1) if seq < _MAX_PART else (ms + 1, 0)
        pipe = self.client.pipeline()
        if following[0] <= _MAX_PART:
            pipe.xrange(key, min=_format(following), max="+")
        # The newest event held at or before `seen`.
        pipe.xrevrange(key, max=_format(seen), min="-", count=1)
        *found, up_to = pipe.execute()
        after = found[0] if found else []
        events = [(i.decode(), orjson.loads(f[b"e"])) for i, f in after]
        # The client's last event, or an older one, is still held: nothing was dropped between.
        # With nothing after `seen`, the newest held must be `seen` itself; an id newer than
        # every event of the owner was never issued to it.
        complete = bool(up_to) and (bool(after) or parse_id(up_to[0][0].decode()) == seen)
        return Replay(events, complete)


_buffers: dict[str, tuple[tuple[Any, ...], ReplayBuffer]] = {}
_buffers_lock = threading.Lock()


def get_buffer(topic: Topic) -> ReplayBuffer:
    """The replay buffer of `topic` in this process, as settings configure it now."""
    config = (
        stream_settings.redis_url,
        stream_settings.replay_buffer_size,
        stream_settings.redis_timeout,
    )
    with _buffers_lock:
        held = _buffers.get(topic.replay_prefix)
        if held is not None and held[0] == config:
            return held[1]
        redis_url, size, timeout = config
        buffer: ReplayBuffer = (
            RedisReplayBuffer(redis_url, size, timeout, topic.replay_prefix)
            if redis_url
            else MemoryReplayBuffer(size)
        )
        _buffers[topic.replay_prefix] = (config, buffer)
        return buffer
