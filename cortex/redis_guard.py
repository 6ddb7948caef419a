"""Redis on the request path: each use bounded in time, and skipped while Redis is down.

With REDIS_URL, Redis holds the throttle and login-lockout counters (Django's cache), the replay
buffer and the channel layer. A Redis outage must not turn into failed or hung API calls:

- Redis clients on the request path give up after REDIS_TIMEOUT seconds (cortex/settings.py;
  `bounded` for the channel layer, whose own socket timeout is long for the hub's sake).
- Counters (`with_counters`) fall back to counters of this process while Redis cannot be reached:
  throttles and the lockout keep bounding each process, the API keeps answering.
- What cannot do without Redis (`call`, `bounded`: opening an event stream, publishing an event)
  raises `RedisUnavailable`, answered 503 `redis_unavailable` with Retry-After.
- One circuit breaker per process (`breaker`, cortex/breaker.py): after a failure, Redis is left
  alone for COOLOFF_SECONDS instead of each request paying the timeout, then one request tries
  again. It logs one WARNING when an outage begins and one INFO line when Redis answers again.
- A Redis outage error that other code let through is answered as `RedisUnavailable` too, never
  a 500: `answer_outages` registers that with the `errors` handler at start-up (cortex/apps.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import BaseCache, cache
from django.core.cache.backends.locmem import LocMemCache
from redis import exceptions as redis_exceptions

from errors import normalize
from errors.exceptions import AppException

from .breaker import CircuitBreaker

T = TypeVar("T")

COOLOFF_SECONDS = 2.0
breaker = CircuitBreaker("Redis", cooloff=COOLOFF_SECONDS)
# The counters of this process while Redis is down (throttle histories, login failures).
local_counters = LocMemCache("cortex-local-counters", {"OPTIONS": {"MAX_ENTRIES": 100_000}})

# redis-py's errors for a Redis that cannot be reached: refused, reset and dropped connections (a
# server still loading its data among them), and a server that does not answer in time.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    redis_exceptions.ConnectionError,
    redis_exceptions.TimeoutError,
)
_OUTAGE_OR_DEADLINE: tuple[type[BaseException], ...] = (*OUTAGE_ERRORS, TimeoutError)


class RedisUnavailable(AppException):
    """The operation needs Redis, which cannot be reached (503 with Retry-After)."""

    default_code = "redis_unavailable"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, retry_after=settings.REDIS_RETRY_AFTER)


def _unavailable(exc: BaseException) -> RedisUnavailable:
    return RedisUnavailable()


def answer_outages() -> None:
    """Have the `errors` handler answer a Redis outage error that nothing caught as
    `RedisUnavailable` (503 `redis_unavailable` with Retry-After), not as a 500."""
    normalize.register(OUTAGE_ERRORS, _unavailable)


def with_counters(operation: Callable[[BaseCache], T]) -> T:
    """`operation` on the shared cache; while Redis cannot be reached, on this process's own."""
    if not breaker.allow():
        return operation(local_counters)
    try:
        result = operation(cache)
    except OUTAGE_ERRORS as exc:
        breaker.failed(exc)
        return operation(local_counters)
    breaker.succeeded()
    return result


def call(operation: Callable[[], T]) -> T:
    """`operation`, a use of Redis that cannot be done without; `RedisUnavailable` if Redis is
    down (known to be, or found to be now)."""
    if not breaker.allow():
        raise RedisUnavailable()
    try:
        result = operation()
    except OUTAGE_ERRORS as exc:
        breaker.failed(exc)
        raise RedisUnavailable() from exc
    breaker.succeeded()
    return result


async def bounded(operation: Awaitable[T], *, proves_up: bool = True) -> T:
    """Await a channel-layer operation for at most REDIS_TIMEOUT seconds; `RedisUnavailable` if
    Redis is down, refuses, or does not answer in time.

    `proves_up=False` for an operation that may complete without reaching Redis at all (joining a
    group this process is already in): its success says nothing about Redis.
    """
    if not breaker.allow():
        if asyncio.iscoroutine(operation):
            operation.close()  # never awaited: say so to Python, not to the log
        raise RedisUnavailable()
    try:
        result = await asyncio.wait_for(operation, settings.REDIS_TIMEOUT)
    except _OUTAGE_OR_DEADLINE as exc:
        breaker.failed(exc)
        raise RedisUnavailable() from exc
    if proves_up:
        breaker.succeeded()
    return result
