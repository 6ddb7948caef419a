"""Django's Redis cache with one connection pool per process, under ASGI too.

Django keeps a cache backend per asyncio context: under ASGI every request gets a backend of its
own, and Django's `RedisCache` gives each backend a client with a connection pool of its own. So
each request opened a new connection to Redis for its throttle counters, and closed it. Here the
backends of one CACHES entry share one client, so its pool keeps its connections for the process.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends import redis
from django.utils.functional import cached_property

# Per CACHES entry (its OPTIONS dict, kept here so that its id cannot be reused): the client.
_clients: dict[tuple[int, tuple[str, ...]], tuple[Any, Any]] = {}
_lock = threading.Lock()


class RedisCache(redis.RedisCache):
    """`django.core.cache.backends.redis.RedisCache`, its client shared by the process."""

    # Set by Django's __init__ (Django 5.2-6.1); the type stubs do not declare them.
    _options: dict[str, Any]
    _servers: list[str]
    _class: type[Any]

    @cached_property
    def _cache(self) -> Any:
        options = self._options
        key = (id(options), tuple(self._servers))
        with _lock:
            shared = _clients.get(key)
            if shared is None or shared[0] is not options:
                shared = _clients[key] = (options, self._class(self._servers, **options))
        return shared[1]
