"""Django's tasks under their enqueuer's correlation id and trace (docs/background-work.md)."""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import inspect
import logging
import sys
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final, TypeVar, cast

from . import metrics
from .context import (
    get_correlation_id,
    is_valid_correlation_id,
    new_correlation_id,
    reset_correlation_id,
    set_correlation_id,
)
from .tracing import (
    TRACEPARENT,
    TRACESTATE,
    continue_trace,
    current_trace,
    reset_trace,
    set_trace,
    working_under,
)

logger = logging.getLogger("errors.tasks")

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_ARGUMENT: Final = "errors_context"
_CORRELATED: Final = "_errors_correlated"
_LOGGED_MARK: Final = "_errors_logged"
# What Django's own `task_finished` receiver logs (at ERROR for a failure) on both lines.
_DJANGO_FINISHED_LINE: Final = "Task id=%s path=%s state=%s"
_FAILED: Final = "FAILED"


def mark_logged(exc: BaseException) -> None:
    """Mark `exc` as logged, so that no other handler of `errors` logs it again."""
    # Exceptions have a __dict__; one whose class refuses attributes may be logged twice.
    with contextlib.suppress(Exception):
        setattr(exc, _LOGGED_MARK, True)


def tasks_module() -> ModuleType | None:
    """`django.tasks` (Django 6+), else the `django_tasks` backport, else None."""
    for name in ("django.tasks", "django_tasks"):
        if importlib.util.find_spec(name) is not None:
            return importlib.import_module(name)
    return None


# --- carrying the correlation id --------------------------------------------------------------


def carried_context(id_key: str = "correlation_id") -> dict[str, str]:
    """What `enqueue` passes as `errors_context` (and Celery as headers): the current ids."""
    correlation_id = get_correlation_id()
    carried = {id_key: correlation_id} if correlation_id else {}
    trace = current_trace()
    if trace is not None:
        carried.update(trace.headers())
    return carried


def add_carried(headers: MutableMapping[str, Any], carried: dict[str, str]) -> None:
    """Add `carried` to a request's or message's headers, none that they set themselves."""
    own_trace = TRACEPARENT in headers  # as OpenTelemetry's instrumentations set it
    for name, value in carried.items():
        if name not in headers and not (own_trace and name == TRACESTATE):
            headers[name] = value


