"""Correlation ids and error envelopes for raw ASGI applications (Channels consumers).

`CorrelationIdMiddleware` does for an ASGI application what `errors.middleware` does for Django
views: it adopts a valid `X-Correlation-ID` request header or makes a new id, keeps it in the
context variable for everything the application does (its tasks inherit it) and in
`scope["correlation_id"]`, and adds the header to the response. `error_response` answers an
exception with the same envelope, logged once, that Django views get.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from types import SimpleNamespace
from typing import Any

from .conf import errors_settings
from .context import accept_correlation_id, reset_correlation_id, set_correlation_id
from .handling import report_error, signal_server_error
from .normalize import normalize
from .render import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def header(scope: Scope, name: str) -> str | None:
    """The value of request header `name` (case-insensitive), decoded as latin-1, if present."""
    wanted = name.lower().encode("latin-1")
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None


class CorrelationIdMiddleware:
    """ASGI middleware giving every HTTP and WebSocket connection its correlation id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        name = errors_settings.correlation_id_header
        correlation_id = accept_correlation_id(header(scope, name))
        scope = dict(scope, correlation_id=correlation_id)
        raw_header = (name.lower().encode("latin-1"), correlation_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers = list(message.get("headers", ()))
                if not any(key.lower() == raw_header[0] for key, _ in headers):
                    headers.append(raw_header)
                message = dict(message, headers=headers)
            await send(message)

        token = set_correlation_id(correlation_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            reset_correlation_id(token)


def error_response(
    exc: BaseException, scope: Scope, correlation_id: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of the envelope answering `exc`, logged once like any error (and,
    for a 5xx, told to `got_request_exception` receivers, without a request)."""
    info = normalize(exc)
    report_error(info, SimpleNamespace(method=scope.get("method"), path=scope.get("path")))
    signal_server_error(info, None)
    body, content_type = error_body(
        info, correlation_id, accept=header(scope, "accept"), instance=scope.get("path")
    )
    headers = [(b"content-type", content_type.encode())]
    headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in info.headers.items()
    )
    return info.status, headers, body
