"""Celery tasks under the correlation id and trace of their publisher, failures logged once.

Written against Celery 5.7; needs the `[celery]` extra. See docs/background-work.md."""

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


def on_publish(sender: Any = None, headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """`before_task_publish`: put the current correlation id and trace into the headers."""
    if headers is not None:
        add_carried(headers, carried_context(CORRELATION_HEADER))


def on_prerun(sender: Any = None, task: Any = None, **kwargs: Any) -> None:
    """`task_prerun`: run the task under the publisher's correlation id and trace."""
    if task is None:
        return
    request = task.request
    headers = {
        key: getattr(request, key, None) for key in (CORRELATION_HEADER, TRACEPARENT, TRACESTATE)
    }
    correlation_id, trace = read_context(headers, CORRELATION_HEADER)
    # A task applied in-process (eagerly) keeps the caller's id.
    correlation_id = correlation_id or get_correlation_id() or new_correlation_id()
    tokens = (set_correlation_id(correlation_id), None if trace is None else set_trace(trace))
    setattr(request, _TOKENS, tokens)


def on_postrun(sender: Any = None, task: Any = None, **kwargs: Any) -> None:
    """`task_postrun`: restore the ids that were current before the task."""
    if task is None:
        return
    tokens = getattr(task.request, _TOKENS, None)
    if tokens is None:
        return
    setattr(task.request, _TOKENS, None)
    correlation_token, trace_token = tokens
    if trace_token is not None:
        reset_trace(trace_token)
    reset_correlation_id(correlation_token)


def _task_name(task: Any) -> str:
    return str(getattr(task, "name", None) or "<unknown>")


def on_retry(sender: Any = None, request: Any = None, reason: Any = None, **kwargs: Any) -> None:
    """`task_retry`: log the failed attempt once, at WARNING, and count it."""
    name = _task_name(sender)
    exc = getattr(reason, "exc", None) or reason
    error_type = type(exc).__name__ if isinstance(exc, BaseException) else None
    retries = getattr(request, "retries", 0) or 0
    logger.warning(
        "Task %s[%s] failed (attempt %d) and will be retried: %s",
        name,
        getattr(request, "id", None),
        retries + 1,
        error_type or exc,
        extra={
            "task": name,
            "task_id": getattr(request, "id", None),
            "attempt": retries + 1,
            "error_type": error_type,
        },
    )
    metrics.record_task_retry(name)


def on_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    traceback: Any = None,
    **kwargs: Any,
) -> None:
    """`task_failure`: log the failure once, with its traceback, and count it."""
    if exception is None:
        return
    name = _task_name(sender)
    expected = isinstance(exception, tuple(getattr(sender, "throws", ()) or ()))
    mark_logged(exception)  # errors.tasks' other handlers must not log it again
    request = getattr(sender, "request", None)
    logger.log(
        logging.INFO if expected else logging.ERROR,
        "Task %s[%s] failed: %s",
        name,
        task_id,
        type(exception).__name__,
        exc_info=None if expected else (type(exception), exception, traceback),
        extra={
            "task": name,
            "task_id": task_id,
            "error_type": type(exception).__name__,
            "attempt": (getattr(request, "retries", 0) or 0) + 1,
        },
    )
    metrics.record_task_failure(name, type(exception).__name__)


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
