"""Stack `errors`: this repository's app, set up exactly as its instructions say."""

from __future__ import annotations

from errors.logging import build_logging_config

from .settings_base import *  # noqa: F403
from .settings_base import BASE_INSTALLED_APPS, BASE_MIDDLEWARE, BASE_REST_FRAMEWORK
from .sink import LOG_SINK

INSTALLED_APPS = [*BASE_INSTALLED_APPS, "errors"]
MIDDLEWARE = ["errors.middleware.CorrelationIdMiddleware", *BASE_MIDDLEWARE]
REST_FRAMEWORK = {**BASE_REST_FRAMEWORK, "EXCEPTION_HANDLER": "errors.handler.exception_handler"}
# Same URLs, plus handler400/403/404/500 from errors.views.
ROOT_URLCONF = "overhead_stacks.urls_errors"
LOGGING = build_logging_config(level="INFO", fmt="json", stream=LOG_SINK)
ERRORS_ENABLE_MONITORING = False
