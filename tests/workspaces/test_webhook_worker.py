"""Django tasks run by a real worker process (`manage.py db_worker`, django-tasks-db), enqueued by
requests to a real server (daphne): the webhook reaches a real HTTP receiver, the worker logs
under the correlation id of the request that enqueued the task, a failed task is logged once and
counted, and what a stopped or killed worker does to the task it was running.

The server and the worker share the test's database on PostgreSQL, and a migrated SQLite file
otherwise (the SQLite test database lives in this process's memory); they share a
PROMETHEUS_MULTIPROC_DIR, so the server's /metrics shows the worker's counts.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection

from tests.support.accounts import make_accounts
from tests.support.celery_worker import wait_for
from tests.support.db_worker import DbWorkerProcess
from tests.support.fixtures import DaphneFactory
from tests.support.servers import DaphneServer, current_database_url
from tests.support.upstream import UpstreamServer

pytestmark = [pytest.mark.django_db(transaction=True)]

SETTINGS = "tests.support.task_settings"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
FAILING_TASK = "tests.support.tasks.explode"


@dataclass
class Service:
    server: DaphneServer
    worker: DbWorkerProcess
    upstream: UpstreamServer
    token: str
    env: dict[str, str]
    tmp_path: Path

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self.server.url}{path}", timeout=10, **kwargs)

    def create(self, name: str, **headers: str) -> httpx.Response:
        response = self.post(
            "/api/workspaces/",
            json={"name": name},
            headers={"Authorization": f"Token {self.token}", **headers},
        )
        assert response.status_code == 201, response.text
        return response

    def enqueue(self, task: str, text: str, **headers: str) -> str:
        """Enqueue `tests.support.tasks.<task>` from a request; the task's id."""
        response = self.post(f"/tasks/{task}/", content=text.encode(), headers=headers)
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    def metrics(self) -> str:
        return httpx.get(f"{self.server.url}/metrics", timeout=10).text

    def statuses(self) -> dict[str, str]:
        """The status of every task row, by id, read from the shared database."""
        from django_tasks_db.models import DBTaskResult

        url = self.env["DATABASE_URL"]
        if url.startswith("sqlite:///"):
            with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
                table = DBTaskResult._meta.db_table
                rows = db.execute(f"SELECT id, status FROM {table}").fetchall()  # noqa: S608
            return {str(row[0]).replace("-", ""): str(row[1]) for row in rows}
        return {r.id.hex: r.status for r in DBTaskResult.objects.all()}


@pytest.fixture
def service(
    tmp_path: Path, upstream: UpstreamServer, daphne_factory: DaphneFactory
) -> Iterator[Service]:
    if connection.vendor == "postgresql":
        database_url = current_database_url()
    else:
        database_url = f"sqlite:///{tmp_path / 'worker.sqlite3'}"
    token = make_accounts(database_url, ("worker",), settings_module=SETTINGS).accounts["worker"]
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        "DATABASE_URL": database_url,
        "WORKSPACE_WEBHOOK_URL": upstream.url,
        "WORKSPACE_WEBHOOK_TIMEOUT_MS": "2000",
        "WORKSPACE_WEBHOOK_ATTEMPTS": "3",
        "WORKSPACE_WEBHOOK_BACKOFF_MS": "50",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
    }
    server = daphne_factory(env, SETTINGS)
    worker = DbWorkerProcess(tmp_path / "worker.log", env)
    try:
        yield Service(server, worker, upstream, str(token["token"]), env, tmp_path)
    finally:
        worker.stop()
        print(f"=== worker\n{worker.output()}")


def lines(worker: DbWorkerProcess, logger: str) -> list[dict[str, Any]]:
    return [r for r in worker.records() if r["logger"] == logger]


def lines_at(worker: DbWorkerProcess, level: str) -> list[dict[str, Any]]:
    return [r for r in worker.records() if r["level"] == level]


def noted(worker: DbWorkerProcess, text: str) -> list[dict[str, Any]]:
    return [r for r in lines(worker, "tests.tasks") if r["message"] == f"noted {text}"]


def counter(metrics: str, name: str, **labels: str) -> float:
    """A counter's value in Prometheus text (0 when the series is not there)."""
    for match in re.finditer(rf"^{name}\{{(.*)\}} (\S+)$", metrics, re.M):
        if dict(re.findall(r'(\w+)="([^"]*)"', match.group(1))) == labels:
            return float(match.group(2))
    return 0.0


