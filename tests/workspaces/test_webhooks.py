"""The workspace.created webhook, against a real local HTTP server (answering, failing, hanging)
and a closed port: enqueued as a Django task when the create commits and delivered by
django-tasks-db's worker (run here in the test process, on the test database) with the request's
correlation id; failures are retried as new runs after the backoff, logged once and counted, and
never touch the create request. The worker as a process of its own: test_webhook_worker.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from tests.conftest import JsonLog
from tests.support.db_worker import queued_tasks, run_queued_tasks
from tests.support.servers import free_port
from tests.support.upstream import SECRET, UpstreamServer
from workspaces import webhooks

# on_commit callbacks (which publish events) only run in transactional tests.
pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/workspaces/"


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    webhooks.reset_webhook_failures()
    yield
    webhooks.reset_webhook_failures()


def configure(
    settings: Settings,
    url: str | None,
    *,
    timeout_ms: int = 1000,
    attempts: int = 3,
    backoff_ms: int = 10,
) -> None:
    settings.WORKSPACE_WEBHOOK_URL = url
    settings.WORKSPACE_WEBHOOK_TIMEOUT_MS = timeout_ms
    settings.WORKSPACE_WEBHOOK_ATTEMPTS = attempts
    settings.WORKSPACE_WEBHOOK_BACKOFF_MS = backoff_ms


def create(api: APIClient, name: str, correlation_id: str | None = None) -> Any:
    headers: dict[str, Any] = {"HTTP_X_CORRELATION_ID": correlation_id} if correlation_id else {}
    response = api.post(LIST, {"name": name}, format="json", **headers)
    assert response.status_code == 201, response.content
    return response


def settle() -> None:
    """Run the queued deliveries, retries included, as the worker does."""
    run_queued_tasks()


def runs() -> list[Any]:
    """The delivery task's runs, in the order they were enqueued."""
    from django_tasks_db.models import DBTaskResult

    return list(DBTaskResult.objects.order_by("enqueued_at"))


def problems(log: JsonLog) -> list[dict[str, Any]]:
    return [r for r in log.records() if r["level"] in {"WARNING", "ERROR", "CRITICAL"}]


def test_created_event_is_posted_with_the_requests_correlation_id(
    api: APIClient, settings: Settings, upstream: UpstreamServer, json_log: JsonLog
) -> None:
    configure(settings, upstream.url)
    response = create(api, "Hooked", "create-hook-1")
    anonymous = create(api, "Hooked too")  # the middleware's own id
    settle()

    received = upstream.received()
    assert [r.method for r in received] == ["POST", "POST"]
    # The two deliveries run concurrently: tell them apart by the workspace they announce.
    by_name = {json.loads(r.body)["workspace"]["name"]: r for r in received}
    first, second = by_name["Hooked"], by_name["Hooked too"]
    assert first.path == "/hook"
    assert first.headers["x-correlation-id"] == "create-hook-1"
    assert first.headers["content-type"] == "application/json"
    assert first.headers["x-cortex-event"] == "workspace.created"
    assert json.loads(first.body) == {
        "type": "workspace.created",
        "workspace": response.json(),
        "correlation_id": "create-hook-1",
    }
    assert second.headers["x-correlation-id"] == anonymous["X-Correlation-ID"]
    assert json.loads(second.body)["correlation_id"] == anonymous["X-Correlation-ID"]
    assert webhooks.webhook_failures() == {}
    assert problems(json_log) == []


def test_the_propagation_setting_keeps_the_id_to_ourselves(
    api: APIClient, settings: Settings, upstream: UpstreamServer
) -> None:
    configure(settings, upstream.url)
    settings.ERRORS_PROPAGATE_CORRELATION_ID = False
    create(api, "Private", "create-hook-private")
    settle()
    (delivery,) = upstream.received()
    assert "x-correlation-id" not in delivery.headers
    assert delivery.headers["x-cortex-event"] == "workspace.created"


def test_only_created_events_are_sent(
    api: APIClient, settings: Settings, upstream: UpstreamServer
) -> None:
    configure(settings, upstream.url)
    workspace = create(api, "Once").json()
    url = f"{LIST}{workspace['id']}/"
    assert api.patch(url, {"name": "Renamed"}, format="json").status_code == 200
    assert api.delete(url).status_code == 204
    settle()
    assert [json.loads(r.body)["type"] for r in upstream.received()] == ["workspace.created"]


def test_no_webhook_without_the_setting(
    api: APIClient, settings: Settings, upstream: UpstreamServer
) -> None:
    configure(settings, None)
    create(api, "Quiet")
    assert queued_tasks() == 0
    settle()
    assert upstream.received() == []


