"""Whose request is this: the peer's address, or behind a proxy on this machine the client's.
Shared by the desk (audit, login throttling) and the Open311 API (rate limits)."""

from __future__ import annotations

import ipaddress
from typing import Any


def client_address(request: Any) -> str:
    """The client's address. Behind the supervisor's port or a reverse proxy on this machine the
    peer is loopback and the client's address is the last X-Forwarded-For entry; from anyone else
    that header is ignored, so a client cannot choose the address it is throttled by."""
    host = str(getattr(request.getClientAddress(), "host", "") or "unknown")
    forwarded = request.getHeader(b"x-forwarded-for")
    if forwarded and _is_loopback(host):
        last = forwarded.decode("latin-1").split(",")[-1].strip()
        if last:
            return str(last[:64])
    return host


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
