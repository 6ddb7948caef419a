"""Prometheus metrics through real requests (the error-rate alert: test_alerting.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from errors import metrics as metrics_module
from errors.metrics import Metrics

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


def collectors(m: Metrics) -> list[MetricWrapperBase]:
    return [value for value in vars(m).values() if isinstance(value, MetricWrapperBase)]


@pytest.fixture
def no_metrics_yet(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Metrics]]:
    """A process whose metrics are not made yet; yields every Metrics made during the test.

    The process's real metrics are taken out of prometheus_client's registry meanwhile (it
    refuses a name twice) and put back after, with whatever the test made taken out.
    """
    current = metrics_module.metrics()
    assert current is not None
    made: list[Metrics] = []

    class CountedMetrics(Metrics):
        def __init__(self) -> None:
            made.append(self)  # before building, so half-built ones are cleaned up too
            # Long enough for every other thread to run meanwhile, as they may while a worker's
            # first Metrics() imports prometheus_client: the race is met every time.
            time.sleep(0.05)
            super().__init__()

    for collector in collectors(current):
        REGISTRY.unregister(collector)
    monkeypatch.setattr(metrics_module, "_metrics", None)
    monkeypatch.setattr(metrics_module, "Metrics", CountedMetrics)
    try:
        yield made
    finally:
        for m in made:
            for collector in collectors(m):
                REGISTRY.unregister(collector)
        for collector in collectors(current):
            REGISTRY.register(collector)


def test_threads_serving_the_first_requests_together_make_one_set_of_metrics(
    no_metrics_yet: list[Metrics],
) -> None:
    count = 32
    start = threading.Barrier(count)
    got: list[Metrics | None] = []
    failures: list[Exception] = []

    def first_request() -> None:
        start.wait()
        try:
            got.append(metrics_module.metrics())
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=first_request) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert len(no_metrics_yet) == 1
    assert len(got) == count
    assert all(m is no_metrics_yet[0] for m in got)


@override_settings(ROOT_URLCONF="tests.errors.router_urls")
def test_router_routes_are_counted_under_readable_labels() -> None:
    client = Client()
    before = scrape(client)
    assert client.get("/api/widgets/7/").status_code == 200
    assert client.get("/api/widgets/8.json").status_code == 200
    assert client.get("/api/widgets/").status_code == 200
    after = scrape(client)

    def moved(route: str) -> float:
        labels = {"method": "GET", "route": route, "status": "200"}
        return value(after, "http_requests_total", **labels) - value(
            before, "http_requests_total", **labels
        )

    assert moved("api/widgets/<pk>/") == 1
    assert moved("api/widgets/<pk>.<format>") == 1
    assert moved("api/widgets/") == 1
    assert not any("(?P<" in str(key) for key in after)
