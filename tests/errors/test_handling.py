"""Handling an error rolls back the request's transaction and logs the error exactly once."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
import sentry_sdk.transport
from django.apps import apps
from django.core.signals import got_request_exception
from django.test import Client

from errors import alerting
from tests.conftest import JsonLog
from tests.testapp.models import Parent


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/t/db/write-then-conflict", "/t/db/plain-write-then-conflict"])
def test_a_domain_error_rolls_back_what_the_request_wrote(
    path: str, client: Client, atomic_requests: None
) -> None:
    response = client.post(path, data={"name": "half"}, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "Second half failed"
    assert Parent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "headers", "status", "code", "level"),
    [
        ("/no/such/url", {}, 404, "not_found", "INFO"),
        ("/t/drf/raise/drf_not_found", {}, 404, "not_found", "INFO"),
        ("/t/plain/raise/http404", {}, 404, "not_found", "INFO"),
        ("/t/drf/raise/drf_permission_denied", {}, 403, "authorization_error", "WARNING"),
        ("/t/plain/get-only", {}, 405, "method_not_allowed", "INFO"),
        ("/t/drf/raise/internal", {}, 500, "internal_error", "ERROR"),
        ("/t/plain/raise/internal", {}, 500, "internal_error", "ERROR"),
        ("/healthz", {"X-Explode": "1"}, 500, "internal_error", "ERROR"),
        ("/t/plain/own-json-error", {}, 418, "client_error", "INFO"),
    ],
)
def test_each_error_is_logged_once_as_json(
    path: str, headers: dict, status: int, code: str, level: str, json_log: JsonLog
) -> None:
    client = Client(raise_request_exception=False)
    method = client.post if path == "/t/plain/get-only" else client.get
    response = method(path, headers={"X-Correlation-ID": "log-once", **headers})
    assert response.status_code == status

    records = json_log.records()
    error_lines = [r for r in records if r.get("status_code") == status and r["level"] != "DEBUG"]
    assert len(error_lines) == 1, error_lines
    (line,) = error_lines
    assert line["logger"] == "errors"
    assert line["level"] == level
    assert line["error_code"] == code
    assert line["method"] in ("GET", "POST")
    assert line["path"] == path
    assert line["correlation_id"] == "log-once"
    assert not [r for r in records if r["logger"].startswith("django.request")]
    if status >= 500:
        assert line["exception"]["traceback"].startswith("Traceback")
    else:
        assert "exception" not in line


@pytest.mark.django_db
def test_the_request_line_is_logged_at_debug(json_log: JsonLog, client: Client) -> None:
    client.get("/t/drf/ok", headers={"X-Correlation-ID": "req-line"})
    (line,) = [r for r in json_log.records() if r["logger"] == "errors.request"]
    assert line["level"] == "DEBUG"
    assert line["method"] == "GET"
    assert line["route"] == "t/drf/ok"
    assert line["status_code"] == 200
    assert line["duration_ms"] >= 0
    assert line["correlation_id"] == "req-line"


@pytest.mark.django_db
def test_an_unserializable_extra_and_secrets_do_not_break_the_request(
    json_log: JsonLog, client: Client
) -> None:
    response = client.get("/t/log/unserializable", headers={"X-Correlation-ID": "odd"})
    assert response.status_code == 200
    (line,) = [r for r in json_log.records() if r["message"] == "odd extra"]
    assert line["correlation_id"] == "odd"
    assert line["thing"].startswith("<object object")
    assert line["token"] == "[REDACTED]"
    assert line["nested"] == {"password": "[REDACTED]"}


# --- Other tools see the service's failures ----------------------------------------------------

FIVE_XX = [
    ("/t/drf/raise/internal", {}),
    ("/t/plain/raise/internal", {}),
    ("/t/drf/raise/external_service", {}),
    ("/healthz", {"X-Explode": "1"}),  # raised in a middleware: Django sends the signal itself
    ("/t/plain/raise/internal", {"Accept": "text/html"}),  # Django renders it for a browser
]
FOUR_XX = ["/no/such/url", "/t/drf/raise/drf_not_found", "/t/plain/raise/http404"]


@pytest.fixture
def signals() -> Iterator[list[BaseException | None]]:
    """The exception current (sys.exc_info) each time got_request_exception was sent."""
    sent: list[BaseException | None] = []

    def receiver(sender: Any, request: Any = None, **kwargs: Any) -> None:
        sent.append(sys.exc_info()[1])

    got_request_exception.connect(receiver, dispatch_uid="test.signals")
    try:
        yield sent
    finally:
        got_request_exception.disconnect(dispatch_uid="test.signals")


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "headers"), FIVE_XX)
def test_each_5xx_sends_got_request_exception_once(
    path: str, headers: dict[str, str], signals: list[BaseException | None]
) -> None:
    response = Client(raise_request_exception=False).get(path, headers=headers)
    assert response.status_code >= 500
    assert len(signals) == 1, signals
    assert signals[0] is not None  # receivers such as Sentry's read sys.exc_info()


@pytest.mark.django_db
@pytest.mark.parametrize("path", FOUR_XX)
def test_4xx_send_no_signal(path: str, signals: list[BaseException | None]) -> None:
    assert Client().get(path).status_code == 404
    assert signals == []


class CapturingTransport(sentry_sdk.transport.Transport):
    """Keeps what the real Sentry client would send, instead of sending it."""

    events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Any) -> None:
        for item in envelope.items:
            if item.type == "event":
                self.events.append(item.payload.json)


@pytest.fixture
def sentry_events(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The real sentry-sdk with its Django and logging integrations, capturing its events."""
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    CapturingTransport.events = []
    # A fresh error-rate window: an "error threshold exceeded" alert is an event of its own.
    monkeypatch.setattr(alerting, "monitor", alerting.ErrorRateMonitor())
    sentry_sdk.init(
        dsn="https://key@sentry.invalid/1",
        transport=CapturingTransport,
        # Only these two: the others (httpx's, say) would patch clients for the whole run.
        integrations=[DjangoIntegration(), LoggingIntegration()],
        default_integrations=False,
        auto_enabling_integrations=False,
    )
    # What ErrorsConfig.ready() does when the project set Sentry up in its settings.
    apps.get_app_config("errors").ready()
    try:
        yield CapturingTransport.events
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)
        sentry_sdk.get_isolation_scope().clear()


