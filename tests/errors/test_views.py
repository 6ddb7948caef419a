"""`errors.views.metrics`: `/metrics`, open by default or limited to networks and/or a token."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, override_settings

from tests.conftest import JsonLog

pytestmark = pytest.mark.django_db

TOKEN = "m3trics-T0ken_~+/=="
PROMETHEUS = "text/plain; version="


def scrape(**extra: str) -> Any:
    """GET /metrics; `extra` are WSGI environ entries (REMOTE_ADDR, HTTP_AUTHORIZATION)."""
    return Client().get("/metrics", **extra)  # type: ignore[arg-type]


def assert_metrics(response: Any) -> None:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith(PROMETHEUS)
    assert b"http_requests_total" in response.content


def assert_refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = dict(response.json()["error"])
    assert error["code"] == code
    assert error["correlation_id"] == response["X-Correlation-ID"]
    assert b"http_requests_total" not in response.content
    return error


def test_open_by_default() -> None:
    assert_metrics(scrape(REMOTE_ADDR="203.0.113.9"))


@pytest.mark.parametrize(
    ("networks", "address", "allowed"),
    [
        (["10.0.0.0/8"], "10.20.30.40", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["10.0.0.0/8", "127.0.0.1"], "127.0.0.1", True),
        (["10.0.0.0/8"], "::ffff:10.1.2.3", True),  # an IPv4 client on a dual-stack socket
        (["2001:db8::/32"], "2001:db8::7", True),
        (["2001:db8::/32"], "10.0.0.1", False),
        (["10.0.0.0/8"], "", False),  # no address (a Unix socket)
        (["10.0.0.0/8"], "not-an-address", False),
    ],
)
def test_allowed_networks_are_checked_against_remote_addr(
    networks: list[str], address: str, allowed: bool
) -> None:
    with override_settings(ERRORS_METRICS_ALLOWED_NETWORKS=networks):
        response = scrape(REMOTE_ADDR=address)
    if allowed:
        assert_metrics(response)
    else:
        error = assert_refused(response, 403, "authorization_error")
        assert error["message"] == "Metrics are not available to this address"
        assert "WWW-Authenticate" not in response


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, 'Bearer realm="metrics"'),
        ("Token " + TOKEN, 'Bearer realm="metrics"'),
        ("Bearer", 'Bearer realm="metrics", error="invalid_token"'),
        ("Bearer wrong", 'Bearer realm="metrics", error="invalid_token"'),
        ("Bearer " + TOKEN + "x", 'Bearer realm="metrics", error="invalid_token"'),
        ("Bearer " + TOKEN[:-1], 'Bearer realm="metrics", error="invalid_token"'),
        ("Bearer töken\u00ff", 'Bearer realm="metrics", error="invalid_token"'),
    ],
)
def test_without_the_token_it_is_401_with_a_bearer_challenge(
    authorization: str | None, challenge: str
) -> None:
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    with override_settings(ERRORS_METRICS_BEARER_TOKEN=TOKEN):
        response = scrape(**extra)
    assert_refused(response, 401, "authentication_error")
    assert response["WWW-Authenticate"] == challenge


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_token_opens_it(scheme: str) -> None:
    with override_settings(ERRORS_METRICS_BEARER_TOKEN=TOKEN):
        assert_metrics(scrape(HTTP_AUTHORIZATION=f"{scheme} {TOKEN}"))


@pytest.mark.parametrize(
    ("address", "authorization", "status"),
    [
        ("10.0.0.5", f"Bearer {TOKEN}", 200),
        ("10.0.0.5", None, 401),
        ("192.0.2.1", f"Bearer {TOKEN}", 403),  # the network comes first
        ("192.0.2.1", None, 403),
    ],
)
def test_with_both_a_request_must_pass_both(
    address: str, authorization: str | None, status: int
) -> None:
    extra = {"REMOTE_ADDR": address}
    if authorization is not None:
        extra["HTTP_AUTHORIZATION"] = authorization
    with override_settings(
        ERRORS_METRICS_ALLOWED_NETWORKS=["10.0.0.0/8"], ERRORS_METRICS_BEARER_TOKEN=TOKEN
    ):
        response = scrape(**extra)
    assert response.status_code == status, response.content


def test_refusals_are_logged_once_without_the_token(json_log: JsonLog) -> None:
    with override_settings(
        ERRORS_METRICS_ALLOWED_NETWORKS=["10.0.0.0/8"], ERRORS_METRICS_BEARER_TOKEN=TOKEN
    ):
        scrape(REMOTE_ADDR="192.0.2.1", HTTP_X_CORRELATION_ID="metrics-403")
        scrape(
            REMOTE_ADDR="10.0.0.1", HTTP_AUTHORIZATION="Bearer guess", HTTP_X_CORRELATION_ID="m-401"
        )
    logged = [
        (r["correlation_id"], r["status_code"], r["error_code"], r["level"])
        for r in json_log.records()
        if r["logger"] == "errors"
    ]
    assert logged == [
        ("metrics-403", 403, "authorization_error", "WARNING"),
        ("m-401", 401, "authentication_error", "WARNING"),
    ]
    assert TOKEN not in json_log.stream.getvalue() and "guess" not in json_log.stream.getvalue()


def test_the_async_client_is_refused_and_let_in_alike() -> None:
    async def fetch() -> tuple[Any, Any]:
        client = AsyncClient()
        refused = await client.get("/metrics")
        allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        return refused, allowed

    with override_settings(ERRORS_METRICS_BEARER_TOKEN=TOKEN):
        refused, allowed = async_to_sync(fetch)()
    assert_refused(refused, 401, "authentication_error")
    assert refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert_metrics(allowed)


def test_monitoring_off_is_still_a_404() -> None:
    with override_settings(
        ERRORS_ENABLE_MONITORING=False,
        ERRORS_METRICS_ALLOWED_NETWORKS=["10.0.0.0/8"],
        ERRORS_METRICS_BEARER_TOKEN=TOKEN,
    ):
        assert_refused(scrape(REMOTE_ADDR="192.0.2.1"), 404, "not_found")
