"""Security headers (cortex/security.py), HTTPS behind a proxy, and `manage.py check --deploy`.

Every response carries X-Frame-Options and X-Content-Type-Options; HTML pages carry a
Content-Security-Policy that allows exactly what they load. Checked through Django's test clients
(sync and async), then against a real daphne process, where the event stream (a Channels
consumer, not a Django view) is answered too.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings

from cortex.security import SecurityHeadersMiddleware
from tests.support.servers import REPO_ROOT, DaphneServer

pytestmark = pytest.mark.django_db

SIDECAR = "/static/drf_spectacular_sidecar/swagger-ui-dist"
HTML = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}  # a browser's

# What a browser fetches and what an API client gets: (name, method, path, extra, status, type).
RESPONSES = [
    ("health check", "get", "/healthz", {}, 200, "application/json"),
    ("API refusal", "get", "/api/workspaces/", {}, 401, "application/json"),
    ("metrics", "get", "/metrics", {}, 200, "text/plain"),
    ("Swagger UI", "get", "/api/docs/", HTML, 200, "text/html"),
    ("Swagger UI's init script", "get", "/api/docs/?script=", {}, 200, "application/javascript"),
    ("static file", "get", f"{SIDECAR}/swagger-ui.css", {}, 200, "text/css"),
    ("unknown URL", "get", "/no/such/page", {}, 404, "application/json"),
    ("unknown URL, browser", "get", "/no/such/page", HTML, 404, "text/html"),
    ("CSRF failure, browser", "post", "/t/plain/get-only", HTML, 403, "text/html"),
    ("server error", "get", "/t/plain/raise/internal", {}, 500, "application/json"),
]


def media_type(response: Any) -> str:
    """The media type of a Django test response or an httpx one."""
    return str(response.headers["Content-Type"]).split(";", 1)[0].strip()


def policy(response: Any) -> dict[str, list[str]]:
    """The response's Content-Security-Policy, by directive."""
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def inline_blocks(html: str) -> list[tuple[str, str]]:
    """(element, text) of each inline <script> and <style>; `<script src>` is not inline."""
    blocks = re.findall(r"<(script|style)(\s[^>]*)?>(.*?)</\1>", html, re.DOTALL)
    return [(element, body) for element, attrs, body in blocks if "src=" not in (attrs or "")]


def browser_client() -> Client:
    return Client(enforce_csrf_checks=True, raise_request_exception=False)


@pytest.mark.parametrize(
    ("method", "path", "extra", "status", "content_type"),
    [row[1:] for row in RESPONSES],
    ids=[row[0] for row in RESPONSES],
)
def test_every_response_carries_the_frame_and_sniffing_headers_and_html_a_policy(
    method: str, path: str, extra: dict[str, str], status: int, content_type: str
) -> None:
    response = getattr(browser_client(), method)(path, headers=extra)
    assert (response.status_code, media_type(response)) == (status, content_type)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    if content_type == "text/html":
        csp = policy(response)
        assert csp["default-src"] == ["'none'"]
        assert csp["frame-ancestors"] == ["'none'"]
        assert csp["script-src"][0] == "'self'" and "'unsafe-inline'" not in csp["script-src"]
    else:
        assert "Content-Security-Policy" not in response


def test_the_async_client_gets_them_too() -> None:
    async def fetch() -> list[Any]:
        client = AsyncClient()
        return [await client.get("/healthz"), await client.get("/api/docs/", headers=HTML)]

    from asgiref.sync import async_to_sync

    health, docs = async_to_sync(fetch)()
    for response in (health, docs):
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in health
    assert policy(docs)["frame-ancestors"] == ["'none'"]


