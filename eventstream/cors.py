"""CORS headers on an event stream's answers, from django-cors-headers when it is installed.

The stream is a Channels consumer, not a Django view, so `CorsMiddleware` never sees it. A page
on an allowed origin that opens the stream with a ticket needs `Access-Control-Allow-Origin` on
the answer, the envelope of a refusal included, or the browser hides both. The headers are the
ones the middleware would add to a view's response for the same request: same settings
(CORS_ALLOWED_ORIGINS, CORS_ALLOW_ALL_ORIGINS, CORS_EXPOSE_HEADERS, ...), same code.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse

Headers = list[tuple[bytes, bytes]]


def cors_headers(request: ASGIRequest) -> Headers:
    """The CORS headers for an answer to `request`; none without django-cors-headers."""
    if not apps.is_installed("corsheaders"):
        return []
    from corsheaders.middleware import CorsMiddleware

    response = HttpResponse()
    del response["Content-Type"]
    CorsMiddleware(_no_view).add_response_headers(request, response)
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.items()
    ]


def _no_view(request: Any) -> HttpResponse:  # pragma: no cover - the middleware only adds headers
    raise AssertionError("not called")
