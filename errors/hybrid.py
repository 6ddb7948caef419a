"""A base for middleware that runs in the mode of the handler it wraps, sync or async.

Django adapts a middleware to the handler's mode, and under ASGI a sync-only one costs a thread hop
per request. A middleware that is both sync and async capable runs without one: Django's async
middleware documentation describes the pattern (`sync_capable`, `async_capable`, and marking the
instance as a coroutine function when the next handler is one), which this class writes once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase


class SyncAndAsyncMiddleware:
    """Subclasses implement `call` (sync) and `acall` (async); `get_response` is the next one."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.acall(request)
        return self.call(request)

    def call(self, request: HttpRequest) -> HttpResponseBase:
        """Serve `request` under a sync handler (WSGI)."""
        raise NotImplementedError

    async def acall(self, request: HttpRequest) -> HttpResponseBase:
        """Serve `request` under an async handler (ASGI)."""
        raise NotImplementedError
