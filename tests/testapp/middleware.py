"""A middleware that fails on demand, to show errors raised outside views get the envelope.

Sync and async capable like the service's own, so that the test project's middleware chain runs
in the same mode as the service's: async under ASGI.
"""

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse


class ExplodingMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        self._explode(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        self._explode(request)
        return await self.get_response(request)

    def _explode(self, request: HttpRequest) -> None:
        if "HTTP_X_EXPLODE" in request.META:
            raise RuntimeError("middleware exploded: password=hunter2")
