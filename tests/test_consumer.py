"""The `errors` app as a stranger's project uses it: from its wheel, alone, on real servers.

The wheel `pip install .` builds goes into two fresh virtualenvs, every package at the version of
the environment the tests run in (Python, Django and DRF included, so each cell of the support
matrix proves its own): "drf" (the `[drf]` extra, gunicorn, uvicorn, daphne) and "plain" (the wheel
alone, gunicorn, uvicorn, hypercorn). tests/consumer/project, copied out of the repository and
migrated (SQLite), is served by gunicorn (`--threads 16`), uvicorn, daphne and hypercorn on free
ports of 127.0.0.1;
the tests talk HTTP to them and read the JSON log lines they write. See tests/consumer/.

Every test here needs a venv: when one cannot be built, its tests fail with pip's output (none
skips). The wheel, venvs, projects and servers are built once per module, side by side.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.consumer.build import (
    DISTRIBUTION,
    PROJECT_SOURCE,
    REPO_ROOT,
    Project,
    Venv,
    canonical_name,
    copy_project,
    create_venv,
    environment_versions,
    run,
    session_wheel,
    write_constraints,
)
from tests.consumer.servers import HOST, ConsumerServer, Kind, stop_all
from tests.support.huge_body import GIB, post_huge_body, rss

pytestmark = pytest.mark.consumer

T = TypeVar("T")

VARIANTS = ["drf", "plain"]
# Server name: (venv and project variant, server).
SERVERS: dict[str, tuple[str, Kind]] = {
    "drf-gunicorn": ("drf", "gunicorn"),
    "drf-uvicorn": ("drf", "uvicorn"),
    "drf-daphne": ("drf", "daphne"),
    "plain-gunicorn": ("plain", "gunicorn"),
    "plain-uvicorn": ("plain", "uvicorn"),
    "plain-hypercorn": ("plain", "hypercorn"),
}
ALL_SERVERS = list(SERVERS)
DRF_SERVERS = [name for name, (variant, _) in SERVERS.items() if variant == "drf"]

# What tests/consumer/project/shop says: the crash views' secret and the staff user's login.
SECRET = "consumer-secret-7f3a9c"
STAFF = {"username": "staff", "password": "staff-password-not-secret"}

# A real Chrome's Accept for a page load.
BROWSER = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
API_ACCEPTS = [
    pytest.param("application/json", id="json"),
    pytest.param("*/*", id="any"),
    pytest.param(None, id="no-accept"),
]
VIEW_KINDS = ["views", "async"]
ENVELOPE_KEYS = {"code", "message", "correlation_id", "details"}


# --- building and serving ------------------------------------------------------------------


class Ready(Mapping[str, T]):
    """Things being built side by side in threads; looking one up waits for it.

    A lookup raises the build's own failure (pip's or the server's output), so a variant that
    cannot be built fails the tests that use it, and only those: the other variant still runs.
    """

    def __init__(self, futures: Mapping[str, Future[T]]) -> None:
        self.futures = dict(futures)

    def __getitem__(self, key: str) -> T:
        return self.futures[key].result()

    def __iter__(self) -> Iterator[str]:
        return iter(self.futures)

    def __len__(self) -> int:
        return len(self.futures)


@pytest.fixture(scope="module")
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="consumer-build") as executor:
        yield executor


@pytest.fixture(scope="module")
def venvs(pool: ThreadPoolExecutor, tmp_path_factory: pytest.TempPathFactory) -> Ready[Venv]:
    """The two fresh virtualenvs, built side by side."""
    wheel = str(session_wheel(tmp_path_factory).wheel)
    root = tmp_path_factory.mktemp("venvs")
    constraints = write_constraints(root / "constraints.txt", environment_versions())
    wanted = {
        "drf": [f"{wheel}[drf]", "gunicorn", "uvicorn", "daphne"],
        "plain": [wheel, "gunicorn", "uvicorn", "hypercorn"],
    }
    return Ready(
        {
            name: pool.submit(create_venv, root / name, requirements, constraints)
            for name, requirements in wanted.items()
        }
    )


@pytest.fixture(scope="module")
def projects(
    pool: ThreadPoolExecutor, venvs: Ready[Venv], tmp_path_factory: pytest.TempPathFactory
) -> Ready[Project]:
    """The consumer project copied once per venv (each with its own database), migrated."""

    def make(variant: str, dest: Path) -> Project:
        return copy_project(dest, venvs[variant], with_drf=variant == "drf")

    return Ready(
        {
            variant: pool.submit(
                make, variant, tmp_path_factory.mktemp(f"consumer-{variant}") / "project"
            )
            for variant in VARIANTS
        }
    )


@contextlib.contextmanager
def _serving(
    pool: ThreadPoolExecutor, projects: Ready[Project], prefix: str = ""
) -> Iterator[Ready[ConsumerServer]]:
    """Every server of `SERVERS`, booting side by side; all stopped on exit."""
    booted: list[ConsumerServer] = []

    def boot(name: str, variant: str, kind: Kind) -> ConsumerServer:
        server = ConsumerServer(projects[variant], kind, name=prefix + name)
        booted.append(server)
        server.start()
        server.wait_until_listening()
        return server

    futures = {
        name: pool.submit(boot, name, variant, kind) for name, (variant, kind) in SERVERS.items()
    }
    try:
        yield Ready(futures)
    finally:
        wait(futures.values())
        stop_all(booted)


@pytest.fixture(scope="module")
def servers(pool: ThreadPoolExecutor, projects: Ready[Project]) -> Iterator[Ready[ConsumerServer]]:
    """Every server the tests talk to, by name (`drf-gunicorn`, ...)."""
    with _serving(pool, projects) as started:
        yield started


@pytest.fixture(scope="module")
def fresh_servers(
    pool: ThreadPoolExecutor, projects: Ready[Project]
) -> Iterator[Ready[ConsumerServer]]:
    """Servers of their own for the concurrency test: nothing but it ever sends them a request."""
    with _serving(pool, projects, prefix="first-") as started:
        yield started


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client for the tests' requests (cookies are dropped before each, see `send`)."""
    with httpx.Client(timeout=30) as client:
        yield client


