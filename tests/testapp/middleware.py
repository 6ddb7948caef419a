"""A middleware that fails on demand, to show errors raised outside views get the envelope."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class ExplodingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "HTTP_X_EXPLODE" in request.META:
            raise RuntimeError("middleware exploded: password=hunter2")
        return self.get_response(request)
