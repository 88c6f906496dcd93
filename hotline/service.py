"""The composition root: the one module that builds a role's services from the configuration.

A role is one process with one reactor (docs/architecture.md):

- ivr: FastAGI running the flows features register (entry points, hotline.plugins), its call
  log, and the AMI's call records while this process holds the writer's lease;
- desk: the HTTP side for people (today /healthz, /metrics; the desk and its API later) and a
  read-only live model of queues and agents from its own AMI connection;
- workers: background and scheduled jobs: the ticket gauges, the fallback-message sweep.

Every role: database and its thread pool → metrics → its work → HTTP /healthz and /metrics.
`hotline serve` runs them all under hotline.supervisor; `--role NAME` runs one here."""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass
from typing import Any

from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError

from hotline import __version__, plugins
from hotline.config import Config
from hotline.metrics import Metrics, TicketSnapshot
from hotline.reports import report
from hotline.settings import POLL_SECONDS, LiveSettings
from hotline.startup import configure_logging, freeze_start_up_objects, lower_priority
from hotline.storage import db
from hotline.storage.dbpool import DatabasePool
from hotline.storage.lease import LeaseKeeper, lease_for
from hotline.storage.models import utcnow
from hotline.tickets import kpi, media
from hotline.web.site import build_root, make_site

log = logging.getLogger(__name__)
GAUGE_INTERVAL_SECONDS = 30
ROLES = ("ivr", "desk", "workers")
#: Held by one process among every ivr node on the database: the AMI call-record writer.
AMI_WRITER_LEASE = "ami-writer"


class ServiceError(Exception):
    """The service cannot start; the message says why and what to do."""


@dataclass
class Service:
    config: Config
    pool: DatabasePool
    metrics: Metrics
    role: str = "ivr"
    http_port: Any = None
    fastagi_port: Any = None
    runner: Any = None
    ami: Any = None
    lease: Any = None
    reactor: Any = None
    #: The admin settings this role keeps current (hotline.settings.LiveSettings).
    settings: Any = None

    @property
    def http_address(self) -> tuple[str, int]:
        address = self.http_port.getHost()
        return address.host, address.port

    @property
    def fastagi_address(self) -> tuple[str, int]:
        address = self.fastagi_port.getHost()
        return address.host, address.port


def check_schema(database: db.Database) -> None:
    try:
        current = db.current_revision(database.engine)
    except Exception as exc:  # noqa: BLE001 - any driver error means the same thing here
        raise ServiceError(f"cannot reach the database ({exc.__class__.__name__}: {str(exc).splitlines()[0]})") from None
    head = db.head_revision()
    if current is None:
        raise ServiceError("the database is empty: run `hotline init` first")
    if current != head:
        raise ServiceError(f"the database schema is at {current}, this version needs {head}: run `hotline db upgrade`")


def build(reactor: Any, config: Config, role: str, *, http_bind: str | None = None, http_port: int | None = None) -> Service:
    """Build one role from the configuration and start listening; raises ServiceError with a
    readable reason. `http_bind`/`http_port` replace [http] (the supervisor gives each child
    a loopback port of its own)."""
    if role not in ROLES:
        raise ServiceError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    database = db.Database.from_url(config.database_url(), pool_size=config.database.pool_size, echo=config.database.echo, timeout=config.database.timeout)
    check_schema(database)
    live = LiveSettings(config)
    live.refresh_from(database)
    config = live.config
    pool = DatabasePool(reactor, database, size=config.database.pool_size, timeout=config.database.timeout)
    pool.start()
    metrics = Metrics(version=__version__)
    service = Service(config=config, pool=pool, metrics=metrics, role=role, reactor=reactor, settings=live)
    _poll_settings(reactor, service)
    started: Deferred[None] | None = None
    try:
        if role == "ivr":
            _start_ivr(reactor, service)
        if role == "desk":
            service.ami = _start_ami(reactor, service)
            # Now, so that the start-up freeze (`serve`) covers them: kpi.build_statements.
            kpi.build_statements(report.TREND_DAYS)
        if role != "workers":
            # The ticket gauges are the workers'; elsewhere they would only show zeros.
            metrics.registry.unregister(metrics.tickets_open)
            metrics.registry.unregister(metrics.tickets_overdue)
        else:
            started = _refresh_ticket_gauges(reactor, service)
            _sweep_fallback_messages(reactor, service)
        root = build_root(pool, metrics, started=started)
        if role == "desk":
            for name, mount in plugins.load(plugins.WEB).items():
                root.putChild(name.encode(), mount(service))
        site = make_site(root, max_body_bytes=media.max_request_bytes(config))
        bind = http_bind if http_bind is not None else config.http.bind
        port = http_port if http_port is not None else config.http.port
        service.http_port = _listen(reactor, bind, port, site, "http")
    except BaseException:
        for listening in (service.fastagi_port, service.http_port):
            if listening is not None:
                listening.stopListening()
        pool.stop()
        raise
    return service


