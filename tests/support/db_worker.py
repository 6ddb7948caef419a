"""django-tasks-db's real worker (`manage.py db_worker`) for tests: in this process, on the test
database, until the queue is empty (`run_queued_tasks`), or as a subprocess a test may stop or
kill (`DbWorkerProcess`)."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.servers import REPO_ROOT, json_records, server_environment

_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGQUIT") if hasattr(signal, name)
)
# The loggers whose levels the command sets (its configure_logging).
_WORKER_LOGGERS = ("django_tasks_db", "django.tasks", "django_tasks")


def queued_tasks() -> int:
    """Rows of the task table that a worker has yet to run or finish (READY or RUNNING)."""
    from django_tasks_db.models import DBTaskResult

    return int(DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).count())


def _run_batch() -> None:
    from django.core.management import call_command

    # The command installs its own SIGINT/SIGTERM handlers and sets its loggers' levels: both
    # are given back, so that the test process behaves as before.
    handlers = {number: signal.getsignal(number) for number in _SIGNALS}
    levels = {name: logging.getLogger(name).level for name in _WORKER_LOGGERS}
    try:
        call_command(
            "db_worker", batch=True, interval=0.0, startup_delay=False, reload=False, verbosity=1
        )
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def run_queued_tasks(timeout: float = 30.0) -> None:
    """Run the worker in this process until no task is left, deferred retries included (the
    worker's batch mode stops at the first moment nothing is due); fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        _run_batch()
        if not queued_tasks():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"tasks still queued after {timeout}s: {queued_tasks()}")
        time.sleep(0.02)


class DbWorkerProcess:
    """`python manage.py db_worker` in a subprocess, its output (JSON log lines) kept in a file.

    It runs with `server_environment(env, settings_module)`, polls every 50 ms and does not
    reload; `stop()` asks for the worker's graceful shutdown (SIGTERM: the task it is running
    finishes first), `kill()` gives it no chance to finish anything.
    """

    def __init__(
        self,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        settings_module: str = "tests.support.task_settings",
    ) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--interval=0.05",
                "--no-startup-delay",
                "--no-reload",
            ],
            cwd=REPO_ROOT,
            env=server_environment(env, settings_module),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def records(self) -> list[dict[str, Any]]:
        """The JSON log lines the worker wrote so far (other lines are skipped)."""
        return json_records(self.log_path)

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL: the worker finishes nothing."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        """SIGTERM, the worker's graceful shutdown; killed if it has not ended within 20 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return int(self.process.returncode)
