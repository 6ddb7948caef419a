"""The console's page at `/` and the files it loads, as a browser receives them.

The page must run under the service's Content-Security-Policy (scripts and styles of the
service only, nothing inline), be usable without a mouse or eyes (every field labelled, errors
in live regions), and load only files the service serves. What it does once loaded is tested in
a real browser by test_browser.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from posixpath import dirname, normpath
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

CONSOLE = "/"
STATIC = Path(__file__).resolve().parents[2] / "console" / "static" / "console"
# What the console's modules import: `import … from "<path>"` and `export … from "<path>"`.
IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;]*?\bfrom\s+["']([^"']+)["']""", re.MULTILINE)


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    in_template: bool  # inside a <template>, cloned by the script
    parent: Element | None
    text: str = ""
    children: list[Element] = field(default_factory=list)


class Page(HTMLParser):
    """The page's elements as a tree, with the text of <script> and <style> bodies."""

    VOID = frozenset({"meta", "link", "input", "br", "img", "hr", "source", "wbr"})

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        parent = self._open[-1] if self._open else None
        in_template = tag == "template" or bool(parent and parent.in_template)
        element = Element(tag, {k: v or "" for k, v in attrs}, in_template, parent)
        if parent is not None:
            parent.children.append(element)
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].text += data

    def all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        return [
            element
            for element in self.elements
            if (tag is None or element.tag == tag)
            and all(element.attrs.get(name.replace("_", "-")) == v for name, v in attrs.items())
        ]

    def one(self, tag: str | None = None, **attrs: str) -> Element:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, found)
        return found[0]


def ancestors(element: Element) -> list[Element]:
    found = []
    while element.parent is not None:
        element = element.parent
        found.append(element)
    return found