def test_the_webhook_arrives_from_the_worker_with_the_requests_correlation_id_and_trace(
    service: Service,
) -> None:
    service.create(
        "Hooked",
        **{"X-Correlation-ID": "worker-create-1", "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
    )
    (received,) = wait_for(service.upstream.received, 30, "the webhook")
    assert received.headers["x-correlation-id"] == "worker-create-1"
    assert received.headers["x-cortex-event"] == "workspace.created"
    version, trace_id, parent_id, _ = received.headers["traceparent"].split("-")
    assert (version, trace_id) == ("00", TRACE_ID)
    assert parent_id != PARENT_ID
    (line,) = wait_for(
        lambda: lines(service.worker, "workspaces.webhooks"), 10, "the worker's delivery line"
    )
    assert line["message"] == "Delivered workspace.created to the webhook (attempt 1)"
    assert (line["correlation_id"], line["trace_id"]) == ("worker-create-1", TRACE_ID)


def test_a_task_enqueued_by_a_request_logs_in_the_worker_under_its_correlation_id(
    service: Service,
) -> None:
    service.enqueue("note", "from a request", **{"X-Correlation-ID": "worker-note-1"})
    (line,) = wait_for(lambda: noted(service.worker, "from a request"), 30, "the task's line")
    assert line["correlation_id"] == "worker-note-1"


def test_a_failing_task_is_logged_once_by_the_worker_with_the_requests_id_and_counted(
    service: Service,
) -> None:
    task_id = service.enqueue("explode", "kaboom-worker", **{"X-Correlation-ID": "worker-fail-1"})
    # A task enqueued after it has run once the worker is done with the failure.
    service.enqueue("note", "after the failure")
    wait_for(lambda: noted(service.worker, "after the failure"), 30, "the next task's line")

    records = service.worker.records()
    failures = [r for r in records if r["level"] in {"ERROR", "CRITICAL"}]
    assert [(r["logger"], r["task"], r["task_id"]) for r in failures] == [
        ("errors.tasks", FAILING_TASK, task_id)
    ]
    (line,) = failures
    assert (line["attempt"], line["correlation_id"], line["error_type"]) == (
        1,
        "worker-fail-1",
        "RuntimeError",
    )
    assert line["message"] == f"Task {FAILING_TASK}[{task_id}] failed (attempt 1): RuntimeError"
    assert "kaboom-worker" in line["exception"]["traceback"]
    assert [r for r in records if "Traceback" in str(r)] == [line]  # the traceback once
    assert counter(service.metrics(), "django_task_failures_total", task=FAILING_TASK) == 1.0


def test_retries_are_runs_of_their_own_and_the_final_failure_is_logged_once_and_counted(
    service: Service,
) -> None:
    service.upstream.status = 503
    service.create("Refused", **{"X-Correlation-ID": "worker-503"})
    wait_for(lambda: lines_at(service.worker, "WARNING"), 30, "the final failure")
    assert len(service.upstream.received()) == 3
    assert {r.headers["x-correlation-id"] for r in service.upstream.received()} == {"worker-503"}
    webhook_lines = [
        r for r in lines(service.worker, "workspaces.webhooks") if r["level"] != "DEBUG"
    ]
    assert [(r["level"], r.get("attempt"), r.get("attempts")) for r in webhook_lines] == [
        ("INFO", 1, None),  # retried in a run of its own, after 50 ms
        ("INFO", 2, None),  # after 100 ms
        ("WARNING", None, 3),
    ]
    assert {r["correlation_id"] for r in webhook_lines} == {"worker-503"}
    assert webhook_lines[2]["reason"] == "bad_status"
    assert not [r for r in service.worker.records() if r["level"] in {"ERROR", "CRITICAL"}]
    assert (
        counter(
            service.metrics(),
            "external_call_failures_total",
            service="workspace_webhook",
            reason="bad_status",
        )
        == 1.0
    )


def test_a_stopped_worker_finishes_its_attempt_and_the_next_worker_delivers_the_retry(
    service: Service,
) -> None:
    service.upstream.hang = True  # the attempt runs into its 2 s timeout
    service.create("Survivor", **{"X-Correlation-ID": "worker-survivor"})
    wait_for(service.upstream.received, 30, "the first attempt")
    assert service.worker.stop() == 0  # SIGTERM: graceful, once the attempt has ended
    service.upstream.hang = False
    assert [r["message"] for r in lines(service.worker, "workspaces.webhooks")] == [
        "Webhook attempt 1/3 failed (timeout); retrying in 0.05s"
    ]

    second = DbWorkerProcess(service.tmp_path / "second.log", service.env)
    try:
        wait_for(lambda: len(service.upstream.received()) >= 2, 30, "the retry")
        (line,) = wait_for(
            lambda: lines(second, "workspaces.webhooks"), 10, "the second worker's delivery"
        )
    finally:
        second.stop()
    first_try, second_try = service.upstream.received()
    assert second_try.body == first_try.body
    assert second_try.headers["x-correlation-id"] == "worker-survivor"
    assert (line["message"], line["correlation_id"]) == (
        "Delivered workspace.created to the webhook (attempt 2)",
        "worker-survivor",
    )


def test_a_killed_worker_leaves_its_task_running_and_no_worker_runs_it_again(
    service: Service,
) -> None:
    """django-tasks-db's limit: a run whose worker died stays RUNNING; no worker takes it."""
    service.upstream.hang = True
    service.create("Orphan", **{"X-Correlation-ID": "worker-orphan"})
    wait_for(service.upstream.received, 30, "the first attempt")
    service.worker.kill()
    service.upstream.hang = False

    second = DbWorkerProcess(service.tmp_path / "second.log", service.env)
    try:
        # Once it has run a task enqueued after the orphan, it has passed the orphan over.
        service.enqueue("note", "after the orphan")
        wait_for(lambda: noted(second, "after the orphan"), 30, "the later task")
    finally:
        second.stop()
    assert len(service.upstream.received()) == 1
    assert sorted(service.statuses().values()) == ["RUNNING", "SUCCESSFUL"]
