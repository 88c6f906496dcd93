"""Wiring of the AMI side: AMI client → live model → metrics, and a call log if given.

    ami = start_ami(reactor, config.ami, metrics.registry, None)       # a read-only live view
    ami.write_calls(QueueCallLog(writer, recordings_dir=…, clock=reactor))   # records too

The client's events feed the model; the model's changes feed the call log (any subscriber of
the model: hotline.calllog.queue_events.QueueCallLog in the service, which the composition
root builds, so that this package never imports the call log that imports it); the metrics
read the model. Without a call log (the desk role, an ivr node without the writer's lease)
the model is a read-only live view; `write_calls` / `stop_writing` attach and detach one.
After every login the model is re-based on QueueStatus and CoreShowChannels (events arriving
meanwhile are held and replayed on top). While Asterisk is away the rest of the service keeps
working: the model keeps its last state marked disconnected, actions fail
fast with AmiNotConnected, and the client retries with exponential backoff.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint

from hotline.ami import actions
from hotline.ami.client import AmiClient
from hotline.ami.live import Change, LiveModel, LiveSnapshot
from hotline.ami.metrics import AmiMetrics
from hotline.config import AmiConfig

#: What turns the model's changes into call records (hotline.calllog.queue_events.QueueCallLog).
CallLogSubscriber = Callable[[Change], None]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10
RESYNC_TIMEOUT_SECONDS = 30.0


@dataclass
class AmiService:
    """The running AMI side: what the desk, the scheduler and the metrics hold on to."""

    client: AmiClient
    model: LiveModel
    call_log: CallLogSubscriber | None
    metrics: AmiMetrics
    enabled: bool = True
    resyncs: int = 0
    _resync: Deferred[bool] | None = field(default=None, repr=False)
    _unsubscribe: Callable[[], None] | None = field(default=None, repr=False)

    def write_calls(self, call_log: CallLogSubscriber) -> None:
        """From now on the model's changes go to `call_log` (this process holds the writer's
        lease); the model is re-based on Asterisk's view first if connected."""
        self.stop_writing()
        self.call_log = call_log
        self._unsubscribe = self.model.subscribe(self.call_log)
        if self.client.connected:
            self.resync()

    def stop_writing(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe, self.call_log = None, None

    def snapshot(self) -> LiveSnapshot:
        return self.model.snapshot()

    def stop(self) -> Deferred[None]:
        self.metrics.stop()
        return self.client.stop()

    def resync(self) -> Deferred[bool]:
        """Re-base the live model on Asterisk's own view; fires True if it was applied."""
        if self._resync is not None:
            return self._resync
        self.model.begin_resync()
        queues = self.client.send(actions.queue_status(timeout=RESYNC_TIMEOUT_SECONDS))
        channels = self.client.send(actions.core_show_channels(timeout=RESYNC_TIMEOUT_SECONDS))
        pending: Deferred[bool] = DeferredList([queues, channels], consumeErrors=True).addCallback(self._resynced)
        if not pending.called:
            self._resync = pending
        return pending

    def _resynced(self, results: list[tuple[bool, Any]]) -> bool:
        self._resync = None
        (queues_ok, queues), (channels_ok, channels) = results
        if not queues_ok:
            log.warning("AMI: resync failed (QueueStatus: %s); the live model keeps its last state", queues.getErrorMessage())
            self.model.abort_resync()
            return False
        if not channels_ok:
            denied = getattr(channels.value, "message", "") == "Permission denied"
            hint = "; the AMI user lacks the write class it needs (docs/ami.md; hotline asterisk-config check-manager)" if denied else ""
            log.warning("AMI: CoreShowChannels failed during resync (%s); channels not resynchronised%s", channels.getErrorMessage(), hint)
        self.model.finish_resync(queues.events, channels.events if channels_ok else None)
        self.resyncs += 1
        self.metrics.refresh()
        snapshot = self.model.snapshot()
        log.info(
            "AMI: live model resynchronised: %d queue(s), %d caller(s) waiting, %d channel(s)",
            len(snapshot.queues),
            sum(len(q.callers) for q in snapshot.queues),
            len(snapshot.channels),
        )
        return True

    def _connection_changed(self, connected: bool) -> None:
        self.model.set_connected(connected)
        if connected:
            self.resync()
        self.metrics.refresh()


def ami_endpoint(reactor: Any, host: str, port: int, timeout: int = CONNECT_TIMEOUT_SECONDS) -> IStreamClientEndpoint:
    """TCP to the manager port; IP literals need no resolver, 'localhost' goes through one."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return HostnameEndpoint(reactor, host, port, timeout=timeout)
    if address.version == 6:
        return TCP6ClientEndpoint(reactor, host, port, timeout=timeout)  # type: ignore[no-untyped-call]  # unannotated in Twisted, unlike TCP4ClientEndpoint
    return TCP4ClientEndpoint(reactor, host, port, timeout=timeout)


def start_ami(
    reactor: Any,
    config: AmiConfig,
    registry: CollectorRegistry,
    call_log: CallLogSubscriber | None,
    *,
    endpoint: IStreamClientEndpoint | None = None,
    retry_policy: Callable[[int], float] | None = None,
    action_ids: Iterator[str] | None = None,
    ping_interval: float = 20.0,
) -> AmiService:
    """Build and start the AMI side; with `config.enabled` false it builds the model and the
    metrics (hotline_ami_connected stays 0) but never connects."""
    model = LiveModel(reactor)
    address = f"{config.host}:{config.port}"
    client = AmiClient(
        reactor,
        endpoint if endpoint is not None else ami_endpoint(reactor, config.host, config.port),
        config.username,
        config.password,
        address=address,
        retry_policy=retry_policy,
        action_ids=action_ids,
        ping_interval=ping_interval,
    )
    metrics = AmiMetrics(registry, model, client, clock=reactor)
    service = AmiService(client=client, model=model, call_log=None, metrics=metrics, enabled=config.enabled)
    client.subscribe(model.apply)
    if call_log is not None:
        service.write_calls(call_log)
    client.on_connection(service._connection_changed)
    metrics.start()
    if config.enabled:
        log.info("AMI: connecting to %s as %s", address, config.username)
        client.start()
    else:
        log.info("AMI disabled ([ami] enabled = false): no live queue state")
    reactor.addSystemEventTrigger("before", "shutdown", service.stop)
    return service


__all__ = ["AmiService", "ami_endpoint", "start_ami"]
