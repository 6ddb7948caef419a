"""Channel layers of the service."""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    """Channels' in-memory layer, with its expiry sweep run at most once a second.

    Channels sweeps every channel and every group member on each send and receive, so one
    event fanned out to N streams costs O(N^2): with 5,000 streams one event took seconds to
    reach them all. Messages and memberships still expire, a second later at most.
    """

    sweep_interval = 1.0
    _last_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep >= self.sweep_interval:
            self._last_sweep = now
            super()._clean_expired()
