"""`errors/__init__.py`: the names a project writes, importable from `errors` itself."""

from __future__ import annotations

import json

import errors
from errors import context, exceptions
from errors import logging as errors_logging
from tests.support.scripts import run_without_settings


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
    result = run_without_settings(script)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "django",
        "django.utils",
        "django.utils.functional",
        "django.utils.regex_helper",
        "django.utils.version",
    ]
