"""What `errors` changes in other libraries at start-up is what ERRORS_INTEGRATIONS names.

A project that names nothing is proven untouched in a fresh process (tests/standalone); here,
in the service's process, each name is switched on and off by hand.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import requests
from django.apps import apps
from django.core.management.base import BaseCommand
from django.test import override_settings

from errors import tasks
from tests.support.tasks import disconnect_errors

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDALONE = REPO_ROOT / "tests" / "standalone"


def patched(*methods: object) -> bool:
    """Whether each method (a `send`, `BaseCommand.execute`) is the correlating wrapper."""
    return all(getattr(method, "_errors_correlated", False) for method in methods)


@pytest.fixture
def undone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the service's start-up patches for the test, and put them back afterwards."""
    monkeypatch.setattr(BaseCommand, "execute", inspect.unwrap(BaseCommand.execute))
    for cls in (httpx.Client, httpx.AsyncClient, requests.Session):
        monkeypatch.setattr(cls, "send", inspect.unwrap(cls.send))


def ready() -> None:
    apps.get_app_config("errors").ready()


def test_the_service_names_every_integration() -> None:
    assert patched(BaseCommand.execute, httpx.Client.send, httpx.AsyncClient.send)
    assert patched(requests.Session.send)


@pytest.mark.usefixtures("undone")
@override_settings(ERRORS_INTEGRATIONS=[])
def test_nothing_named_nothing_patched() -> None:
    ready()
    assert not patched(BaseCommand.execute)
    assert not patched(httpx.Client.send) and not patched(requests.Session.send)


@pytest.mark.usefixtures("undone")
@override_settings(ERRORS_INTEGRATIONS=["commands", "httpx"])
def test_only_what_is_named_is_patched() -> None:
    ready()
    assert patched(BaseCommand.execute, httpx.Client.send, httpx.AsyncClient.send)
    assert not patched(requests.Session.send)


@pytest.mark.parametrize("named", [True, False])
def test_dead_processes_are_forgotten_only_when_named(
    named: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A live gauge file of a process that no longer exists (pid 2**22 + 1 is beyond pid_max).
    dead = tmp_path / f"gauge_livesum_{2**22 + 1}.db"
    dead.write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with override_settings(ERRORS_INTEGRATIONS=["prometheus_multiprocess"] if named else []):
        ready()
    assert dead.exists() is not named
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path)


@pytest.mark.parametrize("named", [True, False])
def test_django_tasks_receiver_and_filter_only_when_named(named: bool) -> None:
    module = tasks.tasks_module()
    if module is None:
        pytest.skip("needs django.tasks or the django_tasks backport")
    task_logger = logging.getLogger(module.__name__)

    def filtered() -> bool:
        return any(isinstance(f, tasks.DuplicateLogFilter) for f in task_logger.filters)

    disconnect_errors()
    try:
        with override_settings(ERRORS_INTEGRATIONS=["django_tasks"] if named else []):
            ready()
        assert filtered() is named
    finally:
        tasks.connect()  # as the service has it


def test_a_project_that_names_no_integration_has_nothing_changed(tmp_path: Path) -> None:
    # A live gauge file of a process that no longer exists: the project did not ask to drop it.
    dead = tmp_path / f"gauge_livesum_{2**22 + 1}.db"
    dead.write_bytes(b"")
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(STANDALONE), str(REPO_ROOT)]),
    }
    result = subprocess.run(
        [sys.executable, str(STANDALONE / "untouched.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # BaseCommand.execute, httpx's and requests' send, Sentry's ignored loggers and Celery's
    # receivers are what they were before Django set up; no logger got a filter (sentry-sdk
    # filters a logger of its own).
    assert report["changed"] == []
    assert not [name for name in report["logger filters"] if name.startswith(("django", "celery"))]
    assert report["multiproc files removed"] == [] and dead.exists()
    assert report["checks"] == []
