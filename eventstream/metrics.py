"""The event streams' gauge, `sse_open_streams`: how many streams are open now.

It sits beside the `errors` app's metrics and follows the same rule: it exists only while
ERRORS_ENABLE_MONITORING is on, and the `/metrics` of `errors.urls` lists it. With several
worker processes (PROMETHEUS_MULTIPROC_DIR) it is a `livesum` gauge: each process keeps its own
count and `/metrics` adds up those of the processes alive.
"""

from __future__ import annotations

import threading
from typing import Any

from errors.conf import errors_settings

_gauge: Any = None
# prometheus_client refuses a metric name twice: threads that start together make one gauge.
_lock = threading.Lock()


def open_streams() -> Any:
    """The `sse_open_streams` gauge, made on first use; None while monitoring is off.

    `EventStreamConfig.ready()` makes it at start-up, so `/metrics` lists it (at zero) from the
    first scrape.
    """
    global _gauge
    if _gauge is None and errors_settings.monitoring_enabled:
        with _lock:
            if _gauge is None:
                from prometheus_client import Gauge

                _gauge = Gauge(
                    "sse_open_streams",
                    "Server-Sent Events streams open now.",
                    multiprocess_mode="livesum",
                )
    return _gauge


def stream_opened() -> None:
    """One more open event stream."""
    gauge = open_streams()
    if gauge is not None:
        gauge.inc()


def stream_closed() -> None:
    """One event stream fewer."""
    gauge = open_streams()
    if gauge is not None:
        gauge.dec()
