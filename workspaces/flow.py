"""Knowing when a client stops reading, so a stream can stop writing to it.

ASGI has no backpressure of its own and daphne's `send` never waits: whatever an application
sends to a client that does not read piles up in the server's memory. Twisted, under daphne,
does know: it pauses a request's registered push producer when the socket's buffer is full and
resumes it once the buffer drains. `flow_control(send)` registers such a producer for the
response behind the server's `send` when the server is daphne (FlowControlMiddleware hands it
to the application); with any other server it never pauses, and the stream's bounded queue is
then the only limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any


class FlowControl:
    """`writable` is set while the client is keeping up."""

    def __init__(self) -> None:
        self._request: Any = None
        self.writable = asyncio.Event()
        self.writable.set()

    # Twisted's IPushProducer interface, called by the HTTP channel.
    def pauseProducing(self) -> None:  # noqa: N802
        self.writable.clear()

    def resumeProducing(self) -> None:  # noqa: N802
        self.writable.set()

    def stopProducing(self) -> None:  # noqa: N802
        # The connection is gone; waiting writers are woken and find the stream closed.
        self.writable.set()

    def release(self) -> None:
        """Forget the response (called when the stream ends)."""
        request = self._request
        if request is not None:
            self._request = None
            with contextlib.suppress(Exception):  # the channel may already be gone
                request.unregisterProducer()


def _daphne_request(send: Any) -> Any:
    # daphne hands each application `partial(server.handle_reply, request)`.
    if isinstance(send, functools.partial) and send.args:
        request = send.args[0]
        if hasattr(request, "registerProducer") and hasattr(request, "channel"):
            return request
    return None


def flow_control(send: Any) -> FlowControl:
    """A FlowControl tied to the response behind the server's own `send`."""
    control = FlowControl()
    request = _daphne_request(send)
    if request is not None and getattr(request.channel, "_requestProducer", None) is None:
        request.registerProducer(control, True)
        control._request = request
    return control


class FlowControlMiddleware:
    """Outermost ASGI middleware: lets the application get flow control for its response.

    Middleware further in (Channels' session middleware, for one) replace `send` with their own
    wrappers, so only the outermost layer still holds the server's. It puts a factory in
    `scope["flow_control"]`; a streaming consumer calls it once it starts its response.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope = dict(scope, flow_control=functools.partial(flow_control, send))
        await self.app(scope, receive, send)
