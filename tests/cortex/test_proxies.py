"""`TRUSTED_PROXIES` and `cortex.proxies.TrustedProxyMiddleware`: who the client is.

A view of this module answers with what the application sees of the request (REMOTE_ADDR,
`is_secure()`, the forwarded headers), through the service's whole middleware stack.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, JsonResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from cortex.proxies import TrustedProxies

ROOT = Path(__file__).resolve().parents[2]
FORWARDED = ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port")


def seen(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "remote_addr": request.META.get("REMOTE_ADDR"),
            "secure": request.is_secure(),
            "headers": {name: request.headers.get(name) for name in FORWARDED},
        }
    )


urlpatterns = [path("seen/", seen)]

as_seen_here = override_settings(
    ROOT_URLCONF=__name__, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
)


# --- the setting -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "count", "networks"),
    [
        ("", 0, []),
        (" ", 0, []),
        ("0", 0, []),
        ("1", 1, []),
        (" 2 ", 2, []),
        (3, 3, []),
        ("127.0.0.1", 0, ["127.0.0.1/32"]),
        ("10.0.0.0/8, 127.0.0.1,::1", 0, ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]),
        (["192.168.0.0/16", "fd00::/8"], 0, ["192.168.0.0/16", "fd00::/8"]),
        ([], 0, []),
    ],
)
def test_the_setting_is_a_count_or_networks(value: Any, count: int, networks: list[str]) -> None:
    proxies = TrustedProxies.parse(value)
    assert proxies.count == count
    assert [str(network) for network in proxies.networks] == networks
    assert bool(proxies) is bool(count or networks)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("-1", "at least 0"),
        ("10.0.0.1/8", "has host bits set"),
        ("10.0.0.300", "10.0.0.300"),
        ("1,2", "'1'"),
        ("proxy.internal", "proxy.internal"),
        ("*", "'*'"),
        (True, "True"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(value: Any, says: str) -> None:
    with pytest.raises(ImproperlyConfigured) as refused:
        TrustedProxies.parse(value)
    assert "TRUSTED_PROXIES" in str(refused.value)
    assert says in str(refused.value)


# --- the client address ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "peer", "forwarded_for", "client"),
    [
        # No trusted proxies: the peer, whatever the header says.
        ("", "203.0.113.9", "198.51.100.1", "203.0.113.9"),
        ("", "203.0.113.9", None, "203.0.113.9"),
        # A count: that many entries from the right.
        ("1", "10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("1", "10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client's own claim
        ("2", "10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.7", "198.51.100.1"),
        ("2", "10.0.0.2", "198.51.100.1", "10.0.0.2"),  # fewer hops than proxies: the peer
        ("1", "10.0.0.2", None, "10.0.0.2"),
        ("1", "10.0.0.2", "", "10.0.0.2"),
        # Networks: skip trusted addresses from the right, only behind a trusted peer.
        ("10.0.0.0/8", "10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.7", "198.51.100.1"),
        ("10.0.0.0/8", "10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.0/8", "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # untrusted peer
        ("10.0.0.0/8", "10.0.0.2", "10.1.1.1, 10.0.0.7", "10.1.1.1"),  # all inside: leftmost
        ("10.0.0.0/8", "10.0.0.2", None, "10.0.0.2"),
        ("127.0.0.1,::1", "::1", "2001:db8::5", "2001:db8::5"),
        ("127.0.0.1", "::ffff:127.0.0.1", "198.51.100.1", "198.51.100.1"),  # mapped peer
        # Entries with ports, brackets, mapped addresses are read; they are normalised.
        ("1", "10.0.0.2", "198.51.100.1:4711", "198.51.100.1"),
        ("1", "10.0.0.2", "[2001:DB8::5]:443", "2001:db8::5"),
        ("1", "10.0.0.2", "[2001:db8::5]", "2001:db8::5"),
        ("1", "10.0.0.2", "::ffff:198.51.100.1", "198.51.100.1"),
        # Anything malformed where the client should be: the peer, never an error.
        ("1", "10.0.0.2", "unknown", "10.0.0.2"),
        ("1", "10.0.0.2", "198.51.100.1:http", "10.0.0.2"),
        ("1", "10.0.0.2", "[2001:db8::5", "10.0.0.2"),
        ("1", "10.0.0.2", "[2001:db8::5]x", "10.0.0.2"),
        ("1", "10.0.0.2", "198.51.100.1,", "10.0.0.2"),
        ("1", "10.0.0.2", "\u0661.\u0662.\u0663.\u0664", "10.0.0.2"),  # Arabic-Indic digits
        ("1", "10.0.0.2", "x" * 10_000, "10.0.0.2"),
        ("10.0.0.0/8", "10.0.0.2", "198.51.100.1, garbage, 10.0.0.7", "10.0.0.2"),
        ("10.0.0.0/8", "10.0.0.2", "garbage, 198.51.100.1", "198.51.100.1"),  # left of it
        ("10.0.0.0/8", "", "198.51.100.1", ""),  # no peer address (a Unix socket)
    ],
)
def test_the_client_address(
    setting: str, peer: str, forwarded_for: str | None, client: str
) -> None:
    headers: dict[str, Any] = {}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    with as_seen_here, override_settings(TRUSTED_PROXIES=setting):
        response = Client().get("/seen/", REMOTE_ADDR=peer, **headers)
    assert response.status_code == 200
    assert response.json()["remote_addr"] == client


# --- the middleware, sync and async ----------------------------------------------------------

PROXY_HEADERS: dict[str, Any] = {
    "HTTP_X_FORWARDED_FOR": "198.51.100.1",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_X_FORWARDED_HOST": "api.example.com",
    "HTTP_X_FORWARDED_PORT": "443",
}
ALL_FORWARDED = dict(zip(FORWARDED, PROXY_HEADERS.values(), strict=True))
NONE_FORWARDED = dict.fromkeys(FORWARDED)


def sync_get(peer: str) -> dict[str, Any]:
    response = Client().get("/seen/", REMOTE_ADDR=peer, **PROXY_HEADERS)
    assert response.status_code == 200
    return dict(response.json())


class AsyncClientAt(AsyncClient):
    """An AsyncClient whose requests come from `peer` (the ASGI scope's `client`)."""

    def __init__(self, peer: str) -> None:
        super().__init__()
        self.peer = peer

    def _base_scope(self, **request: Any) -> dict[str, Any]:
        scope = super()._base_scope(**request)  # type: ignore[misc]  # not in django-stubs
        return {**scope, "client": [self.peer, 4711]}


def async_get(peer: str) -> dict[str, Any]:
    async def get() -> Any:
        headers = {key[5:].replace("_", "-"): value for key, value in PROXY_HEADERS.items()}
        return await AsyncClientAt(peer).get("/seen/", headers=headers)

    response = async_to_sync(get)()
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.parametrize("get", [sync_get, async_get], ids=["sync", "async"])
@pytest.mark.parametrize(
    ("setting", "peer", "expected"),
    [
        (
            "127.0.0.1",
            "127.0.0.1",
            {"remote_addr": "198.51.100.1", "secure": True, "headers": ALL_FORWARDED},
        ),
        (
            "1",
            "203.0.113.9",
            {"remote_addr": "198.51.100.1", "secure": True, "headers": ALL_FORWARDED},
        ),
        (
            "127.0.0.1",
            "203.0.113.9",
            {"remote_addr": "203.0.113.9", "secure": False, "headers": NONE_FORWARDED},
        ),
        ("", "127.0.0.1", {"remote_addr": "127.0.0.1", "secure": False, "headers": NONE_FORWARDED}),
    ],
    ids=["trusted-peer", "count", "untrusted-peer", "no-proxies"],
)
def test_forwarded_headers_count_only_from_a_trusted_proxy(
    get: Any, setting: str, peer: str, expected: dict[str, Any]
) -> None:
    with as_seen_here, override_settings(TRUSTED_PROXIES=setting):
        assert get(peer) == expected


def test_an_untrusted_peer_cannot_pass_for_https_to_the_ssl_redirect(db: Any) -> None:
    with override_settings(
        TRUSTED_PROXIES="10.0.0.0/8",
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
        SECURE_SSL_REDIRECT=True,
    ):
        client = Client(HTTP_X_FORWARDED_PROTO="https")
        direct = client.get("/healthz", REMOTE_ADDR="203.0.113.9")
        proxied = client.get("/healthz", REMOTE_ADDR="10.0.0.2")
    assert direct.status_code == 301
    assert direct["Location"] == "https://testserver/healthz"
    assert proxied.status_code == 200


# --- start-up --------------------------------------------------------------------------------


def start(**env: str) -> subprocess.CompletedProcess[str]:
    """Load the service's settings in a fresh process, as `manage.py` would."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    clean.update(DJANGO_SETTINGS_MODULE="cortex.settings", SECRET_KEY="x", **env)
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.TRUSTED_PROXIES, settings.SECURE_PROXY_SSL_HEADER)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_trusted_proxies_variable_refuses_to_start_naming_it() -> None:
    result = start(TRUSTED_PROXIES="10.0.0.0/33")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line
    assert "TRUSTED_PROXIES" in last_line
    assert "10.0.0.0/33" in last_line


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        ("", " None"),
        ("1", "1 ('HTTP_X_FORWARDED_PROTO', 'https')"),
        ("10.0.0.0/8", "10.0.0.0/8 ('HTTP_X_FORWARDED_PROTO', 'https')"),
    ],
)
def test_secure_proxy_ssl_header_is_set_with_trusted_proxies(value: str, printed: str) -> None:
    result = start(TRUSTED_PROXIES=value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip("\n") == printed
