"""Celery tasks under their publisher's correlation id and trace (docs/background-work.md)."""

from __future__ import annotations

import logging
from typing import Any, Final

from celery import signals
from celery.app import trace as celery_trace

from . import metrics
from .context import (
    get_correlation_id,
    new_correlation_id,
    reset_correlation_id,
    set_correlation_id,
)
from .tasks import DuplicateLogFilter, add_carried, carried_context, mark_logged, read_context
from .tracing import TRACEPARENT, TRACESTATE, reset_trace, set_trace

logger = logging.getLogger("errors.tasks")

CORRELATION_HEADER: Final = "errors_correlation_id"
# Where the tokens of the ids set for a task wait for task_postrun (on the task's request).
_TOKENS: Final = "_errors_tokens"


def on_publish(sender: Any, headers: dict[str, Any], **kwargs: Any) -> None:
    """`before_task_publish`: put the current correlation id and trace into the headers."""
    add_carried(headers, carried_context(CORRELATION_HEADER))


def on_prerun(sender: Any, task: Any, **kwargs: Any) -> None:
    """`task_prerun`: run the task under the publisher's correlation id and trace."""
    request = task.request
    headers = {
        key: getattr(request, key, None) for key in (CORRELATION_HEADER, TRACEPARENT, TRACESTATE)
    }
    correlation_id, trace = read_context(headers, CORRELATION_HEADER)
    # A task applied in-process (eagerly) keeps the caller's id.
    correlation_id = correlation_id or get_correlation_id() or new_correlation_id()
    tokens = (set_correlation_id(correlation_id), None if trace is None else set_trace(trace))
    setattr(request, _TOKENS, tokens)


def on_postrun(sender: Any, task: Any, **kwargs: Any) -> None:
    """`task_postrun`: restore the ids that were current before the task."""
    tokens = getattr(task.request, _TOKENS, None)
    if tokens is None:
        return
    setattr(task.request, _TOKENS, None)
    correlation_token, trace_token = tokens
    if trace_token is not None:
        reset_trace(trace_token)
    reset_correlation_id(correlation_token)


def on_retry(sender: Any, request: Any, reason: Any, **kwargs: Any) -> None:
    """`task_retry`: log the failed attempt once, at WARNING, and count it."""
    exc = getattr(reason, "exc", None) or reason
    error_type = type(exc).__name__ if isinstance(exc, BaseException) else None
    attempt = request.retries + 1
    logger.warning(
        "Task %s[%s] failed (attempt %d) and will be retried: %s",
        sender.name,
        request.id,
        attempt,
        error_type or exc,
        extra={
            "task": sender.name,
            "task_id": request.id,
            "attempt": attempt,
            "error_type": error_type,
        },
    )
    m = metrics.metrics()
    if m is not None:
        m.labels(m.task_retries, sender.name).inc()


def on_failure(
    sender: Any, task_id: str, exception: BaseException, traceback: Any, **kwargs: Any
) -> None:
    """`task_failure`: log the failure once, with its traceback, and count it."""
    expected = isinstance(exception, tuple(sender.throws))
    mark_logged(exception)  # errors.tasks' other handlers must not log it again
    logger.log(
        logging.INFO if expected else logging.ERROR,
        "Task %s[%s] failed: %s",
        sender.name,
        task_id,
        type(exception).__name__,
        exc_info=None if expected else (type(exception), exception, traceback),
        extra={
            "task": sender.name,
            "task_id": task_id,
            "error_type": type(exception).__name__,
            "attempt": sender.request.retries + 1,
        },
    )
    m = metrics.metrics()
    if m is not None:
        m.labels(m.task_failures, sender.name, type(exception).__name__).inc()


# Celery's own lines for failures and retries, which also write the task's arguments.
_CELERY_DUPLICATE: Final = DuplicateLogFilter(
    frozenset({celery_trace.LOG_FAILURE, celery_trace.LOG_RETRY})
)

_RECEIVERS = (
    (signals.before_task_publish, on_publish),
    (signals.task_prerun, on_prerun),
    (signals.task_postrun, on_postrun),
    (signals.task_retry, on_retry),
    (signals.task_failure, on_failure),
)


def connect() -> None:
    """Connect the receivers and the duplicate-line filter; calling it again changes nothing."""
    for signal, receiver in _RECEIVERS:
        signal.connect(receiver, weak=False, dispatch_uid=f"errors.celery.{receiver.__name__}")
    logging.getLogger(celery_trace.logger.name).addFilter(_CELERY_DUPLICATE)


__all__ = ["CORRELATION_HEADER", "connect"]
