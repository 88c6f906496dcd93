"""`hotline serve`: a small supervisor in the parent and one OS process per role.

Each role runs as `hotline serve --role NAME` with its HTTP on a loopback port of its own,
which it reports on a pipe (fd 3) once it listens. A role that exits is logged and started
again after a backoff (1 s, doubling to 60 s; back to 1 s once it had stayed up for
STABLE_SECONDS). A role that fails on its very first start (a port taken, a menu refused)
stops the whole service: restarting would only repeat its message. SIGTERM or SIGINT stops
every child with SIGTERM (SIGKILL after STOP_GRACE_SECONDS) and the parent exits 0.

The parent serves one HTTP port ([http] bind/port) whose /healthz and /metrics gather every
child's (hotline.web.aggregate)."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from twisted.internet import protocol
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.error import ProcessExitedAlready
from twisted.python.failure import Failure

log = logging.getLogger(__name__)

MIN_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
STABLE_SECONDS = 30.0
STOP_GRACE_SECONDS = 20.0
REPORT_FD = 3


def backoff(failures: int, low: float = MIN_BACKOFF_SECONDS, high: float = MAX_BACKOFF_SECONDS) -> float:
    """The wait before restart number `failures + 1` of a role that keeps dying."""
    return min(high, low * 2.0 ** min(failures, 32))


class SupervisorMetrics:
    def __init__(self, registry: CollectorRegistry, roles: Sequence[str]) -> None:
        self.up = Gauge(
            "hotline_role_up",
            "1 while the role's process runs and has reported ready",
            ["role"],
            registry=registry,
        )
        self.restarts = Counter(
            "hotline_role_restarts_total",
            "Times the supervisor started a role again after it exited",
            ["role"],
            registry=registry,
        )
        for role in roles:
            self.up.labels(role)
            self.restarts.labels(role)


class RoleProcess(protocol.ProcessProtocol):
    """One run of one role's process."""

    def __init__(self, supervisor: Supervisor, role: str) -> None:
        self.supervisor, self.role = supervisor, role
        self.started_at: float = supervisor.reactor.seconds()
        self.address: tuple[str, int] | None = None
        self.ended: Deferred[None] = Deferred()
        self._report = b""

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD != REPORT_FD:
            return
        self._report += data
        if b"\n" in self._report and self.address is None:
            words = self._report.split(b"\n", 1)[0].decode().split()
            if len(words) == 4 and words[0] == "ready":
                self.address = (words[2], int(words[3]))
                self.supervisor.ready(self)

    def processEnded(self, reason: Failure) -> None:
        self.supervisor.exited(
            self,
            reason.value if isinstance(reason.value, BaseException) else Exception(reason),
        )
        self.ended.callback(None)


class Supervisor:
    """Starts, watches and stops the role processes. `argv(role)` is the child's command."""

    def __init__(
        self,
        reactor: Any,
        roles: Sequence[str],
        argv: Callable[[str], list[str]],
        registry: CollectorRegistry,
        *,
        stable_seconds: float = STABLE_SECONDS,
    ) -> None:
        self.reactor, self.roles, self.argv = reactor, tuple(roles), argv
        self.stable_seconds = stable_seconds
        self.metrics = SupervisorMetrics(registry, self.roles)
        self.current: dict[str, RoleProcess] = {}
        self.failures = dict.fromkeys(self.roles, 0)
        self.ever_ready: set[str] = set()
        self.stopping = False
        self.failed: str | None = None
        self._restarts: dict[str, Any] = {}
        self._waiting: dict[str, list[Deferred[tuple[str, int] | None]]] = {role: [] for role in self.roles}

    def start(self) -> None:
        for role in self.roles:
            self._spawn(role)

    def address(self, role: str) -> Deferred[tuple[str, int] | None]:
        """The role's HTTP address once it is ready (None while it is down and restarting)."""
        child = self.current.get(role)
        if child is not None and child.address is not None:
            return succeed(child.address)
        if role in self.ever_ready or self.stopping:
            return succeed(None)
        d: Deferred[tuple[str, int] | None] = Deferred()
        self._waiting[role].append(d)
        return d

    def _spawn(self, role: str) -> None:
        self._restarts.pop(role, None)
        child = RoleProcess(self, role)
        self.current[role] = child
        argv = self.argv(role)
        self.reactor.spawnProcess(
            child,
            argv[0],
            argv,
            env=os.environ.copy(),
            childFDs={0: 0, 1: 1, 2: 2, REPORT_FD: "r"},
        )
        log.info(
            "role %s started (pid %s)",
            role,
            child.transport.pid if child.transport else "?",
        )

    def ready(self, child: RoleProcess) -> None:
        self.ever_ready.add(child.role)
        log.info("role %s ready (HTTP %s:%d)", child.role, *child.address)  # type: ignore[misc]
        self.metrics.up.labels(child.role).set(1)
        waiting, self._waiting[child.role] = self._waiting[child.role], []
        for d in waiting:
            d.callback(child.address)

    def exited(self, child: RoleProcess, why: BaseException) -> None:
        role = child.role
        self.metrics.up.labels(role).set(0)
        if self.current.get(role) is child:
            del self.current[role]
        how = _describe_exit(why)
        if self.stopping:
            log.info("role %s stopped (%s)", role, how)
            return
        if role not in self.ever_ready:
            log.error("role %s could not start (%s): stopping the service", role, how)
            self.failed = role
            self.reactor.stop()
            return
        if self.reactor.seconds() - child.started_at >= self.stable_seconds:
            self.failures[role] = 0
        delay = backoff(self.failures[role])
        self.failures[role] += 1
        log.warning("role %s exited (%s); starting it again in %g s", role, how, delay)
        self.metrics.restarts.labels(role).inc()
        self._restarts[role] = self.reactor.callLater(delay, self._spawn, role)

    def stop(self) -> Deferred[Any]:
        """TERM every child; KILL what is still there after STOP_GRACE_SECONDS."""
        self.stopping = True
        for call in self._restarts.values():
            if call.active():
                call.cancel()
        self._restarts.clear()
        for waiting in self._waiting.values():
            for d in waiting:
                d.callback(None)
            waiting.clear()
        children = list(self.current.values())
        for child in children:
            _signal(child, "TERM")
        if not children:
            return succeed(None)

        def kill_stubborn() -> None:
            for c in children:
                if not c.ended.called:
                    _signal(c, "KILL")

        kill = self.reactor.callLater(STOP_GRACE_SECONDS, kill_stubborn)
        done = DeferredList([c.ended for c in children])
        done.addBoth(lambda result: kill.cancel() if kill.active() else None)
        return done


