"""`errors.celery` with a real Celery worker (a thread of this process) on the Redis broker: tasks
run under the publisher's correlation id and trace, failures are logged once and counted."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from prometheus_client import REGISTRY

import errors.celery
from errors.context import get_correlation_id, reset_correlation_id, set_correlation_id
from errors.tracing import continue_trace, reset_trace, set_trace
from tests.conftest import IN_CI, JsonLog
from tests.support.celery_worker import broker_url_for, configure, flush, thread_worker, wait_for

pytestmark = pytest.mark.redis

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"

app = Celery("errors_tests", set_as_current=False)
task_log = logging.getLogger("tests.celery")


@app.task(name="errors_tests.log_line")
def log_line(text: str) -> str | None:
    task_log.info(text)
    return get_correlation_id()


@app.task(name="errors_tests.explode")
def explode() -> None:
    raise RuntimeError("boom from the task")


@app.task(bind=True, name="errors_tests.flaky", max_retries=1)
def flaky(self: Any) -> None:
    try:
        raise ValueError("not yet")
    except ValueError as exc:
        raise self.retry(exc=exc, countdown=0) from exc


@pytest.fixture(scope="module")
def worker() -> Iterator[Any]:
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        if IN_CI:
            pytest.fail("Redis is required under CI: set REDIS_URL=redis://…")
        pytest.skip("needs Redis: set REDIS_URL=redis://…")
    broker_url = broker_url_for(redis_url)
    flush(broker_url)
    configure(app, broker_url)
    errors.celery.connect()
    with thread_worker(app) as worker:
        yield worker
    flush(broker_url)


@pytest.fixture
def correlation_id() -> Iterator[str]:
    token = set_correlation_id("publisher-1")
    try:
        yield "publisher-1"
    finally:
        reset_correlation_id(token)


def lines_of(log: JsonLog, logger: str) -> list[dict[str, Any]]:
    return [r for r in log.records() if r["logger"] == logger]


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_task_runs_under_the_publishers_correlation_id_and_trace(
    worker: Any, json_log: JsonLog, correlation_id: str
) -> None:
    trace = continue_trace(f"00-{TRACE_ID}-{PARENT_ID}-01")
    trace_token = set_trace(trace)
    try:
        log_line.delay("traced work")
    finally:
        reset_trace(trace_token)
    (line,) = wait_for(lambda: lines_of(json_log, "tests.celery"), 10, "the task's line")
    assert line["message"] == "traced work"
    assert (line["correlation_id"], line["trace_id"]) == (correlation_id, TRACE_ID)
    assert trace is not None and line["span_id"] not in {PARENT_ID, trace.span_id}


def test_a_task_published_outside_any_request_gets_an_id_of_its_own(
    worker: Any, json_log: JsonLog
) -> None:
    log_line.delay("unrelated work")
    (line,) = wait_for(lambda: lines_of(json_log, "tests.celery"), 10, "the task's line")
    assert line["correlation_id"]
    assert "trace_id" not in line


def test_a_failing_task_is_logged_once_with_the_publishers_id(
    worker: Any, json_log: JsonLog, correlation_id: str
) -> None:
    before = counter("task_failures_total", task="errors_tests.explode", error_type="RuntimeError")
    result = explode.delay()
    (line,) = wait_for(lambda: lines_of(json_log, "errors.tasks"), 10, "the failure's line")
    time.sleep(0.3)  # anything logged for the same failure would be there by now
    problems = [r for r in json_log.records() if r["level"] in {"WARNING", "ERROR", "CRITICAL"}]
    assert problems == [line]
    assert line["level"] == "ERROR"
    assert line["correlation_id"] == correlation_id
    assert (line["task"], line["task_id"]) == ("errors_tests.explode", result.id)
    assert line["exception"]["type"] == "RuntimeError"
    assert "boom from the task" in line["exception"]["traceback"]
    after = counter("task_failures_total", task="errors_tests.explode", error_type="RuntimeError")
    assert after == before + 1


def test_retries_are_warnings_and_the_final_failure_one_error(
    worker: Any, json_log: JsonLog, correlation_id: str
) -> None:
    retries_before = counter("task_retries_total", task="errors_tests.flaky")
    flaky.delay()
    lines = wait_for(
        lambda: (
            [r for r in lines_of(json_log, "errors.tasks") if r["level"] == "ERROR"]
            and lines_of(json_log, "errors.tasks")
        ),
        10,
        "the final failure",
    )
    time.sleep(0.3)
    problems = [r for r in json_log.records() if r["level"] in {"WARNING", "ERROR", "CRITICAL"}]
    assert problems == lines
    assert [(r["level"], r["attempt"], r["error_type"]) for r in lines] == [
        ("WARNING", 1, "ValueError"),
        ("ERROR", 2, "ValueError"),
    ]
    assert {r["correlation_id"] for r in lines} == {correlation_id}
    assert counter("task_retries_total", task="errors_tests.flaky") == retries_before + 1


def test_a_task_applied_in_process_keeps_the_callers_id(
    json_log: JsonLog, correlation_id: str
) -> None:
    errors.celery.connect()
    assert log_line.apply(args=("eager work",)).get() == correlation_id
    (line,) = lines_of(json_log, "tests.celery")
    assert line["correlation_id"] == correlation_id
    assert get_correlation_id() == correlation_id  # restored after the task
