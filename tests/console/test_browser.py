"""The console in a real browser: headless Chromium (Debian's, through Playwright) against daphne.

What a person sees is asserted: texts, which field an error is beside, the correlation id shown
against the one the response carried, the stream's state, focus. One daphne process and one
browser serve the whole module (each test has a browser context and a user of its own); the
server runs on PostgreSQL and Redis, so event ids and the replay buffer survive the restarts
two tests make, on the same port, as a deploy would. A page on a second origin, served by
a small HTTP server of this module, uses the client module from the service.

Playwright's sync API drives its event loop from a greenlet of the test's thread, so Django
takes the test for async code and refuses ORM calls. The module lifts that check: nothing runs
on the loop while a test makes its user or pytest-django empties the database, so the blocking
queries hold nothing up; `orm()` closes the connection a test's own calls opened.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from unittest import mock

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from django.db import connections
from django.utils import translation
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Route,
    expect,
    sync_playwright,
)

from accounts.tokens import issue_token
from errors import catalog
from tests.conftest import require
from tests.support.accounts import forget_events
from tests.support.fixtures import DaphneFactory, ProxyFactory
from tests.support.servers import DaphneServer, current_database_url
from workspaces.models import Workspace

# The test database (the server's too) is set up and emptied after each test by pytest-django,
# also when this module runs alone.
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package, which Playwright drives as it is
ORIGIN_SITE = Path(__file__).parent / "origin"
PASSWORD = "console-password"
LOGIN_RATE = 3  # per minute and client address: the fourth attempt is refused
REPLAY_BUFFER = 5  # events kept per user for a stream that reconnects
TIMEOUT_MS = 10_000  # for each wait of Playwright's
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TOKEN = "/api/auth/token/"
WORKSPACES = "/api/workspaces/"
TICKETS = "**/api/events/tickets/"


# --- the service, restartable where its clients expect it --------------------------------------


class Served(Protocol):
    """A server a page of the console is opened from."""

    @property
    def url(self) -> str: ...


class Service:
    """The daphne process the module's browsers talk to; `restart` keeps the port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.server = DaphneServer(env).start()
        self.port = self.server.port
        self.stopped: list[DaphneServer] = []

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()
        self.stopped.append(self.server)

    def start(self) -> None:
        """A new process on the same port (after `stop`)."""
        self.server = DaphneServer(self.env, port=self.port).start()

    def ensure_running(self) -> None:
        if not self.server.running:
            if self.server not in self.stopped:
                self.stopped.append(self.server)
            self.start()

    def close(self) -> None:
        self.server.stop()
        for server in [*self.stopped, self.server]:
            print(f"=== {server!r} (exit status {server.returncode})\n{server.output()}")
            server.cleanup()


class OriginSite:
    """The static files of tests/console/origin/ over HTTP, on an origin of their own."""

    def __init__(self) -> None:
        handler = functools.partial(_QuietHandler, directory=str(ORIGIN_SITE))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Not on stderr: pytest would show every request of a failed test."""


@pytest.fixture(scope="module", autouse=True)
def _orm_under_playwright() -> Iterator[None]:
    """pytest-django empties the database after each test, while Playwright's loop is running:
    Django's check for async code is lifted for the module (see the module docstring)."""
    with mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "1"}):
        yield


@pytest.fixture(scope="module")
def origin_site() -> Iterator[OriginSite]:
    site = OriginSite()
    yield site
    site.close()


@pytest.fixture(scope="module")
def service(django_db_setup: None, origin_site: OriginSite) -> Iterator[Service]:
    """daphne on the test database and Redis, allowing the second origin."""
    from django.db import connection

    require("PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL=postgres://…")
    redis_url = os.environ.get("REDIS_URL", "")
    require("Redis", bool(redis_url), "set REDIS_URL=redis://…")
    running = Service(
        {
            "DATABASE_URL": current_database_url(),
            "REDIS_URL": redis_url,
            "LOGIN_THROTTLE_RATE": f"{LOGIN_RATE}/minute",
            "SSE_REPLAY_BUFFER_SIZE": str(REPLAY_BUFFER),
            "CORS_ORIGINS": origin_site.url,
        }
    )
    yield running
    running.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; Playwright's own browser builds are never downloaded."""
    require("Chromium", CHROMIUM.exists(), "apt-get install chromium (.ci/run does)")
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


# --- accounts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    username: str
    user_id: int
    key: str  # an API token, for the test's own calls as "another client" of the user

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.key}"}


@functools.cache
def password_hash() -> str:
    """PASSWORD hashed as the server checks it (it does not know the test settings' fast
    hasher); once, since the server's hasher is slow on purpose."""
    return PBKDF2PasswordHasher().encode(PASSWORD, "consoletestsalt")


@contextlib.contextmanager
def orm(django_db_blocker: Any) -> Iterator[None]:
    """ORM access while Playwright runs (see the module docstring).

    The connection is closed at the end: Django keeps one per context (asgiref's Local), and
    under Playwright the test's code runs in a context of its own, whose connection pytest-django
    would not close; left open, it keeps the test database from being dropped.
    """
    with django_db_blocker.unblock():
        try:
            yield
        finally:
            connections.close_all()


