"""The service's process, whatever serves it: the open-file limit, and uncaught exceptions as log
records."""

from __future__ import annotations

import logging
import os
import sys
from types import TracebackType

from django.conf import settings

from errors.logging import JsonFormatter

logger = logging.getLogger("cortex.process")


def raise_open_file_limit() -> None:
    """Raise the soft limit of open files to the hard limit; log the result; never raise."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = hard if hard != resource.RLIM_INFINITY else _nr_open()
        if target is not None and soft != resource.RLIM_INFINITY and target > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except Exception as exc:
        logger.warning("Could not raise the open-file limit: %s", exc)
        return
    logger.info(
        "Open-file limit: %s (was %s, hard limit %s)",
        limit,
        soft,
        hard,
        extra={"open_file_limit": limit, "previous_open_file_limit": soft},
    )


def _nr_open() -> int | None:
    # An unlimited hard limit still stops at the kernel's per-process maximum on Linux.
    try:
        with open("/proc/sys/fs/nr_open") as file:
            return int(file.read())
    except (OSError, ValueError):
        return None


def log_uncaught_exceptions() -> None:
    """Make an uncaught exception one log record instead of a bare traceback on stderr.

    Before Django has configured logging (the settings failed), the record is written as a JSON
    line by `errors.logging.JsonFormatter` itself, unless LOG_FORMAT is `console`.
    """
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        console = os.environ.get("LOG_FORMAT", "").strip().lower() == "console"
        if issubclass(kind, KeyboardInterrupt) or (console and not settings.configured):
            previous(kind, exc, tb)
            return
        if settings.configured:
            logger.critical("Uncaught exception: %s", exc, exc_info=(kind, exc, tb))
            return
        record = logger.makeRecord(
            logger.name, logging.CRITICAL, __file__, 0, "Uncaught exception: %s", (exc,),
            (kind, exc, tb),
        )  # fmt: skip
        sys.stderr.write(JsonFormatter().format(record) + "\n")

    sys.excepthook = hook