@pytest.fixture
def page(client: Client) -> Page:
    response = client.get(CONSOLE, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    return Page(response.content.decode())


def test_the_console_is_an_html_page_under_the_content_security_policy(client: Client) -> None:
    response = client.get(CONSOLE, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"].split()[0] == "'self'"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["style-src"]
    assert policy["connect-src"] == "'self'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Correlation-ID"]


def test_the_page_has_nothing_inline_that_the_policy_would_block(page: Page) -> None:
    scripts = page.all("script")
    # The one inline block is data (the scripts' words, JSON): browsers run no script of that
    # type, so the policy has nothing to allow for it.
    assert [(s.attrs.get("type"), s.attrs.get("src"), s.attrs.get("id")) for s in scripts] == [
        ("application/json", None, "console-strings"),
        ("module", "/static/console/console.js", None),
    ]
    assert all(not script.text.strip() for script in scripts if script.attrs.get("src"))
    assert isinstance(json.loads(scripts[0].text), dict)
    assert page.all("style") == []
    assert [link.attrs["href"] for link in page.all("link", rel="stylesheet")] == [
        "/static/console/console.css"
    ]
    for element in page.elements:
        assert "style" not in element.attrs, element
        assert not [name for name in element.attrs if name.startswith("on")], element
        for name in ("href", "src", "action"):
            value = element.attrs.get(name, "")
            assert not value.startswith(("http:", "https:", "//", "javascript:")), element


def test_the_api_paths_the_script_uses_come_from_the_urlconf(page: Page) -> None:
    config = page.one("main", id="console").attrs

    assert config["data-token-url"] == reverse("accounts:token") == "/api/auth/token/"
    assert config["data-logout-url"] == reverse("accounts:logout")
    assert config["data-workspaces-url"] == reverse("workspaces:list") == "/api/workspaces/"
    assert config["data-tickets-url"] == reverse("eventstream:tickets") == "/api/events/tickets/"
    assert config["data-stream-url"] == "/api/events/"


def test_every_field_has_a_label_and_its_error_beside_it(page: Page) -> None:
    fields = page.all("input") + page.all("textarea")
    assert len(fields) == 5  # username, password, name, description, and a row's new name

    for control in fields:
        if control.in_template:
            # The script gives a row's field and label their ids (one row per workspace); the
            # label and the error slot are in the field's own wrapper.
            wrapper = control.parent
            assert wrapper is not None
            assert [child.tag for child in wrapper.children][:2] == ["label", "input"]
            assert wrapper.children[2].attrs["data-error-for"] == control.attrs["name"]
            continue
        labels = page.all("label", **{"for": control.attrs["id"]})
        assert len(labels) == 1 and labels[0].text.strip(), control
        error = page.one(id=control.attrs["aria-describedby"])
        assert error.attrs["data-error-for"] == control.attrs["name"]


def test_errors_appear_in_live_regions_so_screen_readers_announce_them(page: Page) -> None:
    for slot in [e for e in page.elements if "data-error-for" in e.attrs]:
        assert slot.attrs["aria-live"] == "polite", slot
    alerts = [e for e in page.elements if "data-alert" in e.attrs]
    alerts += [page.one(id="list-alert"), page.one(id="live-alert"), page.one(id="events-lost")]
    for alert in alerts:
        assert alert.attrs["role"] == "alert", alert
    assert page.one(id="announcer").attrs["role"] == "status"
    assert page.one(id="stream-state").attrs["role"] == "status"
    assert page.one(id="event-log").attrs["aria-live"] == "polite"


def test_every_control_is_a_native_element_that_the_keyboard_reaches(page: Page) -> None:
    buttons = page.all("button")
    assert buttons
    for button in buttons:
        assert button.attrs.get("type") in {"button", "submit"}, button
        assert button.text.strip(), button
    # Nothing clickable that the keyboard cannot focus: no handlers on divs or spans, and no
    # element taken out of the tab order except the heading focus is moved to.
    assert [e.attrs.get("id") for e in page.elements if e.attrs.get("tabindex")] == ["list-title"]
    assert page.one(id="list-title").attrs["tabindex"] == "-1"
    for form in page.all("form"):
        assert "novalidate" in form.attrs  # the service's field errors are shown, not the browser's
        assert any(
            b.attrs.get("type") == "submit" for b in page.all("button") if form in ancestors(b)
        )


def test_every_module_the_console_imports_is_served(client: Client) -> None:
    """The console's modules import each other and the client by relative URL: each resolves."""
    pending, seen = ["/static/console/console.js"], set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        response: Any = client.get(path)
        assert response.status_code == 200, path
        source = response.content.decode()
        for target in IMPORT.findall(source):
            assert target.startswith(("./", "../")), (path, target)
            pending.append(normpath(f"{dirname(path)}/{target}"))

    assert seen == {
        "/static/console/console.js",
        "/static/console/alerts.js",
        "/static/console/signin.js",
        "/static/console/workspaces.js",
        "/static/console/live.js",
        "/static/console/strings.js",
        "/static/eventstream/stream.js",
        "/static/errors/client.js",
    }


def test_the_console_speaks_the_language_the_browser_asks_for(client: Client) -> None:
    response = client.get(CONSOLE, HTTP_ACCEPT="text/html", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")

    assert response["Content-Language"] == "de"
    assert "Accept-Language" in response["Vary"]
    page = Page(response.content.decode())
    assert page.one("html").attrs["lang"] == "de"
    assert page.one("h2", id="sign-in-title").text == "Anmelden"
    assert page.one("label", **{"for": "sign-in-username"}).text == "Benutzername"
    strings = json.loads(page.one("script", id="console-strings").text)
    assert strings["try_again_now"] == "Sie können es jetzt erneut versuchen."
    assert strings["signed_in_as"] == "Angemeldet als %(username)s."
    assert strings["changed_elsewhere"] == (
        "Dieser Arbeitsbereich wurde an anderer Stelle geändert."
    )
    assert strings["overwrite"] == "Überschreiben"
    assert strings["delete_anyway"] == "Trotzdem löschen"
    assert strings["retrying_in"] == "Neuer Versuch in %(seconds)s s."


@pytest.mark.parametrize("asked", ["pt-BR,pt;q=0.9", "", "xx"])
def test_a_language_the_console_does_not_speak_gets_english(client: Client, asked: str) -> None:
    response = client.get(CONSOLE, HTTP_ACCEPT="text/html", HTTP_ACCEPT_LANGUAGE=asked)

    assert response["Content-Language"] == "en"
    page = Page(response.content.decode())
    assert page.one("html").attrs["lang"] == "en"
    assert page.one("h2", id="sign-in-title").text == "Sign in"
    strings = json.loads(page.one("script", id="console-strings").text)
    assert strings["try_again_now"] == "You can try again now."


def test_every_word_the_scripts_show_has_its_key_in_the_page(page: Page) -> None:
    keys = set(json.loads(page.one("script", id="console-strings").text))
    used: set[str] = set()
    for name in ("alerts", "console", "live", "workspaces"):
        source = (STATIC / f"{name}.js").read_text("utf-8")
        used |= set(re.findall(r'\b(?:t|parts)\(\s*"(\w+)"', source))
        # Keys given by name in tables: events', states' and the countdown's words.
        used |= set(re.findall(r':\s*"((?:event|state|try_again|retrying)_\w+)"', source))
    assert used, "no t(...) calls found"
    assert used <= keys, sorted(used - keys)