def redis_client() -> Any:
    import redis

    return redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)


def forget_logins() -> None:
    """Drop the server's login throttle and lockout counts: each test gets LOGIN_RATE tries."""
    client = redis_client()
    try:
        for pattern in (":1:throttle_login_*", ":1:login_failures:*"):
            for key in client.scan_iter(match=pattern):
                client.delete(key)
    finally:
        client.close()


@pytest.fixture
def account(service: Service, django_db_blocker: Any) -> Iterator[Account]:
    """A user of the test's own, committed where the server sees it; deleted afterwards."""
    service.ensure_running()
    forget_logins()
    with orm(django_db_blocker):
        user = User.objects.create(
            username=f"user-{uuid.uuid4().hex[:8]}", password=password_hash()
        )
        made = Account(user.username, user.pk, issue_token(user).key)
    forget_events(os.environ["REDIS_URL"], [made.user_id])
    yield made
    with orm(django_db_blocker):
        User.objects.filter(pk=made.user_id).delete()  # its tokens, tickets and workspaces too
    forget_events(os.environ["REDIS_URL"], [made.user_id])


# --- pages ---------------------------------------------------------------------------------------


class Tab:
    """A page of the console in a browser context of its own, and its uncaught errors."""

    def __init__(self, context: BrowserContext, service: Served) -> None:
        self.context = context
        self.service = service
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        # Chromium logs each failed request; anything else the console logs is a defect.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def open(self) -> Tab:
        self.page.goto(f"{self.service.url}/")
        expect(self.page.locator("#sign-in")).to_be_visible()
        return self

    def sign_in(self, account: Account) -> Tab:
        self.page.get_by_label("Username").fill(account.username)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.locator("#session-user")).to_have_text(account.username)
        expect(self.stream_state).to_have_text("Connected")
        return self

    @property
    def stream_state(self) -> Locator:
        return self.page.locator("#stream-state")

    def row(self, name: str) -> Locator:
        return self.page.locator("#workspace-list > li").filter(
            has=self.page.locator(".workspace-name", has_text=re.compile(f"^{re.escape(name)}$"))
        )

    def names(self) -> list[str]:
        return self.page.locator("#workspace-list .workspace-name").all_inner_texts()

    def create(self, name: str, description: str = "") -> None:
        self.page.get_by_label("Name", exact=True).fill(name)
        self.page.get_by_label("Description").fill(description)
        self.page.get_by_role("button", name="Create").click()

    def events(self) -> Locator:
        return self.page.locator("#event-log > li.event:not(.event-note)")

    def session_token(self) -> str:
        saved = self.page.evaluate("sessionStorage.getItem('cortex.console.session')")
        return str(json.loads(saved)["token"])


@pytest.fixture
def tabs(browser: Browser, service: Service) -> Iterator[Callable[..., Tab]]:
    """`new()` opens the console in a browser context of its own (a tab of another window);
    `new(locale="de-DE")` in a browser whose language is German; `new(at=server)` the console
    of another server than the module's."""
    opened: list[Tab] = []

    def new(at: Served | None = None, **options: Any) -> Tab:
        """`options`: more of the context's, such as `locale`."""
        served = at or service
        context = browser.new_context(viewport={"width": 1200, "height": 900}, **options)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.url)
        context.set_default_timeout(TIMEOUT_MS)
        tab = Tab(context, served)
        opened.append(tab)
        return tab

    yield new
    errors = [error for tab in opened for error in tab.errors]
    for tab in opened:
        tab.context.close()
    assert errors == [], "the page logged errors"


def shown_error(container: Locator) -> tuple[str, str]:
    """The message and correlation id of the one error `container` shows."""
    box = container.locator(".error")
    expect(box).to_have_count(1)
    return (
        box.locator(".error-message").inner_text(),
        box.locator(".correlation-id").inner_text(),
    )


def api(service: Service, account: Account) -> httpx.Client:
    """The user's workspaces through the API: another tab, as far as the console can tell."""
    return httpx.Client(base_url=service.url, headers=account.auth, timeout=10.0)


def answer(method: str, path: str) -> Callable[[Any], bool]:
    """Matches the response to `method` on `path` (a prefix; the query string aside)."""
    return lambda response: (
        response.request.method == method and httpx.URL(response.url).path.startswith(path)
    )


