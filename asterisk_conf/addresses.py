"""`host:port` entries of the configuration as Asterisk's files need them; shared by the
renderer and its check (apart, so that neither imports the other's module for it)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class HostPort:
    host: str  # as written in a URL: IPv6 in brackets
    port: int
    addresses: tuple[str, ...]  # the IP addresses it stands for


def host_port(entry: str) -> HostPort:
    host, _, port = entry.rpartition(":")
    host = host.strip("[]")
    if host == "localhost":
        return HostPort("localhost", int(port), ("127.0.0.1", "::1"))
    address = ipaddress.ip_address(host)
    shown = f"[{address}]" if address.version == 6 else str(address)
    return HostPort(shown, int(port), (str(address),))
