"""What this app relies on that its frameworks do not promise, in one place (docs/asgi.md).

Written against daphne 4.2.3 (on Twisted 26.10.0) and Channels 4.3.2; tests/eventstream/
test_compat.py fails when the internals used here change.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

DAPHNE_VERSION = "4.2.3"
TWISTED_VERSION = "26.10.0"
CHANNELS_VERSION = "4.3.2"


def daphne_request(send: Any) -> Any:
    """The Twisted request behind daphne's ASGI `send`, or None under any other server."""
    if isinstance(send, functools.partial) and send.args:
        request = send.args[0]
        if hasattr(request, "registerProducer") and hasattr(request, "channel"):
            return request
    return None


def producer_slot_free(request: Any) -> bool:
    """Whether the request's HTTP channel has no producer registered yet (it takes one)."""
    return getattr(request.channel, "_requestProducer", None) is None


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    """Channels' in-memory layer, with its expiry sweep run at most once a second."""

    sweep_interval = 1.0
    _last_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep >= self.sweep_interval:
            self._last_sweep = now
            super()._clean_expired()