def wait_until(page: Page, done: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Let the page run until `done()`; Playwright's handlers run while it waits."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"no {what} within {timeout:g} s"
        page.wait_for_timeout(100)


# --- sign in -------------------------------------------------------------------------------------


def test_sign_in_shows_field_errors_beside_their_fields_then_a_401_then_signs_in(
    tabs: Callable[[], Tab], account: Account
) -> None:
    page = tabs().open().page
    username, password = page.get_by_label("Username"), page.get_by_label("Password")
    alert = page.locator("#sign-in-form [data-alert]")
    expect(username).to_be_focused()

    with page.expect_response(answer("POST", TOKEN)) as blank:
        page.keyboard.press("Enter")  # the empty form, from the keyboard
    expect(page.locator("#sign-in-username-error")).to_have_text("This field may not be blank.")
    expect(page.locator("#sign-in-password-error")).to_have_text("This field may not be blank.")
    expect(username).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(username).to_be_focused()  # the first field in error
    assert shown_error(alert) == ("Validation error", blank.value.headers["x-correlation-id"])

    username.fill(account.username)
    password.fill("not-the-password")
    with page.expect_response(answer("POST", TOKEN)) as refused:
        password.press("Enter")
    assert refused.value.status == 401
    message, correlation_id = shown_error(alert)
    assert message == "Unable to log in with the provided credentials."
    assert correlation_id == refused.value.headers["x-correlation-id"]
    assert UUID.match(correlation_id)
    expect(page.locator("#sign-in-username-error")).to_be_empty()  # the old errors are gone
    expect(username).not_to_have_attribute("aria-invalid", "true")

    password.fill(PASSWORD)
    password.press("Enter")
    expect(page.locator("#session-user")).to_have_text(account.username)
    expect(page.locator("#sign-in")).to_be_hidden()
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    expect(page.locator("#announcer")).to_have_text(f"Signed in as {account.username}.")


def test_the_copy_button_copies_the_correlation_id(
    tabs: Callable[[], Tab], account: Account
) -> None:
    page = tabs().open().page
    page.get_by_label("Username").fill(account.username)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    _, correlation_id = shown_error(page.locator("#sign-in-form [data-alert]"))

    copy = page.get_by_role("button", name=f"Copy correlation ID {correlation_id}")
    copy.focus()
    page.keyboard.press("Enter")

    expect(copy).to_have_text("Copied")
    expect(page.locator("#announcer")).to_have_text("Correlation ID copied.")
    assert page.evaluate("navigator.clipboard.readText()") == correlation_id


def test_too_many_sign_ins_get_a_countdown_from_retry_after(
    tabs: Callable[[], Tab], account: Account
) -> None:
    tab = tabs()
    tab.page.clock.install()  # the countdown's timers run on a clock the test moves
    page = tab.open().page
    page.get_by_label("Username").fill(account.username)
    page.get_by_label("Password").fill("wrong")
    submit = page.get_by_role("button", name="Sign in")
    alert = page.locator("#sign-in-form [data-alert]")
    for _ in range(LOGIN_RATE):
        with page.expect_response(answer("POST", TOKEN)) as attempt:
            submit.click()
        assert attempt.value.status == 401
        expect(submit).to_be_enabled()

    with page.expect_response(answer("POST", TOKEN)) as throttled:
        submit.click()
    assert throttled.value.status == 429
    retry_after = int(throttled.value.headers["retry-after"])
    message, correlation_id = shown_error(alert)
    assert message.startswith("Request was throttled.")
    assert correlation_id == throttled.value.headers["x-correlation-id"]
    seconds = alert.get_by_role("timer")
    expect(seconds).to_have_text(re.compile(r"^\d+$"))
    first = int(seconds.inner_text())
    assert retry_after - 1 <= first <= retry_after
    expect(alert.locator(".retry")).to_have_text(f"Try again in {first} s.")
    expect(submit).to_be_disabled()  # another attempt would only be refused again

    page.clock.fast_forward(20_000)
    expect(seconds).to_have_text(str(first - 20))
    expect(submit).to_be_disabled()

    page.clock.fast_forward((first - 20) * 1000)
    expect(alert.locator(".retry")).to_have_text("You can try again now.")
    expect(submit).to_be_enabled()
    expect(page.locator("#announcer")).to_have_text("You can try again now.")
    assert shown_error(alert) == (message, correlation_id)  # the error itself stays


def test_the_token_stays_in_the_tab_and_signing_out_revokes_it(
    tabs: Callable[[], Tab], account: Account, service: Service
) -> None:
    tab = tabs().open().sign_in(account)
    token = tab.session_token()

    tab.page.reload()  # sessionStorage: the tab stays signed in
    expect(tab.page.locator("#session-user")).to_have_text(account.username)
    assert tab.page.evaluate("localStorage.length") == 0
    assert tab.context.cookies() == []
    other = tabs().open()  # another tab does not share it: it signs in for itself
    expect(other.page.locator("#session")).to_be_hidden()

    tab.page.get_by_role("button", name="Sign out").click()
    expect(tab.page.locator("#sign-in")).to_be_visible()
    expect(tab.stream_state).to_be_hidden()
    assert tab.page.evaluate("sessionStorage.length") == 0
    expect(tab.page.locator("#announcer")).to_have_text("Signed out.")
    with httpx.Client(base_url=service.url) as client:
        answer = client.get(WORKSPACES, headers={"Authorization": f"Token {token}"})
    assert answer.status_code == 401


def test_a_session_that_ends_on_the_server_returns_to_sign_in_with_the_reason(
    tabs: Callable[[], Tab], account: Account, service: Service
) -> None:
    tab = tabs().open().sign_in(account)
    with httpx.Client(base_url=service.url) as client:
        revoked = client.post(
            "/api/auth/logout/", headers={"Authorization": f"Token {tab.session_token()}"}
        )
    assert revoked.status_code == 204

    with tab.page.expect_response(answer("GET", WORKSPACES)) as refused:
        tab.page.get_by_role("button", name="Reload").click()

    assert refused.value.status == 401
    expect(tab.page.locator("#sign-in")).to_be_visible()
    alert = tab.page.locator("#sign-in-form [data-alert]")
    expect(alert.locator(".error-lead")).to_have_text("Your session has ended; sign in again.")
    message, correlation_id = shown_error(alert)
    assert message == json.loads(refused.value.text())["error"]["message"]
    assert correlation_id == refused.value.headers["x-correlation-id"]
    expect(tab.stream_state).to_be_hidden()
    assert tab.page.evaluate("sessionStorage.length") == 0


# --- workspaces ----------------------------------------------------------------------------------


def test_workspaces_are_created_renamed_and_deleted_from_the_keyboard(
    tabs: Callable[[], Tab], account: Account
) -> None:
    tab = tabs().open().sign_in(account)
    page = tab.page
    expect(page.locator("#workspace-empty")).to_be_visible()

    page.keyboard.type("Alpha")  # the name field has the focus after signing in
    page.keyboard.press("Tab")
    page.keyboard.type("The first one")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Create")).to_be_focused()
    page.keyboard.press("Enter")
    expect(tab.row("Alpha")).to_contain_text("The first one")
    expect(page.locator("#workspace-count")).to_have_text("(1)")
    expect(page.locator("#announcer")).to_have_text("Created workspace Alpha.")
    expect(page.get_by_label("Name", exact=True)).to_have_value("")

    rename = page.get_by_role("button", name="Rename Alpha")
    rename.focus()
    page.keyboard.press("Enter")
    field = page.get_by_label("New name")
    expect(field).to_be_focused()
    page.keyboard.press("Escape")  # cancels, and gives the focus back
    expect(field).to_be_hidden()
    expect(rename).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.type("Beta")  # the old name was selected: typing replaces it
    page.keyboard.press("Enter")
    expect(tab.row("Beta")).to_be_visible()
    expect(page.get_by_role("button", name="Rename Beta")).to_be_focused()
    assert tab.names() == ["Beta"]

    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Delete Beta")).to_be_focused()
    page.keyboard.press("Enter")
    confirm = page.get_by_role("button", name="Delete for good")
    expect(confirm).to_be_focused()
    expect(tab.row("Beta").locator(".confirm-text")).to_have_text("Delete Beta?")
    page.keyboard.press("Enter")
    expect(page.locator("#workspace-list > li")).to_have_count(0)
    expect(page.locator("#workspace-empty")).to_be_visible()
    expect(page.locator("#announcer")).to_have_text("Deleted workspace Beta.")
    expect(page.locator("#list-title")).to_be_focused()


def test_validation_errors_and_conflicts_appear_beside_their_fields(
    tabs: Callable[[], Tab], account: Account
) -> None:
    tab = tabs().open().sign_in(account)
    page = tab.page
    name_error = page.locator("#create-name-error")
    alert = page.locator("#create-form [data-alert]")

    with page.expect_response(answer("POST", WORKSPACES)) as invalid:
        tab.create("", "x" * 1001)
    assert invalid.value.status == 400
    expect(name_error).to_have_text("This field may not be blank.")
    expect(page.locator("#create-description-error")).to_have_text(
        "Ensure this field has no more than 1000 characters."
    )
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    assert shown_error(alert) == ("Validation error", invalid.value.headers["x-correlation-id"])

    tab.create("Project X")
    expect(tab.row("Project X")).to_be_visible()
    expect(name_error).to_be_empty()
    expect(alert).to_be_empty()

    with page.expect_response(answer("POST", WORKSPACES)) as conflict:
        tab.create("project x")  # names are unique per owner, whatever their case
    assert conflict.value.status == 409
    # The conflict, with its correlation id, beside the name field; not in the form's alert.
    message, correlation_id = shown_error(name_error)
    assert message == "A workspace named 'project x' already exists"
    assert correlation_id == conflict.value.headers["x-correlation-id"]
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(alert).to_be_empty()

    tab.create("Project Y")
    expect(tab.row("Project Y")).to_be_visible()
    tab.row("Project Y").get_by_role("button", name="Rename").click()
    field = tab.row("Project Y").get_by_label("New name")
    field.fill("PROJECT X")
    with page.expect_response(answer("PATCH", WORKSPACES)) as renamed:
        field.press("Enter")
    assert renamed.value.status == 409
    message, correlation_id = shown_error(tab.row("Project Y").locator('[data-error-for="name"]'))
    assert message == "A workspace named 'PROJECT X' already exists"
    assert correlation_id == renamed.value.headers["x-correlation-id"]
    expect(field).to_have_attribute("aria-invalid", "true")
    assert tab.names() == ["Project X", "Project Y"]


def test_a_german_browser_gets_the_console_and_its_errors_in_german(
    tabs: Callable[..., Tab], account: Account
) -> None:
    tab = tabs(locale="de-DE").open()
    page = tab.page
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
    username, password = page.get_by_label("Benutzername"), page.get_by_label("Passwort")
    alert = page.locator("#sign-in-form [data-alert]")

    with page.expect_response(answer("POST", TOKEN)) as blank:
        page.get_by_role("button", name="Anmelden").click()
    assert blank.value.status == 400
    assert blank.value.headers["content-language"] == "de"
    # DRF's field messages, beside their fields, in the browser's language.
    expect(page.locator("#sign-in-username-error")).to_have_text(
        "Dieses Feld darf nicht leer sein."
    )
    expect(page.locator("#sign-in-password-error")).to_have_text(
        "Dieses Feld darf nicht leer sein."
    )
    message, correlation_id = shown_error(alert)
    assert correlation_id == blank.value.headers["x-correlation-id"]
    expect(alert.locator(".correlation")).to_have_text(
        f"Korrelations-ID: {correlation_id} Kopieren"
    )
    # The envelope's own message, the errors catalog's "Validation error", rendered in German.
    entry = catalog.get("validation_error")
    assert entry is not None
    with translation.override("de"):
        german = str(entry.message)
    assert german != "Validation error" and message == german, (message, german)

    username.fill(account.username)
    password.fill(PASSWORD)
    password.press("Enter")
    expect(page.locator("#session-user")).to_have_text(account.username)
    expect(page.locator("#announcer")).to_have_text(f"Angemeldet als {account.username}.")
    expect(tab.stream_state).to_have_text("Verbunden")

    name_error = page.locator("#create-name-error")
    page.get_by_label("Name", exact=True).fill("")
    page.get_by_label("Beschreibung").fill("x" * 1001)
    with page.expect_response(answer("POST", WORKSPACES)) as invalid:
        page.get_by_role("button", name="Erstellen").click()
    assert invalid.value.status == 400
    expect(name_error).to_have_text("Dieses Feld darf nicht leer sein.")
    expect(page.locator("#create-description-error")).to_have_text(
        "Stellen Sie sicher, dass dieses Feld nicht mehr als 1000 Zeichen lang ist."
    )

    page.get_by_label("Name", exact=True).fill("Projekt X")
    page.get_by_label("Beschreibung").fill("")
    page.get_by_role("button", name="Erstellen").click()
    expect(tab.row("Projekt X")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("projekt x")
    with page.expect_response(answer("POST", WORKSPACES)) as conflict:
        page.get_by_role("button", name="Erstellen").click()
    assert conflict.value.status == 409
    # The service's own message, its placeholder filled in (errors' `params`).
    message, _ = shown_error(name_error)
    assert message == "Es gibt bereits einen Arbeitsbereich namens „projekt x“"
    assert conflict.value.json()["error"]["details"] == {"name": "projekt x"}


def test_a_workspace_another_tab_deleted_is_reported_gone_and_the_list_updates(
    tabs: Callable[[], Tab], account: Account, service: Service
) -> None:
    tab = tabs().open().sign_in(account)
    page = tab.page
    for name in ("Kept", "Renamed elsewhere", "Gone 1", "Gone 2"):
        tab.create(name)
        expect(tab.row(name)).to_be_visible()
    page.get_by_role("button", name="Disconnect").click()  # no live events: the list goes stale
    expect(tab.stream_state).to_have_text("Disconnected")
    with api(service, account) as other:
        ids = {item["name"]: item["id"] for item in other.get(WORKSPACES).json()["results"]}
        for name in ("Gone 1", "Gone 2"):
            assert other.delete(f"{WORKSPACES}{ids[name]}/").status_code == 204
        other.patch(f"{WORKSPACES}{ids['Renamed elsewhere']}/", json={"name": "New name"})
    assert tab.names() == ["Kept", "Renamed elsewhere", "Gone 1", "Gone 2"]

    tab.row("Gone 1").get_by_role("button", name="Rename").click()
    tab.row("Gone 1").get_by_label("New name").fill("Too late")
    with page.expect_response(answer("PATCH", WORKSPACES)) as missing:
        tab.row("Gone 1").get_by_role("button", name="Save").click()

    assert missing.value.status == 404
    alert = page.locator("#list-alert")
    expect(alert.locator(".error-lead")).to_have_text(
        "Gone 1 no longer exists: it was deleted elsewhere."
    )
    assert shown_error(alert) == ("Workspace not found", missing.value.headers["x-correlation-id"])
    # The list is reloaded: the other deletion and the rename show too.
    expect(page.locator("#workspace-list .workspace-name")).to_have_text(["Kept", "New name"])
    expect(page.locator("#workspace-count")).to_have_text("(2)")


# --- changed elsewhere ---------------------------------------------------------------------------


def only_workspace(other: httpx.Client) -> dict[str, Any]:
    """The user's one workspace, as the API lists it."""
    (workspace,) = other.get(WORKSPACES).json()["results"]
    return dict(workspace)


def conflict_of(form: Locator, refused: Any) -> Locator:
    """The "changed elsewhere" error `form` shows for the 412 `refused`; its alert region."""
    assert refused.status == 412
    alert = form.locator("[data-alert]")
    expect(alert.locator(".error-lead")).to_have_text("This workspace was changed elsewhere.")
    message, correlation_id = shown_error(alert)
    assert message == "The resource was changed since you loaded it"
    assert correlation_id == refused.headers["x-correlation-id"]
    return alert


def test_a_rename_of_a_workspace_changed_elsewhere_is_refused_then_overwrites_on_request(
    tabs: Callable[[], Tab], account: Account, service: Service
) -> None:
    tab = tabs().open().sign_in(account)
    page = tab.page
    tab.create("Draft")
    expect(tab.row("Draft")).to_be_visible()
    with api(service, account) as other:
        workspace = only_workspace(other)
        assert workspace["version"] == 1
        path = f"{WORKSPACES}{workspace['id']}/"
        row = page.locator(f"#workspace-{workspace['id']}")
        row.get_by_role("button", name="Rename").click()
        row.get_by_label("New name").fill("Mine")

        # Meanwhile another client renames it: the live event updates the list underneath.
        changed = other.patch(path, json={"name": "Theirs"})
        assert changed.json()["version"] == 2
        expect(row.locator(".workspace-name")).to_have_text("Theirs")
        with page.expect_response(answer("PATCH", WORKSPACES)) as refused:
            row.get_by_role("button", name="Save").click()
        # Made from the version the form was opened on.
        assert refused.value.request.headers["if-match"] == '"1"'
        alert = conflict_of(row.locator(".rename-form"), refused.value)
        expect(alert.get_by_role("button", name="Reload")).to_be_focused()
        assert other.get(path).json()["name"] == "Theirs"  # nothing was overwritten

        page.keyboard.press("Tab")
        overwrite = alert.get_by_role("button", name="Overwrite")
        expect(overwrite).to_be_focused()
        with page.expect_response(answer("PATCH", WORKSPACES)) as overwritten:
            page.keyboard.press("Enter")
        assert overwritten.value.status == 200
        assert overwritten.value.request.headers["if-match"] == '"2"'  # the 412's ETag
        assert overwritten.value.request.post_data_json == {"name": "Mine"}
        expect(row.locator(".workspace-name")).to_have_text("Mine")
        expect(row.locator(".rename-form")).to_be_hidden()
        expect(page.get_by_role("button", name="Rename Mine")).to_be_focused()
        expect(page.locator("#announcer")).to_have_text("Renamed to Mine.")
        now = other.get(path)
        assert (now.json()["name"], now.json()["version"], now.headers["etag"]) == (
            "Mine",
            3,
            '"3"',
        )

        # The version shown is the answer's: the next rename is made from version 3.
        row.get_by_role("button", name="Rename").click()
        row.get_by_label("New name").fill("Mine again")
        with page.expect_response(answer("PATCH", WORKSPACES)) as saved:
            row.get_by_label("New name").press("Enter")
        assert saved.value.status == 200
        assert saved.value.request.headers["if-match"] == '"3"'
    expect(row.locator(".workspace-name")).to_have_text("Mine again")


def test_reload_after_a_refused_rename_shows_the_other_change_and_overwrites_nothing(
    tabs: Callable[[], Tab], account: Account, service: Service
) -> None:
    tab = tabs().open().sign_in(account)
    page = tab.page
    tab.create("Draft", "as it was")
    expect(tab.row("Draft")).to_be_visible()
    page.get_by_role("button", name="Disconnect").click()  # no live event tells the list
    expect(tab.stream_state).to_have_text("Disconnected")
    with api(service, account) as other:
        workspace = only_workspace(other)
        path = f"{WORKSPACES}{workspace['id']}/"
        row = page.locator(f"#workspace-{workspace['id']}")
        row.get_by_role("button", name="Rename").click()
        row.get_by_label("New name").fill("Mine")
        other.patch(path, json={"name": "Theirs", "description": "changed elsewhere"})

        with page.expect_response(answer("PATCH", WORKSPACES)) as refused:
            row.get_by_label("New name").press("Enter")
        alert = conflict_of(row.locator(".rename-form"), refused.value)
        expect(row.locator(".workspace-name")).to_have_text("Draft")  # as far as the page knew

        with page.expect_response(answer("GET", path)) as reloaded:
            page.keyboard.press("Enter")  # on "Reload", which has the focus
        assert reloaded.value.status == 200
        expect(row.locator(".rename-form")).to_be_hidden()
        expect(alert).to_be_empty()
        expect(row.locator(".workspace-name")).to_have_text("Theirs")
        expect(row.locator(".workspace-description")).to_have_text("changed elsewhere")
        expect(page.get_by_role("button", name="Rename Theirs")).to_be_focused()
        expect(page.locator("#announcer")).to_have_text(
            "Reloaded Theirs: its current values are shown."
        )
        now = other.get(path).json()
        assert (now["name"], now["version"]) == ("Theirs", 2)

        # The edit was discarded: renaming again starts from what is there now.
        row.get_by_role("button", name="Rename").click()
        expect(row.get_by_label("New name")).to_have_value("Theirs")
        with page.expect_response(answer("PATCH", WORKSPACES)) as saved:
            row.get_by_label("New name").press("Enter")
        assert saved.value.status == 200
        assert saved.value.request.headers["if-match"] == '"2"'


def test_a_delete_of_a_workspace_changed_elsewhere_is_refused_then_done_on_request(
    tabs: Callable[[], Tab], account: Account, service: Service
) -> None:
    tab = tabs().open().sign_in(account)
    page = tab.page
    tab.create("Doomed")
    expect(tab.row("Doomed")).to_be_visible()
    with api(service, account) as other:
        workspace = only_workspace(other)
        path = f"{WORKSPACES}{workspace['id']}/"
        row = page.locator(f"#workspace-{workspace['id']}")
        row.get_by_role("button", name="Delete").click()
        other.patch(path, json={"description": "still needed?"})
        expect(row.locator(".workspace-description")).to_have_text("still needed?")

        with page.expect_response(answer("DELETE", WORKSPACES)) as refused:
            page.get_by_role("button", name="Delete for good").click()
        assert refused.value.request.headers["if-match"] == '"1"'
        alert = conflict_of(row.locator(".delete-form"), refused.value)
        expect(alert.get_by_role("button", name="Reload")).to_be_focused()
        assert other.get(path).status_code == 200  # not deleted

        with page.expect_response(answer("DELETE", WORKSPACES)) as deleted:
            alert.get_by_role("button", name="Delete anyway").click()
        assert deleted.value.status == 204
        assert deleted.value.request.headers["if-match"] == '"2"'
        expect(page.locator("#workspace-list > li")).to_have_count(0)
        expect(page.locator("#list-title")).to_be_focused()
        expect(page.locator("#announcer")).to_have_text("Deleted workspace Doomed.")
        assert other.get(path).status_code == 404


# --- the database away ---------------------------------------------------------------------------


def test_a_workspace_created_during_a_database_outage_is_retried_and_made_once(
    tabs: Callable[..., Tab],
    account: Account,
    tcp_proxy_factory: ProxyFactory,
    daphne_factory: DaphneFactory,
    django_db_blocker: Any,
) -> None:
    from django.db import connection

    settings = connection.settings_dict
    proxy = tcp_proxy_factory(
        str(settings.get("HOST") or "127.0.0.1"), int(settings.get("PORT") or 5432)
    )
    # The service's own Retry-After for a database outage (5 s): no setting shortens it.
    server = daphne_factory(
        {
            "DATABASE_URL": current_database_url(port=proxy.port),
            "REDIS_URL": os.environ["REDIS_URL"],
        }
    )
    tab = tabs(at=server).open().sign_in(account)
    page = tab.page
    posts: list[Any] = []
    page.on(
        "response",
        lambda response: posts.append(response) if answer("POST", WORKSPACES)(response) else None,
    )
    alert = page.locator("#create-form [data-alert]")
    create = page.get_by_role("button", name="Create")

    proxy.cut()
    tab.create("Made once")
    expect(alert.locator(".error-lead")).to_have_text(
        "Made once is not created yet: the service will be asked again."
    )
    assert [response.status for response in posts] == [503]
    message, correlation_id = shown_error(alert)
    refused = posts[0]
    error = json.loads(refused.text())["error"]
    assert (error["code"], error["message"]) == ("db_connection_error", message)
    assert correlation_id == refused.headers["x-correlation-id"]
    assert refused.headers["retry-after"] == "5"
    expect(alert.get_by_role("timer")).to_have_text(re.compile(r"^[1-5]$"))
    expect(alert.locator(".retry")).to_contain_text("Retrying in")
    expect(create).to_be_disabled()  # no second create while this one is on its way

    proxy.restore()
    expect(tab.row("Made once")).to_be_visible(timeout=60_000)
    expect(alert).to_be_empty()
    expect(create).to_be_enabled()
    expect(page.locator("#announcer")).to_have_text("Created workspace Made once.")
    assert posts[-1].status == 201
    assert all(response.status == 503 for response in posts[:-1]), [r.status for r in posts]
    # One operation: every attempt sent the same Idempotency-Key.
    keys = {response.request.headers["idempotency-key"] for response in posts}
    assert len(keys) == 1 and len(posts) >= 2, (keys, len(posts))
    with orm(django_db_blocker):
        made = Workspace.objects.filter(owner_id=account.user_id, name="Made once")
        assert made.count() == 1


# --- live events ---------------------------------------------------------------------------------


def test_two_tabs_of_one_user_see_each_others_changes_live(
    tabs: Callable[[], Tab], account: Account
) -> None:
    first = tabs().open().sign_in(account)
    second = tabs().open().sign_in(account)

    first.create("Shared")
    expect(second.row("Shared")).to_be_visible()
    expect(second.events().first).to_contain_text("Created Shared (another tab or client)")
    expect(first.events().first).to_contain_text("Created Shared (this tab)")
    expect(second.page.locator("#workspace-count")).to_have_text("(1)")

    second.row("Shared").get_by_role("button", name="Rename").click()
    second.row("Shared").get_by_label("New name").fill("Shared and renamed")
    second.row("Shared").get_by_role("button", name="Save").click()
    expect(first.row("Shared and renamed")).to_be_visible()
    expect(first.events().first).to_contain_text(
        "Updated Shared and renamed (another tab or client)"
    )

    first.row("Shared and renamed").get_by_role("button", name="Delete").click()
    first.page.get_by_role("button", name="Delete for good").click()
    expect(second.page.locator("#workspace-list > li")).to_have_count(0)
    expect(second.events().first).to_contain_text(
        "Deleted Shared and renamed (another tab or client)"
    )
    # Each event names the request that caused it: the one the other tab sent.
    assert first.events().nth(0).locator(".correlation-id").inner_text() == (
        second.events().nth(0).locator(".correlation-id").inner_text()
    )


@dataclass
class HeldTickets:
    """Ticket requests of a page held back until the test lets them go."""

    routes: list[Route]

    def __call__(self, route: Route) -> None:
        self.routes.append(route)


def stream_urls(page: Page) -> list[str]:
    """The event stream's URLs the page opens from now on."""
    urls: list[str] = []
    page.on(
        "request",
        lambda request: urls.append(request.url) if "/api/events/?" in request.url else None,
    )
    return urls


def query_of(url: str) -> dict[str, str]:
    return dict(httpx.URL(url).params)


def test_the_stream_recovers_through_a_server_restart_with_a_fresh_ticket_and_no_event_lost(
    tabs: Callable[[], Tab], account: Account, service: Service
) -> None:
    tab = tabs()
    page = tab.page
    opened = stream_urls(page)
    tab.open().sign_in(account)
    with api(service, account) as other:
        other.post(WORKSPACES, json={"name": "Before"})
        expect(tab.events().first).to_contain_text("Created Before")
        last_id = tab.events().first.get_attribute("data-event-id")
        held = HeldTickets([])
        page.route(TICKETS, held)

        service.stop()
        expect(tab.stream_state).to_have_text("Connecting…")
        expect(page.locator("#event-log .event-note").first).to_have_text(
            "Connection lost; reconnecting."
        )
        # While the server is down, what the console asks for fails as "Server unreachable".
        wait_until(page, lambda: len(held.routes) == 1, "ticket request")
        held.routes[0].continue_()
        message, correlation_id = shown_error(page.locator("#live-alert"))
        assert message == "Server unreachable"
        assert UUID.match(correlation_id)
        page.get_by_role("button", name="Reload").click()
        assert shown_error(page.locator("#list-alert"))[0] == "Server unreachable"

        service.start()  # a new process, the same port; events made before the stream is back:
        wait_until(page, lambda: len(held.routes) == 2, "second ticket request")
        for name in ("During 1", "During 2"):
            assert other.post(WORKSPACES, json={"name": name}).status_code == 201
        held.routes[1].continue_()
        page.unroute(TICKETS)

        expect(tab.stream_state).to_have_text("Connected")
        expect(tab.events().locator(".event-what")).to_have_text(
            ["Created During 2", "Created During 1", "Created Before"]
        )
    expect(page.locator("#live-alert")).to_be_empty()  # the break is over
    expect(page.locator("#event-log .event-note").first).to_have_text(
        "Reconnected; missed events, if any, were replayed."
    )
    assert tab.names() == ["Before", "During 1", "During 2"]
    expect(page.locator("#events-lost")).to_be_hidden()
    # The second connection: a ticket of its own, resuming after the last event seen.
    assert len(opened) == 2, opened
    first, second = query_of(opened[0]), query_of(opened[1])
    assert "last_event_id" not in first
    assert second["last_event_id"] == last_id
    assert second["ticket"] != first["ticket"]


def test_events_the_server_no_longer_holds_are_reported_lost_and_the_list_reloaded(
    tabs: Callable[[], Tab], account: Account, service: Service
) -> None:
    tab = tabs().open().sign_in(account)
    page = tab.page
    with api(service, account) as other:
        other.post(WORKSPACES, json={"name": "Seen"})
        expect(tab.events().first).to_contain_text("Created Seen")
        held = HeldTickets([])
        page.route(TICKETS, held)
        service.stop()
        service.start()
        wait_until(page, lambda: len(held.routes) == 1, "ticket request")
        # More events than the replay buffer keeps: "Seen" and the first ones fall out of it.
        missed = [f"Missed {n}" for n in range(1, REPLAY_BUFFER + 2)]
        for name in missed:
            assert other.post(WORKSPACES, json={"name": name}).status_code == 201
        held.routes[0].continue_()
        page.unroute(TICKETS)

    lost = page.locator("#events-lost")
    expect(lost).to_be_visible()
    expect(lost.locator(".error-lead")).to_have_text(
        "Some events were missed; the list was reloaded."
    )
    expect(lost.locator(".error-message")).not_to_be_empty()
    expect(tab.stream_state).to_have_text("Connected")
    expect(page.locator("#workspace-list .workspace-name")).to_have_text(["Seen", *missed])
    expect(page.locator("#workspace-count")).to_have_text(f"({len(missed) + 1})")


def test_a_page_on_another_origin_signs_in_and_streams_with_a_ticket(
    browser: Browser, service: Service, origin_site: OriginSite, account: Account
) -> None:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{origin_site.url}/index.html?service={service.url}")
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        assert page.evaluate("location.origin") != service.url
        page.get_by_label("Username").fill(account.username)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_request(lambda request: "/api/events/?" in request.url) as stream:
            page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#state")).to_have_text("open")
        assert len(query_of(stream.value.url)["ticket"]) == 43

        with api(service, account) as other:
            other.post(WORKSPACES, json={"name": "Across origins"})

        expect(page.locator("#events li")).to_have_text(["workspace.created Across origins"])
        expect(page.locator("#error")).to_be_empty()
    finally:
        context.close()
    assert errors == []
