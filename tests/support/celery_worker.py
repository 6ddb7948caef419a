"""Real Celery workers for tests, on a Redis database of their own: in-process (a thread) or as
a subprocess that a test may kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.signals import setup_logging

from tests.support.servers import json_records

REPO_ROOT = Path(__file__).resolve().parents[2]


@setup_logging.connect(weak=False)
def _keep_test_logging(**kwargs: Any) -> None:
    """A receiver here stops Celery configuring logging itself (tests capture theirs)."""


def broker_url_for(redis_url: str) -> str:
    """The tests' broker: REDIS_URL's server, database TEST_CELERY_BROKER_DB (14 by default),
    so that two suites sharing one Redis can each have their own."""
    database = os.environ.get("TEST_CELERY_BROKER_DB", "14")
    return urlsplit(redis_url)._replace(path=f"/{database}").geturl()


def flush(broker_url: str) -> None:
    """Empty the broker's database: no task of an earlier test is left to run."""
    client = redis.Redis.from_url(broker_url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def configure(app: Celery, broker_url: str, **options: Any) -> None:
    """Point `app` at the test broker."""
    app.conf.update(
        broker_url=broker_url,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        **options,
    )


@contextmanager
def thread_worker(app: Celery) -> Iterator[Any]:
    """A worker of `app` in a thread of this process (solo pool: tasks run in that thread)."""
    with start_worker(
        app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        shutdown_timeout=15,
        loglevel="WARNING",
    ) as worker:
        yield worker


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `condition` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class WorkerProcess:
    """`celery -A cortex.celery worker` in a subprocess (solo pool), its stderr kept in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "cortex.celery",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "--loglevel=DEBUG",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def records(self) -> list[dict[str, Any]]:
        """The JSON log lines the worker wrote so far (other lines are skipped)."""
        return json_records(self.log_path)

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to acknowledge or requeue anything."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """Ask for a warm shutdown; kill it if it does not stop within 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
