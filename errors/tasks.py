"""Background work that keeps the correlation id of the request that started it.

- `handle_background_errors` decorates a coroutine function or a plain function: an exception
  (not a cancellation, not KeyboardInterrupt/SystemExit) is logged once, with its traceback, on
  the `errors.tasks` logger, then re-raised, so the task or caller still sees it.
- `BackgroundTasks` starts asyncio tasks and keeps a strong reference to each until it is done;
  an exception that no decorator logged is logged by its done callback; `cancel_all()` cancels
  and awaits them all (at shutdown).
- `start_thread` / `ContextThread` run a function in a thread that starts with a copy of the
  current context, so its log lines carry the correlation id of the request that started it (a
  plain `threading.Thread` starts with an empty context).

An asyncio task already runs in a copy of the context it was created in, so a task started while a
request is served logs with that request's correlation id without any help.

Each failure is logged exactly once: whoever logs it first marks the exception, and the others
(the done callback, the thread wrapper, an outer decorator) skip a marked exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, overload

from .context import get_correlation_id

logger = logging.getLogger("errors.tasks")

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

_LOGGED_MARK = "_errors_logged"


def is_logged(exc: BaseException) -> bool:
    """Tell whether `exc` was already logged by this module (or marked with `mark_logged`)."""
    return bool(getattr(exc, _LOGGED_MARK, False))


def mark_logged(exc: BaseException) -> None:
    """Mark `exc` as logged, so no other background-error handler logs it again."""
    # Exceptions have a __dict__; one whose class refuses attributes may be logged twice.
    with contextlib.suppress(Exception):
        setattr(exc, _LOGGED_MARK, True)


def log_background_error(
    exc: BaseException, task: str, *, correlation_id: str | None = None
) -> bool:
    """Log `exc`, raised by background work named `task`, unless it was logged already.

    The line carries the traceback, `task` and `correlation_id` (the given one, else the current
    one). Returns True when it logged.
    """
    if is_logged(exc):
        return False
    mark_logged(exc)
    logger.error(
        "Background task %s failed: %s",
        task,
        type(exc).__name__,
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={
            "task": task,
            "error_type": type(exc).__name__,
            "correlation_id": correlation_id or get_correlation_id(),
        },
    )
    return True


def _name_of(func: Callable[..., Any]) -> str:
    return str(getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or func)


@overload
def handle_background_errors(func: F, /) -> F: ...


@overload
def handle_background_errors(*, name: str | None = None) -> Callable[[F], F]: ...


def handle_background_errors(
    func: Callable[..., Any] | None = None, /, *, name: str | None = None
) -> Any:
    """Log an exception of `func` once (with the correlation id and traceback), then re-raise.

    Works on coroutine functions and plain functions, bare (`@handle_background_errors`) or with
    a task name for the logs (`@handle_background_errors(name="reindex")`; default: the
    function's qualified name). Cancellation (`asyncio.CancelledError`), KeyboardInterrupt and
    SystemExit pass through untouched.
    """

    def decorate(target: Callable[..., Any]) -> Callable[..., Any]:
        task = name or _name_of(target)

        if inspect.iscoroutinefunction(target):

            @functools.wraps(target)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await target(*args, **kwargs)
                except Exception as exc:
                    log_background_error(exc, task)
                    raise

            return async_wrapper

        @functools.wraps(target)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return target(*args, **kwargs)
            except Exception as exc:
                log_background_error(exc, task)
                raise

        return sync_wrapper

    if func is not None:
        return decorate(func)
    return decorate


class BackgroundTasks:
    """Start asyncio tasks, hold them until they finish, log their failures, cancel them all.

        tasks = BackgroundTasks()
        task = tasks.start_task(refresh_cache(), name="refresh-cache")
        ...
        await tasks.cancel_all()      # at shutdown

    The event loop keeps only weak references to tasks, so a task nobody holds may be garbage
    collected before it finishes; this manager holds each one until it is done. A task that ends
    with an exception nobody logged yet is logged from its done callback (with the correlation id
    that was current when it was started); a cancelled task is not an error and is not logged.
    The exception stays on the task for whoever awaits it.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        """The tasks started here that have not finished yet."""
        return frozenset(self._tasks)

    def __len__(self) -> int:
        return len(self._tasks)

    def start_task(
        self, coro: Coroutine[Any, Any, R], *, name: str | None = None
    ) -> asyncio.Task[R]:
        """Run `coro` as a task of the running loop (in a copy of the current context)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.track(task)
        return task

    def track(self, task: asyncio.Task[Any]) -> None:
        """Hold and watch a task created elsewhere, as if `start_task` had started it."""
        if task in self._tasks:
            return
        self._tasks.add(task)
        # asyncio runs the callback in a copy of the context current here, i.e. with the
        # correlation id of whoever started the task, whatever the task did to its own copy.
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            logger.debug(
                "Background task %s was cancelled", task.get_name(), extra={"task": task.get_name()}
            )
            return
        exc = task.exception()  # also tells asyncio the exception was retrieved
        if exc is not None:
            log_background_error(exc, task.get_name())

    async def cancel_all(self, timeout: float | None = None) -> None:
        """Cancel every task and wait until they have finished (or `timeout` seconds passed).

        Tasks started meanwhile (say, by a task while it is being cancelled) are cancelled too.
        Outcomes are not raised here; failures other than cancellation were logged already.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            _, still_running = await asyncio.wait(pending, timeout=remaining)
            if still_running:
                logger.warning(
                    "%d background task(s) did not stop within %ss",
                    len(still_running),
                    timeout,
                    extra={"tasks": sorted(t.get_name() for t in still_running)},
                )
                return
            # Done callbacks run on the next loop iteration; let them untrack the tasks.
            await asyncio.sleep(0)


class ContextThread(threading.Thread):
    """A thread that runs in a copy of the context of the code that created it.

    Its log lines therefore carry the creator's correlation id. An exception of the target is
    logged once (with the traceback and the thread name as `task`) and kept in `exception`; it is
    not passed on to `threading.excepthook`, which would print it a second time.

    A thread that uses the Django ORM opens its own database connections; close them when done
    (`django.db.connection.close()`).
    """

    def __init__(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        daemon: bool | None = True,
    ) -> None:
        super().__init__(name=name or f"background:{_name_of(target)}", daemon=daemon)
        self._context = contextvars.copy_context()
        self._call = functools.partial(target, *args, **(kwargs or {}))
        self.exception: BaseException | None = None
        self.result: Any = None

    def run(self) -> None:
        self._context.run(self._run)

    def _run(self) -> None:
        try:
            self.result = self._call()
        except Exception as exc:
            self.exception = exc
            log_background_error(exc, self.name)
        finally:
            del self._call  # drop references to the arguments once done


def start_thread(
    target: Callable[..., Any],
    *args: Any,
    thread_name: str | None = None,
    daemon: bool = True,
    **kwargs: Any,
) -> ContextThread:
    """Start `target(*args, **kwargs)` in a `ContextThread` and return the started thread."""
    thread = ContextThread(target, args, kwargs, name=thread_name, daemon=daemon)
    thread.start()
    return thread


def run_in_context(func: Callable[P, R]) -> Callable[P, R]:
    """Bind `func` to a copy of the current context; for executors and other thread pools.

    loop.run_in_executor(None, run_in_context(work))   # `work` sees the request's id
    """
    context = contextvars.copy_context()

    @functools.wraps(func)
    def bound(*args: P.args, **kwargs: P.kwargs) -> R:
        # A context can be entered by one thread at a time: each call gets its own copy.
        return context.copy().run(func, *args, **kwargs)

    return bound


__all__ = [
    "BackgroundTasks",
    "ContextThread",
    "handle_background_errors",
    "is_logged",
    "log_background_error",
    "mark_logged",
    "run_in_context",
    "start_thread",
]
