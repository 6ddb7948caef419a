"""Knowing when a client stops reading, so a stream can stop writing to it.

ASGI has no backpressure of its own and daphne's `send` never waits: whatever an application
sends to a client that does not read piles up in the server's memory. Twisted, under daphne,
does know: it pauses a request's registered push producer when the socket's buffer is full and
resumes it once the buffer drains. `attach(send, producer)` registers a producer for the
response behind the server's `send` when the server is daphne (FlowControlMiddleware hands that
`send` to the application); with any other server the producer is never paused, and the
stream's bounded queue is then the only limit.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Protocol


class Producer(Protocol):
    """Twisted's IPushProducer, as the HTTP channel calls it."""

    def pauseProducing(self) -> None: ...  # noqa: N802

    def resumeProducing(self) -> None: ...  # noqa: N802

    def stopProducing(self) -> None: ...  # noqa: N802


def _daphne_request(send: Any) -> Any:
    # daphne hands each application `partial(server.handle_reply, request)`.
    if isinstance(send, functools.partial) and send.args:
        request = send.args[0]
        if hasattr(request, "registerProducer") and hasattr(request, "channel"):
            return request
    return None


def attach(send: Any, producer: Producer) -> Any:
    """Register `producer` for the response behind the server's `send`.

    Returns a handle for `detach`, or None when the server offers no flow control.
    """
    request = _daphne_request(send)
    if request is None or getattr(request.channel, "_requestProducer", None) is not None:
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
    still holds the server's. It puts `attach` for that `send` in `scope["flow_control"]`; a
    streaming consumer calls it with its producer once it starts its response.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope = dict(scope, flow_control=functools.partial(attach, send))
        await self.app(scope, receive, send)
