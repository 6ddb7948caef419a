"""Settings come from the environment; bad values stop start-up with the variable's name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG = "postgres://cortex@127.0.0.1:5432/cortex"  # settings only: nothing connects to it


def start(code: str = "print(settings.DEBUG)", **env: str) -> subprocess.CompletedProcess[str]:
    """Load the service's settings in a fresh process, as `manage.py` would, and run `code`."""
    inherited = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ENVIRONMENT", "DEBUG", "LOG_LEVEL"}
    clean = {k: v for k, v in os.environ.items() if k not in inherited and not k.startswith("DB_")}
    clean.update(DJANGO_SETTINGS_MODULE="cortex.settings", **env)
    code = "import django; django.setup(); from django.conf import settings; " + code
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"LOG_LEVEL": "LOUD", "SECRET_KEY": "x"}, ["LOG_LEVEL", "LOUD"]),
        ({"DEBUG": "maybe", "SECRET_KEY": "x"}, ["DEBUG", "maybe"]),
        ({"LOG_FORMAT": "xml", "SECRET_KEY": "x"}, ["LOG_FORMAT"]),
        ({"LOG_FILE_MAX_SIZE": "big", "SECRET_KEY": "x"}, ["LOG_FILE_MAX_SIZE"]),
        ({"ERROR_ALERT_THRESHOLD": "0", "SECRET_KEY": "x"}, ["ERROR_ALERT_THRESHOLD"]),
        ({"ENVIRONMENT": "staging", "SECRET_KEY": "x"}, ["ENVIRONMENT"]),
        ({"DATABASE_URL": "nosuchdb://x", "SECRET_KEY": "x"}, ["DATABASE_URL"]),
        ({"USER_THROTTLE_RATE": "lots", "SECRET_KEY": "x"}, ["USER_THROTTLE_RATE"]),
        ({"TOKEN_TTL": "-5", "SECRET_KEY": "x"}, ["TOKEN_TTL"]),
        (
            {"DATABASE_URL": PG, "DB_CLIENT_TIMEOUT": "5", "SECRET_KEY": "x"},
            ["DB_STATEMENT_TIMEOUT_MS", "DB_CLIENT_TIMEOUT"],
        ),
        (
            {"DATABASE_URL": PG, "DB_STATEMENT_TIMEOUT_MS": "10000", "SECRET_KEY": "x"},
            ["DB_STATEMENT_TIMEOUT_MS", "DB_CLIENT_TIMEOUT"],
        ),
        ({"DATABASE_URL": PG, "DB_CLIENT_TIMEOUT": "0", "SECRET_KEY": "x"}, ["DB_CLIENT_TIMEOUT"]),
        ({}, ["SECRET_KEY"]),
    ],
)
def test_a_bad_value_refuses_to_start_naming_the_variable(
    env: dict[str, str], names: list[str]
) -> None:
    result = start(**env)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line
    for name in names:
        assert name in last_line


def test_development_needs_no_environment_and_turns_debug_on() -> None:
    result = start(ENVIRONMENT="development")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_production_with_a_secret_key_starts_without_debug() -> None:
    result = start(SECRET_KEY="a-real-secret")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_postgresql_waits_are_bounded_on_the_client_beyond_the_statement_timeout() -> None:
    code = (
        "options = settings.DATABASES['default']['OPTIONS']; "
        "print(options['options'], options['pool']['connection_class'].timeout, "
        "options['tcp_user_timeout'], options['connect_timeout'], options['pool']['timeout'])"
    )
    result = start(code, DATABASE_URL=PG, SECRET_KEY="x")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["-c", "statement_timeout=5000", "10.0", "10000", "2", "2"]

    result = start(
        code, DATABASE_URL=PG, SECRET_KEY="x", DB_CLIENT_TIMEOUT="3", DB_STATEMENT_TIMEOUT_MS="2500"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["-c", "statement_timeout=2500", "3.0", "3000", "2", "2"]
