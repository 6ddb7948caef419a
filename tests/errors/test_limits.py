"""errors.limits: a burst waits its turn, and what did not get one is 503 `service_busy`."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import httpx
import pytest
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient, Client

from errors.limits import ConcurrencyLimitGate
from tests.conftest import JsonLog
from tests.errors.test_metrics import scrape, value

ASYNC_HOLD = "/t/async/hold?seconds={}"
SYNC_HOLD = "/t/sync/hold?seconds={}"


@pytest.fixture
def one_at_a_time(settings: Any) -> Any:
    """One request at a time; a short wait for the next one's turn."""
    settings.ERRORS_MAX_CONCURRENT_REQUESTS = 1
    settings.ERRORS_QUEUE_TIMEOUT = 0.2
    settings.ERRORS_BUSY_RETRY_AFTER = 3
    return settings


def assert_busy(status: int, headers: Any, body: dict[str, Any]) -> None:
    assert status == 503
    assert headers["Retry-After"] == "3"
    error = body["error"]
    assert error["code"] == "service_busy"
    assert error["message"] == "Service busy, retry shortly"
    assert error["correlation_id"] == headers["X-Correlation-ID"]


def aclient() -> AsyncClient:
    """Answers as a server gives them (Django's test client re-raises a 5xx's exception)."""
    return AsyncClient(raise_request_exception=False)


async def _gather(client: AsyncClient, *paths: str) -> list[Any]:
    async def get(path: str, delay: float) -> Any:
        await asyncio.sleep(delay)  # in this order
        return await client.get(path)

    return await asyncio.gather(*(get(path, index * 0.05) for index, path in enumerate(paths)))


def run_async(client: AsyncClient, *paths: str) -> list[Any]:
    return asyncio.run(_gather(client, *paths))


def test_a_request_whose_turn_does_not_come_in_time_is_503_service_busy(
    one_at_a_time: Any, json_log: JsonLog
) -> None:
    holding, refused = run_async(aclient(), ASYNC_HOLD.format(0.8), ASYNC_HOLD.format(0))

    assert holding.status_code == 200
    assert_busy(refused.status_code, refused.headers, refused.json())
    lines = [r for r in json_log.records() if r.get("error_code") == "service_busy"]
    assert len(lines) == 1
    assert lines[0]["level"] == "WARNING"
    assert lines[0]["correlation_id"] == refused.headers["X-Correlation-ID"]
    assert "exc_info" not in lines[0] and "traceback" not in lines[0]


def test_requests_within_the_wait_queue_and_all_succeed(one_at_a_time: Any) -> None:
    one_at_a_time.ERRORS_QUEUE_TIMEOUT = 5.0
    responses = run_async(aclient(), *[ASYNC_HOLD.format(0.05)] * 6)
    assert [r.status_code for r in responses] == [200] * 6


@pytest.mark.django_db(transaction=True)  # /healthz reads the database from Django's threads
def test_exempt_paths_never_wait(one_at_a_time: Any) -> None:
    holding, health, metrics = run_async(aclient(), ASYNC_HOLD.format(0.8), "/healthz", "/metrics")
    assert (holding.status_code, health.status_code, metrics.status_code) == (200, 200, 200)


def test_busy_answers_are_counted_but_never_raise_the_error_alert(
    one_at_a_time: Any, json_log: JsonLog
) -> None:
    one_at_a_time.ERRORS_ALERT_THRESHOLD = 1
    before = scrape(Client())
    responses = run_async(aclient(), ASYNC_HOLD.format(0.8), *[ASYNC_HOLD.format(0)] * 3)
    after = scrape(Client())

    assert Counter(r.status_code for r in responses) == {200: 1, 503: 3}
    moved = value(after, "errors_handled_total", code="service_busy", status="503") - value(
        before, "errors_handled_total", code="service_busy", status="503"
    )
    assert moved == 3
    assert not [r for r in json_log.records() if r["message"] == "error threshold exceeded"]
    assert not [r for r in json_log.records() if r.get("error_code") == "db_connection_error"]


def test_sync_servers_wait_on_a_semaphore_with_the_same_deadline(one_at_a_time: Any) -> None:
    results: dict[str, Any] = {}

    def get(name: str, path: str) -> None:
        results[name] = Client(raise_request_exception=False).get(path)

    holder = threading.Thread(target=get, args=("holding", SYNC_HOLD.format(0.8)))
    holder.start()
    threading.Event().wait(0.1)
    get("refused", SYNC_HOLD.format(0))
    holder.join()

    assert results["holding"].status_code == 200
    refused = results["refused"]
    assert_busy(refused.status_code, refused.headers, refused.json())


def test_no_limit_by_default(settings: Any) -> None:
    settings.ERRORS_QUEUE_TIMEOUT = 0.1
    responses = run_async(aclient(), ASYNC_HOLD.format(0.5), ASYNC_HOLD.format(0))
    assert [r.status_code for r in responses] == [200, 200]


async def _through_gate(paths: list[str]) -> list[httpx.Response]:
    gate = ConcurrencyLimitGate(ASGIHandler())  # not get_asgi_application(): it resets logging
    transport = httpx.ASGITransport(app=gate)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:

        async def get(path: str, delay: float) -> httpx.Response:
            await asyncio.sleep(delay)
            return await client.get(path, headers={"X-Correlation-ID": f"gate-{delay}"})

        return await asyncio.gather(*(get(p, i * 0.05) for i, p in enumerate(paths)))


@pytest.mark.django_db(transaction=True)
def test_the_asgi_gate_queues_before_django_and_django_answers_busy(
    one_at_a_time: Any, json_log: JsonLog
) -> None:
    holding, refused, health = asyncio.run(
        _through_gate([ASYNC_HOLD.format(0.8), ASYNC_HOLD.format(0), "/healthz"])
    )

    assert holding.status_code == 200
    assert health.status_code == 200
    assert_busy(refused.status_code, refused.headers, refused.json())
    assert refused.headers["X-Correlation-ID"] == "gate-0.05"
    # Django's middleware answered it: the security headers are there too.
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    lines = [r for r in json_log.records() if r.get("error_code") == "service_busy"]
    assert [line["correlation_id"] for line in lines] == ["gate-0.05"]


def test_the_asgi_gate_lets_queued_requests_through_in_turn(one_at_a_time: Any) -> None:
    one_at_a_time.ERRORS_QUEUE_TIMEOUT = 5.0
    responses = asyncio.run(_through_gate([ASYNC_HOLD.format(0.05)] * 5))
    assert [r.status_code for r in responses] == [200] * 5
