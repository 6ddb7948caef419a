"""A bounded buffer of each owner's recent workspace events, for `Last-Event-ID` replay.

Each event gets an id when it is published, "<milliseconds>-<sequence>" like a Redis stream id,
so ids order the same way in both backends. With REDIS_URL the buffer is a capped Redis stream
per owner, shared by every process; without it, a deque per owner in this process.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import orjson
from django.conf import settings


def parse_id(event_id: str) -> tuple[int, int] | None:
    """The sortable form of an event id, or None when it is not one of ours."""
    first, _, second = event_id.partition("-")
    if not (first.isdigit() and second.isdigit()):
        return None
    return int(first), int(second)


def _after(event_id: str, reference: tuple[int, int]) -> bool:
    parsed = parse_id(event_id)
    return parsed is not None and parsed > reference


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
        # one the client saw; otherwise (or with nothing held at all) we cannot vouch for it.
        complete = bool(held) and not _after(held[0][0], after)
        return Replay(missed, complete)


class RedisReplayBuffer:
    """A capped Redis stream per owner, shared by every process of the service."""

    def __init__(self, url: str, size: int) -> None:
        import redis

        self.size = size
        self.client = redis.Redis.from_url(url)

    def _key(self, owner_id: int) -> str:
        return f"cortex:workspace-events:{owner_id}"

    def append(self, owner_id: int, event: dict[str, Any]) -> str:
        event_id = self.client.xadd(
            self._key(owner_id), {"e": orjson.dumps(event)}, maxlen=self.size, approximate=False
        )
        return event_id.decode() if isinstance(event_id, bytes) else str(event_id)

    def since(self, owner_id: int, last_event_id: str) -> Replay:
        if parse_id(last_event_id) is None:
            return Replay([], complete=False)
        key = self._key(owner_id)
        pipe = self.client.pipeline()
        pipe.xrange(key, min=f"({last_event_id}", max="+")
        pipe.xrange(key, min="-", max=last_event_id, count=1)
        after, up_to = pipe.execute()
        events = [(i.decode(), orjson.loads(f[b"e"])) for i, f in after]
        # The client's last event, or an older one, is still held: nothing was dropped between.
        complete = bool(up_to)
        return Replay(events, complete)


@lru_cache(maxsize=1)
def _buffer(redis_url: str | None, size: int) -> ReplayBuffer:
    if redis_url:
        return RedisReplayBuffer(redis_url, size)
    return MemoryReplayBuffer(size)


def get_buffer() -> ReplayBuffer:
    """The replay buffer of this process, as settings configure it."""
    return _buffer(getattr(settings, "REDIS_URL", None), settings.SSE_REPLAY_BUFFER_SIZE)
