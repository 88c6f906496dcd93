"""The call log written by a child process, so that the IVR's reactor never waits for it.

Why: the call log's writer thread (SQLAlchemy Core and the records' logic, a batch twice a
second) held the GIL for milliseconds at a time, and an AGI reply arriving meanwhile waited
for it. In the desk bench the IVR's p99 turnaround was 1.6-2.4 ms with that thread in its
process and 1.0-1.5 ms with no call-log work in it at all (bench/RESULTS.md, "the call-log
writer in a child process"). So the ivr role builds the same journal entries as ever
(`Entries`) and hands them, as JSON lines on a pipe, to ONE child process (`hotline serve
--calllog-writer`, same configuration) that runs the unchanged `CallLog` on a `DatabasePool`
of its own: writes batched across calls, journalled while the database is away. One path
for both backends.

Nothing is lost between the two: the parent keeps every entry until the child acknowledges
it, and the child acknowledges an entry only once it is committed, journalled (fsync'd) or
set aside as unwritable. A child that dies is started again and sent every unacknowledged
entry first, in order; an entry written just before the death is written again harmlessly
(its id makes the second write add nothing, which the journal's replay relies on too). If
the child stays down longer than `spill_seconds`, or is not there when the parent stops, the
parent appends what waits to a journal file of its own and lets go of it at once: the next
replay (the child's, or any process's) adopts it.

The pipe's lines, one JSON object each: parent → child, a journal entry; child → parent,
`{"acks": [[id, outcome], …], "state": {…}}` after writes answer, and a state alone at least
every STATE_SECONDS (the journal's counters, which the parent's /metrics shows).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from twisted.internet import protocol, stdio, task
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from hotline.calllog.journal import CallLog, DiskRun, Entries, Outcome, Submitted, encode, journal_families, journal_path, operations_for, spill
from hotline.config import Config
from hotline.settings import POLL_SECONDS, LiveSettings
from hotline.startup import configure_logging, freeze_start_up_objects, lower_priority
from hotline.storage.db import Database
from hotline.storage.dbpool import DatabasePool

__all__ = ["ChildCallLog", "run_writer", "writer_argv"]

log = logging.getLogger(__name__)

#: How often the child reports the journal's state when nothing else is said.
STATE_SECONDS = 1.0
#: A line longer than this from the parent is refused (an entry is a few hundred bytes).
MAX_LINE = 16 * 1024 * 1024
#: The writer's niceness above its ivr role's: its records may wait, the callers may not.
WRITER_NICENESS = 5


def writer_argv(config: Config) -> list[str]:
    """The command that runs the writer for `config`: the same file (or the defaults, with
    the environment the child inherits), in demo mode if the role is."""
    argv = [sys.executable, "-m", "hotline"]
    if config.source != "defaults":
        argv += ["-c", config.source]
    argv += ["serve", "--calllog-writer"]
    if config.service.demo:
        argv.append("--demo")
    return argv


class ChildCallLog:
    """The ivr role's side: `submit`/`submit_batch` as `CallLog`'s (the Deferred fires with
    the outcome once the child acknowledged it; the operations' return values stay in the
    child), the child started, watched and stopped.

    Args:
        reactor: spawns the child and runs the timers.
        argv: the child's command (`writer_argv`).
        journal_dir: where the parent spills entries when the child cannot take them.
        disk: runs that file work, `disk(fn, *args)` → Deferred (the pool's journal thread,
            `DatabasePool.disk`); default inline.
        operations: the operation names (the child has the functions).
        flush_seconds: entries are written to the pipe together at most this long after the first.
        restart_seconds: first wait before starting a dead child again; doubles to 30 s.
        spill_seconds: how long entries may wait for a child that is down before they go to a journal file.
        stop_seconds: how long a stopping child may take to write what it has before it is killed.
    """

    def __init__(
        self,
        reactor: Any,
        argv: Sequence[str],
        journal_dir: Path,
        operations: Mapping[str, Callable[..., Any]],
        *,
        env: Mapping[str, str] | None = None,
        disk: DiskRun | None = None,
        flush_seconds: float = 0.05,
        restart_seconds: float = 1.0,
        spill_seconds: float = 30.0,
        stop_seconds: float = 10.0,
    ) -> None:
        self.reactor, self.argv, self.journal_dir = reactor, list(argv), Path(journal_dir)
        self.env = dict(env if env is not None else os.environ)
        self._disk: DiskRun = disk if disk is not None else maybeDeferred
        # Encoded once, straight from the arguments (no plain copy first): the child reads the
        # same JSON a journal line holds.
        self.entries = Entries(operations, reactor, plain=False)
        self.flush_seconds, self.restart_seconds, self.spill_seconds, self.stop_seconds = flush_seconds, restart_seconds, spill_seconds, stop_seconds
        #: Every entry not yet acknowledged, in submission order: its line and its Deferred.
        self._unacked: dict[str, tuple[bytes, Deferred[Submitted]]] = {}
        self._unsent: list[bytes] = []
        self._child: _ChildProtocol | None = None
        self._flush_call: Any = None
        self._restart_call: Any = None
        self._failures = 0
        self._down_since: float | None = None
        self._stopping: Deferred[None] | None = None
        self._closed = False
        #: The child's last report of its journal (see `_WriterMetrics`).
        self.state: dict[str, Any] = {"pending": 0, "oldest": 0.0, "replayed": 0, "failed": 0, "journalling": False}
        self.restarts = 0
        self.spilled = 0

    # -- lifecycle

    def start(self) -> None:
        if self._child is None and not self._closed:
            self._spawn()

    def _spawn(self) -> None:
        self._restart_call = None
        child = _ChildProtocol(self)
        try:
            self.reactor.spawnProcess(child, self.argv[0], self.argv, env=self.env, childFDs={0: "w", 1: "r", 2: 2})
        except OSError as exc:  # no fork (memory, process limits): as if it had died at once
            self._ended(child, Failure(exc))  # type: ignore[no-untyped-call]  # Twisted leaves it unannotated

    def _connected(self, child: _ChildProtocol) -> None:
        self._child = child
        # Everything not acknowledged, in order, before anything new: a restarted child gets
        # what its predecessor may not have written.
        self._unsent = [line for line, _ in self._unacked.values()]
        self._flush()

    def _healthy(self) -> None:
        self._failures, self._down_since = 0, None

    def _ended(self, child: _ChildProtocol, reason: Failure) -> None:
        if self._child is child:
            self._child = None
        if self._stopping is not None:
            self._spill("the call-log writer stopped before acknowledging them").chainDeferred(self._stopping)
            return
        self.restarts += 1
        self._failures += 1
        now = float(self.reactor.seconds())
        self._down_since = self._down_since if self._down_since is not None else now
        delay = min(30.0, self.restart_seconds * 2 ** (self._failures - 1))
        log.error("call log: the writer process ended (%s); starting it again in %.0f s, %d entries waiting", reason.getErrorMessage(), delay, len(self._unacked))
        if now - self._down_since >= self.spill_seconds:
            self._spill(f"the call-log writer has been down for {now - self._down_since:.0f} s")
        self._restart_call = self.reactor.callLater(delay, self._spawn)

    def close(self) -> Deferred[Any]:
        """Hand over what waits, close the child's input and wait until it has written (or
        journalled) everything and exited; what it did not acknowledge is spilled."""
        self._closed = True
        if self._restart_call is not None and self._restart_call.active():
            self._restart_call.cancel()
        self._flush()
        if self._child is None:
            return self._spill("the call-log writer was not running at the stop")
        self._stopping = Deferred()
        child = self._child
        assert child.transport is not None  # connected
        child.transport.closeStdin()
        kill = self.reactor.callLater(self.stop_seconds, _kill, child)

        def stopped(result: Any) -> Any:
            if kill.active():
                kill.cancel()
            return result

        return self._stopping.addBoth(stopped)

    # -- submitting

    def submit(self, operation: str, arguments: Mapping[str, Any]) -> Deferred[Submitted]:
        return self._send(self.entries.entry(operation, arguments))

    def submit_batch(self, uniqueid: str, operations: Sequence[tuple[str, Mapping[str, Any]]]) -> Deferred[Submitted]:
        if not operations:
            return succeed(Submitted(Outcome.WRITTEN, []))
        return self._send(self.entries.batch(uniqueid, operations))

    def _send(self, entry: dict[str, Any]) -> Deferred[Submitted]:
        line = encode(entry)
        d: Deferred[Submitted] = Deferred()
        self._unacked[entry["id"]] = (line, d)
        if self._closed and self._child is None:
            self._spill("submitted after the call-log writer stopped", inline=True)
        elif self._child is not None:
            self._unsent.append(line)
            if self._flush_call is None:
                self._flush_call = self.reactor.callLater(self.flush_seconds, self._flush)
        return d

    def _flush(self) -> None:
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        if self._child is not None and self._unsent and self._stopping is None:
            data, self._unsent = b"".join(self._unsent), []
            assert self._child.transport is not None  # connected
            self._child.transport.write(data)

    def _received(self, message: Mapping[str, Any]) -> None:
        for item in message.get("acks") or ():
            try:
                entry_id, outcome = str(item[0]), Outcome(item[1])
            except (TypeError, ValueError, IndexError):
                log.error("call log: unreadable acknowledgement from the writer: %r", item)
                continue
            waiting = self._unacked.pop(entry_id, None)
            if waiting is not None:  # else: the second answer for an entry sent again
                waiting[1].callback(Submitted(outcome))
        state = message.get("state")
        if isinstance(state, dict):
            self.state.update({k: v for k, v in state.items() if k in self.state})
            self._healthy()

    def _spill(self, why: str, *, inline: bool = False) -> Deferred[None]:
        """Every unacknowledged entry to a journal file of the role's own, released at once
        so that the next replay adopts it: file work on the pool's journal thread (`disk`),
        never an fsync on the reactor; `inline` after the stop, when that thread is gone. On
        a disk that refuses, the entries wait for the next writer."""
        if not self._unacked:
            return succeed(None)
        waiting, self._unacked, self._unsent = self._unacked, {}, []
        lines = [line for line, _ in waiting.values()]
        run: DiskRun = maybeDeferred if inline else self._disk
        d: Deferred[None] = run(spill, self.journal_dir, lines)

        def spilled(_: object) -> None:
            log.warning("call log: %d entries journalled by the ivr role itself (%s)", len(waiting), why)
            self.spilled += len(waiting)
            for _, done in waiting.values():
                done.callback(Submitted(Outcome.JOURNALLED))

        def refused(failure: Failure) -> None:
            log.error("call log: %d entries could not be journalled (%s: %s); kept for the writer", len(waiting), why, failure.getErrorMessage())
            self._unacked = {**waiting, **self._unacked}
            if self._child is not None:
                self._unsent[:0] = lines
                self._flush()

        return d.addCallbacks(spilled, refused)

    # -- observing

    def unacknowledged(self) -> int:
        return len(self._unacked)

    def register_metrics(self, registry: CollectorRegistry) -> None:
        registry.register(_WriterMetrics(self))


def _kill(child: _ChildProtocol) -> None:
    log.error("call log: the writer process did not finish within its stop time; killed")
    try:
        if child.transport is not None:
            child.transport.signalProcess("KILL")
    except Exception:  # noqa: BLE001 - it may have exited meanwhile
        pass


class _ChildProtocol(protocol.ProcessProtocol):
    """The parent's end of the pipe: acknowledgements in, the process's end reported."""

    def __init__(self, owner: ChildCallLog) -> None:
        self.owner = owner
        self.buffer = b""

    def connectionMade(self) -> None:
        self.owner._connected(self)

    def outReceived(self, data: bytes) -> None:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                log.error("call log: unreadable line from the writer: %r", line[:200])
                continue
            if isinstance(message, dict):
                self.owner._received(message)

    def processEnded(self, reason: Failure) -> None:
        self.owner._ended(self, reason)


class _WriterMetrics:
    """The journal's state as the child reports it, under the names the in-process call log
    used, and the hand-over's own figures."""

    def __init__(self, owner: ChildCallLog) -> None:
        self.owner = owner

    def collect(self) -> Iterator[Any]:
        o = self.owner
        yield from journal_families(o.state)
        yield GaugeMetricFamily("hotline_calllog_writer_unacknowledged_entries", "Call-log entries handed to the writer process and not yet written or journalled", value=o.unacknowledged())
        yield CounterMetricFamily("hotline_calllog_writer_restarts", "Times the call-log writer process ended unasked and was started again", value=o.restarts)
        yield CounterMetricFamily("hotline_calllog_writer_spilled_entries", "Call-log entries the ivr role journalled itself because the writer process was down", value=o.spilled)