@pytest.mark.django_db
def test_sentry_gets_one_event_per_5xx_tagged_with_the_correlation_id(
    sentry_events: list[dict[str, Any]], json_log: JsonLog
) -> None:
    client = Client(raise_request_exception=False)
    for number, (path, headers) in enumerate(FIVE_XX):
        response = client.get(path, headers={"X-Correlation-ID": f"sentry-{number}", **headers})
        assert response.status_code >= 500
    for path in FOUR_XX:
        assert client.get(path, headers={"X-Correlation-ID": "sentry-4xx"}).status_code == 404
    sentry_sdk.flush()
    tags = [event.get("tags", {}).get("correlation_id") for event in sentry_events]
    assert sorted(tags) == sorted(f"sentry-{n}" for n in range(len(FIVE_XX)))
    assert all(event.get("logger") != "errors" for event in sentry_events)
    # The errors log still has its line for each of them.
    assert len([r for r in json_log.records() if r["logger"] == "errors"]) == 8


# --- errors' own failures ----------------------------------------------------------------------


def _broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("errors itself is broken")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/t/drf/raise/internal", "/t/plain/raise/http404", "/nowhere"])
@pytest.mark.parametrize("part", ["errors.handling.render", "errors.handling.report_error"])
def test_a_failure_while_answering_gives_the_fallback_envelope(
    part: str, path: str, monkeypatch: pytest.MonkeyPatch, json_log: JsonLog
) -> None:
    monkeypatch.setattr(part, _broken)
    response = Client(raise_request_exception=False).get(
        path, headers={"X-Correlation-ID": "fallback-1"}
    )
    assert response.status_code == 500
    assert response["X-Correlation-ID"] == "fallback-1"
    assert json.loads(response.content) == {
        "error": {
            "code": "internal_error",
            "message": "Internal server error",
            "correlation_id": "fallback-1",
        }
    }
    (line,) = [r for r in json_log.records() if r["logger"] == "errors.internal"]
    assert line["level"] == "ERROR"
    assert line["correlation_id"] == "fallback-1"
    assert "errors itself is broken" in line["exception"]["traceback"]


@pytest.mark.django_db
def test_a_failure_in_normalize_gives_the_fallback_envelope(
    monkeypatch: pytest.MonkeyPatch, json_log: JsonLog
) -> None:
    monkeypatch.setattr("errors.handling.normalize", _broken)
    response = Client().get("/t/drf/raise/drf_not_found", headers={"X-Correlation-ID": "fb-2"})
    assert response.status_code == 500
    assert json.loads(response.content)["error"]["correlation_id"] == "fb-2"
    assert [r["correlation_id"] for r in json_log.records() if r["logger"] == "errors.internal"]


@pytest.mark.django_db
@pytest.mark.parametrize("part", ["errors.metrics.record_request", "errors.middleware.logger.log"])
def test_a_failure_in_bookkeeping_leaves_a_success_alone(
    part: str, monkeypatch: pytest.MonkeyPatch, json_log: JsonLog
) -> None:
    monkeypatch.setattr(part, _broken)
    response = Client().get("/t/drf/ok", headers={"X-Correlation-ID": "ok-but"})
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert response["X-Correlation-ID"] == "ok-but"
    (line,) = [r for r in json_log.records() if r["logger"] == "errors.internal"]
    assert "errors itself is broken" in line["exception"]["traceback"]


@pytest.mark.django_db
def test_a_failure_in_a_log_filter_gives_the_fallback_envelope(json_log: JsonLog) -> None:
    class BrokenFilter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if record.name == "errors":
                raise RuntimeError("errors itself is broken")
            return True

    broken = BrokenFilter()
    logging.getLogger("errors").addFilter(broken)
    try:
        response = Client().get("/t/drf/raise/drf_not_found", headers={"X-Correlation-ID": "lf"})
    finally:
        logging.getLogger("errors").removeFilter(broken)
    assert response.status_code == 500
    assert json.loads(response.content)["error"]["correlation_id"] == "lf"
    (line,) = [r for r in json_log.records() if r["logger"] == "errors.internal"]
    assert line["correlation_id"] == "lf"
