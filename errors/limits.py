"""A bound on the requests that run at once; the others wait or get 503 (docs/overload.md)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from .conf import errors_settings
from .exceptions import ServiceUnavailableException
from .handling import handle_exception
from .middleware import SyncAndAsyncMiddleware


class ConcurrencyLimit:
    """`limit` turns, handed out in order of asking, to the coroutines of a loop or to threads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._current: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self.threads = threading.BoundedSemaphore(limit)  # the turns of a WSGI server's threads

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        current = self._current  # one read: the loop and its semaphore always go together
        if current is None or current[0] is not loop:
            # A new loop (a test's, or after a restart): turns of a dead loop are void.
            current = self._current = (loop, asyncio.Semaphore(self.limit))
        return current[1]

    async def acquire(self, timeout: float) -> asyncio.Semaphore | None:
        """Wait up to `timeout` seconds for a turn; the semaphore to release, or None."""
        semaphore = self._semaphore()
        try:
            async with asyncio.timeout(timeout):
                await semaphore.acquire()
        except TimeoutError:
            return None
        return semaphore


_limits: dict[int, ConcurrencyLimit] = {}


def current_limit() -> ConcurrencyLimit | None:
    """The process's limit for ERRORS_MAX_CONCURRENT_REQUESTS, or None when there is none."""
    size = errors_settings.max_concurrent_requests
    if size is None:
        return None
    # setdefault is atomic: threads that miss together all get the one stored first.
    return _limits.get(size) or _limits.setdefault(size, ConcurrencyLimit(size))


def busy() -> ServiceUnavailableException:
    """The exception a request that did not get its turn is answered with."""
    return ServiceUnavailableException(
        code="service_busy", retry_after=errors_settings.busy_retry_after
    )


@contextlib.asynccontextmanager
async def _turn(path: str = "") -> AsyncIterator[bool]:
    """Hold a turn while the block runs; yields whether one came in time or none was needed."""
    limit = current_limit()
    if limit is None or (path and path.startswith(errors_settings.queue_exempt_paths)):
        yield True
        return
    semaphore = await limit.acquire(errors_settings.queue_timeout)
    if semaphore is None:
        yield False
        return
    try:
        yield True
    finally:
        semaphore.release()


@contextlib.asynccontextmanager
async def request_slot() -> AsyncIterator[None]:
    """Take a turn from the request budget for async work; raises `busy()` after the wait."""
    async with _turn() as admitted:
        if not admitted:
            raise busy()
        yield


class ConcurrencyLimitMiddleware(SyncAndAsyncMiddleware):
    """Let ERRORS_MAX_CONCURRENT_REQUESTS requests run at once; right after the correlation id's."""

    def call(self, request: HttpRequest) -> HttpResponseBase:
        limit = current_limit()
        if limit is None or request.path.startswith(errors_settings.queue_exempt_paths):
            return self.get_response(request)
        if not limit.threads.acquire(timeout=errors_settings.queue_timeout):
            return self._busy(request)
        try:
            return self.get_response(request)
        finally:
            limit.threads.release()

    async def acall(self, request: HttpRequest) -> HttpResponseBase:
        scope = getattr(request, "scope", None) or {}
        if _ADMITTED in scope:  # the ASGI gate in front gave this request its turn, or none
            if not scope[_ADMITTED]:
                return self._busy(request)
            return await self.get_response(request)
        async with _turn(request.path) as admitted:
            if not admitted:
                return self._busy(request)
            return await self.get_response(request)

    def _busy(self, request: HttpRequest) -> HttpResponseBase:
        # Logged at WARNING (the catalog's severity) and counted in errors_handled_total.
        return handle_exception(busy(), request)


# Scope key the ASGI gate sets: True when it gave the request a turn, False when the wait ran out.
_ADMITTED = "errors.admitted"


class ConcurrencyLimitGate:
    """ASGI middleware: requests wait for their turn before Django sees them (docs/overload.md)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with _turn(str(scope.get("path", ""))) as admitted:
            await self.app(dict(scope, **{_ADMITTED: admitted}), receive, send)