def _signal(child: RoleProcess, name: str) -> None:
    with contextlib.suppress(ProcessExitedAlready, OSError):  # it is already gone
        if child.transport is not None:
            child.transport.signalProcess(name)


def _describe_exit(why: BaseException) -> str:
    code = getattr(why, "exitCode", None)
    sig = getattr(why, "signal", None)
    if sig:
        return f"killed by {signal.Signals(sig).name}"
    return f"exit status {code}"


def child_argv(config_source: str | None, extra: Sequence[str] = ()) -> Callable[[str], list[str]]:
    """`python -m hotline [-c FILE] serve [EXTRA] --role NAME` on loopback port 0, reporting on fd 3."""

    def argv(role: str) -> list[str]:
        base = [sys.executable, "-m", "hotline"]
        if config_source:
            base += ["-c", config_source]
        return [*base, "serve", *extra, "--role", role, "--http-bind", "127.0.0.1", "--http-port", "0", "--report-fd", str(REPORT_FD)]

    return argv


def become_supervised_child() -> None:
    """In a role's process under the supervisor: a Ctrl-C in the terminal reaches only the
    parent (which stops the children in order), and the child ends if the parent dies."""
    os.setpgrp()
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):  # no prctl: the parent stops us itself
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:
        raise SystemExit("hotline: the supervisor is gone")


def run(config: Any, roles: Sequence[str] = (), *, child_args: Sequence[str] = (), companion: Callable[[Any, Supervisor], object] | None = None) -> int:
    """The parent: start every role, serve the gathered /healthz and /metrics, stop them all.
    `child_args` go on every role's command line; `companion(reactor, supervisor)` starts
    what runs beside the roles in this process (the demo's simulated Asterisk)."""
    from twisted.internet import reactor as _reactor

    from hotline import __version__
    from hotline.service import (
        ROLES,
        ServiceError,
        _EarlyStop,
        _listen,
        check_schema,
    )
    from hotline.startup import configure_logging
    from hotline.storage import db
    from hotline.tickets import media
    from hotline.web.aggregate import build_aggregate_root
    from hotline.web.site import make_site

    reactor: Any = _reactor
    early = _EarlyStop()
    configure_logging(config.service.log_level)
    database = db.Database.from_url(config.database_url())
    try:
        check_schema(database)  # one clear message here rather than one per child
    finally:
        database.dispose()
    registry = CollectorRegistry()
    supervisor = Supervisor(
        reactor,
        roles or ROLES,
        child_argv(config.source if config.source != "defaults" else None, child_args),
        registry,
    )
    site = make_site(build_aggregate_root(reactor, supervisor, registry), max_body_bytes=media.max_request_bytes(config))
    port = _listen(reactor, config.http.bind, config.http.port, site, "http")
    address = port.getHost()
    log.info(
        "HTTP on http://%s:%d (/healthz, /metrics of every role)",
        address.host,
        address.port,
    )
    if companion is not None:
        companion(reactor, supervisor)
    reactor.addSystemEventTrigger("before", "shutdown", supervisor.stop)
    reactor.callWhenRunning(early.honour, reactor)
    reactor.callWhenRunning(lambda: None if early.asked else supervisor.start())
    log.info(
        "hotline %s supervising roles %s (%s)",
        __version__,
        ", ".join(supervisor.roles),
        config.source,
    )
    early.hand_over()
    reactor.run()
    if supervisor.failed is not None:
        raise ServiceError(f"role {supervisor.failed} could not start (its message is above)")
    return 0
