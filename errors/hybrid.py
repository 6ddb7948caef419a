"""`SyncAndAsyncMiddleware`: a middleware base that runs in its handler's mode, sync or async.

See docs/overload.md."""

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
