"""A circuit breaker: during an outage of a backing service, stop paying its timeout per request.

Code that can do without a service (a cache, a counter store) asks `allow()` before each use and
reports the outcome with `succeeded()` or `failed()`. The first failure opens the breaker: for
`cooloff` seconds every `allow()` says no at once, and the caller takes its fallback without
waiting for the service. When the cool-off has passed, one caller is let through to try again (the
others keep skipping meanwhile, for another cool-off); its success closes the breaker, its failure
starts a new cool-off. The breaker logs one WARNING when an outage begins and one INFO line when the
service answers again, not one line per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("cortex.breaker")


class CircuitBreaker:
    """Whether to use a service now, from how its recent calls went (module docstring).

    Thread-safe, and cheap enough to ask on every request; one per service and process.
    """

    def __init__(
        self,
        name: str,
        *,
        cooloff: float,
        clock: Callable[[], float] = time.monotonic,
        log: logging.Logger = logger,
    ) -> None:
        self.name = name
        self.cooloff = cooloff
        self._clock = clock
        self._log = log
        self._lock = threading.Lock()
        self._open = False
        self._probing = False
        self._retry_at = 0.0
        self._since = 0.0

    @property
    def is_open(self) -> bool:
        """Whether an outage is under way (the last call failed)."""
        return self._open

    def allow(self) -> bool:
        """Whether to call the service now: always while it works; once per cool-off during an
        outage (that call is the probe whose outcome closes the breaker or keeps it open)."""
        if not self._open:
            return True
        with self._lock:
            if not self._open:
                return True
            now = self._clock()
            if now < self._retry_at:
                return False
            self._retry_at = now + self.cooloff  # everyone else skips while the probe runs
            self._probing = True
            return True

    def succeeded(self) -> None:
        """The service answered: the outage, if any, is over.

        While the breaker is open only the probe's success closes it: a call that began before
        the outage and answered just after it began says nothing about the service now.
        """
        if not self._open:
            return
        with self._lock:
            if not self._open or not self._probing:
                return
            self._open = self._probing = False
            seconds = self._clock() - self._since
        self._log.info(
            "%s answers again after %.1f s; using it again",
            self.name,
            seconds,
            extra={"service": self.name, "outage_seconds": round(seconds, 3)},
        )

    def failed(self, exc: BaseException | None = None) -> None:
        """The service could not be reached: skip it for the next `cooloff` seconds."""
        with self._lock:
            now = self._clock()
            self._retry_at = now + self.cooloff
            self._probing = False
            if self._open:
                return
            self._open = True
            self._since = now
        self._log.warning(
            "%s cannot be reached (%s); doing without it, trying again every %.1f s",
            self.name,
            type(exc).__name__ if exc is not None else "unavailable",
            self.cooloff,
            extra={"service": self.name},
        )
