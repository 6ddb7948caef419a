"""IP addresses and networks as clients, proxies and settings write them: one parser for all."""

from __future__ import annotations

import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_PORT = re.compile(r"[0-9]{1,5}")


def parse_address(text: str) -> IPAddress | None:
    """The IP address in `text`, a port allowed (docs/metrics.md), or None."""
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
    """The network `text` names (`10.0.0.0/8`, or an address); ValueError otherwise."""
    return ipaddress.ip_network(text.strip(), strict=strict)
