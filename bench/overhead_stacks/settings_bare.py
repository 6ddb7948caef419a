"""Stack `bare`: plain DRF (its default exception handler) and Django's default loggers.

Django's own DEFAULT_LOGGING stays in place (`django.request` logs 4xx as warnings and 5xx as
errors, propagating to the root); the root only gets a handler on the null sink with a plain
`logging.Formatter`, like a project that just wants its logs on a stream.
"""

from __future__ import annotations

from .settings_base import *  # noqa: F403
from .sink import LOG_SINK

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "sink": {"class": "logging.StreamHandler", "formatter": "plain", "stream": LOG_SINK}
    },
    "root": {"level": "INFO", "handlers": ["sink"]},
}
