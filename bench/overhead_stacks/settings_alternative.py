"""Stack `alternative`: drf-standardized-errors + django-guid + python-json-logger (orjson).

Configured as those packages document it: django-guid's middleware first and its
`CorrelationId` log filter on the handler; drf-standardized-errors' exception handler;
python-json-logger's `OrjsonFormatter`, asked for the same fields the `errors` JsonFormatter
writes (and, like it, timestamps in UTC).
"""

from __future__ import annotations

import time

from .pjl import PJL_FMT, PJL_RENAMES
from .settings_base import *  # noqa: F403
from .settings_base import BASE_INSTALLED_APPS, BASE_MIDDLEWARE, BASE_REST_FRAMEWORK
from .sink import LOG_SINK

INSTALLED_APPS = [*BASE_INSTALLED_APPS, "django_guid", "drf_standardized_errors"]
MIDDLEWARE = ["django_guid.middleware.guid_middleware", *BASE_MIDDLEWARE]
REST_FRAMEWORK = {
    **BASE_REST_FRAMEWORK,
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"correlation_id": {"()": "django_guid.log_filters.CorrelationId"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.orjson.OrjsonFormatter",
            "fmt": f"{PJL_FMT} %(correlation_id)s",
            "rename_fields": PJL_RENAMES,
            # dictConfig sets "." entries as attributes of the constructed object.
            ".": {"converter": time.gmtime},
        }
    },
    "handlers": {
        "sink": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["correlation_id"],
            "stream": LOG_SINK,
        }
    },
    "root": {"level": "INFO", "handlers": ["sink"]},
    "loggers": {
        # django-guid logs an INFO line for every request without a Correlation-ID header;
        # its README configures this logger at WARNING, which also spares it that cost here.
        "django_guid": {"level": "WARNING", "propagate": True},
    },
}
