"""daphne's HTTP server, hardened against hostile clients; `install()` is called by cortex/asgi.py.

Only what no ASGI middleware can do under daphne: bodies refused while they arrive (daphne buffers
a whole body before calling the application), the header deadline, the access log as JSON records.
Written against daphne 4.2.3 and Twisted 26.10.0; what each hook does and why: docs/asgi.md.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any, Final, cast

import daphne
import daphne.cli
import daphne.server
import twisted
from daphne import http_protocol
from django.conf import settings
from twisted.logger import (
    FilteringLogObserver,
    ILogFilterPredicate,
    ILogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    STDLibLogObserver,
    globalLogPublisher,
)
from twisted.web import http

from cortex.process import raise_open_file_limit
from cortex.redact import redact_url
from errors.asgi import find_header, payload_too_large
from errors.conf import errors_settings
from errors.context import reset_correlation_id, set_correlation_id

WRITTEN_AGAINST: Final[dict[str, str]] = {"daphne": "4.2.3", "Twisted": "26.10.0"}

logger = logging.getLogger("cortex.server")
access_logger = logging.getLogger("cortex.access")


# --- requests: the body limit, and the response's correlation id --------------------------------


class WebRequest(http_protocol.WebRequest):
    """daphne's request, refusing an oversized body as it arrives and remembering the
    `X-Correlation-ID` the application answered with."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # daphne never reads Twisted's parsed form arguments; parsing them copies the body.
        kwargs.setdefault("parsePOSTFormSubmission", False)
        super().__init__(*args, **kwargs)
        factory = self.channel.factory
        self.body_limit: int | None = getattr(factory, "body_limit", None)
        self.correlation_id: str | None = None
        self._created = time.monotonic()
        self._received = 0
        self._refused = False

    # Twisted calls these three while the request arrives.

    def gotLength(self, length: int | None) -> None:  # noqa: N802 (Twisted's name)
        """Refuse a declared length over the limit before reading any of the body."""
        if length is not None and self.body_limit is not None and length > self.body_limit:
            self._refuse()
        else:
            super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:  # noqa: N802
        """Store a piece of the body, unless what arrived passed the limit (chunked bodies)."""
        if self._refused:
            return
        self._received += len(data)
        if self.body_limit is not None and self._received > self.body_limit:
            self._refuse()
        else:
            super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:  # noqa: N802
        """Hand the request to daphne, unless it was refused (the chunked decoder may still
        reach the end of a body it already held)."""
        if not self._refused:
            super().requestReceived(command, path, version)

    # daphne calls these.

    def handle_reply(self, message: dict[str, Any]) -> None:
        """Send the application's message; the last one under the response's correlation id,
        which the access log then carries."""
        if message.get("type") == "http.response.start":
            self.correlation_id = find_header(
                message.get("headers") or (), errors_settings.correlation_id_header
            )
        elif message.get("type") == "http.response.body" and not message.get("more_body"):
            with _correlation_id(self.correlation_id):
                super().handle_reply(message)
            return
        super().handle_reply(message)

    def connectionLost(self, reason: Any) -> None:  # noqa: N802
        """Log the access line of a response the client did not wait for (an event stream)."""
        if self.application_queue is not None and not self.finished and not self._refused:
            with _correlation_id(self.correlation_id):
                self.server.log_action(
                    "http", "disconnected", _access_details(self, self.code, self.sentLength)
                )
        super().connectionLost(reason)

    def _refuse(self) -> None:
        """Answer 413 at once, log it, and close the connection without reading on."""
        self._refused = True
        channel = self.channel
        # Twisted answers `Expect: 100-continue` just after gotLength: the client gets the 413.
        self.requestHeaders.removeHeader(b"Expect")
        channel.persistent = False
        method = _ascii(getattr(channel, "_command", b""))
        target = _ascii(getattr(channel, "_path", b""))
        scope = {
            "type": "http",
            "method": method,
            "path": target.split("?", 1)[0],
            "headers": [
                (name.lower(), value)
                for name, values in self.requestHeaders.getAllRawHeaders()
                for value in values
            ],
        }
        status, headers, body = payload_too_large(scope)  # logged there, once
        if self.server.server_name:
            headers.append((b"server", self.server.server_name.encode()))
        channel.writeHeaders(b"HTTP/1.1", str(status).encode(), http.RESPONSES[status], headers)
        channel.write(body)
        # What the client still sends is never read: loseConnection stops reading, writes the
        # answer out and closes; a client that does not read it is cut off after abortTimeout.
        channel._abortingCall = channel.callLater(channel.abortTimeout, channel.forceAbortClient)
        channel.loseConnection()
        with _correlation_id(find_header(headers, errors_settings.correlation_id_header)):
            self.server.log_action(
                "http",
                "complete",
                {
                    "path": target,
                    "status": status,
                    "method": method,
                    "client": _peer(self.client),
                    "time_taken": time.monotonic() - self._created,
                    "size": len(body),
                },
            )


# --- connections: the header deadline -------------------------------------------------------


