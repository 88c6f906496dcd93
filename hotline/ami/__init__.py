"""Asterisk Manager Interface: the client, the live model fed by its events, and what they
write to the call record and the metrics. See docs/ami.md.

Layers, bottom up: `codec` (framing, no I/O) → `client` (Twisted protocol and reconnecting
connection) with `actions` (typed, validated actions) → `live` (queues, agents, channels) →
`metrics` and `hotline.calllog.queue_events` (subscribers) → `service` (the wiring `hotline
serve` calls).
"""

from __future__ import annotations

from hotline.ami.client import (
    AmiActionError,
    AmiClient,
    AmiDisconnected,
    AmiError,
    AmiLoginFailed,
    AmiNotConnected,
    AmiTimeout,
)
from hotline.ami.live import LiveModel, LiveSnapshot
from hotline.ami.service import AmiService, start_ami

__all__ = [
    "AmiActionError",
    "AmiClient",
    "AmiDisconnected",
    "AmiError",
    "AmiLoginFailed",
    "AmiNotConnected",
    "AmiService",
    "AmiTimeout",
    "LiveModel",
    "LiveSnapshot",
    "start_ami",
]
