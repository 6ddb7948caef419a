"""Django tasks for the tests of `errors.tasks`: run in the test process (Django's immediate
backend) or by a real `manage.py db_worker`, which imports them by their module path."""

from __future__ import annotations

import importlib
import logging
from typing import Any

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the django-tasks backport
    from django_tasks import task  # type: ignore[no-redef,unused-ignore]

from errors import tasks as errors_tasks
from errors.tasks import correlated

logger = logging.getLogger("tests.tasks")


@task()
@correlated
def note(text: str) -> str:
    """Log `text` (INFO, logger `tests.tasks`) and return it."""
    logger.info("noted %s", text, extra={"note": text})
    return text


@task()
@correlated
async def note_async(text: str) -> str:
    """`note`, as a coroutine function."""
    logger.info("noted %s", text, extra={"note": text})
    return text


@task(takes_context=True)
@correlated
def note_attempt(context: Any, text: str) -> int:
    """Log `text` with the attempt the task context gives; return the attempt."""
    logger.info("noted %s", text, extra={"note": text, "attempt": context.attempt})
    return int(context.attempt)


@task()
@correlated
def explode(message: str) -> None:
    """Log a line, then fail with RuntimeError(message)."""
    logger.info("about to fail", extra={"note": message})
    raise RuntimeError(message)


@task()
def explode_uncorrelated(message: str) -> None:
    """Fail with ValueError(message); not `correlated`."""
    raise ValueError(message)


def disconnect_errors() -> None:
    """Undo `errors.tasks.connect()`: Django's tasks as a project without `errors` has them."""
    module = errors_tasks.tasks_module()
    assert module is not None
    signals = importlib.import_module(f"{module.__name__}.signals")
    signals.task_finished.disconnect(dispatch_uid=errors_tasks._DISPATCH_UID)
    logging.getLogger(module.__name__).removeFilter(errors_tasks._DJANGO_DUPLICATE)
