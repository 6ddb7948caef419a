"""What `errors` changes at start-up is each switched off by a setting of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management.base import BaseCommand
from django.test import override_settings

from errors.external import instrument_http_clients, is_instrumented, uninstrument_http_clients


@pytest.fixture
def undone() -> Iterator[None]:
    """Undo the start-up patches for the test, and put them back afterwards."""
    wrapped = BaseCommand.execute
    BaseCommand.execute = wrapped.__wrapped__  # type: ignore[attr-defined,method-assign]
    uninstrument_http_clients()
    try:
        yield
    finally:
        BaseCommand.execute = wrapped  # type: ignore[method-assign]
        instrument_http_clients()


def ready() -> None:
    apps.get_app_config("errors").ready()


@pytest.mark.usefixtures("undone")
def test_by_default_commands_and_http_clients_are_patched() -> None:
    ready()
    assert getattr(BaseCommand.execute, "_errors_correlated", False)
    assert is_instrumented("httpx") and is_instrumented("requests")


@pytest.mark.usefixtures("undone")
@override_settings(ERRORS_CORRELATE_COMMANDS=False, ERRORS_INSTRUMENT_HTTP_CLIENTS=False)
def test_settings_turn_the_patches_off() -> None:
    ready()
    assert not getattr(BaseCommand.execute, "_errors_correlated", False)
    assert not is_instrumented("httpx") and not is_instrumented("requests")


@pytest.mark.parametrize("enabled", [True, False])
def test_dead_processes_are_forgotten_unless_switched_off(
    enabled: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A live gauge file of a process that no longer exists (pid 2**22 + 1 is beyond pid_max).
    dead = tmp_path / f"gauge_livesum_{2**22 + 1}.db"
    dead.write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with override_settings(ERRORS_FORGET_DEAD_PROCESSES=enabled):
        ready()
    assert dead.exists() is not enabled
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path)
