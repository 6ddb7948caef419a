"""Error-rate alerting: one CRITICAL line per burst of errors (docs/logging.md)."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque

from . import metrics

logger = logging.getLogger("errors.alerting")

WINDOW_SECONDS = 60.0


class ErrorRateMonitor:
    """A sliding window of recent errors and the time of the last alert."""

    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self.window = window
        self._errors: deque[tuple[float, str]] = deque()
        self._last_alert = float("-inf")
        self._lock = threading.Lock()

    def record(self, code: str, threshold: int, now: float | None = None) -> None:
        """Note an error of `code`; alert if the window's count has reached `threshold`."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._errors.append((now, code))
            while self._errors and self._errors[0][0] <= now - self.window:
                self._errors.popleft()
            if len(self._errors) < threshold or now - self._last_alert < self.window:
                return
            self._last_alert = now
            counts = dict(Counter(c for _, c in self._errors))
        logger.critical(
            "error threshold exceeded",
            extra={
                "errors_in_window": sum(counts.values()),
                "window_seconds": self.window,
                "threshold": threshold,
                "counts_by_code": counts,
            },
        )
        m = metrics.metrics()
        if m is not None:
            m.alerts.inc()


monitor = ErrorRateMonitor()
