"""The composition root of `hotline serve`: config → database and its thread pool → metrics →
call log (with its disk journal) → FastAGI IVR → AMI client and live model → HTTP site, all
on one reactor. This is the one place that knows every package."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from typing import Any

from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.logger import STDLibLogObserver, globalLogBeginner

from hotline import __version__
from hotline.storage import db
from hotline.config import Config
from hotline.storage.dbpool import DatabasePool
from hotline.web.site import build_root, make_site
from hotline.metrics import Metrics, TicketSnapshot
from hotline.storage.models import utcnow

log = logging.getLogger(__name__)
GAUGE_INTERVAL_SECONDS = 30


class ServiceError(Exception):
    """The service cannot start; the message says why and what to do."""


@dataclass
class Service:
    config: Config
    pool: DatabasePool
    metrics: Metrics
    http_port: Any = None
    fastagi_port: Any = None
    runner: Any = None
    ami: Any = None

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


def build(reactor: Any, config: Config) -> Service:
    """Wire everything and start listening; raises ServiceError with a readable reason."""
    database = db.Database.from_url(config.database_url(), pool_size=config.database.pool_size, echo=config.database.echo, timeout=config.database.timeout)
    check_schema(database)
    pool = DatabasePool(reactor, database, size=config.database.pool_size, timeout=config.database.timeout)
    pool.start()
    metrics = Metrics(version=__version__)
    service = Service(config=config, pool=pool, metrics=metrics)
    gauges_read: Deferred[None] = Deferred()
    try:
        _start_telephony(reactor, service)
        site = make_site(build_root(pool, metrics, started=gauges_read))
        service.http_port = _listen(reactor, config.http.bind, config.http.port, site, "http")
    except BaseException:
        for port in (service.fastagi_port, service.http_port):
            if port is not None:
                port.stopListening()
        pool.stop()
        raise
    host, port = service.http_address
    log.info("HTTP on http://%s:%d (/healthz, /metrics)", host, port)

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

    loop = task.LoopingCall(refresh)
    loop.clock = reactor
    loop.start(GAUGE_INTERVAL_SECONDS, now=True)
    def stop_loop() -> None:
        if loop.running:
            loop.stop()

    reactor.addSystemEventTrigger("before", "shutdown", stop_loop)
    return service


def _listen(reactor: Any, bind: str, port: int, factory: Any, section: str) -> Any:
    try:
        return reactor.listenTCP(port, factory, interface=bind)
    except CannotListenError as exc:
        raise ServiceError(f"cannot listen on {bind}:{port} ({section}.bind/{section}.port): {exc.socketError}") from None


def _start_telephony(reactor: Any, service: Service) -> None:
    """The IVR on FastAGI and the AMI side, sharing one journalled call log."""
    from hotline.ami.service import start_ami
    from hotline.agi.fastagi import listen
    from ivr.menu import MenuError
    from ivr.runner import CallRunner

    config = service.config
    try:
        service.runner = CallRunner.from_config(config, database=service.pool, registry=service.metrics.registry)
    except MenuError as exc:
        raise ServiceError(f"menu refused: {exc}") from None
    try:
        service.fastagi_port = listen(reactor, config.fastagi, service.runner, service.metrics.registry)
    except CannotListenError as exc:
        raise ServiceError(f"cannot listen on {config.fastagi.bind}:{config.fastagi.port} (fastagi.bind/fastagi.port): {exc.socketError}") from None
    host, port = service.fastagi_address
    log.info("FastAGI on agi://%s:%d/ (flows: ivr, queue_callback)", host, port)
    # "before": the reactor waits for the call log to finish (written or journalled) while
    # the pool's threads still run.
    reactor.addSystemEventTrigger("before", "shutdown", service.runner.close)
    service.ami = start_ami(reactor, config.ami, service.metrics.registry, service.runner.calllog, recordings_dir=config.asterisk.recordings_dir)
    _sweep_fallback_messages(reactor, service)
    if config.ami.enabled:
        log.info("AMI: connecting to %s:%d as %s", config.ami.host, config.ami.port, config.ami.username)


MESSAGE_SWEEP_SECONDS = 60


def _sweep_fallback_messages(reactor: Any, service: Service) -> None:
    """Turn messages the dialplan recorded while no FastAGI node answered into tickets."""
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

    loop = task.LoopingCall(sweep)
    loop.clock = reactor
    loop.start(MESSAGE_SWEEP_SECONDS, now=True)

    def stop() -> None:
        if loop.running:
            loop.stop()

    reactor.addSystemEventTrigger("before", "shutdown", stop)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic's plugin chatter at INFO says nothing an administrator needs.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    globalLogBeginner.beginLoggingTo([STDLibLogObserver()], redirectStandardIO=False)


def freeze_start_up_objects() -> int:
    """Keep what start-up built (modules, mappers, the menu …) out of the collector's scans.

    Why: a full collection scans every tracked object, and the service's start-up graph is
    large: full collections of it took 32-94 ms on the test VM, and one at run time stops
    every call for as long (bench/RESULTS.md, ivr_calls.py). Start-up garbage is collected
    first; what remains lives as long as the process anyway. Returns the objects frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("start-up done: %d objects kept out of garbage collection", frozen)
    return frozen


def serve(config: Config) -> int:
    """Run until SIGINT/SIGTERM; the reactor's own signal handlers stop it cleanly."""
    from twisted.internet import reactor as _reactor

    reactor: Any = _reactor

    configure_logging(config.service.log_level)
    service = build(reactor, config)
    reactor.callWhenRunning(freeze_start_up_objects)
    reactor.addSystemEventTrigger("before", "shutdown", lambda: log.info("stopping"))
    log.info("hotline %s serving (%s)", __version__, config.source)
    reactor.run()
    return 0 if service else 1
