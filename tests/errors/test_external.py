"""`errors.external`: the guard of outgoing calls, and the correlation id on outgoing requests.

Every HTTP failure here is real: a `ThreadingHTTPServer` on 127.0.0.1 that answers a chosen
status and body, hangs, or a port nothing listens on.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from django.test import RequestFactory, override_settings

from errors.context import reset_correlation_id, set_correlation_id
from errors.exceptions import ExternalServiceException, NotFoundException
from errors.external import (
    correlate_session,
    correlation_headers,
    external_service,
    httpx_async_event_hooks,
    httpx_event_hooks,
    instrument_http_clients,
    translate,
)
from errors.handling import handle_exception
from tests.support.scripts import run_without_settings
from tests.support.servers import free_port
from tests.support.upstream import SECRET, UpstreamServer

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def closed_url() -> str:
    """A URL on a port of 127.0.0.1 that nothing listens on: connections are refused."""
    return f"http://127.0.0.1:{free_port()}/hook"


@pytest.fixture
def correlation_id() -> Iterator[str]:
    token = set_correlation_id("ext-test-7")
    try:
        yield "ext-test-7"
    finally:
        reset_correlation_id(token)


def assert_clean(exc: ExternalServiceException, *, status: int, reason: str) -> None:
    """The translated exception: status, code, details, and nothing from the upstream."""
    assert exc.status_code == status
    assert exc.code == "external_service_error"
    assert exc.details["service_name"] == "billing"
    assert exc.details["reason"] == reason
    assert set(exc.details) <= {"service_name", "reason", "upstream_status"}
    text = f"{exc} {exc.message} {json.dumps(exc.details)}"
    assert SECRET not in text
    assert "127.0.0.1" not in text  # no URL either
    assert exc.__cause__ is not None  # the original stays for the logs


# --- the guard, against real failures --------------------------------------------------------


def test_httpx_connection_refused_is_502(closed_url: str) -> None:
    with pytest.raises(ExternalServiceException) as caught, external_service("billing"):
        httpx.get(closed_url, timeout=2)
    assert_clean(caught.value, status=502, reason="connection_error")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_dns_failure_is_502() -> None:
    # A resolver failure as getaddrinfo raises it (a real lookup's speed depends on the network).
    with pytest.raises(ExternalServiceException) as caught, external_service("billing"):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert_clean(caught.value, status=502, reason="connection_error")


def test_httpx_timeout_is_504(upstream: UpstreamServer) -> None:
    upstream.hang = True
    with pytest.raises(ExternalServiceException) as caught, external_service("billing"):
        httpx.get(upstream.url, timeout=0.2)
    assert_clean(caught.value, status=504, reason="timeout")
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


@pytest.mark.parametrize("status", [500, 503, 404])
def test_httpx_upstream_error_status_is_502_with_the_status(
    upstream: UpstreamServer, status: int
) -> None:
    upstream.status = status
    upstream.body = json.dumps({"error": SECRET}).encode()
    with pytest.raises(ExternalServiceException) as caught, external_service("billing"):
        httpx.get(upstream.url, timeout=2).raise_for_status()
    assert_clean(caught.value, status=502, reason="bad_status")
    assert caught.value.details["upstream_status"] == status


def test_httpx_invalid_json_is_502(upstream: UpstreamServer) -> None:
    upstream.body = f"<html>{SECRET}</html>".encode()
    with pytest.raises(ExternalServiceException) as caught, external_service("billing"):
        httpx.get(upstream.url, timeout=2).json()
    assert_clean(caught.value, status=502, reason="invalid_response")


def test_requests_failures(upstream: UpstreamServer, closed_url: str) -> None:
    with pytest.raises(ExternalServiceException) as caught, external_service("billing"):
        requests.get(closed_url, timeout=2)
    assert_clean(caught.value, status=502, reason="connection_error")

    upstream.status = 503
    upstream.body = SECRET.encode()
    with pytest.raises(ExternalServiceException) as caught, external_service("billing"):
        requests.get(upstream.url, timeout=2).raise_for_status()
    assert_clean(caught.value, status=502, reason="bad_status")
    assert caught.value.details["upstream_status"] == 503

    upstream.status = 200
    with pytest.raises(ExternalServiceException) as caught, external_service("billing"):
        requests.get(upstream.url, timeout=2).json()
    assert_clean(caught.value, status=502, reason="invalid_response")

    upstream.hang = True
    with pytest.raises(ExternalServiceException) as caught, external_service("billing"):
        requests.get(upstream.url, timeout=0.2)
    assert_clean(caught.value, status=504, reason="timeout")


def test_socket_level_failures() -> None:
    for exc, status, reason in [
        (TimeoutError("timed out"), 504, "timeout"),
        (ConnectionRefusedError(111, "Connection refused"), 502, "connection_error"),
        (ConnectionResetError(104, "reset"), 502, "connection_error"),
        (json.JSONDecodeError(SECRET, SECRET, 0), 502, "invalid_response"),
    ]:
        with pytest.raises(ExternalServiceException) as caught, external_service("billing"):
            raise exc
        assert_clean(caught.value, status=status, reason=reason)
        assert caught.value.__cause__ is exc


def test_asyncio_timeout_is_504() -> None:
    async def slow_call() -> None:
        async with external_service("billing"):
            async with asyncio.timeout(0.01):
                await asyncio.sleep(5)

    with pytest.raises(ExternalServiceException) as caught:
        asyncio.run(slow_call())
    assert_clean(caught.value, status=504, reason="timeout")


def test_other_exceptions_pass_through_untouched() -> None:
    with pytest.raises(KeyError), external_service("billing"):
        raise KeyError("our own bug")
    not_found = NotFoundException(resource_type="invoice")
    with pytest.raises(NotFoundException) as caught, external_service("billing"):
        raise not_found
    assert caught.value is not_found
    # Nested guards: the innermost service is the one that failed.
    with (
        pytest.raises(ExternalServiceException) as nested,
        external_service("outer"),
        external_service("billing"),
    ):
        raise ConnectionRefusedError(111, "refused")
    assert nested.value.details["service_name"] == "billing"
    # Our own misuse of requests (no scheme) is a bug, not the service's failure.
    with pytest.raises(requests.exceptions.MissingSchema), external_service("billing"):
        requests.get("no-scheme/path", timeout=1)
    assert translate(ValueError("x"), "billing") is None


def test_decorator_on_sync_and_async_functions(closed_url: str, upstream: UpstreamServer) -> None:
    @external_service("billing")
    def fetch_sync() -> Any:
        return httpx.get(closed_url, timeout=2)

    @external_service("billing")
    async def fetch_async(url: str) -> Any:
        async with httpx.AsyncClient(timeout=0.2) as client:
            return (await client.get(url)).json()

    with pytest.raises(ExternalServiceException) as caught:
        fetch_sync()
    assert_clean(caught.value, status=502, reason="connection_error")
    assert fetch_sync.__name__ == "fetch_sync"

    assert asyncio.run(fetch_async(upstream.url)) == {"ok": True}
    upstream.hang = True
    with pytest.raises(ExternalServiceException) as caught:
        asyncio.run(fetch_async(upstream.url))
    assert_clean(caught.value, status=504, reason="timeout")


def test_the_client_gets_the_envelope_without_upstream_text(upstream: UpstreamServer) -> None:
    upstream.status = 500
    upstream.body = SECRET.encode()
    with pytest.raises(ExternalServiceException) as caught, external_service("billing"):
        httpx.get(upstream.url, timeout=2).raise_for_status()
    token = set_correlation_id("client-sees-this")
    try:
        response = handle_exception(caught.value, RequestFactory().get("/api/anything/"))
    finally:
        reset_correlation_id(token)
    assert response.status_code == 502
    assert SECRET not in response.content.decode()
    assert json.loads(response.content) == {
        "error": {
            "code": "external_service_error",
            "message": "External service 'billing' answered with an error",
            "correlation_id": "client-sees-this",
            "details": {"service_name": "billing", "reason": "bad_status", "upstream_status": 500},
        }
    }


# --- the correlation id on outgoing requests -------------------------------------------------


CLIENTS = (httpx.Client, httpx.AsyncClient, requests.Session)


@pytest.fixture
def uninstrumented(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx's and requests' own send methods during the test, as they were afterwards."""
    for cls in CLIENTS:
        monkeypatch.setattr(cls, "send", inspect.unwrap(cls.send))


