"""What the app does around its uses of Redis on a request path, unless SSE_GUARD says otherwise.

Opening a stream joins a channel-layer group; publishing an event appends it to the replay
buffer and sends it to the group. A project whose layer is Redis names, in SSE_GUARD, a guard
that bounds these in time and fails at once while Redis is known to be down (the service's is
`cortex.redis_guard`). A guard is anything with these two functions; this one adds nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Guard(Protocol):
    """The interface of SSE_GUARD (a module fits it as well as an object)."""

    def call(self, operation: Callable[[], T]) -> T:
        """Run `operation`, a blocking use of Redis; raise if it must not or did not succeed."""
        ...

    async def bounded(self, operation: Awaitable[T], *, proves_up: bool = True) -> T:
        """Await `operation`, a channel-layer call; raise if it must not or did not succeed."""
        ...


def call(operation: Callable[[], T]) -> T:
    """Run `operation` as it is."""
    return operation()


async def bounded(operation: Awaitable[T], *, proves_up: bool = True) -> T:
    """Await `operation` as it is."""
    return await operation
