"""`errors.tasks`: Django's background tasks run under the correlation id and trace of the request
that enqueued them, and a failed run is logged once and counted.

The tasks (tests/support/tasks.py) are enqueued by a real view (tests/support/task_urls.py)
through the middleware, and run by Django's immediate backend, in this process; the worker
process is tested in tests/workspaces/test_webhook_worker.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from errors.context import get_correlation_id, reset_correlation_id, set_correlation_id
from errors.metrics import exposition
from errors.tasks import connect, enqueue, tasks_module
from tests.conftest import JsonLog
from tests.support import tasks

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture(autouse=True)
def immediate(settings: Settings) -> None:
    """Tasks run by Django's immediate backend; `POST /tasks/<name>/` enqueues them."""
    module = tasks_module()
    assert module is not None
    settings.TASKS = {
        "default": {"BACKEND": f"{module.__name__}.backends.immediate.ImmediateBackend"}
    }
    settings.ROOT_URLCONF = "tests.support.task_urls"


def run(client: Client, name: str, text: str, **headers: str) -> dict[str, Any]:
    """Enqueue task `name` with `text` from a request; the task's id and status."""
    response = client.post(f"/tasks/{name}/", text, content_type="text/plain", headers=headers)
    assert response.status_code == 200, response.content
    return dict(response.json())


def lines(log: JsonLog, logger: str) -> list[dict[str, Any]]:
    return [r for r in log.records() if r["logger"] == logger]


def errors_of(log: JsonLog) -> list[dict[str, Any]]:
    return [r for r in log.records() if r["level"] in {"ERROR", "CRITICAL"}]


def failures(task: str) -> float:
    """django_task_failures_total for `task`, as /metrics shows it (0 before the first)."""
    text = exposition()[0].decode()
    match = re.search(
        rf'^django_task_failures_total\{{task="{re.escape(task)}"\}} (\S+)$', text, re.M
    )
    return float(match.group(1)) if match else 0.0


def test_a_task_runs_under_the_correlation_id_and_trace_of_the_request_that_enqueued_it(
    client: Client, json_log: JsonLog
) -> None:
    result = run(
        client,
        "note",
        "hello",
        X_Correlation_ID="req-task-1",
        traceparent=f"00-{TRACE_ID}-{PARENT_ID}-01",
    )
    assert result["status"] == "SUCCESSFUL"
    (line,) = lines(json_log, "tests.tasks")
    assert (line["message"], line["correlation_id"], line["trace_id"]) == (
        "noted hello",
        "req-task-1",
        TRACE_ID,
    )
    assert line["span_id"] != PARENT_ID  # a span of its own
    assert errors_of(json_log) == []


@pytest.mark.parametrize("name", ["note_async", "note_attempt"])
def test_async_tasks_and_tasks_taking_the_context_carry_it_too(
    client: Client, json_log: JsonLog, name: str
) -> None:
    result = run(client, name, "again", X_Correlation_ID=f"req-{name}")
    assert result["status"] == "SUCCESSFUL"
    (line,) = lines(json_log, "tests.tasks")
    assert (line["message"], line["correlation_id"]) == ("noted again", f"req-{name}")
    if name == "note_attempt":
        assert line["attempt"] == 1


def test_a_task_enqueued_without_the_helper_gets_an_id_of_its_own(json_log: JsonLog) -> None:
    token = set_correlation_id("req-caller")
    try:
        tasks.note.enqueue("plain")
        assert get_correlation_id() == "req-caller"  # restored after the task
    finally:
        reset_correlation_id(token)
    (line,) = lines(json_log, "tests.tasks")
    assert line["correlation_id"] != "req-caller"
    assert UUID4.fullmatch(line["correlation_id"])


def test_enqueue_refuses_a_task_that_cannot_take_the_id(json_log: JsonLog) -> None:
    with pytest.raises(TypeError, match="errors.tasks.correlated"):
        enqueue(tasks.explode_uncorrelated, "never")
    assert errors_of(json_log) == []


def test_a_failed_run_is_logged_once_at_error_with_the_task_and_the_requests_id_and_counted(
    client: Client, json_log: JsonLog
) -> None:
    name = "tests.support.tasks.explode"
    before = failures(name)
    result = run(client, "explode", "kaboom-1", X_Correlation_ID="req-task-fail")
    assert result["status"] == "FAILED"

    (line,) = errors_of(json_log)  # Django's own line for it is dropped
    assert line["logger"] == "errors.tasks"
    assert line["level"] == "ERROR"
    assert (line["task"], line["task_id"], line["attempt"]) == (name, result["id"], 1)
    assert (line["correlation_id"], line["error_type"]) == ("req-task-fail", "RuntimeError")
    assert line["message"] == f"Task {name}[{result['id']}] failed (attempt 1): RuntimeError"
    assert "kaboom-1" in line["exception"]["traceback"]
    assert sum("kaboom-1" in str(r) for r in json_log.records()) == 2  # its own line, and this
    assert failures(name) == before + 1


def test_a_failed_run_of_a_task_that_is_not_correlated_is_logged_once_too(
    json_log: JsonLog,
) -> None:
    name = "tests.support.tasks.explode_uncorrelated"
    before = failures(name)
    token = set_correlation_id("req-plain")
    try:
        result = tasks.explode_uncorrelated.enqueue("kaboom-2")
    finally:
        reset_correlation_id(token)
    (line,) = errors_of(json_log)
    assert (line["logger"], line["task"], line["task_id"]) == ("errors.tasks", name, result.id)
    assert (line["correlation_id"], line["error_type"]) == ("req-plain", "ValueError")
    assert "kaboom-2" in line["exception"]["traceback"]
    assert failures(name) == before + 1


def test_without_errors_django_logs_the_failure_itself(json_log: JsonLog) -> None:
    """What the receiver and its filter replace: Django's own line, and nothing counted."""
    tasks.disconnect_errors()
    try:
        tasks.explode_uncorrelated.enqueue("kaboom-3")
    finally:
        connect()
    (line,) = errors_of(json_log)
    module = tasks_module()
    assert module is not None
    assert line["logger"] == module.__name__  # django.tasks, or django_tasks on Django 5.2
    assert "state=FAILED" in line["message"]
