"""A middleware that fails on demand, to show errors raised outside views get the envelope.

Sync and async capable like the service's own, so that the test project's middleware chain runs
in the same mode as the service's: async under ASGI.
"""

from django.http import HttpRequest, HttpResponseBase

from errors.middleware import SyncAndAsyncMiddleware


class ExplodingMiddleware(SyncAndAsyncMiddleware):
    def call(self, request: HttpRequest) -> HttpResponseBase:
        self._explode(request)
        return self.get_response(request)

    async def acall(self, request: HttpRequest) -> HttpResponseBase:
        self._explode(request)
        return await self.get_response(request)

    def _explode(self, request: HttpRequest) -> None:
        if "HTTP_X_EXPLODE" in request.META:
            raise RuntimeError("middleware exploded: password=hunter2")
