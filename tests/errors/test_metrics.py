"""Prometheus metrics through real requests, and the error-rate alert."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from errors.alerting import ErrorRateMonitor
from tests.conftest import JsonLog

pytestmark = pytest.mark.django_db


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_move_by_exactly_what_was_sent() -> None:
    client = Client(raise_request_exception=False)
    before = scrape(client)
    for _ in range(3):
        client.get("/t/drf/ok")
    for _ in range(2):
        client.get("/t/drf/raise/drf_not_found")
    client.get("/no/such/url")
    client.get("/t/plain/raise/internal")
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("http_requests_total", method="GET", route="t/drf/ok", status="200") == 3
    route = "t/drf/raise/<str:kind>"
    assert moved("http_requests_total", method="GET", route=route, status="404") == 2
    assert moved("http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    plain = "t/plain/raise/<str:kind>"
    assert moved("http_requests_total", method="GET", route=plain, status="500") == 1
    assert moved("errors_handled_total", code="not_found", status="404") == 3
    assert moved("errors_handled_total", code="internal_error", status="500") == 1
    assert moved("http_request_duration_seconds_count", method="GET", route="t/drf/ok") == 3
    # Raw paths and ids never become labels.
    assert not any("no/such/url" in str(key) for key in after)


def test_monitoring_off_means_no_metrics(settings: Any) -> None:
    settings.ERRORS_ENABLE_MONITORING = False
    client = Client()
    assert client.get("/metrics").status_code == 404


def test_one_alert_per_window_when_the_threshold_is_reached(json_log: JsonLog) -> None:
    monitor = ErrorRateMonitor(window=60)
    for second in range(5):  # 5 errors within the window, threshold 3: one alert
        monitor.record("internal_error" if second % 2 else "db_timeout", 3, now=1000 + second)
    alerts = [r for r in json_log.records() if r["message"] == "error threshold exceeded"]
    assert len(alerts) == 1
    (alert,) = alerts
    assert alert["level"] == "CRITICAL"
    assert alert["counts_by_code"] == {"db_timeout": 2, "internal_error": 1}
    assert alert["threshold"] == 3

    # Old errors slide out: two more a minute later are below the threshold again...
    monitor.record("internal_error", 3, now=1070)
    monitor.record("internal_error", 3, now=1071)
    assert len([r for r in json_log.records() if r["message"] == "error threshold exceeded"]) == 1
    # ...and a third makes a new window's alert.
    monitor.record("internal_error", 3, now=1072)
    assert len([r for r in json_log.records() if r["message"] == "error threshold exceeded"]) == 2


def test_server_errors_of_real_requests_raise_the_alert(settings: Any, json_log: JsonLog) -> None:
    from errors import alerting

    settings.ERRORS_ALERT_THRESHOLD = 4
    alerting.monitor = ErrorRateMonitor()
    client = Client(raise_request_exception=False)
    for _ in range(3):
        client.get("/t/drf/raise/drf_not_found")  # client errors do not count
    for _ in range(6):
        client.get("/t/drf/raise/internal", headers={"X-Correlation-ID": "alerting"})
    alerts = [r for r in json_log.records() if r["message"] == "error threshold exceeded"]
    assert len(alerts) == 1
    assert alerts[0]["counts_by_code"] == {"internal_error": 4}
