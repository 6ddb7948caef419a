"""Browsers keep Django's HTML error pages; API clients, and every client under /api/, get JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, RequestFactory, override_settings

from errors.negotiation import prefers_html
from tests.conftest import JsonLog

pytestmark = pytest.mark.django_db

# What Chrome and Firefox send for a page load.
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "path", "html"),
    [
        (BROWSER, "/page", True),
        ("text/html", "/page", True),
        ("application/json", "/page", False),
        ("*/*", "/page", False),
        ("", "/page", False),
        ("application/json, text/html;q=0.5", "/page", False),
        ("text/html;q=0.5, application/json", "/page", False),
        ("application/problem+json", "/page", False),
        ("text/html, application/json", "/page", True),  # equal quality: the client's order
        ("application/json, text/html", "/page", False),
        (BROWSER, "/api/page", False),  # ERRORS_JSON_PATH_PREFIXES of the service
        (BROWSER, "/apiary", True),
    ],
)
def test_who_prefers_html(accept: str, path: str, html: bool) -> None:
    request = RequestFactory().get(path, headers={"Accept": accept} if accept else {})
    assert prefers_html(request) is html


def html(response: Any) -> str:
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    return str(response.content.decode())


@pytest.fixture
def browser() -> Client:
    return Client(raise_request_exception=False, headers={"Accept": BROWSER})


def errors_lines(json_log: JsonLog, correlation_id: str) -> list[dict[str, Any]]:
    return [
        r
        for r in json_log.records()
        if r["logger"] == "errors" and r["correlation_id"] == correlation_id
    ]


@pytest.mark.parametrize(
    ("path", "status", "page_text"),
    [
        ("/no/such/url", 404, "Not Found"),
        ("/t/plain/raise/http404", 404, "Not Found"),
        ("/t/plain/raise/django_permission_denied", 403, "403 Forbidden"),
        ("/t/plain/raise/internal", 500, "Server Error (500)"),
    ],
)
def test_a_browser_gets_djangos_page_logged_once(
    path: str, status: int, page_text: str, browser: Client, json_log: JsonLog
) -> None:
    response = browser.get(path, headers={"X-Correlation-ID": "page-1"})
    assert response.status_code == status
    assert page_text in html(response)
    assert "hunter2" not in html(response)
    assert response["X-Correlation-ID"] == "page-1"
    (line,) = errors_lines(json_log, "page-1")
    assert line["status_code"] == status
    # Django's own "Not Found: …" line is a duplicate of ours.
    assert not [r for r in json_log.records() if r["logger"] == "django.request"]


def test_the_same_paths_give_an_api_client_the_envelope(json_log: JsonLog) -> None:
    client = Client(raise_request_exception=False)
    for path, status in (("/no/such/url", 404), ("/t/plain/raise/internal", 500)):
        response = client.get(path, headers={"X-Correlation-ID": "api-1"})
        assert response.status_code == status
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content)["error"]["correlation_id"] == "api-1"


def test_a_browser_under_the_api_prefix_gets_the_envelope(browser: Client) -> None:
    response = browser.get("/api/no/such/url")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["error"]["code"] == "not_found"


@pytest.mark.parametrize("view", ["drf", "plain"])
def test_api_errors_stay_envelopes_for_browsers(view: str, browser: Client) -> None:
    # Django has no page for a 409; DRF views keep DRF's negotiation (the exception handler).
    response = browser.get(f"/t/{view}/raise/conflict_exception")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["error"]["code"] == "conflict"


def test_drf_views_answer_browsers_with_the_envelope(browser: Client) -> None:
    response = browser.get("/t/drf/raise/drf_not_found")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


@override_settings(DEBUG=True)
def test_debug_keeps_djangos_technical_pages(browser: Client, json_log: JsonLog) -> None:
    missing = browser.get("/no/such/url")
    assert missing.status_code == 404
    assert "Using the URLconf defined in" in html(missing)
    assert missing["X-Correlation-ID"]
    crash = browser.get("/t/plain/raise/internal", headers={"X-Correlation-ID": "tech-500"})
    assert crash.status_code == 500
    assert "Traceback" in html(crash)  # the technical 500 page, only ever in DEBUG
    assert crash["X-Correlation-ID"] == "tech-500"
    (line,) = errors_lines(json_log, "tech-500")
    assert line["error_code"] == "internal_error"
    assert line["exception"]["type"] == "RuntimeError"


def test_a_browser_gets_the_404_page_under_asgi() -> None:
    client = AsyncClient(raise_request_exception=False)
    response = async_to_sync(client.get)("/no/such/url", headers={"Accept": BROWSER})
    assert response.status_code == 404
    assert "Not Found" in html(response)
    assert response["X-Correlation-ID"]


def test_a_csrf_failure_gives_a_browser_djangos_page_and_logs_the_reason(
    json_log: JsonLog,
) -> None:
    client = Client(enforce_csrf_checks=True, headers={"Accept": BROWSER})
    response = client.post("/t/plain/get-only", headers={"X-Correlation-ID": "csrf-1"})
    assert response.status_code == 403
    assert "CSRF verification failed" in html(response)
    assert response["X-Correlation-ID"] == "csrf-1"
    (security,) = [r for r in json_log.records() if r["logger"] == "django.security.csrf"]
    assert "CSRF cookie not set" in security["message"]
    assert security["correlation_id"] == "csrf-1"
    assert len(errors_lines(json_log, "csrf-1")) == 1


def test_a_csrf_failure_of_an_api_client_logs_the_reason_too(json_log: JsonLog) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/t/plain/get-only", headers={"X-Correlation-ID": "csrf-2"})
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    (security,) = [r for r in json_log.records() if r["logger"] == "django.security.csrf"]
    assert "CSRF cookie not set" in security["message"]
    assert security["correlation_id"] == "csrf-2"


@pytest.mark.parametrize(
    ("handler", "status"),
    [("bad_request", 400), ("permission_denied", 403), ("page_not_found", 404)],
)
@pytest.mark.parametrize("accept", [BROWSER, "application/json"])
def test_the_handler_views_negotiate(handler: str, status: int, accept: str) -> None:
    from errors import views

    request = RequestFactory().get("/page", headers={"Accept": accept})
    response = getattr(views, handler)(request, None)
    assert response.status_code == status
    if accept == BROWSER:
        assert response["Content-Type"].startswith("text/html")
    else:
        assert json.loads(response.content)["error"]["correlation_id"]


def test_the_500_handler_view_negotiates() -> None:
    from errors import views

    browser_request = RequestFactory().get("/page", headers={"Accept": BROWSER})
    assert "Server Error (500)" in html(views.server_error(browser_request))
    api = views.server_error(RequestFactory().get("/page"))
    assert api.status_code == 500
    assert json.loads(api.content)["error"]["code"] == "internal_error"