class HTTPChannel(http.HTTPChannel):
    """Twisted's HTTP/1.1 connection, closed when a request's headers do not arrive in time."""

    _header_deadline: Any = None  # an IDelayedCall while the headers are awaited

    def connectionMade(self) -> None:  # noqa: N802 (Twisted's names)
        super().connectionMade()
        self._await_headers()

    def allHeadersReceived(self) -> None:  # noqa: N802
        self._stop_waiting()
        super().allHeadersReceived()

    def requestDone(self, request: http.Request) -> None:  # noqa: N802
        if self.persistent:
            # Before Twisted parses the next request it may already hold, which stops it again.
            self._await_headers()
        super().requestDone(request)

    def setTimeout(self, period: float | None) -> float | None:  # noqa: N802
        # Twisted turns the idle timeout off once a request's body is in, when the connection is
        # lost, and when it hands the connection over to HTTP/2: so ends the headers' deadline.
        if period is None:
            self._stop_waiting()
        return super().setTimeout(period)

    def _await_headers(self) -> None:
        timeout = getattr(self.factory, "header_timeout", None)
        if timeout and self._header_deadline is None:
            self._header_deadline = self.callLater(timeout, self._headers_late)

    def _stop_waiting(self) -> None:
        deadline, self._header_deadline = self._header_deadline, None
        if deadline is not None and deadline.active():
            deadline.cancel()

    def _headers_late(self) -> None:
        self._header_deadline = None
        timeout = getattr(self.factory, "header_timeout", None)
        client = _peer(self.getPeer()) if self.transport else None
        logger.info(
            "Closed the connection of %s: no complete request headers within %s s",
            client,
            timeout,
            extra={"client": client, "header_timeout_s": timeout},
        )
        # Twisted's idle timeout: close, and abort after abortTimeout if that does not finish.
        self.timeoutConnection()


def _channel_protocol(factory: Any) -> http._GenericHTTPChannelProtocol:
    # What Twisted's HTTPFactory builds (see http._genericHTTPChannelProtocolFactory), with the
    # channel above.
    return http._GenericHTTPChannelProtocol(HTTPChannel())


class HTTPFactory(http_protocol.HTTPFactory):
    """daphne's factory, building the channel and request above; reads the limits from settings."""

    protocol = _channel_protocol

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        self.body_limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        self.header_timeout: float | None = settings.HTTP_HEADER_TIMEOUT or None
        if getattr(server, "verbosity", 1) <= 1:
            forward_twisted_log()

    def buildProtocol(self, addr: Any) -> Any:  # noqa: N802
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = WebRequest
        return protocol

    def startFactory(self) -> None:  # noqa: N802
        super().startFactory()
        logger.info(
            "Serving HTTP: request bodies up to %s bytes, request headers within %s s",
            self.body_limit,
            self.header_timeout,
            extra={"body_limit": self.body_limit, "header_timeout_s": self.header_timeout},
        )


_twisted_observer: FilteringLogObserver | None = None


def forward_twisted_log() -> None:
    """Send Twisted's warnings and errors to Python logging (logger `twisted`), once."""
    global _twisted_observer
    if _twisted_observer is None:
        # Typed as the interfaces they provide (mypy does not read zope's declarations).
        _twisted_observer = FilteringLogObserver(
            cast(ILogObserver, STDLibLogObserver("twisted")),
            [cast(ILogFilterPredicate, LogLevelFilterPredicate(LogLevel.warn))],
        )
        globalLogPublisher.addObserver(cast(ILogObserver, _twisted_observer))


# --- the access log ---------------------------------------------------------------------------


class AccessLog:
    """daphne's action logger (daphne.cli builds one when its access log is on), as log records."""

    def __init__(self, stream: Any = None) -> None:
        if stream is not None and stream is not sys.stdout:
            logger.warning(
                "daphne's --access-log is not used: access lines are records of the cortex.access "
                "logger (set LOG_FILE to keep them in a file)"
            )

    def __call__(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        """Log one action: a complete (or abandoned) HTTP request, or a WebSocket's step."""
        path = redact_url(str(details.get("path", "")))
        client = details.get("client")
        if protocol == "http" and action in ("complete", "disconnected"):
            method, status = details.get("method"), details.get("status")
            disconnected = action == "disconnected"
            access_logger.info(
                "%s %s %s%s",
                method,
                path,
                status,
                " (client disconnected)" if disconnected else "",
                extra={
                    "method": method,
                    "path": path,
                    "status_code": status,
                    "duration_ms": round(float(details.get("time_taken") or 0) * 1000, 3),
                    "client": client,
                    "size": details.get("size"),
                    "client_disconnected": disconnected,
                },
            )
        elif protocol == "websocket":
            access_logger.info(
                "WebSocket %s %s",
                action,
                path,
                extra={"websocket": action, "path": path, "client": client},
            )


# --- install ----------------------------------------------------------------------------------


def install() -> None:
    """Install the hooks described above (idempotent); nothing when DAPHNE_HOOKS is off."""
    if not settings.DAPHNE_HOOKS:
        return
    running = {"daphne": daphne.__version__, "Twisted": twisted.__version__}
    if running != WRITTEN_AGAINST:
        logger.warning(
            "cortex/server.py was written against %s and runs with %s: check its hooks still hold",
            _versions(WRITTEN_AGAINST),
            _versions(running),
        )
    raise_open_file_limit()
    daphne.server.HTTPFactory = HTTPFactory
    daphne.cli.AccessLogGenerator = AccessLog


# --- helpers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _correlation_id(value: str | None) -> Iterator[None]:
    if value is None:
        yield
        return
    token = set_correlation_id(value)
    try:
        yield
    finally:
        reset_correlation_id(token)


def _access_details(request: WebRequest, status: int | None, size: int) -> dict[str, Any]:
    return {
        "path": _ascii(request.uri),
        "status": status if request._response_started else None,
        "method": _ascii(request.method),
        "client": "{}:{}".format(*request.client_addr) if request.client_addr else None,
        "time_taken": request.duration(),
        "size": size,
    }


def _peer(address: Any) -> str | None:
    host, port = getattr(address, "host", None), getattr(address, "port", None)
    return f"{host}:{port}" if host is not None else None


def _ascii(value: bytes) -> str:
    return value.decode("ascii", "backslashreplace")


def _versions(versions: dict[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items())