def _poll_settings(reactor: Any, service: Service) -> None:
    """Admin settings reach this role without a restart: a cheap look at their revision every
    few seconds, and a swap of what changed (hotline.settings, docs/admin.md)."""
    live, pool = service.settings, service.pool
    _every(reactor, POLL_SECONDS, lambda: live.poll(pool))


def _refresh_ticket_gauges(reactor: Any, service: Service) -> Deferred[None]:
    """The ticket gauges, read every GAUGE_INTERVAL_SECONDS; fires after the first read."""
    pool, metrics = service.pool, service.metrics
    gauges_read: Deferred[None] = Deferred()

    def refresh() -> Any:
        d = pool.read(lambda s: TicketSnapshot.read(s, utcnow()))

        def ok(snapshot: TicketSnapshot) -> None:
            metrics.db_up.set(1)
            metrics.refresh_tickets(snapshot)

        def failed(failure: Any) -> None:
            metrics.db_up.set(0)
            log.warning("ticket gauges not refreshed: %s", failure.getErrorMessage().splitlines()[0])

        def first_read(result: Any) -> Any:
            if not gauges_read.called:
                gauges_read.callback(None)
            return result

        d.addCallbacks(ok, failed)
        d.addBoth(first_read)
        return d

    _every(reactor, GAUGE_INTERVAL_SECONDS, refresh)
    return gauges_read


def _every(reactor: Any, seconds: float, work: Any) -> None:
    loop = task.LoopingCall(work)
    loop.clock = reactor
    loop.start(seconds, now=True)

    def stop() -> None:
        if loop.running:
            loop.stop()

    reactor.addSystemEventTrigger("before", "shutdown", stop)


def _listen(reactor: Any, bind: str, port: int, factory: Any, section: str) -> Any:
    try:
        return reactor.listenTCP(port, factory, interface=bind)
    except CannotListenError as exc:
        raise ServiceError(f"cannot listen on {bind}:{port} ({section}.bind/{section}.port): {exc.socketError}") from None


def _start_ivr(reactor: Any, service: Service) -> None:
    """FastAGI running the flows the installed features register (by dialplan name), and the
    AMI: a live model in every ivr process, the call records from its events written only by
    the one process that holds the writer's lease (docs/architecture.md)."""
    from hotline.agi.fastagi import listen
    from hotline.calllog.queue_events import QueueCallLog

    config = service.config
    flows = plugins.load(plugins.FLOWS)
    try:
        factory = plugins.call_handler_factory()
    except plugins.PluginError as exc:
        raise ServiceError(f"the ivr role cannot run calls: {exc}") from None
    service.runner = factory(reactor, config, service.pool, service.metrics.registry, flows)
    if hasattr(service.runner, "reconfigure"):
        service.settings.listeners.append(service.runner.reconfigure)
    try:
        service.fastagi_port = listen(reactor, config.fastagi, service.runner, service.metrics.registry)
    except CannotListenError as exc:
        raise ServiceError(f"cannot listen on {config.fastagi.bind}:{config.fastagi.port} (fastagi.bind/fastagi.port): {exc.socketError}") from None
    host, port = service.fastagi_address
    log.info("FastAGI on agi://%s:%d/ (flows: %s)", host, port, ", ".join(sorted(flows)))
    ami = service.ami = _start_ami(reactor, service)
    if config.ami.enabled:
        calllog = service.runner.calllog
        service.lease = LeaseKeeper(
            reactor,
            lease_for(service.pool.database, AMI_WRITER_LEASE),
            service.pool.call,
            on_acquired=lambda: ami.write_calls(QueueCallLog(calllog, recordings_dir=config.asterisk.recordings_dir, clock=reactor)),
            on_lost=ami.stop_writing,
        )
        service.lease.start()


