"""`errors/__init__.py`: the names a project writes, importable from `errors` itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import errors
from errors import context, exceptions
from errors import logging as errors_logging
from tests.support.servers import REPO_ROOT


def test_the_public_names_are_those_of_their_modules() -> None:
    for name in errors.__all__:
        home = next(m for m in (exceptions, context, errors_logging) if hasattr(m, name))
        assert getattr(errors, name) is getattr(home, name), name
    # What CONTRACT users write in their code (section 5).
    assert {
        "AppException",
        "ValidationException",
        "AuthenticationException",
        "AuthorizationException",
        "NotFoundException",
        "ConflictException",
        "ExternalServiceException",
        "DatabaseException",
        "RateLimitException",
        "get_correlation_id",
        "JsonFormatter",
        "CorrelationIdFilter",
        "build_logging_config",
    } <= set(errors.__all__)


def test_import_errors_needs_no_settings_and_loads_only_django_s_lazy_strings() -> None:
    # A settings module may import it: nothing it loads reads the settings, and its messages
    # are the text as written until Django's apps are ready.
    script = (
        "import json, sys\n"
        "from errors import *\n"
        "assert NotFoundException('x').status_code == 404\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        "    if m.split('.')[0] in ('django', 'rest_framework'))))\n"
        "assert str(NotFoundException()) == 'Not found'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout) == [
        "django",
        "django.utils",
        "django.utils.functional",
        "django.utils.regex_helper",
        "django.utils.version",
    ]