def test_a_body_refused_before_any_view_still_gets_them(settings: Any) -> None:
    # CorrelationIdMiddleware answers this 413 itself: the headers come from outside it.
    too_big = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    response = Client().post(
        "/api/workspaces/", data=b"x" * too_big, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_swagger_ui_loads_only_its_own_files_and_the_policy_allows_each() -> None:
    client = Client()
    page = client.get("/api/docs/", headers=HTML)
    assert page.status_code == 200
    html = page.content.decode()
    csp = policy(page)

    # No inline script at all: the init script comes as a file (drf-spectacular's split view).
    assert [body for element, body in inline_blocks(html) if element == "script"] == []
    # The inline <style> is allowed by its hash, and nothing else inline is.
    styles = [body for element, body in inline_blocks(html) if element == "style"]
    assert styles, html
    for body in styles:
        assert sha256_source(body) in csp["style-src"], (body, csp["style-src"])
    assert "'unsafe-inline'" not in csp["style-src"]

    # Every file the page loads is the service's own ('self'), and is served with a type that
    # the browser accepts under nosniff.
    scripts = re.findall(r'<script src="([^"]+)"', html)
    styles_sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    icons = re.findall(r'<link rel="icon" href="([^"]+)"', html)
    assert len(scripts) == 3 and styles_sheets and icons, html
    expected_types = {
        "script": ("text/javascript", "application/javascript"),
        "style": ("text/css",),
    }
    for kind, urls in (("script", scripts), ("style", styles_sheets), ("icon", icons)):
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), url  # same origin
            asset = client.get(url.replace("&amp;", "&"))
            assert asset.status_code == 200, url
            if kind in expected_types:
                assert media_type(asset) in expected_types[kind], (url, asset["Content-Type"])
    assert csp["script-src"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:"]  # swagger-ui.css draws icons with data: URLs
    assert csp["connect-src"] == ["'self'"]  # the schema, and "Try it out"

    # The init script it loads is the one that starts Swagger UI on the service's schema.
    (init,) = [url for url in scripts if url.startswith("/api/docs/")]
    script = client.get(init.replace("&amp;", "&")).content.decode()
    assert "SwaggerUIBundle(" in script and '"/api/schema/"' in script


def test_swagger_ui_cannot_be_framed() -> None:
    page = Client().get("/api/docs/", headers=HTML)
    assert page["X-Frame-Options"] == "DENY"
    assert policy(page)["frame-ancestors"] == ["'none'"]


def test_the_csrf_page_browsers_get_has_its_style_allowed() -> None:
    response = browser_client().post("/t/plain/get-only", headers=HTML)
    assert response.status_code == 403
    html = response.content.decode()
    assert "CSRF verification failed" in html
    (style,) = [body for element, body in inline_blocks(html) if element == "style"]
    assert sha256_source(style) in policy(response)["style-src"]


def test_debug_pages_keep_their_styles_under_the_policy() -> None:
    with override_settings(DEBUG=True):
        response = browser_client().get("/no/such/page", headers=HTML)
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html  # Django's technical 404 page
    csp = policy(response)
    blocks = inline_blocks(html)
    assert blocks
    for element, body in blocks:
        assert sha256_source(body) in csp[f"{element}-src"], element
    # Production pages do not allow the technical pages' blocks.
    production = browser_client().get("/no/such/page", headers=HTML)
    assert sha256_source(blocks[0][1]) not in policy(production)["style-src"]


def test_a_view_keeps_its_own_headers_and_xframe_exemptions_are_honoured() -> None:
    own = HttpResponse("<p>hi</p>", content_type="text/html")
    own["X-Frame-Options"] = "SAMEORIGIN"
    own["Content-Security-Policy"] = "default-src 'self'"
    exempt = JsonResponse({})
    exempt.xframe_options_exempt = True  # what @xframe_options_exempt sets

    def view_answering(response: HttpResponse) -> SecurityHeadersMiddleware:
        return SecurityHeadersMiddleware(lambda request: response)

    request: HttpRequest = RequestFactory().get("/")
    kept = view_answering(own)(request)
    assert (kept["X-Frame-Options"], kept["Content-Security-Policy"]) == (
        "SAMEORIGIN",
        "default-src 'self'",
    )
    assert kept["X-Content-Type-Options"] == "nosniff"
    exempted = view_answering(exempt)(request)
    assert "X-Frame-Options" not in exempted
    assert exempted["X-Content-Type-Options"] == "nosniff"


# --- `manage.py check --deploy` and the TLS-proxy variables -----------------------------------

PRODUCTION_TLS = {
    "TLS_PROXY": "true",
    "TRUSTED_PROXIES": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def production_env(**env: str) -> dict[str, str]:
    """A production environment of the service: only what is given, and a real secret key."""
    inherited = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "cortex.settings",
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(60),
        **env,
    }


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_is_clean_with_the_tls_proxy_variables() -> None:
    result = check_deploy(production_env(**PRODUCTION_TLS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("env", "warnings"),
    [
        # Plain HTTP, as in development: what each TLS-proxy variable would silence.
        ({}, ["security.W004", "security.W008", "security.W012", "security.W016"]),
        ({"TLS_PROXY": "true", "TRUSTED_PROXIES": "1"}, ["security.W004"]),
        (
            {"TLS_PROXY": "true", "TRUSTED_PROXIES": "1", "SECURE_HSTS_SECONDS": "300"},
            ["security.W005", "security.W021"],
        ),
    ],
    ids=["plain-http", "tls-proxy-without-hsts", "hsts-without-subdomains-and-preload"],
)
def test_check_deploy_lists_what_is_missing(env: dict[str, str], warnings: list[str]) -> None:
    result = check_deploy(production_env(**env))
    assert result.returncode == 1
    listed = sorted(set(re.findall(r"\((security\.W\d+)\)", result.stderr)))
    assert listed == warnings, result.stderr
    # X-Frame-Options is set by cortex.security (W002 looks for Django's middleware only).
    assert "X-Frame-Options" not in result.stderr and "x-frame-options" not in result.stderr


def start_settings(**env: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.ERRORS_METRICS_ALLOWED_NETWORKS, s.ERRORS_METRICS_BEARER_TOKEN, "
        "s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=production_env(**env),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("env", "message", "not_shown"),
    [
        ({"TLS_PROXY": "true"}, "TLS_PROXY needs TRUSTED_PROXIES", None),
        ({"TLS_PROXY": "maybe"}, "TLS_PROXY must be one of", None),
        ({"SECURE_HSTS_SECONDS": "a year"}, "SECURE_HSTS_SECONDS must be a whole number", None),
        ({"SECURE_HSTS_PRELOAD": "please"}, "SECURE_HSTS_PRELOAD must be one of", None),
        ({"METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,10.1.0.0/33"}, "METRICS_ALLOWED_NETWORKS", None),
        ({"METRICS_ALLOWED_NETWORKS": "prometheus.local"}, "METRICS_ALLOWED_NETWORKS", None),
        ({"METRICS_BEARER_TOKEN": "s3cret;x"}, "METRICS_BEARER_TOKEN must be", "s3cret"),
        ({"SSE_MAX_STREAMS_PER_USER": "0"}, "SSE_MAX_STREAMS_PER_USER must be at least 1", None),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(
    env: dict[str, str], message: str, not_shown: str | None
) -> None:
    result = start_settings(**env)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line and message in last_line, last_line
    if not_shown is not None:
        assert not_shown not in result.stderr


def test_the_variables_reach_the_settings() -> None:
    defaults = start_settings()
    assert defaults.returncode == 0, defaults.stderr
    assert defaults.stdout.split() == ["[]", "None", "False", "False", "False"]
    configured = start_settings(
        METRICS_ALLOWED_NETWORKS="10.0.0.0/8, 127.0.0.1",
        METRICS_BEARER_TOKEN="t0ken",
        TLS_PROXY="true",
        TRUSTED_PROXIES="1",
    )
    assert configured.returncode == 0, configured.stderr
    assert configured.stdout.strip() == "['10.0.0.0/8', '127.0.0.1'] t0ken True True True"


# --- a real daphne process ---------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'security.sqlite3'}"


@pytest.fixture
def server(sqlite_url: str) -> Iterator[DaphneServer]:
    with DaphneServer(env={"DATABASE_URL": sqlite_url}) as running:
        yield running


def test_daphne_answers_with_the_headers_everywhere_the_stream_included(
    server: DaphneServer,
) -> None:
    with httpx.Client(base_url=server.url, timeout=5.0) as client:
        answers = {
            "healthz": client.get("/healthz"),
            "metrics": client.get("/metrics"),
            "docs": client.get("/api/docs/", headers={"Accept": "text/html"}),
            "static": client.get(f"{SIDECAR}/swagger-ui.css"),
            "api 401": client.get("/api/workspaces/"),
            "404 for a browser": client.get("/nope", headers={"Accept": "text/html"}),
            "stream 401": client.get("/api/events/"),
            "stream 405": client.post("/api/events/"),
        }
    for name, response in answers.items():
        assert response.headers.get("X-Frame-Options") == "DENY", name
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
        html = media_type(response) == "text/html"
        assert ("Content-Security-Policy" in response.headers) == html, name
    assert answers["stream 401"].json()["error"]["code"] == "authentication_error"
    assert answers["docs"].status_code == 200


def test_https_behind_the_proxy_redirects_plain_http_but_not_probes(sqlite_url: str) -> None:
    env = {
        "DATABASE_URL": sqlite_url,
        "TLS_PROXY": "true",
        "TRUSTED_PROXIES": "127.0.0.1",  # the test is the proxy
        "SECURE_HSTS_SECONDS": "300",
    }
    with DaphneServer(env=env) as server, httpx.Client(base_url=server.url, timeout=5.0) as client:
        plain = client.get("/api/workspaces/")
        assert plain.status_code == 301
        assert plain.headers["Location"].startswith("https://")
        assert plain.headers["X-Frame-Options"] == "DENY"
        secure = client.get("/api/workspaces/", headers={"X-Forwarded-Proto": "https"})
        assert secure.status_code == 401, secure.text
        assert secure.json()["error"]["code"] == "authentication_error"
        assert secure.headers["Strict-Transport-Security"] == "max-age=300"
        # Health checks and Prometheus reach the service over plain HTTP inside the network.
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert "Strict-Transport-Security" not in client.get("/healthz").headers


def test_metrics_variables_limit_metrics_on_the_running_service(sqlite_url: str) -> None:
    token = secrets.token_urlsafe(32)
    env = {
        "DATABASE_URL": sqlite_url,
        "METRICS_ALLOWED_NETWORKS": "127.0.0.0/8",  # the test's address
        "METRICS_BEARER_TOKEN": token,
    }
    with DaphneServer(env=env) as server, httpx.Client(base_url=server.url, timeout=5.0) as client:
        missing = client.get("/metrics")
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "authentication_error"
        assert missing.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
        allowed = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200
        assert "sse_open_streams" in allowed.text
    elsewhere = {"DATABASE_URL": sqlite_url, "METRICS_ALLOWED_NETWORKS": "10.0.0.0/8"}
    with DaphneServer(env=elsewhere) as server:
        refused = httpx.get(f"{server.url}/metrics", timeout=5.0)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "authorization_error"