# -- the child's side


@implementer(IHalfCloseableProtocol)
class ParentLink(LineReceiver):
    """The writer's end of the pipe: entries in (stdin), acknowledgements out (stdout).
    The parent closing our stdin means: write what you have, say so, and exit."""

    delimiter = b"\n"
    MAX_LENGTH = MAX_LINE

    def __init__(self, calllog: CallLog, finish: Callable[[], Deferred[Any]], stop: Callable[[], Any]) -> None:
        self.calllog, self._finish, self._stop = calllog, finish, stop
        self.acks: list[list[str]] = []
        self._send_call: Any = None
        self.finishing = False
        self._finished = False

    def lineReceived(self, line: bytes) -> None:
        if self.finishing:
            return  # after a TERM: the parent journals what we no longer acknowledge
        try:
            entry = json.loads(line)
        except ValueError:
            log.error("call log writer: unreadable entry from the ivr role: %r", line[:200])
            return
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not isinstance(entry.get("op"), str) or not isinstance(entry.get("args"), dict):
            log.error("call log writer: malformed entry from the ivr role: %r", line[:200])
            return
        self.calllog.deliver(entry).addBoth(self._answered, entry["id"])

    def lineLengthExceeded(self, line: bytes) -> None:
        log.error("call log writer: an entry of more than %d bytes from the ivr role was refused", self.MAX_LENGTH)

    def _answered(self, result: Submitted | Failure, entry_id: str) -> None:
        if isinstance(result, Failure):
            log.error("call log writer: entry %s: %s", entry_id, result.getErrorMessage())
            outcome = Outcome.FAILED
        else:
            outcome = result.outcome
        self.acks.append([entry_id, outcome.value])
        if self._send_call is None:
            self._send_call = self.calllog.clock.callLater(0, self.send)

    def send(self) -> None:
        """The acknowledgements so far and the journal's state, in one line."""
        if self._send_call is not None and self._send_call.active():
            self._send_call.cancel()
        self._send_call = None
        if self.transport is None:
            return
        acks, self.acks = self.acks, []
        self.transport.write(json.dumps({"acks": acks, "state": self.calllog.journal_state()}, separators=(",", ":")).encode("ascii") + b"\n")

    def finish(self) -> None:
        """Write what waits, acknowledge it, close the pipe; then stop (at once if the pipe is
        already gone, else when it is closed, at the latest after a few seconds)."""
        if self.finishing:
            return
        self.finishing = True

        def done(_: Any) -> None:
            self._finished = True
            self.send()
            if self.transport is not None:
                self.transport.loseConnection()
            self.calllog.clock.callLater(5.0, self._stop)

        self._finish().addBoth(done)

    def readConnectionLost(self) -> None:
        self.finish()

    def writeConnectionLost(self) -> None:
        """The parent is gone: nobody to tell; what was received is still written."""

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.transport = None
        if self._finished:
            self._stop()
        else:
            self.finish()


