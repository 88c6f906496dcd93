"""Wiring for `hotline serve`: AMI client → live model → call log and metrics.

    ami = start_ami(reactor, config.ami, metrics.registry, call_log,
                    recordings_dir=config.asterisk.recordings_dir)

The client's events feed the model; the model's changes feed the call log; the metrics read
the model. After every login the model is re-based on QueueStatus and CoreShowChannels
(events arriving meanwhile are held and replayed on top). While Asterisk is away the rest of
the service keeps working: the model keeps its last state marked disconnected, actions fail
fast with AmiNotConnected, and the client retries with exponential backoff.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint

from hotline.ami import actions
from hotline.ami.client import AmiClient
from hotline.ami.live import LiveModel, LiveSnapshot
from hotline.ami.metrics import AmiMetrics
from hotline.config import AmiConfig, AsteriskConfig

if TYPE_CHECKING:  # imported where used: hotline.calllog.queue_events imports hotline.ami.live
    from hotline.calllog.queue_events import CallLogWriter, QueueCallLog

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10
RESYNC_TIMEOUT_SECONDS = 30.0


@dataclass
class AmiService:
    """The running AMI side: what the desk, the scheduler and the metrics hold on to."""

    client: AmiClient
    model: LiveModel
    call_log: QueueCallLog
    metrics: AmiMetrics
    enabled: bool = True
    resyncs: int = 0
    _resync: Deferred[bool] | None = field(default=None, repr=False)

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
        return TCP6ClientEndpoint(reactor, host, port, timeout=timeout)
    return TCP4ClientEndpoint(reactor, host, port, timeout=timeout)


def start_ami(
    reactor: Any,
    config: AmiConfig,
    registry: CollectorRegistry,
    call_log_writer: CallLogWriter,
    *,
    recordings_dir: str = AsteriskConfig().recordings_dir,
    endpoint: IStreamClientEndpoint | None = None,
    retry_policy: Callable[[int], float] | None = None,
    action_ids: Iterator[str] | None = None,
    ping_interval: float = 20.0,
) -> AmiService:
    """Build and start the AMI side; with `config.enabled` false it builds the model and the
    metrics (hotline_ami_connected stays 0) but never connects."""
    from hotline.calllog.queue_events import QueueCallLog

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
    call_log = QueueCallLog(call_log_writer, recordings_dir=recordings_dir, clock=reactor)
    metrics = AmiMetrics(registry, model, client, clock=reactor)
    service = AmiService(client=client, model=model, call_log=call_log, metrics=metrics, enabled=config.enabled)
    client.subscribe(model.apply)
    model.subscribe(call_log)
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
