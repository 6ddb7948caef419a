"""Settings of bench/overhead's stacks, the stack being $BENCH_STACK: `bare` (plain DRF), `errors`
(metrics off; on in `errors+metrics`, trace headers in `errors+trace`) and `alternative`
(drf-standardized-errors + django-guid + python-json-logger), all logging to one `NullSink`."""

from __future__ import annotations

import os
import time
from typing import Any, TextIO, cast

from bench.stacks import LOG_SINK, PJL_FMT, PJL_RENAMES
from errors.logging import build_logging_config

STACK = os.environ.get("BENCH_STACK", "bare")

SECRET_KEY = "bench-overhead-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]  # RequestFactory's host
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "bench.stacks.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TEMPLATES = [  # the bare stack's 500 page looks up 500.html
    {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}
]
USE_TZ = True
TIME_ZONE = "UTC"
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
SINK = {"class": "logging.StreamHandler", "formatter": "f", "stream": LOG_SINK}
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"f": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"sink": SINK},
    "root": {"level": "INFO", "handlers": ["sink"]},
}

if STACK == "alternative":
    INSTALLED_APPS += ["django_guid", "drf_standardized_errors"]
    MIDDLEWARE.insert(0, "django_guid.middleware.guid_middleware")
    REST_FRAMEWORK["EXCEPTION_HANDLER"] = "drf_standardized_errors.handler.exception_handler"
    LOGGING["filters"] = {"guid": {"()": "django_guid.log_filters.CorrelationId"}}
    LOGGING["formatters"]["f"] = {
        "()": "pythonjsonlogger.orjson.OrjsonFormatter",
        "fmt": f"{PJL_FMT} %(correlation_id)s",
        "rename_fields": PJL_RENAMES,
        ".": {"converter": time.gmtime},  # dictConfig sets "." entries as attributes
    }
    LOGGING["handlers"]["sink"] = {**SINK, "filters": ["guid"]}
    # As django-guid's README says (it would log a line per request without the header).
    LOGGING["loggers"] = {"django_guid": {"level": "WARNING"}}
elif STACK.startswith("errors"):
    INSTALLED_APPS.append("errors")
    MIDDLEWARE.insert(0, "errors.middleware.CorrelationIdMiddleware")
    REST_FRAMEWORK["EXCEPTION_HANDLER"] = "errors.handler.exception_handler"
    LOGGING = build_logging_config(level="INFO", fmt="json", stream=cast(TextIO, LOG_SINK))
    ERRORS_ENABLE_MONITORING = STACK == "errors+metrics"
    ERRORS_TRACE_RESPONSE_HEADER = STACK == "errors+trace"
