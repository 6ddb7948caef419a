"""CELERY_* settings: Redis is the broker, and a bad value stops start-up with its name."""

from __future__ import annotations

import pytest

from tests.cortex.test_settings import start


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"CELERY_BROKER_URL": "amqp://guest@127.0.0.1//"}, ["CELERY_BROKER_URL"]),
        ({"CELERY_VISIBILITY_TIMEOUT": "0"}, ["CELERY_VISIBILITY_TIMEOUT"]),
    ],
)
def test_a_bad_celery_setting_stops_start_up(env: dict[str, str], names: list[str]) -> None:
    result = start(SECRET_KEY="x", **env)
    assert result.returncode != 0
    for name in names:
        assert name in result.stderr


def test_the_broker_and_its_visibility_timeout() -> None:
    result = start(
        "print(settings.CELERY_BROKER_URL, settings.CELERY_BROKER_TRANSPORT_OPTIONS"
        "['visibility_timeout'])",
        SECRET_KEY="x",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/1",
        CELERY_VISIBILITY_TIMEOUT="120",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["redis://127.0.0.1:6379/1", "120"]