def _start_ami(reactor: Any, service: Service) -> Any:
    """The AMI client and a read-only live model; the ivr role attaches the call log later."""
    from hotline.ami.service import start_ami

    return start_ami(reactor, service.config.ami, service.metrics.registry, None)


MESSAGE_SWEEP_SECONDS = 60


def _sweep_fallback_messages(reactor: Any, service: Service) -> None:
    """Turn messages the dialplan recorded while no FastAGI node answered into tickets
    (safe on several workers nodes: the recording's unique path lets one win)."""
    from pathlib import Path

    from hotline.tickets import voicemail as messages
    from hotline.tickets.services import TicketPolicy

    directory = Path(service.config.asterisk.voicemail_dir)
    policy = TicketPolicy.from_config(service.config)

    def sweep() -> Any:
        d = service.pool.run(lambda s: messages.sweep_fallback_messages(s, policy, directory, now=utcnow()))

        def done(made: list[Any]) -> None:
            for m in made:
                log.info("message %s filed as ticket %s", m.recording_id, m.ticket_number)

        d.addCallbacks(done, lambda failure: log.warning("message sweep failed: %s", failure.getErrorMessage().splitlines()[0]))
        return d

    _every(reactor, MESSAGE_SWEEP_SECONDS, sweep)


def serve(config: Config, role: str, *, http_bind: str | None = None, http_port: int | None = None, report_fd: int | None = None) -> int:
    """Run one role until SIGINT/SIGTERM and return 0 after a clean stop. A stop asked for
    while the role is still starting (before the reactor's own handlers exist) is kept and
    honoured as soon as it runs, instead of the default action killing it (exit 143).
    `report_fd`: the supervisor's pipe, told the role's HTTP address once it listens."""
    from twisted.internet import reactor as _reactor

    reactor: Any = _reactor
    early = _EarlyStop()
    configure_logging(config.service.log_level)
    lower_priority(f"role {role}", getattr(config.roles, f"{role}_nice", 0))
    service = build(reactor, config, role, http_bind=http_bind, http_port=http_port)
    host, port = service.http_address
    if report_fd is None:
        log.info("HTTP on http://%s:%d (/healthz, /metrics)", host, port)
    else:
        log.info("role %s: /healthz and /metrics on %s:%d", role, host, port)
        with os.fdopen(report_fd, "w") as pipe:
            pipe.write(f"ready {role} {host} {port}\n")
    reactor.callWhenRunning(freeze_start_up_objects)
    reactor.callWhenRunning(early.honour, reactor)
    reactor.addSystemEventTrigger("before", "shutdown", lambda: log.info("role %s stopping", role))
    log.info("hotline %s serving role %s (%s)", __version__, role, config.source)
    early.hand_over()
    reactor.run()
    return 0


class _EarlyStop:
    """SIGTERM/SIGINT before reactor.run(): remembered, then acted on once it runs."""

    def __init__(self) -> None:
        self.asked = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
                signal.signal(sig, self._ask)

    def _ask(self, signum: int, frame: object) -> None:
        self.asked = True

    def hand_over(self) -> None:
        """Just before reactor.run(): Twisted takes SIGINT only from Python's default handler."""
        if signal.getsignal(signal.SIGINT) == self._ask:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def honour(self, reactor: Any) -> None:
        if self.asked:
            log.info("a stop was asked for during start-up")
            reactor.stop()
