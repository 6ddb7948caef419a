"""Knowing when a client stops reading, so a stream can stop writing to it.

ASGI has no backpressure of its own and daphne's `send` never waits: whatever an application
sends to a client that does not read piles up in the server's memory. Twisted, under daphne,
does know: it pauses a request's registered push producer when the socket's buffer is full and
resumes it once the buffer drains. `attach(producer)` registers a producer for the response
behind the server's `send` when the server is daphne (FlowControlMiddleware keeps that `send`
for the application); with any other server, or without the middleware, the producer is never
paused, and the stream's bounded queue is then the only limit. How the Twisted request is found
behind daphne's `send` is not something daphne promises: see `compat`.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Any, Protocol

from .compat import daphne_request, producer_slot_free

_server_send: ContextVar[Any] = ContextVar("server_send")


class Producer(Protocol):
    """Twisted's IPushProducer, as the HTTP channel calls it."""

    def pauseProducing(self) -> None: ...  # noqa: N802

    def resumeProducing(self) -> None: ...  # noqa: N802

    def stopProducing(self) -> None: ...  # noqa: N802


def attach(producer: Producer) -> Any:
    """Register `producer` for the response of this connection (FlowControlMiddleware).

    Returns a handle for `detach`, or None when the server offers no flow control.
    """
    request = daphne_request(_server_send.get(None))
    if request is None or not producer_slot_free(request):
        return None
    request.registerProducer(producer, True)
    return request


def detach(handle: Any) -> None:
    """Forget the producer registered by `attach` (called when the stream ends)."""
    if handle is not None:
        with contextlib.suppress(Exception):  # the channel may already be gone
            handle.unregisterProducer()


class FlowControlMiddleware:
    """Outermost ASGI middleware: lets the application get flow control for its response.

    Middleware further in replace `send` with their own wrappers, so only the outermost layer
    still holds the server's. It keeps that `send` in a context variable (the application runs
    in the same task and sees it) rather than in a copy of the scope: with thousands of open
    streams, a copy per connection is memory that shows. A streaming consumer calls `attach`
    with its producer once it starts its response.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        token = _server_send.set(send)
        try:
            await self.app(scope, receive, send)
        finally:
            _server_send.reset(token)