def _carrying(task: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    if not getattr(getattr(task, "func", None), _CORRELATED, False):
        name = getattr(task, "module_path", task)
        raise TypeError(
            f"{name} cannot take the correlation id: decorate its function with "
            "errors.tasks.correlated (under @task)"
        )
    return {**kwargs, CONTEXT_ARGUMENT: carried_context()}


def enqueue(task: Any, /, *args: Any, **kwargs: Any) -> Any:
    """`task.enqueue(*args, **kwargs)` with the current correlation id and trace."""
    return task.enqueue(*args, **_carrying(task, kwargs))


async def aenqueue(task: Any, /, *args: Any, **kwargs: Any) -> Any:
    """`enqueue` for async code (`task.aenqueue`)."""
    return await task.aenqueue(*args, **_carrying(task, kwargs))


def read_context(carried: Any, id_key: str = "correlation_id") -> tuple[str | None, Any]:
    """The correlation id and trace in a `carried_context()`, each None when invalid."""
    if not isinstance(carried, dict):
        return None, None
    correlation_id = carried.get(id_key)
    if not (isinstance(correlation_id, str) and is_valid_correlation_id(correlation_id)):
        correlation_id = None
    traceparent, tracestate = carried.get(TRACEPARENT), carried.get(TRACESTATE)
    trace = (
        continue_trace(traceparent, tracestate if isinstance(tracestate, str) else None)
        if isinstance(traceparent, str)
        else None
    )
    return correlation_id, trace


@contextlib.contextmanager
def _running_under(carried: Any) -> Iterator[None]:
    correlation_id, trace = read_context(carried)
    correlation_token = set_correlation_id(correlation_id or new_correlation_id())
    trace_token = set_trace(trace)
    try:
        yield
    finally:
        reset_trace(trace_token)
        reset_correlation_id(correlation_token)


def correlated(func: F) -> F:
    """Run a task function (under `@task`) with the correlation id and trace `enqueue` passed."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            with _running_under(kwargs.pop(CONTEXT_ARGUMENT, None)):
                return await func(*args, **kwargs)

        wrapper: Callable[..., Any] = run_async
    else:

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with _running_under(kwargs.pop(CONTEXT_ARGUMENT, None)):
                return func(*args, **kwargs)

        wrapper = run
    setattr(wrapper, _CORRELATED, True)
    return cast(F, wrapper)


# --- failures ---------------------------------------------------------------------------------


def on_task_finished(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """`task_finished`: log a failed run once and count it; never raises."""
    if task_result.status != _FAILED:
        return
    try:
        _log_failure(task_result)
    except Exception:
        logging.getLogger("errors.internal").exception("Could not log a failed task")


def _log_failure(task_result: Any) -> None:
    name = str(task_result.task.module_path)
    error = task_result.errors[-1]  # a failed run has its error
    # Backends send task_finished inside their `except` block: the task's own exception.
    exc = sys.exc_info()[1]
    if getattr(exc, _LOGGED_MARK, False):  # errors.celery logged it
        return
    error_type = error.exception_class_path.rsplit(".", 1)[-1]
    attempt = max(1, int(getattr(task_result, "attempts", 0) or 0))
    correlation_id, trace = read_context(task_result.kwargs.get(CONTEXT_ARGUMENT))
    extra: dict[str, Any] = {
        "task": name,
        "task_id": str(task_result.id),
        "attempt": attempt,
        "error_type": error_type,
    }
    if exc is None:
        extra["traceback"] = error.traceback  # all the backend kept of it
    with working_under(correlation_id, trace):
        logger.error(
            "Task %s[%s] failed (attempt %d): %s",
            name,
            task_result.id,
            attempt,
            error_type,
            exc_info=None if exc is None else (type(exc), exc, exc.__traceback__),
            extra=extra,
        )
    if exc is not None:
        mark_logged(exc)
    m = metrics.metrics()
    if m is not None:
        m.labels(m.django_task_failures, name).inc()


@dataclass(frozen=True)  # equal filters are one filter to `addFilter` and `removeFilter`
class DuplicateLogFilter(logging.Filter):
    """Drop a library's own `lines` (at `level` or above) for what `errors.tasks` logs itself."""

    lines: frozenset[str]
    level: int = logging.NOTSET

    def filter(self, record: logging.LogRecord) -> bool:
        """False for one of those lines; True for anything else."""
        return not (record.msg in self.lines and record.levelno >= self.level)


# Django's own line for a failed task, with the traceback again.
_DJANGO_DUPLICATE: Final = DuplicateLogFilter(frozenset({_DJANGO_FINISHED_LINE}), logging.ERROR)
_DISPATCH_UID: Final = "errors.tasks.on_task_finished"


def connect() -> bool:
    """Connect the failure receiver and the duplicate-line filter; False without a tasks module."""
    module = tasks_module()
    if module is None:
        return False
    signals = importlib.import_module(f"{module.__name__}.signals")
    signals.task_finished.connect(on_task_finished, weak=False, dispatch_uid=_DISPATCH_UID)
    logging.getLogger(module.__name__).addFilter(_DJANGO_DUPLICATE)  # django.tasks/django_tasks
    return True


__all__ = [
    "CONTEXT_ARGUMENT",
    "DuplicateLogFilter",
    "add_carried",
    "aenqueue",
    "carried_context",
    "connect",
    "correlated",
    "enqueue",
    "mark_logged",
    "read_context",
    "tasks_module",
]
