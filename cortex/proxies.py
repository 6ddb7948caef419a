"""The client's address behind reverse proxies that the service trusts (`TRUSTED_PROXIES`).

`X-Forwarded-For` is written by whoever sent the request, so it only says something about the
client when a proxy the service trusts appended to it. `TRUSTED_PROXIES` says which:

- empty (or `0`): none. The socket peer is the client; `X-Forwarded-For` is ignored.
- a count such as `1` or `2`: that many proxies stand in front of the service and every
  request passes all of them, so the client is the address that many hops from the right of
  `[X-Forwarded-For…, socket peer]`, i.e. the count-th entry from the right of the header
  (werkzeug's ProxyFix `x_for=` reads it the same way). A header with fewer entries did not
  come through them all: the peer is taken.
- comma-separated addresses and networks such as `10.0.0.0/8,127.0.0.1`: only a peer inside
  them is a proxy. The header is then read from the right, skipping addresses inside those
  networks; the first address outside them is the client (when all are inside, the leftmost).

An entry that is no IP address (`unknown`, garbage, a name) stops the reading and the peer is
taken: it never raises. `TrustedProxyMiddleware` puts the result in `REMOTE_ADDR`, which is what
Django and DRF's throttles (with `NUM_PROXIES = 0`) use; for a peer that is not trusted it
deletes the `X-Forwarded-For`, `-Proto`, `-Host` and `-Port` headers instead, so that
`SECURE_PROXY_SSL_HEADER`, `USE_X_FORWARDED_HOST` and the like only ever see what a trusted
proxy said.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from errors.addresses import IPAddress, IPNetwork, parse_address, parse_network
from errors.middleware import SyncAndAsyncMiddleware

# What a proxy tells the service about the original request; believed only from a trusted peer.
FORWARDED_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
)

_COUNT = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class TrustedProxies:
    """Which peers are proxies, and how to find the client behind them (module docstring)."""

    count: int = 0
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(
        cls, value: str | int | Sequence[str], *, name: str = "TRUSTED_PROXIES"
    ) -> TrustedProxies:
        """Read a setting's value: a count, or addresses/networks (a comma-separated string or a
        list); ImproperlyConfigured, naming `name`, for anything else."""
        if isinstance(value, bool):
            raise ImproperlyConfigured(f"{name} must be a count or networks; got {value!r}")
        if isinstance(value, int):
            count = value
        else:
            items = value.split(",") if isinstance(value, str) else list(value)
            entries = [str(item).strip() for item in items if str(item).strip()]
            if not entries:
                return cls()
            if len(entries) == 1 and _COUNT.fullmatch(entries[0]):
                count = int(entries[0])
            else:
                return cls(networks=tuple(_network(entry, name) for entry in entries))
        if count < 0:
            raise ImproperlyConfigured(f"{name} must be a count of at least 0; got {count}")
        return cls(count=count)

    def __bool__(self) -> bool:
        return bool(self.count or self.networks)

    def trusts(self, peer: str) -> bool:
        """Whether the socket peer is a proxy whose forwarded headers are believed."""
        if self.count:
            return True
        address = parse_address(peer) if self.networks else None
        return address is not None and self._inside(address)

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address for a request from `peer` (which `trusts`) with this header."""
        if not forwarded_for:
            return peer
        entries = forwarded_for.split(",")
        if self.count:
            if len(entries) < self.count:
                return peer
            address = parse_address(entries[-self.count])
            return peer if address is None else str(address)
        client: IPAddress | None = None
        for entry in reversed(entries):
            client = parse_address(entry)
            if client is None:
                return peer
            if not self._inside(client):
                break
        return peer if client is None else str(client)

    def _inside(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def _network(text: str, name: str) -> IPNetwork:
    try:
        return parse_network(text)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"{name} must be a count (such as 1) or comma-separated IP addresses and networks "
            f"(such as 10.0.0.0/8,127.0.0.1); {exc}"
        ) from None


@lru_cache(maxsize=8)
def _parsed(value: str | int | tuple[str, ...]) -> TrustedProxies:
    return TrustedProxies.parse(value)


def trusted_proxies() -> TrustedProxies:
    """`settings.TRUSTED_PROXIES`, parsed (once per value, so override_settings works)."""
    value = getattr(settings, "TRUSTED_PROXIES", "")
    if isinstance(value, TrustedProxies):
        return value
    if isinstance(value, list | tuple):
        value = tuple(str(item) for item in value)
    return _parsed(value)


def resolve_client(request: HttpRequest) -> None:
    """Put the client's address in `REMOTE_ADDR`, or drop forwarded headers of an untrusted peer."""
    meta = request.META
    peer = str(meta.get("REMOTE_ADDR") or "")
    proxies = trusted_proxies()
    if proxies.trusts(peer):
        meta["REMOTE_ADDR"] = proxies.client_address(peer, meta.get("HTTP_X_FORWARDED_FOR"))
        return
    for key in FORWARDED_HEADERS:
        meta.pop(key, None)
    # `request.headers` is built from META once; one built already would still show them.
    request.__dict__.pop("headers", None)


class TrustedProxyMiddleware(SyncAndAsyncMiddleware):
    """`resolve_client` for every request; sync and async capable. Put it right after
    `errors.middleware.CorrelationIdMiddleware`, before anything that reads the address."""

    def call(self, request: HttpRequest) -> Any:
        resolve_client(request)
        return self.get_response(request)

    async def acall(self, request: HttpRequest) -> Any:
        resolve_client(request)
        return await self.get_response(request)
