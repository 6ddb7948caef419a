"""Prometheus metrics of requests and handled errors (prometheus_client). See docs/metrics.md."""

from __future__ import annotations

import os
import threading
from typing import Any

from .conf import errors_settings

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"

# Request durations: from a millisecond to ten seconds.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's metrics, created on first use when monitoring is on."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.requests = Counter(
            "http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route template.",
            ["method", "route"],
            buckets=DURATION_BUCKETS,
        )
        self.errors = Counter(
            "errors_handled_total",
            "Errors answered with the error envelope, by code and status.",
            ["code", "status"],
        )
        self.external_failures = Counter(
            "external_call_failures_total",
            "Calls to external services that failed for good, by service and reason.",
            ["service", "reason"],
        )
        self.task_failures = Counter(
            "task_failures_total",
            "Background tasks (Celery) that failed for good, by task and exception type.",
            ["task", "error_type"],
        )
        self.task_retries = Counter(
            "task_retries_total",
            "Background tasks (Celery) that failed and were retried, by task.",
            ["task"],
        )
        self.django_task_failures = Counter(
            "django_task_failures_total",
            "Runs of Django background tasks (django.tasks) that failed, by task.",
            ["task"],
        )
        self.alerts = Counter(
            "errors_alerts_total",
            "Times the handled-error count of a 60 s window reached ERROR_ALERT_THRESHOLD.",
        )
        self.children: dict[tuple[Any, ...], Any] = {}

    def labels(self, metric: Any, *values: str) -> Any:
        """`metric.labels(*values)`, made once: prometheus_client checks the values each call."""
        key = (id(metric), *values)
        child = self.children.get(key)
        if child is None:
            child = self.children[key] = metric.labels(*values)
        return child


_metrics: Metrics | None = None
# prometheus_client refuses a name twice: threads of the first requests must not all create it.
_metrics_lock = threading.Lock()


def metrics() -> Metrics | None:
    """The metrics, or None while monitoring is off."""
    global _metrics
    if _metrics is None and errors_settings.monitoring_enabled:
        with _metrics_lock:
            if _metrics is None:  # unless a thread that held the lock made them meanwhile
                _metrics = Metrics()
    return _metrics


def record_request(method: str, route: str | None, status: int, seconds: float) -> None:
    """Count one answered request; `route` is its route label (None when no URL matched)."""
    m = metrics()
    if m is None:
        return
    method = method if method in KNOWN_METHODS else "other"
    route = UNMATCHED_ROUTE if route is None else route
    m.labels(m.requests, method, route, str(status)).inc()
    m.labels(m.duration, method, route).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The current metrics in Prometheus text format, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    metrics()  # make sure this process's metrics exist, so they are listed even at zero
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    registry: Any = REGISTRY
    if directory:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def forget_dead_processes() -> None:
    """Drop the live gauges of processes that are gone (their counters still count)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory or not os.path.isdir(directory):
        return
    from prometheus_client import multiprocess

    for name in os.listdir(directory):
        if not name.startswith("gauge_live"):
            continue
        pid_text = name.rsplit("_", 1)[-1].removesuffix(".db")
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)  # signal 0: only whether the process exists
        except ProcessLookupError:
            multiprocess.mark_process_dead(int(pid_text), path=directory)
        except PermissionError:
            pass  # it exists, as another user's process
