"""`build_logging_config`: the LOGGING dict of a service that uses `errors`."""

from __future__ import annotations

import os
from typing import Any, Final, TextIO

LEVELS: Final[tuple[str, ...]] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_FORMATS: Final[tuple[str, ...]] = ("json", "console")

# Chatty at INFO/DEBUG and rarely what an operator is looking for.
QUIET_LOGGERS: Final[tuple[str, ...]] = (
    "django.db.backends",
    "django.utils.autoreload",
    "daphne",
    "asyncio",
    "urllib3",
    "httpx",
    "httpcore",
    "channels_redis",
    "aioredis",
    "redis",
)


def build_logging_config(
    *,
    level: str = "INFO",
    fmt: str = "json",
    log_file: str | os.PathLike[str] | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    backup_count: int = 5,
    stream: TextIO | None = None,
) -> dict[str, Any]:
    """A dictConfig dict for Django's `LOGGING`; ValueError for a bad level or fmt."""
    level_name = level.upper() if isinstance(level, str) else None
    if level_name not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if fmt not in _FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(_FORMATS)}, got {fmt!r}")

    module = "errors.logging"
    filter_names = ["dedupe", "correlation_id", "redact"]
    handlers: dict[str, dict[str, Any]] = {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": fmt,
            "filters": list(filter_names),
            # dictConfig resolves "ext://" strings and passes any other object through.
            "stream": stream if stream is not None else "ext://sys.stderr",
        }
    }
    if log_file:
        handlers["file"] = {
            "class": "logging.handlers.RotatingFileHandler",
            "formatter": "json",
            "filters": list(filter_names),
            "filename": os.fspath(log_file),
            "maxBytes": max_bytes,
            "backupCount": backup_count,
            "encoding": "utf-8",
        }

    # A logger's own level decides for its records: "quiet" must never be louder than the root.
    quiet_level = level_name if LEVELS.index(level_name) > LEVELS.index("WARNING") else "WARNING"
    loggers: dict[str, dict[str, Any]] = {
        "django": {"level": level_name, "handlers": [], "propagate": True},
        "errors": {"level": level_name, "handlers": [], "propagate": True},
    }
    for name in QUIET_LOGGERS:
        loggers[name] = {"level": quiet_level, "handlers": [], "propagate": True}

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "correlation_id": {"()": f"{module}.CorrelationIdFilter"},
            "redact": {"()": f"{module}.RedactingFilter"},
            "dedupe": {"()": f"{module}.DuplicateRequestLogFilter"},
        },
        "formatters": {
            "json": {"()": f"{module}.JsonFormatter"},
            "console": {"()": f"{module}.ConsoleFormatter"},  # CONSOLE_FORMAT, its default
        },
        "handlers": handlers,
        "root": {"level": level_name, "handlers": list(handlers)},
        "loggers": loggers,
    }
