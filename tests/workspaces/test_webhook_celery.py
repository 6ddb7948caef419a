"""The workspace.created webhook delivered by Celery workers on the Redis broker
(CELERY_BROKER_URL): the request's correlation id reaches the worker's log lines and the
outgoing request, retries are Celery retries, and a worker killed mid-delivery loses nothing."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from cortex.celery import app
from tests.conftest import IN_CI, JsonLog
from tests.support.celery_worker import (
    WorkerProcess,
    broker_url_for,
    configure,
    flush,
    thread_worker,
    wait_for,
)
from tests.support.db_worker import queued_tasks
from tests.support.upstream import UpstreamServer
from workspaces import webhooks

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

LIST = "/api/workspaces/"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
DELIVERED = "Delivered workspace.created to the webhook (attempt 1)"


@pytest.fixture(scope="module")
def broker_url() -> Iterator[str]:
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        if IN_CI:
            pytest.fail("Redis is required under CI: set REDIS_URL=redis://…")
        pytest.skip("needs Redis: set REDIS_URL=redis://…")
    url = broker_url_for(redis_url)
    flush(url)
    configure(app, url)
    yield url
    flush(url)


@pytest.fixture
def celery_webhook(
    broker_url: str, settings: Settings, upstream: UpstreamServer
) -> Iterator[UpstreamServer]:
    """CELERY_BROKER_URL and the webhook set as in production, with quick retries."""
    settings.CELERY_BROKER_URL = broker_url
    settings.WORKSPACE_WEBHOOK_URL = upstream.url
    settings.WORKSPACE_WEBHOOK_TIMEOUT_MS = 2000
    settings.WORKSPACE_WEBHOOK_ATTEMPTS = 3
    settings.WORKSPACE_WEBHOOK_BACKOFF_MS = 10
    webhooks.reset_webhook_failures()
    yield upstream
    webhooks.reset_webhook_failures()


@pytest.fixture
def worker(broker_url: str) -> Iterator[Any]:
    with thread_worker(app) as worker:
        yield worker


def create(api: APIClient, name: str, **headers: Any) -> Any:
    response = api.post(LIST, {"name": name}, format="json", **headers)
    assert response.status_code == 201, response.content
    return response


def webhook_lines(log: JsonLog) -> list[dict[str, Any]]:
    return [r for r in log.records() if r["logger"] in {"workspaces.webhooks", "errors.tasks"}]


def test_the_delivery_and_its_log_lines_carry_the_requests_correlation_id(
    api: APIClient, celery_webhook: UpstreamServer, worker: Any, json_log: JsonLog
) -> None:
    create(
        api,
        "Queued",
        HTTP_X_CORRELATION_ID="celery-create-1",
        HTTP_TRACEPARENT=f"00-{TRACE_ID}-{PARENT_ID}-01",
    )
    assert queued_tasks() == 0  # no Django task: a Celery worker delivers it
    (received,) = wait_for(celery_webhook.received, 10, "the delivery")
    assert received.headers["x-correlation-id"] == "celery-create-1"
    assert received.headers["traceparent"].split("-")[1] == TRACE_ID
    assert received.headers["traceparent"].split("-")[2] != PARENT_ID
    lines = wait_for(lambda: webhook_lines(json_log), 10, "the worker's log line")
    assert [r["message"] for r in lines] == [DELIVERED]
    assert {(r["correlation_id"], r["trace_id"]) for r in lines} == {("celery-create-1", TRACE_ID)}


def test_retries_are_celery_retries_and_the_final_failure_is_logged_once_and_counted(
    api: APIClient, celery_webhook: UpstreamServer, worker: Any, json_log: JsonLog
) -> None:
    celery_webhook.status = 503
    create(api, "Refused", HTTP_X_CORRELATION_ID="celery-create-503")
    wait_for(lambda: webhooks.webhook_failures(), 15, "the final failure")
    assert len(celery_webhook.received()) == 3
    assert {r.headers["x-correlation-id"] for r in celery_webhook.received()} == {
        "celery-create-503"
    }
    lines = [r for r in webhook_lines(json_log) if r["level"] != "DEBUG"]
    assert [(r["logger"], r["level"]) for r in lines] == [
        ("errors.tasks", "WARNING"),  # attempt 1, retried
        ("errors.tasks", "WARNING"),  # attempt 2, retried
        ("workspaces.webhooks", "WARNING"),  # attempt 3: failed for good
    ]
    assert {r["correlation_id"] for r in lines} == {"celery-create-503"}
    assert (lines[2]["reason"], lines[2]["upstream_status"], lines[2]["attempts"]) == (
        "bad_status",
        503,
        3,
    )
    assert webhooks.webhook_failures() == {"bad_status": 1}
    assert not [r for r in json_log.records() if r["level"] in {"ERROR", "CRITICAL"}]


def test_a_worker_killed_mid_delivery_does_not_lose_it(
    api: APIClient, celery_webhook: UpstreamServer, broker_url: str, tmp_path: Path
) -> None:
    visibility_timeout = 2
    celery_webhook.hang = True  # the first worker's request waits until it is killed
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cortex.settings",
        "ENVIRONMENT": "test",
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": "sqlite:///:memory:",
        "CELERY_BROKER_URL": broker_url,
        "CELERY_VISIBILITY_TIMEOUT": str(visibility_timeout),
        "WORKSPACE_WEBHOOK_URL": celery_webhook.url,
        "WORKSPACE_WEBHOOK_TIMEOUT_MS": "30000",
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
    }
    env.pop("REDIS_URL", None)
    # Published through Redis before any worker runs; the first one takes it.
    create(api, "Survivor", HTTP_X_CORRELATION_ID="celery-survivor")
    first = WorkerProcess(env, tmp_path / "first.log")
    try:
        wait_for(celery_webhook.received, 30, "the first worker's attempt")
        taken = time.monotonic()
        first.kill()
    finally:
        first.stop()
    celery_webhook.hang = False
    # Unacknowledged (acks_late), the message is handed out again once the visibility timeout
    # has passed; a worker looks for such messages when it starts.
    time.sleep(max(0.0, taken + visibility_timeout + 0.5 - time.monotonic()))
    second = WorkerProcess(env, tmp_path / "second.log")
    try:
        wait_for(lambda: len(celery_webhook.received()) >= 2, 30, "the redelivery")
        lines = wait_for(
            lambda: [r for r in second.records() if r["logger"] == "workspaces.webhooks"],
            10,
            "the second worker's delivery line",
        )
    finally:
        second.stop()
    first_try, second_try = celery_webhook.received()
    assert first_try.headers["x-correlation-id"] == "celery-survivor"
    assert second_try.headers["x-correlation-id"] == "celery-survivor"
    assert second_try.body == first_try.body
    assert [(r["message"], r["correlation_id"]) for r in lines] == [(DELIVERED, "celery-survivor")]