# --- helpers -------------------------------------------------------------------------------


def new_id(label: str) -> str:
    """A valid, unique X-Correlation-ID naming the test that sent it."""
    return f"t-{re.sub(r'[^A-Za-z0-9._:-]+', '.', label)[:60]}-{uuid.uuid4().hex[:12]}"


def send(
    client: httpx.Client,
    server: ConsumerServer,
    method: str,
    path: str,
    *,
    accept: str | None = "application/json",
    correlation_id: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request without cookies; `accept=None` sends no Accept header at all."""
    client.cookies.clear()
    request = client.build_request(method, server.url + path, **kwargs)
    if accept is None:
        del request.headers["Accept"]
    else:
        request.headers["Accept"] = accept
    if correlation_id is not None:
        request.headers["X-Correlation-ID"] = correlation_id
    return client.send(request)


def describe(response: httpx.Response) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return (
        f"{response.request.method} {response.request.url} -> {response.status_code}\n"
        f"{headers}\n\n{response.text[:1500]}"
    )


def media_type(response: httpx.Response) -> str:
    return response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def assert_correlated(response: httpx.Response, sent: str | None) -> str:
    """The response carries X-Correlation-ID, the sent one when one was sent; return it."""
    received = response.headers.get("X-Correlation-ID")
    assert received, f"no X-Correlation-ID\n{describe(response)}"
    if sent is not None:
        assert received == sent, describe(response)
    return received


def assert_envelope(
    response: httpx.Response, status: int, code: str, sent: str | None = None
) -> dict[str, Any]:
    """`response` is the error envelope of `status`/`code`; return its `error` object."""
    assert response.status_code == status, describe(response)
    assert media_type(response) == "application/json", describe(response)
    body = response.json()
    assert set(body) == {"error"}, describe(response)
    error: dict[str, Any] = body["error"]
    assert set(error) <= ENVELOPE_KEYS, describe(response)
    assert error["code"] == code, describe(response)
    assert isinstance(error["message"], str) and error["message"], describe(response)
    assert error["correlation_id"] == assert_correlated(response, sent), describe(response)
    return error


def assert_html(response: httpx.Response, status: int, sent: str | None) -> str:
    """`response` is an HTML page of `status` with the request's correlation id; its text."""
    assert response.status_code == status, describe(response)
    assert media_type(response) == "text/html", describe(response)
    assert_correlated(response, sent)
    return response.text


def assert_logged_once(
    server: ConsumerServer, correlation_id: str, code: str, status: int
) -> dict[str, Any]:
    """Exactly one JSON line of logger `errors` for the request, naming the error."""
    lines = server.wait_for_records(correlation_id, "errors")
    assert len(lines) == 1, (
        f"expected one `errors` line for {correlation_id}, got {lines}\n"
        f"all lines of the request: {server.records_of(correlation_id)}\n{server.output(20)}"
    )
    line = lines[0]
    assert (line.get("error_code"), line.get("status_code")) == (code, status), line
    return line


# --- the install ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_venv_holds_the_versions_under_test(venvs: Ready[Venv], variant: str) -> None:
    venv = venvs[variant]
    assert venv.config()["include-system-site-packages"] == "false"
    installed = venv.installed()
    assert canonical_name(DISTRIBUTION) in installed, installed
    pins = environment_versions()
    others = {
        name: version
        for name, version in installed.items()
        if name not in {"pip", "setuptools", "wheel", canonical_name(DISTRIBUTION)}
    }
    unpinned = sorted(set(others) - set(pins))
    assert not unpinned, f"installed but not in the environment under test: {unpinned}"
    wrong = {n: (v, pins[n]) for n, v in others.items() if v != pins[n]}
    assert not wrong, f"installed version differs from the environment under test: {wrong}"
    expected_servers = {"gunicorn", "uvicorn"} | ({"daphne"} if variant == "drf" else {"hypercorn"})
    assert expected_servers <= set(others)
    assert ("djangorestframework" in others) is (variant == "drf"), sorted(others)


@pytest.mark.parametrize("variant", VARIANTS)
def test_errors_comes_from_the_venv_not_the_repository(
    projects: Ready[Project], variant: str
) -> None:
    project = projects[variant]
    assert not project.root.resolve().is_relative_to(REPO_ROOT)
    seen = project.probe(
        "import importlib.util, json, sys, errors; print(json.dumps({"
        "'errors': errors.__file__, 'path': sys.path, "
        "'others': {n: getattr(importlib.util.find_spec(n), 'origin', None) "
        "for n in ('cortex', 'workspaces', 'tests', 'rest_framework')}}))"
    )
    assert Path(seen["errors"]).resolve().is_relative_to(project.venv.site_packages), seen
    assert not [p for p in seen["path"] if p and Path(p).resolve().is_relative_to(REPO_ROOT)]
    for name, origin in seen["others"].items():
        assert origin is None or not Path(origin).resolve().is_relative_to(REPO_ROOT), (
            f"{name} was importable from the repository: {origin}"
        )
    assert (seen["others"]["rest_framework"] is None) is (variant == "plain"), seen


@pytest.mark.parametrize("variant", VARIANTS)
def test_project_runs_with_the_readme_settings(projects: Ready[Project], variant: str) -> None:
    project = projects[variant]
    seen = project.probe(
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'apps': s.INSTALLED_APPS, 'middleware': s.MIDDLEWARE, "
        "'drf': getattr(s, 'REST_FRAMEWORK', None), 'debug': s.DEBUG, "
        "'db': str(s.DATABASES['default']['NAME']), "
        "'prefixes': list(s.ERRORS_JSON_PATH_PREFIXES)}))"
    )
    assert seen["middleware"][0] == "errors.middleware.CorrelationIdMiddleware"
    assert "errors" in seen["apps"]
    assert seen["debug"] is False
    assert seen["prefixes"] == ["/api/"]
    assert Path(seen["db"]) == project.database and project.database.is_file()
    if variant == "drf":
        assert "rest_framework" in seen["apps"]
        assert seen["drf"] == {"EXCEPTION_HANDLER": "errors.handler.exception_handler"}
    else:
        assert "rest_framework" not in seen["apps"]
        assert seen["drf"] is None


def test_project_settings_are_the_documented_setup() -> None:
    section = (REPO_ROOT / "docs" / "install.md").read_text(encoding="utf-8")
    settings = (PROJECT_SOURCE / "project" / "settings.py").read_text(encoding="utf-8")
    urls = (PROJECT_SOURCE / "project" / "urls.py").read_text(encoding="utf-8")
    asgi = (PROJECT_SOURCE / "project" / "asgi.py").read_text(encoding="utf-8")
    # What the project uses, in which file, and what of it the README must show (None: all).
    lines: list[tuple[str, str, str | None]] = [
        ('"errors"', settings, None),
        ('REST_FRAMEWORK = {"EXCEPTION_HANDLER": "errors.handler.exception_handler"}',
         settings, None),
        ('"errors.middleware.CorrelationIdMiddleware"', settings, None),
        ("from errors.logging import build_logging_config", settings, None),
        ('LOGGING = build_logging_config(level="INFO", fmt="json")', settings, None),
        ('ERRORS_JSON_PATH_PREFIXES = ["/api/"]', settings, "ERRORS_JSON_PATH_PREFIXES"),
        ('path("", include("errors.urls"))', urls, 'include("errors.urls")'),
        ("from errors.asgi import BodyLimitMiddleware", asgi, None),
        ("application = BodyLimitMiddleware(get_asgi_application())", asgi, None),
    ]  # fmt: skip
    assert not [used for used, source, _ in lines if used not in source]
    missing = [shown or used for used, _, shown in lines if (shown or used) not in section]
    assert not missing, f"docs/install.md does not show {missing}"


# What a new user adds to the project `django-admin startproject` made: README's three lines
# (INSTALLED_APPS, REST_FRAMEWORK, the middleware first) and its logging line.
README_SETUP = """
INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework", "errors"]
REST_FRAMEWORK = {"EXCEPTION_HANDLER": "errors.handler.exception_handler"}
MIDDLEWARE = ["errors.middleware.CorrelationIdMiddleware", *MIDDLEWARE]

from errors.logging import build_logging_config

LOGGING = build_logging_config(level="INFO", fmt="json")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
"""


@pytest.fixture(scope="module")
def started_project(venvs: Ready[Venv], tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project made by the venv's own `django-admin startproject`, set up as README says."""
    venv = venvs["drf"]
    root = tmp_path_factory.mktemp("startproject") / "project"
    root.mkdir()
    project = Project(root, venv, with_drf=True)
    run([venv.bin("django-admin"), "startproject", "project", root], timeout=60, env=project.env)
    with (root / "project" / "settings.py").open("a", encoding="utf-8") as settings:
        settings.write(README_SETUP)
    project.manage("migrate", "--noinput", timeout=180)
    return project


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_a_startproject_project_set_up_by_the_readme_answers_with_the_envelope(
    started_project: Project, http: httpx.Client, kind: Kind
) -> None:
    project = started_project
    version = project.probe("import django, json; print(json.dumps(django.get_version()))")
    assert version == environment_versions()["django"]
    assert "System check identified no issues" in project.manage("check").stdout

    server = ConsumerServer(project, kind, name=f"startproject-{kind}").start()
    try:
        server.wait_until_listening()
        missing = http.get(f"{server.url}/no/such/page/", headers={"Accept": "application/json"})
        csrf = http.post(f"{server.url}/admin/login/", headers={"Accept": "application/json"})
        admin = http.get(f"{server.url}/admin/login/", headers={"Accept": BROWSER})
    finally:
        server.stop()

    assert missing.status_code == 404, missing.text
    error = missing.json()["error"]
    assert error["code"] == "not_found"
    assert error["correlation_id"] == missing.headers["X-Correlation-ID"]
    assert csrf.status_code == 403, csrf.text
    assert csrf.json()["error"]["code"] == "authorization_error"
    # The admin still serves people its own HTML page.
    assert admin.status_code == 200
    assert admin.headers["Content-Type"].startswith("text/html")
    assert admin.headers["X-Correlation-ID"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_manage_check_reports_no_issues(projects: Ready[Project], variant: str) -> None:
    result = projects[variant].manage("check")
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_javascript_client_is_a_static_file_of_the_installed_app(
    projects: Ready[Project], variant: str
) -> None:
    """`collectstatic` (or a static view) finds the client in the wheel, not in this repository."""
    result = projects[variant].manage("findstatic", "errors/client.js", "errors/client.d.ts")
    found = [line.strip() for line in result.stdout.splitlines() if line.startswith(" ")]
    assert len(found) == 2, result.stdout + result.stderr
    for path, name in zip(found, ("client.js", "client.d.ts"), strict=True):
        assert path.endswith(f"site-packages/errors/static/errors/{name}"), found


def test_without_drf_errors_handler_names_the_drf_extra(projects: Ready[Project]) -> None:
    seen = projects["plain"].probe(
        "import json\n"
        "try:\n"
        "    import errors.handler\n"
        "except ImportError as exc:\n"
        "    print(json.dumps({'raised': True, 'message': str(exc)}))\n"
        "else:\n"
        "    print(json.dumps({'raised': False}))\n"
    )
    assert seen["raised"], "import errors.handler worked without djangorestframework"
    assert "django-cortex-errors[drf]" in seen["message"] or (
        "djangorestframework" in seen["message"]
    ), seen["message"]


def test_without_drf_errors_catalog_prints_json(projects: Ready[Project]) -> None:
    result = projects["plain"].manage("errors_catalog", "--format", "json")
    rows = json.loads(result.stdout)
    by_code = {row["code"]: row for row in rows}
    assert by_code["not_found"]["status"] == 404, rows
    assert by_code["internal_error"]["status"] == 500, rows


# --- the DRF API ---------------------------------------------------------------------------


# DRF views keep DRF's content negotiation: the exception handler answers browsers with JSON too.
@pytest.mark.parametrize("accept", [*API_ACCEPTS, pytest.param(BROWSER, id="browser")])
@pytest.mark.parametrize("name", DRF_SERVERS)
def test_drf_missing_object_is_a_404_envelope(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str, accept: str | None
) -> None:
    server, cid = servers[name], new_id(f"drf-404-{name}")
    response = send(http, server, "GET", "/api/products/999999/", accept=accept, correlation_id=cid)
    assert_envelope(response, 404, "not_found", cid)
    assert_logged_once(server, cid, "not_found", 404)


@pytest.mark.parametrize("accept", API_ACCEPTS)
@pytest.mark.parametrize("name", DRF_SERVERS)
def test_drf_invalid_post_is_a_400_validation_error(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str, accept: str | None
) -> None:
    server, cid = servers[name], new_id(f"drf-400-{name}")
    response = send(
        http, server, "POST", "/api/products/", accept=accept, correlation_id=cid,
        json={"price": "not a number"},
    )  # fmt: skip
    error = assert_envelope(response, 400, "validation_error", cid)
    field_errors = error["details"]["field_errors"]
    assert set(field_errors) == {"name", "price"}, error
    assert all(isinstance(m, str) for messages in field_errors.values() for m in messages)
    assert_logged_once(server, cid, "validation_error", 400)


@pytest.mark.parametrize("name", ALL_SERVERS)
def test_a_client_reading_german_gets_german_and_the_log_keeps_english(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str
) -> None:
    """The project has LocaleMiddleware: the envelope speaks the negotiated language."""
    server, cid = servers[name], new_id(f"de-404-{name}")
    response = send(
        http, server, "GET", "/api/no/such/thing/", correlation_id=cid,
        headers={"Accept-Language": "de-DE, de;q=0.9, en;q=0.5"},
    )  # fmt: skip
    error = assert_envelope(response, 404, "not_found", cid)
    assert error["message"] == "Nicht gefunden"
    assert response.headers["Content-Language"] == "de"
    assert "Accept-Language" in response.headers["Vary"]
    assert assert_logged_once(server, cid, "not_found", 404)["error_message"] == "Not found"


@pytest.mark.parametrize("name", DRF_SERVERS)
def test_drf_field_errors_and_message_come_in_one_language(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str
) -> None:
    server = servers[name]
    answers = {
        language: send(
            http,
            server,
            "POST",
            "/api/products/",
            json={"price": "not a number"},
            headers={"Accept-Language": language},
            correlation_id=new_id(f"{language}-{name}"),
        )  # fmt: skip
        for language in ("en", "de")
    }
    english, german = (answers[lang].json()["error"] for lang in ("en", "de"))
    assert (english["message"], german["message"]) == ("Validation error", "Validierungsfehler")
    assert answers["de"].headers["Content-Language"] == "de"
    # DRF's own messages, translated by its catalog: the same fields, other words.
    assert set(german["details"]["field_errors"]) == set(english["details"]["field_errors"])
    assert german["details"]["field_errors"] != english["details"]["field_errors"]


@pytest.mark.parametrize("accept", API_ACCEPTS)
@pytest.mark.parametrize("name", DRF_SERVERS)
def test_drf_post_breaking_a_check_constraint_is_a_400_check_violation(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str, accept: str | None
) -> None:
    server, cid = servers[name], new_id(f"drf-check-{name}")
    response = send(
        http, server, "POST", "/api/products/", accept=accept, correlation_id=cid,
        json={"name": "Refund", "price": -100, "description": "Costs less than nothing"},
    )  # fmt: skip
    assert_envelope(response, 400, "check_violation", cid)
    assert_logged_once(server, cid, "check_violation", 400)


@pytest.mark.parametrize("accept", API_ACCEPTS)
@pytest.mark.parametrize("name", DRF_SERVERS)
def test_drf_post_breaking_not_null_is_a_400_not_null_violation(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str, accept: str | None
) -> None:
    server, cid = servers[name], new_id(f"drf-null-{name}")
    response = send(
        http, server, "POST", "/api/products/", accept=accept, correlation_id=cid,
        json={"name": "Mystery", "price": 100, "description": None},
    )  # fmt: skip
    assert_envelope(response, 400, "not_null_violation", cid)
    assert_logged_once(server, cid, "not_null_violation", 400)


@pytest.mark.parametrize("accept", API_ACCEPTS)
@pytest.mark.parametrize("name", DRF_SERVERS)
def test_drf_put_on_the_collection_is_a_405_with_allow(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str, accept: str | None
) -> None:
    server, cid = servers[name], new_id(f"drf-405-{name}")
    response = send(
        http, server, "PUT", "/api/products/", accept=accept, correlation_id=cid, json={}
    )
    assert_envelope(response, 405, "method_not_allowed", cid)
    allowed = {m.strip() for m in response.headers.get("Allow", "").split(",")}
    assert {"GET", "POST"} <= allowed and "PUT" not in allowed, describe(response)
    assert_logged_once(server, cid, "method_not_allowed", 405)


@pytest.mark.parametrize("name", DRF_SERVERS)
def test_drf_success_carries_the_correlation_id(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str
) -> None:
    server, cid = servers[name], new_id(f"drf-201-{name}")
    created = send(
        http, server, "POST", "/api/products/", correlation_id=cid,
        json={"name": "Widget", "price": 250, "description": "A widget"},
    )  # fmt: skip
    assert created.status_code == 201, describe(created)
    assert_correlated(created, cid)
    product = created.json()
    shown = send(http, server, "GET", f"/api/products/{product['id']}/", correlation_id=cid)
    assert shown.status_code == 200, describe(shown)
    assert shown.json() == product
    assert_correlated(shown, cid)
    assert not server.records_of(cid, "errors")


# --- plain Django views, sync and async ----------------------------------------------------


@pytest.mark.parametrize("accept", [*API_ACCEPTS, pytest.param("text/html", id="html"),
                                    pytest.param(BROWSER, id="browser")])  # fmt: skip
@pytest.mark.parametrize("name", ALL_SERVERS)
def test_unknown_url_under_the_api_prefix_is_a_404_envelope_for_every_client(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str, accept: str | None
) -> None:
    server, cid = servers[name], new_id(f"api-404-{name}")
    response = send(http, server, "GET", "/api/no/such/thing/", accept=accept, correlation_id=cid)
    assert_envelope(response, 404, "not_found", cid)
    assert_logged_once(server, cid, "not_found", 404)


@pytest.mark.parametrize("accept", API_ACCEPTS)
@pytest.mark.parametrize("name", ALL_SERVERS)
def test_unknown_url_is_a_404_envelope_for_api_clients(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str, accept: str | None
) -> None:
    server, cid = servers[name], new_id(f"url-404-{name}")
    response = send(http, server, "GET", "/no/such/page/", accept=accept, correlation_id=cid)
    assert_envelope(response, 404, "not_found", cid)
    assert_logged_once(server, cid, "not_found", 404)


@pytest.mark.parametrize("accept", API_ACCEPTS)
@pytest.mark.parametrize("kind", VIEW_KINDS)
@pytest.mark.parametrize("name", ALL_SERVERS)
def test_view_raising_http404_is_a_404_envelope(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str, kind: str, accept: str | None
) -> None:
    server, cid = servers[name], new_id(f"{kind}-404-{name}")
    response = send(http, server, "GET", f"/{kind}/missing/", accept=accept, correlation_id=cid)
    error = assert_envelope(response, 404, "not_found", cid)
    assert error["message"] == "No such gadget"
    assert_logged_once(server, cid, "not_found", 404)


@pytest.mark.parametrize("accept", API_ACCEPTS)
@pytest.mark.parametrize("kind", VIEW_KINDS)
@pytest.mark.parametrize("name", ALL_SERVERS)
def test_view_crashing_is_a_500_without_its_text(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str, kind: str, accept: str | None
) -> None:
    server, cid = servers[name], new_id(f"{kind}-500-{name}")
    response = send(http, server, "GET", f"/{kind}/crash/", accept=accept, correlation_id=cid)
    error = assert_envelope(response, 500, "internal_error", cid)
    assert error["message"] == "Internal server error"
    assert SECRET not in response.text and "Traceback" not in response.text, describe(response)
    line = assert_logged_once(server, cid, "internal_error", 500)
    assert "RuntimeError" in str(line.get("exception")), line  # the operator sees the cause


@pytest.mark.parametrize("accept", API_ACCEPTS)
@pytest.mark.parametrize("kind", VIEW_KINDS)
@pytest.mark.parametrize("name", ALL_SERVERS)
def test_view_raising_permission_denied_is_a_403_envelope(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str, kind: str, accept: str | None
) -> None:
    server, cid = servers[name], new_id(f"{kind}-403-{name}")
    response = send(http, server, "GET", f"/{kind}/forbidden/", accept=accept, correlation_id=cid)
    assert_envelope(response, 403, "authorization_error", cid)
    assert_logged_once(server, cid, "authorization_error", 403)


@pytest.mark.parametrize("kind", VIEW_KINDS)
@pytest.mark.parametrize("name", ALL_SERVERS)
def test_view_answering_normally_carries_the_correlation_id(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str, kind: str
) -> None:
    server, cid = servers[name], new_id(f"{kind}-200-{name}")
    response = send(http, server, "GET", f"/{kind}/ok/", correlation_id=cid)
    assert response.status_code == 200, describe(response)
    assert response.json() == {"ok": True}
    assert_correlated(response, cid)
    assert not server.records_of(cid, "errors")


@pytest.mark.parametrize("name", ALL_SERVERS)
def test_correlation_id_is_made_when_none_or_an_invalid_one_is_sent(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str
) -> None:
    server = servers[name]
    for sent in (None, "not valid: spaces", "x" * 129):
        headers = {"X-Correlation-ID": sent} if sent is not None else {}
        response = send(http, server, "GET", "/views/missing/", headers=headers)
        error = assert_envelope(response, 404, "not_found")
        assert error["correlation_id"] != sent
        assert uuid.UUID(error["correlation_id"]), error
        assert_logged_once(server, error["correlation_id"], "not_found", 404)


# --- browsers ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_SERVERS)
def test_browser_gets_djangos_404_page_for_an_unknown_url(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str
) -> None:
    server, cid = servers[name], new_id(f"html-404-{name}")
    response = send(http, server, "GET", "/no/such/page/", accept=BROWSER, correlation_id=cid)
    assert "Not Found" in assert_html(response, 404, cid), describe(response)
    assert_logged_once(server, cid, "not_found", 404)


@pytest.mark.parametrize("kind", VIEW_KINDS)
@pytest.mark.parametrize("name", ALL_SERVERS)
def test_browser_gets_djangos_500_page_for_a_crashing_view(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str, kind: str
) -> None:
    server, cid = servers[name], new_id(f"html-500-{kind}-{name}")
    response = send(http, server, "GET", f"/{kind}/crash/", accept=BROWSER, correlation_id=cid)
    text = assert_html(response, 500, cid)
    assert "Server Error (500)" in text, describe(response)
    assert SECRET not in text and "Traceback" not in text
    assert_logged_once(server, cid, "internal_error", 500)


@pytest.mark.parametrize("name", ALL_SERVERS)
def test_browser_gets_the_admin_login_page(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str
) -> None:
    server, cid = servers[name], new_id(f"admin-login-{name}")
    response = send(http, server, "GET", "/admin/login/", accept=BROWSER, correlation_id=cid)
    assert 'name="csrfmiddlewaretoken"' in assert_html(response, 200, cid), describe(response)


@pytest.mark.parametrize("name", ALL_SERVERS)
def test_browser_gets_an_html_403_from_the_admin_for_staff_without_permission(
    servers: Ready[ConsumerServer], name: str
) -> None:
    server, cid = servers[name], new_id(f"admin-403-{name}")
    with httpx.Client(base_url=server.url, headers={"Accept": BROWSER}, timeout=30) as browser:
        page = browser.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, describe(page)
        login = browser.post(
            "/admin/login/?next=/admin/",
            data={**STAFF, "csrfmiddlewaretoken": token[1], "next": "/admin/"},
        )
        assert login.status_code == 302 and login.headers["Location"] == "/admin/", describe(login)
        assert_correlated(login, None)
        denied = browser.get("/admin/shop/product/", headers={"X-Correlation-ID": cid})
    assert "403 Forbidden" in assert_html(denied, 403, cid), describe(denied)
    assert_logged_once(server, cid, "authorization_error", 403)


@pytest.mark.parametrize("name", ALL_SERVERS)
def test_browser_post_without_a_csrf_token_is_an_html_403_and_logged(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str
) -> None:
    server, cid = servers[name], new_id(f"csrf-{name}")
    response = send(
        http, server, "POST", "/admin/login/", accept=BROWSER, correlation_id=cid, data=STAFF
    )
    assert "CSRF verification failed" in assert_html(response, 403, cid), describe(response)
    assert_logged_once(server, cid, "authorization_error", 403)
    csrf_lines = server.wait_for_records(cid, "django.security.csrf")
    assert csrf_lines, f"no django.security.csrf line for {cid}: {server.records_of(cid)}"
    assert any("CSRF cookie not set" in line.get("message", "") for line in csrf_lines), csrf_lines


# --- errors' own URLs ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_SERVERS)
def test_metrics_are_prometheus_text(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str
) -> None:
    server, cid = servers[name], new_id(f"metrics-{name}")
    assert send(http, server, "GET", "/views/ok/").status_code == 200
    response = send(http, server, "GET", "/metrics", accept="*/*", correlation_id=cid)
    assert response.status_code == 200, describe(response)
    assert media_type(response) == "text/plain", describe(response)
    assert_correlated(response, cid)
    assert "# TYPE http_requests_total counter" in response.text, response.text[:2000]
    assert re.search(r"^http_requests_total\{.*\} [0-9.e+]+$", response.text, re.M), response.text


@pytest.mark.parametrize("name", ALL_SERVERS)
def test_problem_type_pages_describe_catalog_codes(
    servers: Ready[ConsumerServer], http: httpx.Client, name: str
) -> None:
    server, cid = servers[name], new_id(f"problem-type-{name}")
    page = send(http, server, "GET", "/api/errors/not_found", correlation_id=cid)
    assert page.status_code == 200, describe(page)
    assert page.json()["code"] == "not_found" and page.json()["status"] == 404, describe(page)
    assert_correlated(page, cid)
    unknown_cid = new_id(f"problem-type-404-{name}")
    unknown = send(
        http, server, "GET", "/api/errors/no_such_code", accept=BROWSER, correlation_id=unknown_cid
    )
    assert_envelope(unknown, 404, "not_found", unknown_cid)
    assert_logged_once(server, unknown_cid, "not_found", 404)


# --- concurrent first requests -------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request of the burst and what it must be answered with (code None: a success)."""

    path: str
    status: int
    code: str | None = None


PLAIN_CALLS = [
    Call("/views/ok/", 200),
    Call("/views/missing/", 404, "not_found"),
    Call("/views/crash/", 500, "internal_error"),
    Call("/views/forbidden/", 403, "authorization_error"),
    Call("/async/ok/", 200),
    Call("/async/missing/", 404, "not_found"),
    Call("/async/crash/", 500, "internal_error"),
    Call("/async/forbidden/", 403, "authorization_error"),
    Call("/no/such/page/", 404, "not_found"),
    Call("/api/no/such/thing/", 404, "not_found"),
    Call("/metrics", 200),
]
DRF_CALLS = [
    *PLAIN_CALLS,
    Call("/api/products/", 200),
    Call("/api/products/999999/", 404, "not_found"),
]
BURST_SIZE = 32


def _burst(server: ConsumerServer, calls: list[Call]) -> list[httpx.Response | BaseException]:
    """Send every call at once from threads of its own, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[httpx.Response | BaseException] = [RuntimeError("not sent")] * len(calls)

    def one(index: int, call: Call) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            request = client.build_request(
                "GET", call.path, headers={"Accept": "application/json",
                                           "X-Correlation-ID": f"burst-{server.name}-{index}"},
            )  # fmt: skip
            try:
                barrier.wait(timeout=30)
                results[index] = client.send(request)
            except Exception as exc:
                results[index] = exc

    threads = [
        threading.Thread(target=one, args=(i, call), daemon=True) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.parametrize("name", ALL_SERVERS)
def test_concurrent_first_requests_are_all_answered_right(
    fresh_servers: Ready[ConsumerServer], name: str
) -> None:
    server = fresh_servers[name]
    menu = DRF_CALLS if name.startswith("drf-") else PLAIN_CALLS
    calls = [menu[i % len(menu)] for i in range(BURST_SIZE)]
    results = _burst(server, calls)

    failures = []
    for index, (call, result) in enumerate(zip(calls, results, strict=True)):
        cid = f"burst-{server.name}-{index}"
        if isinstance(result, BaseException):
            failures.append(f"{call.path}: {result!r}")
            continue
        try:
            if call.code is None:
                assert result.status_code == call.status, describe(result)
                assert_correlated(result, cid)
            else:
                assert_envelope(result, call.status, call.code, cid)
                assert_logged_once(server, cid, call.code, call.status)
        except AssertionError as exc:
            failures.append(f"{call.path}: {exc}")
    assert not failures, (
        f"{len(failures)} of {len(calls)} concurrent first requests went wrong:\n"
        + "\n\n".join(failures[:5])
        + f"\n\n{server.output(40)}"
    )


# --- overload: errors.limits in the stranger's project ----------------------------------------


@pytest.mark.parametrize("kind", VIEW_KINDS)
@pytest.mark.parametrize("name", ALL_SERVERS)
def test_a_request_past_the_limit_waits_then_gets_503_service_busy(
    servers: Ready[ConsumerServer], name: str, kind: str
) -> None:
    """8 slow requests hold ERRORS_MAX_CONCURRENT_REQUESTS; the 9th waits ERRORS_QUEUE_TIMEOUT
    (3 s) and is answered 503 `service_busy`; /metrics, exempt, is answered meanwhile."""
    server = servers[name]
    prefix = "views" if kind == "views" else "async"
    holders: list[Future[httpx.Response]] = []
    with ThreadPoolExecutor(max_workers=10) as senders:
        for _ in range(8):
            holders.append(senders.submit(httpx.get, f"{server.url}/{prefix}/slow/?seconds=5",
                                          timeout=30))  # fmt: skip
        time.sleep(1.0)  # the eight are in the view by now, for 4 s more
        cid = f"busy-{name}-{kind}-{uuid.uuid4().hex[:6]}"
        began = time.monotonic()
        refused = httpx.get(
            f"{server.url}/{prefix}/ok/",
            headers={"Accept": "application/json", "X-Correlation-ID": cid},
            timeout=30,
        )
        waited = time.monotonic() - began
        exempt = httpx.get(f"{server.url}/metrics", timeout=10)
        held = [holder.result(timeout=30) for holder in holders]

    assert_envelope(refused, 503, "service_busy", cid)
    assert refused.headers["Retry-After"] == "1"
    assert 2.5 <= waited <= 5.0, waited
    line = assert_logged_once(server, cid, "service_busy", 503)
    assert line["level"] == "WARNING" and "exception" not in line, line
    assert exempt.status_code == 200
    assert [response.status_code for response in held] == [200] * 8


# --- hostile bodies: errors.asgi.BodyLimitMiddleware in the stranger's project -------------------

# The ASGI servers that hand the application a body as it arrives (daphne buffers it first).
STREAMING_SERVERS = [n for n, (_, kind) in SERVERS.items() if kind in ("uvicorn", "hypercorn")]
RSS_BUDGET = 10 * 1024 * 1024


@pytest.mark.parametrize("name", STREAMING_SERVERS)
def test_a_1_gb_chunked_body_is_refused_while_it_arrives_on_uvicorn_and_hypercorn(
    servers: Ready[ConsumerServer], name: str
) -> None:
    """The body limit answers 413 once the chunks pass DATA_UPLOAD_MAX_MEMORY_SIZE, without
    reading on: the client is stopped far short of 1 GB and the server barely grows."""
    server = servers[name]
    assert server.process is not None
    cid = new_id(f"huge-{name}")
    httpx.get(f"{server.url}/views/ok/", timeout=10)  # warm: the first request costs memory too
    before = rss(server.process.pid)

    answer = post_huge_body(HOST, server.port, "/views/ok/", cid, chunked=True)
    growth = rss(server.process.pid) - before

    assert answer.status == 413, answer
    assert json.loads(answer.body) == {
        "error": {
            "code": "payload_too_large",
            "message": "Request body too large",
            "correlation_id": cid,
        }
    }
    assert answer.headers["x-correlation-id"] == cid
    # Answered while the body was still arriving: the client stopped after a few megabytes.
    assert answer.sent < GIB // 16, answer.sent
    assert growth < RSS_BUDGET, growth
    line = assert_logged_once(server, cid, "payload_too_large", 413)
    assert (line["method"], line["path"]) == ("POST", "/views/ok/")