def test_a_5xx_is_retried_then_logged_once_and_counted(
    api: APIClient, settings: Settings, upstream: UpstreamServer, json_log: JsonLog
) -> None:
    upstream.status = 500
    upstream.body = SECRET.encode()
    configure(settings, upstream.url, attempts=3, backoff_ms=50)
    create(api, "Failing", "create-500")
    settle()

    assert len(upstream.received()) == 3
    # Each attempt is a run of its own, enqueued by the one before to run after the backoff
    # (50 ms, then 100 ms); every run ends normally, the delivery's failure is not the task's.
    first, second, third = runs()
    assert [r.args_kwargs["kwargs"]["attempt"] for r in (first, second, third)] == [1, 2, 3]
    assert {r.status for r in (first, second, third)} == {"SUCCESSFUL"}
    assert second.run_after >= first.started_at + timedelta(milliseconds=50)
    assert third.run_after >= second.started_at + timedelta(milliseconds=100)
    assert all(r.headers["x-correlation-id"] == "create-500" for r in upstream.received())
    lines = problems(json_log)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line["level"] == "WARNING"
    assert line["logger"] == "workspaces.webhooks"
    assert line["correlation_id"] == "create-500"
    assert line["service_name"] == "workspace_webhook"
    assert (line["reason"], line["upstream_status"], line["attempts"]) == ("bad_status", 500, 3)
    assert line["event_type"] == "workspace.created"
    raw = json.dumps(line)
    assert SECRET not in raw
    assert upstream.url not in raw  # a webhook URL may carry a secret
    assert webhooks.webhook_failures() == {"bad_status": 1}


def test_a_4xx_is_not_retried(
    api: APIClient, settings: Settings, upstream: UpstreamServer, json_log: JsonLog
) -> None:
    upstream.status = 404
    configure(settings, upstream.url, attempts=3)
    create(api, "Gone", "create-404")
    settle()
    assert len(upstream.received()) == 1
    assert [(r["reason"], r["upstream_status"], r["attempts"]) for r in problems(json_log)] == [
        ("bad_status", 404, 1)
    ]


def test_a_hanging_receiver_times_out_and_the_create_does_not_wait_for_it(
    api: APIClient, settings: Settings, upstream: UpstreamServer, json_log: JsonLog
) -> None:
    upstream.hang = True
    configure(settings, upstream.url, timeout_ms=300, attempts=2)
    create(api, "Patient", "create-hang")
    # The create answered with its delivery only queued: nothing was sent while it was served.
    assert upstream.received() == []
    assert [r.status for r in runs()] == ["READY"]

    settle()
    assert len(upstream.received()) == 2
    lines = problems(json_log)
    assert [(r["correlation_id"], r["reason"], r["attempts"], r["status_code"]) for r in lines] == [
        ("create-hang", "timeout", 2, 504)
    ]
    assert webhooks.webhook_failures() == {"timeout": 1}


def test_a_closed_port_is_a_logged_connection_error(
    api: APIClient, settings: Settings, json_log: JsonLog
) -> None:
    configure(settings, f"http://127.0.0.1:{free_port()}/hook", attempts=2)
    response = create(api, "Nobody home", "create-refused")
    settle()
    assert response.status_code == 201
    lines = problems(json_log)
    assert [(r["correlation_id"], r["reason"], r["attempts"], r["error_type"]) for r in lines] == [
        ("create-refused", "connection_error", 2, "ConnectError")
    ]
    assert webhooks.webhook_failures() == {"connection_error": 1}


def test_a_delivery_that_cannot_be_queued_is_logged_and_counted_and_the_create_succeeds(
    api: APIClient, settings: Settings, upstream: UpstreamServer, json_log: JsonLog
) -> None:
    configure(settings, upstream.url)
    # A backend that serves no "default" queue refuses the task when it is enqueued.
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["elsewhere"]}
    }
    response = create(api, "Unqueued", "create-unqueued")
    assert response.status_code == 201
    assert queued_tasks() == 0
    lines = problems(json_log)
    assert [(r["level"], r["logger"], r["correlation_id"], r["reason"]) for r in lines] == [
        ("ERROR", "workspaces.webhooks", "create-unqueued", "internal_error")
    ]
    assert webhooks.webhook_failures() == {"internal_error": 1}


def test_a_bug_in_delivery_is_logged_once_and_counted(
    api: APIClient,
    settings: Settings,
    upstream: UpstreamServer,
    json_log: JsonLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> dict[str, str]:
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(webhooks, "correlation_headers", broken)
    configure(settings, upstream.url)
    create(api, "Buggy", "create-bug")
    settle()
    lines = problems(json_log)
    assert [(r["level"], r["logger"], r["correlation_id"]) for r in lines] == [
        ("ERROR", "errors.tasks", "create-bug")
    ]
    assert lines[0]["task"] == "workspaces.tasks.deliver_webhook"
    assert "a bug of ours" in lines[0]["exception"]["traceback"]
    assert [r.status for r in runs()] == ["FAILED"]
    assert webhooks.webhook_failures() == {"internal_error": 1}


def test_the_delivery_continues_the_requests_trace(
    api: APIClient, settings: Settings, upstream: UpstreamServer
) -> None:
    configure(settings, upstream.url)
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = api.post(
        LIST, {"name": "Traced"}, format="json", HTTP_TRACEPARENT=f"00-{trace_id}-{parent_id}-01"
    )
    assert response.status_code == 201
    settle()
    (delivery,) = upstream.received()
    assert delivery.headers["x-correlation-id"] == trace_id  # no X-Correlation-ID was sent
    version, sent_trace_id, sent_parent_id, flags = delivery.headers["traceparent"].split("-")
    assert (version, sent_trace_id, flags) == ("00", trace_id, "01")
    assert sent_parent_id != parent_id