def run_writer(config: Config) -> int:
    """`hotline serve --calllog-writer`: the child the ivr role starts. Reads entries on stdin
    until it closes, then writes what waits and exits 0."""
    from twisted.internet import reactor as _reactor

    reactor: Any = _reactor
    configure_logging(config.service.log_level, "calllog-writer")
    # Ctrl-C reaches the whole process group; the ivr role stops us when it has handed
    # over everything, by closing our stdin. TERM (someone stopping us alone) does the same.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lower_priority("call-log writer", os.nice(0) + WRITER_NICENESS)
    database = Database.from_url(config.database_url(), pool_size=config.database.pool_size, timeout=config.database.timeout)
    live = LiveSettings(config)
    try:
        live.refresh_from(database)
    except Exception as exc:  # noqa: BLE001 - the database may be away: the file's settings do
        log.warning("call log writer: admin settings not read (%s); the configuration file's apply", type(exc).__name__)
    pool = DatabasePool(reactor, database, size=config.database.pool_size, timeout=config.database.timeout)
    pool.start()
    calllog = CallLog(pool.write, journal_path(live.config), clock=reactor, operations=operations_for(live.config), disk=pool.disk)
    calllog.start()
    settings = task.LoopingCall(live.poll, pool)

    def finish() -> Deferred[Any]:
        for loop in (settings, state):
            if loop.running:
                loop.stop()
        d = pool.drain()
        d.addBoth(lambda _: calllog.close())
        return d

    def stop() -> None:
        if reactor.running:
            reactor.stop()

    link = ParentLink(calllog, finish, stop)
    state = task.LoopingCall(link.send)
    stdio.StandardIO(link, reactor=reactor)  # type: ignore[no-untyped-call]
    reactor.callWhenRunning(freeze_start_up_objects)
    reactor.callWhenRunning(settings.start, POLL_SECONDS, now=False)
    reactor.callWhenRunning(state.start, STATE_SECONDS, now=True)
    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(link.finish))
    reactor.run(installSignalHandlers=False)
    pool.stop()
    return 0