@pytest.fixture
def instrumented(uninstrumented: None) -> None:
    """httpx and requests instrumented during the test, as they were afterwards."""
    assert instrument_http_clients() == ["httpx", "requests"]


def _async_get(url: str, **kwargs: Any) -> httpx.Response:
    async def get() -> httpx.Response:
        async with httpx.AsyncClient(timeout=2) as client:
            return await client.get(url, **kwargs)

    return asyncio.run(get())


@pytest.mark.usefixtures("instrumented")
def test_outgoing_requests_carry_the_correlation_id(
    upstream: UpstreamServer, correlation_id: str
) -> None:
    httpx.get(upstream.url, timeout=2)
    with httpx.Client(timeout=2) as client:
        client.post(upstream.url, json={"a": 1})
    _async_get(upstream.url)  # asyncio.run copies the context: the id is current there too
    requests.get(upstream.url, timeout=2)
    with requests.Session() as session:
        session.post(upstream.url, json={"a": 1}, timeout=2)
    seen = [r.headers.get("x-correlation-id") for r in upstream.received()]
    assert seen == [correlation_id] * 5


@pytest.mark.usefixtures("instrumented")
def test_no_header_without_a_correlation_id_and_never_replaced(upstream: UpstreamServer) -> None:
    httpx.get(upstream.url, timeout=2)
    requests.get(upstream.url, timeout=2)
    token = set_correlation_id("ours")
    try:
        httpx.get(upstream.url, timeout=2, headers={"x-correlation-id": "theirs-1"})
        requests.get(upstream.url, timeout=2, headers={"X-Correlation-ID": "theirs-2"})
    finally:
        reset_correlation_id(token)
    seen = [r.headers.get("x-correlation-id") for r in upstream.received()]
    assert seen == [None, None, "theirs-1", "theirs-2"]


