"""The error-rate alert: one CRITICAL "error threshold exceeded" per window, with counts by code.

Only errors that are the service's fault (logged at ERROR or above) feed it; a client's mistake,
logged at INFO or WARNING, never does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from errors import alerting
from errors.alerting import ErrorRateMonitor
from tests.conftest import JsonLog

pytestmark = pytest.mark.django_db

ALERT = "error threshold exceeded"


@pytest.fixture(autouse=True)
def _fresh_monitor(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test watches a window of its own; the process's monitor is put back after."""
    monkeypatch.setattr(alerting, "monitor", ErrorRateMonitor())
    yield


def alerts(json_log: JsonLog) -> list[dict[str, Any]]:
    return [r for r in json_log.records() if r["message"] == ALERT]


def alerts_total(client: Client) -> float:
    """`errors_alerts_total` as /metrics shows it."""
    text = client.get("/metrics").content.decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "errors_alerts_total":
                return float(sample.value)
    return 0.0


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


@pytest.mark.parametrize(
    ("errors", "threshold", "alerted"),
    [
        (2, 3, False),  # below the threshold
        (3, 3, True),  # reaching it is enough
        (1, 1, True),
    ],
)
def test_the_threshold_is_reached_at_its_count(
    json_log: JsonLog, errors: int, threshold: int, alerted: bool
) -> None:
    monitor = ErrorRateMonitor(window=60)
    for second in range(errors):
        monitor.record("internal_error", threshold, now=1000 + second)
    assert len(alerts(json_log)) == (1 if alerted else 0)


@pytest.mark.parametrize(
    ("second_error_at", "alerted"),
    [
        (1059.9, True),  # still inside the window of the first
        (1060.0, False),  # the first is exactly a window old: slid out
        (1090.0, False),
    ],
)
def test_errors_older_than_the_window_do_not_count(
    json_log: JsonLog, second_error_at: float, alerted: bool
) -> None:
    monitor = ErrorRateMonitor(window=60)
    monitor.record("internal_error", 2, now=1000)
    monitor.record("internal_error", 2, now=second_error_at)
    assert len(alerts(json_log)) == (1 if alerted else 0)


def test_errors_that_keep_coming_give_one_alert_per_window(json_log: JsonLog) -> None:
    monitor = ErrorRateMonitor(window=60)
    for second in range(131):  # one error a second for a little over two minutes
        monitor.record("db_timeout", 3, now=1000 + second)
    lines = alerts(json_log)
    assert [line["errors_in_window"] for line in lines] == [3, 60, 60]
    assert {line["window_seconds"] for line in lines} == {60}
    assert all(line["counts_by_code"] == {"db_timeout": line["errors_in_window"]} for line in lines)


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


@pytest.mark.parametrize(
    ("kind", "status", "code", "alerted"),
    [
        # The client's mistakes, logged at INFO or WARNING: never counted.
        ("validation_exception", 400, "validation_error", False),
        ("authentication_failed", 401, "authentication_error", False),
        ("drf_permission_denied", 403, "authorization_error", False),
        ("drf_not_found", 404, "not_found", False),
        ("throttled", 429, "rate_limit_exceeded", False),
        # The service's own failures, logged at ERROR: counted.
        ("internal", 500, "internal_error", True),
        ("external_service", 502, "external_service_error", True),
        ("external_timeout", 504, "external_service_error", True),
    ],
)
def test_only_errors_logged_at_error_feed_the_alert(
    settings: Any, json_log: JsonLog, kind: str, status: int, code: str, alerted: bool
) -> None:
    settings.ERRORS_ALERT_THRESHOLD = 1  # any error counted raises it
    response = Client(raise_request_exception=False).get(f"/t/drf/raise/{kind}")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    lines = alerts(json_log)
    assert len(lines) == (1 if alerted else 0)
    if alerted:
        assert lines[0]["level"] == "CRITICAL"
        assert lines[0]["counts_by_code"] == {code: 1}


def test_an_alert_is_counted_in_the_metrics(settings: Any, json_log: JsonLog) -> None:
    settings.ERRORS_ALERT_THRESHOLD = 2
    client = Client(raise_request_exception=False)
    before = alerts_total(client)
    for _ in range(5):
        client.get("/t/drf/raise/internal")
    assert len(alerts(json_log)) == 1
    assert alerts_total(client) - before == 1


def test_without_monitoring_nothing_is_watched(settings: Any, json_log: JsonLog) -> None:
    settings.ERRORS_ENABLE_MONITORING = False
    settings.ERRORS_ALERT_THRESHOLD = 1
    client = Client(raise_request_exception=False)
    for _ in range(3):
        assert client.get("/t/drf/raise/internal").status_code == 500
    assert alerts(json_log) == []
