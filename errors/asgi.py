"""ASGI middleware: correlation ids for raw ASGI apps, and the request body limit (docs/asgi.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from .conf import errors_settings
from .context import accept_correlation_id
from .handling import report_error, signal_server_error
from .negotiation import response_language
from .normalize import normalize
from .render import error_body
from .tracing import working_under

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = Iterable[tuple[bytes, bytes]]


def find_header(headers: Headers, name: str) -> str | None:
    """The value of header `name` (case-insensitive) among raw ASGI headers, decoded as latin-1."""
    wanted = name.lower().encode("latin-1")
    for key, value in headers:
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None


def header(scope: Scope, name: str) -> str | None:
    """The value of request header `name` of an ASGI scope, if present."""
    return find_header(scope.get("headers", ()), name)


class CorrelationIdASGIMiddleware:
    """Give every HTTP and WebSocket connection its correlation id, and the response its header."""

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

        with working_under(correlation_id):
            await self.app(scope, receive, send_with_id)


def error_response(
    exc: BaseException, scope: Scope, correlation_id: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of the envelope answering `exc`, logged once (docs/asgi.md)."""
    info = normalize(exc)
    with working_under(correlation_id):
        report_error(info, SimpleNamespace(method=scope.get("method"), path=scope.get("path")))
        signal_server_error(info, None)
    body, content_type, language_headers = error_body(
        info,
        correlation_id,
        accept=header(scope, "accept"),
        instance=scope.get("path"),
        language=response_language(None, header(scope, "accept-language")),
    )
    headers = [(b"content-type", content_type.encode())]
    headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in (language_headers | info.headers).items()
    )
    return info.status, headers, body


# --- the body limit ------------------------------------------------------------------------------


def body_limit(content_type: str | None, *, limit_multipart: bool = False) -> int | None:
    """DATA_UPLOAD_MAX_MEMORY_SIZE, or None for no limit (multipart unless `limit_multipart`)."""
    if not limit_multipart and (content_type or "").lower().startswith("multipart/"):
        return None
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def declared_too_large(content_length: str | None, limit: int | None) -> bool:
    """Whether a declared Content-Length passes `limit` (a malformed one passes here)."""
    if limit is None or not content_length:
        return False
    try:
        return int(content_length) > limit
    except ValueError:
        return False


def payload_too_large(scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of the 413 `payload_too_large` for `scope` (docs/asgi.md)."""
    # The id an outer CorrelationIdASGIMiddleware chose, else the client's if valid, else new.
    correlation_id = scope.get("correlation_id")
    if not isinstance(correlation_id, str):
        correlation_id = accept_correlation_id(header(scope, errors_settings.correlation_id_header))
    status, headers, body = error_response(
        RequestDataTooBig("Request body too large"), scope, correlation_id
    )
    headers += [
        (errors_settings.correlation_id_header.lower().encode("latin-1"), correlation_id.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    return status, headers, body


class BodyLimitMiddleware:
    """Answer 413 `payload_too_large` once a body passes the upload limit (docs/asgi.md)."""

    def __init__(
        self, app: Callable[..., Awaitable[None]], *, limit_multipart: bool = False
    ) -> None:
        self.app = app
        self.limit_multipart = limit_multipart

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(header(scope, "content-type"), limit_multipart=self.limit_multipart)
        if limit is None:
            await self.app(scope, receive, send)
            return
        if declared_too_large(header(scope, "content-length"), limit):
            await self._refuse(scope, send)  # before receive(): no `100 Continue` is sent
            return
        received = 0
        refused = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # The application is told the client went away; it reads no more.
                    refused = True
                    if not started:
                        await self._refuse(scope, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send) -> None:
        status, headers, body = payload_too_large(scope)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