@pytest.mark.usefixtures("instrumented")
def test_instrumenting_twice_sends_one_header(
    upstream: UpstreamServer, correlation_id: str
) -> None:
    send = httpx.Client.send
    instrument_http_clients()
    assert httpx.Client.send is send
    httpx.get(upstream.url, timeout=2)
    assert upstream.received()[0].headers["x-correlation-id"] == correlation_id


@pytest.mark.usefixtures("instrumented")
def test_header_name_and_opt_out_come_from_settings(
    upstream: UpstreamServer, correlation_id: str
) -> None:
    with override_settings(ERRORS_CORRELATION_ID_HEADER="X-Request-ID"):
        httpx.get(upstream.url, timeout=2)
        assert correlation_headers() == {"X-Request-ID": correlation_id}
    with override_settings(ERRORS_PROPAGATE_CORRELATION_ID=False):
        httpx.get(upstream.url, timeout=2)
        requests.get(upstream.url, timeout=2)
    first, *others = upstream.received()
    assert first.headers["x-request-id"] == correlation_id
    assert "x-correlation-id" not in first.headers
    assert [r.headers.get("x-correlation-id") for r in others] == [None, None]


@pytest.mark.usefixtures("uninstrumented")
def test_uninstrumented_clients_send_nothing(upstream: UpstreamServer, correlation_id: str) -> None:
    httpx.get(upstream.url, timeout=2)
    requests.get(upstream.url, timeout=2)
    assert [r.headers.get("x-correlation-id") for r in upstream.received()] == [None, None]


@pytest.mark.usefixtures("uninstrumented")
def test_the_libraries_hooks_carry_the_id_without_any_patch(
    upstream: UpstreamServer, correlation_id: str
) -> None:
    with httpx.Client(timeout=2, event_hooks=httpx_event_hooks()) as client:
        client.get(upstream.url)
        client.get(upstream.url, headers={"X-Correlation-ID": "theirs"})

    async def async_get() -> None:
        async with httpx.AsyncClient(timeout=2, event_hooks=httpx_async_event_hooks()) as client:
            await client.get(upstream.url)

    asyncio.run(async_get())
    with correlate_session(requests.Session()) as session:
        session.get(upstream.url, timeout=2)
    with requests.Session() as plain:  # a session of its own: untouched
        plain.get(upstream.url, timeout=2)
    httpx.get(upstream.url, timeout=2)
    seen = [r.headers.get("x-correlation-id") for r in upstream.received()]
    assert seen == [correlation_id, "theirs", correlation_id, correlation_id, None, None]


def test_errors_imports_no_http_client_nor_the_project() -> None:
    code = (
        "import sys, errors.external, errors.tasks; "
        "print(sorted(m for m in ('httpx', 'requests', 'prometheus_client', 'cortex', "
        "'workspaces') if m in sys.modules))"
    )
    result = run_without_settings(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_script_without_django_settings_sends_the_default_header() -> None:
    code = (
        "from errors.context import set_correlation_id; "
        "from errors.external import correlation_headers; "
        "set_correlation_id('script-1'); print(correlation_headers())"
    )
    result = run_without_settings(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'X-Correlation-ID': 'script-1'}"
