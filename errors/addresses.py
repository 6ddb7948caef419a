"""IP addresses and networks as clients, proxies and settings write them: one parser for all."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_PORT = re.compile(r"[0-9]{1,5}")


def parse_address(text: str) -> IPAddress | None:
    """The IP address in `text` (port allowed: `192.0.2.1:443`, `[2001:db8::1]:443`), or None.

    `::ffff:a.b.c.d` becomes the IPv4 address: one client, one identity on a dual-stack socket.
    """
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not (rest[0] == ":" and _PORT.fullmatch(rest[1:]))):
            return None
        text = host
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
        if not _PORT.fullmatch(port):
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_network(text: str, *, strict: bool = True) -> IPNetwork:
    """The network `text` names (`10.0.0.0/8`; an address is a network of one); ValueError, with
    Python's reason, otherwise. With `strict`, host bits set (`10.0.0.1/8`) are an error too."""
    return ipaddress.ip_network(text.strip(), strict=strict)


def address_in(address: str, networks: Iterable[IPNetwork]) -> bool:
    """Whether `address` (as `parse_address` reads it) lies in one of `networks`; never for text
    that is no address."""
    ip = parse_address(address)
    return ip is not None and any(ip in network for network in networks)
