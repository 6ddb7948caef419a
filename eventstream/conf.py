"""Settings of the `eventstream` app, read from Django settings at the moment they are needed.

Every property reads `django.conf.settings` on access, so `override_settings` works in tests.
The `SSE_*` settings are the app's own; `REDIS_URL` and `REDIS_TIMEOUT` are the project's Redis,
where the replay buffer lives when it is set.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .guard import Guard

Headers = list[tuple[bytes, bytes]]

# A ticket sits in a URL: it must stop working before anything that saw the URL can reuse it.
MAX_TICKET_TTL_SECONDS = 60


@lru_cache(maxsize=16)
def _resolve(setting: str, path: str) -> Any:
    try:
        return import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{setting} = {path!r} cannot be imported: {exc}") from exc


def _no_headers() -> Headers:
    return []


class EventStreamSettings:
    """Typed access to the app's settings, with their defaults."""

    @property
    def heartbeat_seconds(self) -> int:
        """SSE_HEARTBEAT_SECONDS: silence after which a stream gets a heartbeat comment; also
        the Retry-After of a refused stream."""
        return int(getattr(settings, "SSE_HEARTBEAT_SECONDS", 15))

    @property
    def retry_ms(self) -> int:
        """SSE_RETRY_MS: the `retry:` a stream tells its client."""
        return int(getattr(settings, "SSE_RETRY_MS", 3000))

    @property
    def queue_size(self) -> int:
        """SSE_QUEUE_SIZE: chunks a stream holds for a slow client before cutting it off."""
        return int(getattr(settings, "SSE_QUEUE_SIZE", 64))

    @property
    def replay_buffer_size(self) -> int:
        """SSE_REPLAY_BUFFER_SIZE: events kept per owner for Last-Event-ID."""
        return int(getattr(settings, "SSE_REPLAY_BUFFER_SIZE", 100))

    @property
    def max_streams_per_user(self) -> int:
        """SSE_MAX_STREAMS_PER_USER: streams one user may have open in one process."""
        return int(getattr(settings, "SSE_MAX_STREAMS_PER_USER", 8))

    @property
    def ticket_ttl_seconds(self) -> int:
        """SSE_TICKET_TTL_SECONDS: how long a stream ticket works after it is issued (1–60)."""
        seconds = int(getattr(settings, "SSE_TICKET_TTL_SECONDS", 30))
        if not 1 <= seconds <= MAX_TICKET_TTL_SECONDS:
            raise ImproperlyConfigured(
                f"SSE_TICKET_TTL_SECONDS must be from 1 to {MAX_TICKET_TTL_SECONDS}; got {seconds}"
            )
        return seconds

    @property
    def guard(self) -> Guard:
        """SSE_GUARD: dotted path of the guard around uses of Redis (see `eventstream.guard`)."""
        path = getattr(settings, "SSE_GUARD", None)
        if path is None:
            from . import guard

            return cast(Guard, guard)
        return cast(Guard, _resolve("SSE_GUARD", path))

    @property
    def response_headers(self) -> Callable[[], Headers]:
        """SSE_RESPONSE_HEADERS: dotted path of a function giving the headers every answer of a
        stream carries besides its own (a project's security headers, say); none by default."""
        path = getattr(settings, "SSE_RESPONSE_HEADERS", None)
        if path is None:
            return _no_headers
        return cast(Callable[[], Headers], _resolve("SSE_RESPONSE_HEADERS", path))

    @property
    def redis_url(self) -> str | None:
        """REDIS_URL: with it, the replay buffer is a capped Redis stream per owner."""
        return getattr(settings, "REDIS_URL", None) or None

    @property
    def redis_timeout(self) -> float:
        """REDIS_TIMEOUT: seconds the replay buffer's Redis client waits (connect, answer)."""
        return float(getattr(settings, "REDIS_TIMEOUT", 1.0))


stream_settings = EventStreamSettings()
