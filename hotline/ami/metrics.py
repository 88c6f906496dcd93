"""Prometheus gauges read from the live model and the AMI client.

`/metrics` is rendered by prometheus_client's WSGI app in the reactor's thread pool, while the
model changes on the reactor thread. So the reactor thread computes a small immutable
`figures()` tuple (every second, and at once on connect and resync) and `collect()` only reads
that tuple and a few integers: no lock, no dict iterated while it changes. The longest wait is
computed at scrape time from the oldest caller's join time, so it does not lag by a second.

Labels are bounded: queue names (from Asterisk's configuration) and the fixed availability
set of `hotline.ami.live.AVAILABILITY`; never a caller number, uniqueid or interface.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

from hotline.ami.client import AmiClient
from hotline.ami.live import LiveModel, QueueFigures

REFRESH_SECONDS = 1.0


class AmiMetrics:
    """A collector registered into the injected registry; `start()` keeps its figures fresh."""

    def __init__(self, registry: CollectorRegistry, model: LiveModel, client: AmiClient | None = None, clock: IReactorTime | None = None) -> None:
        self.model = model
        self.client = client
        self.clock = clock
        self._now = clock.seconds if clock is not None else time.time
        self._figures: tuple[QueueFigures, ...] = model.figures()
        self._loop: LoopingCall | None = None
        registry.register(self)

    def refresh(self) -> None:
        """Recompute the figures (reactor thread only)."""
        self._figures = self.model.figures()

    def start(self, interval: float = REFRESH_SECONDS) -> None:
        self._loop = LoopingCall(self.refresh)
        if self.clock is not None:
            self._loop.clock = self.clock
        self._loop.start(interval, now=True)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def describe(self) -> list[Metric]:
        return self._families(describe_only=True)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families(describe_only=False))

    def _families(self, describe_only: bool) -> list[Metric]:
        figures = () if describe_only else self._figures
        now = self._now()
        waiting = GaugeMetricFamily("hotline_queue_callers_waiting", "Callers waiting in the queue now", labels=["queue"])
        longest = GaugeMetricFamily("hotline_queue_longest_wait_seconds", "Wait of the longest-waiting caller", labels=["queue"])
        members = GaugeMetricFamily("hotline_queue_members", "Queue members by availability", labels=["queue", "state"])
        answered = CounterMetricFamily("hotline_queue_answered", "Queue calls answered by an agent (seen by this process)", labels=["queue"])
        abandoned = CounterMetricFamily("hotline_queue_abandoned", "Callers who hung up while waiting (seen by this process)", labels=["queue"])
        for figure in figures:
            waiting.add_metric([figure.name], figure.waiting)
            oldest = figure.oldest_joined_at
            longest.add_metric([figure.name], max(0.0, now - oldest) if oldest is not None else 0.0)
            for state, count in figure.members:
                members.add_metric([figure.name, state], count)
            answered.add_metric([figure.name], figure.answered)
            abandoned.add_metric([figure.name], figure.abandoned)
        client = self.client
        connected = GaugeMetricFamily("hotline_ami_connected", "1 while logged in to Asterisk's manager interface", value=1 if client is not None and client.connected else 0)
        reconnects = CounterMetricFamily("hotline_ami_reconnects", "Successful logins after the first one", value=client.reconnects if client is not None else 0)
        errors = CounterMetricFamily("hotline_ami_protocol_errors", "Received bytes skipped as not AMI", value=client.protocol_errors if client is not None else 0)
        events = CounterMetricFamily("hotline_ami_events", "AMI events received", value=client.events_received if client is not None else 0)
        return [waiting, longest, members, answered, abandoned, connected, reconnects, errors, events]
