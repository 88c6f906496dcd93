"""The IVR's database work in a process of its own, asked for by name.

Why: a thread doing SQLAlchemy work in the reactor's process holds the GIL for milliseconds
at a time, and every AGI reply that arrives meanwhile waits for it. bench/gil_contention.py
measured a reactor-like loop next to call-log writes at the IVR's pace: p99 3-5 ms with the
writes in a thread, 0.2 ms with the same writes in a child process. So the service's call
log (the IVR's batches, the AMI's queue events) runs here, and on PostgreSQL the IVR's two
reads in a second child (on SQLite they are cheaper in the service itself:
`hotline.service.ivr_database`); the desk, the KPIs and the gauges keep the in-process
`DatabasePool`.

What crosses the boundary is data, never code: a request names an operation of `REQUESTS`
and carries JSON arguments (a journal entry, a ticket number), which is why only the call
log, whose operations already are named and JSON (`hotline.calllog.journal`), and named reads can
move here.

The wire: a socketpair; one JSON object per line each way. Request
``{"id": 7, "op": "calllog", "args": {...}}``; reply ``{"id": 7, "ok": true, "value": …}``
or ``{"id": 7, "ok": false, "unreachable": true|false, "error": "OperationalError",
"message": "…"}``. The child answers in any order: writes run one at a time on SQLite (one
writer holds the lock anyway), reads on threads of their own, so a lookup never waits for a
write.

Failures keep the call log's promise (nothing lost): while the child is starting, gone or
restarting, and when it reports that the database is unreachable, requests fail with
`DatabaseUnreachable` (a ConnectionError, which `hotline.calllog.journal.is_unreachable` counts), so
the call log journals and retries and a lookup counts as unavailable. A child that dies is
started again after `restart_seconds`, doubling up to a minute while it keeps dying. On
shutdown the child's socket is closed; it finishes what it was given, answers, and exits.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.orm import Session
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure

from hotline.agi.directwrite import DirectWriter

log = logging.getLogger(__name__)

#: A line longer than this is not a request we sent (a ticket number, a batch of ~10 steps).
MAX_LINE_BYTES = 1 << 20
MAX_RESTART_SECONDS = 60.0


class DatabaseUnreachable(ConnectionError):
    """The database, or the process that talks to it, cannot be reached now: retry later."""


class RemoteError(Exception):
    """An operation failed in the database process for a reason of its own (a bug, a bad
    argument): retrying would fail again."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


# ============================================================================================
# The requests the child serves


def _calllog(session: Session, context: dict[str, Any], entry: dict[str, Any]) -> Any:
    from hotline.calllog.journal import apply_entry

    apply_entry(session, context["operations"], entry)
    return None  # what the operations return are ORM rows: nothing the caller needs


#: Writes: name → function(session, context, **args), each in one transaction.
WRITES: dict[str, Callable[..., Any]] = {"calllog": _calllog}

#: Reads a caller waits for: name → function(lookups, **args), on a DB-API connection of the
#: child's (`hotline.tickets.services.StatusLookups`, `hotline.storage.prepared`).
READS: dict[str, Callable[..., Any]] = {
    "caller_open_ticket": lambda lookups, caller_number: lookups.caller_open_ticket_status(caller_number),
    "ticket_status": lambda lookups, number: lookups.ticket_status(number),
}

REQUESTS = frozenset(WRITES) | frozenset(READS)


# ============================================================================================
# The parent's side


class _Connection(Protocol):
    """The parent's end of the socketpair: lines in, replies to their Deferreds; requests
    out at once (a caller may be waiting for the answer: hotline.agi.directwrite)."""

    def __init__(self, owner: DatabaseProcess) -> None:
        self.owner = owner
        self.buffer = b""
        self.write: Callable[[bytes], None] = lambda data: None

    def connectionMade(self) -> None:
        self.write = DirectWriter(self.transport).write

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            self.owner._reply(line)
        if len(self.buffer) > MAX_LINE_BYTES:
            log.error("database process sent an over-long line; restarting it")
            transport: Any = self.transport
            transport.abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.owner._lost(self)


class DatabaseProcess:
    """One child process (`python -m hotline.storage.dbprocess`) and the requests in flight to it.

    Args:
        reactor: provides IReactorSocket (adoptStreamConnection) and IReactorTime.
        config_file: the config the service loaded (None: the child finds it as the
            service did, from $HOTLINE_CONFIG or the defaults); the environment is passed on,
            so $HOTLINE_DATABASE_URL and friends apply there too.
        readers: reader threads in the child.
        idle: run the child under SCHED_IDLE (Linux), so it only ever has a core nobody
            else wants: a reply from Asterisk that wakes the service preempts it at once,
            where a niced process may finish its time slice first. Elsewhere `niceness`.
        niceness: how much lower the child's CPU priority is than the service's: writes
            nobody waits for should not take a core from the reactor.
    """

    def __init__(self, reactor: Any, config_file: str | None, *, readers: int = 4, idle: bool = False, niceness: int = 0, restart_seconds: float = 1.0, python: str = sys.executable) -> None:
        self.reactor = reactor
        self.config_file = config_file
        self.readers = readers
        self.idle = idle
        self.niceness = niceness
        self.restart_seconds = restart_seconds
        self.python = python
        self._child: subprocess.Popen[bytes] | None = None
        self._connection: _Connection | None = None
        self._pending: dict[int, Deferred[Any]] = {}
        self._next_id = 0
        self._stopping = False
        self._stopped: Deferred[None] | None = None
        self._restart: Any = None
        self._delay = restart_seconds
        self.restarts = 0

    # -- lifecycle

    def start(self) -> None:
        """Start the child; requests made before it answers wait on the socket."""
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        argv = [self.python, "-m", "hotline.storage.dbprocess", "--fd", str(child.fileno()), "--readers", str(self.readers), "--nice", str(self.niceness)] + (["--idle"] if self.idle else [])
        if self.config_file:
            argv += ["--config", self.config_file]
        try:
            self._child = subprocess.Popen(argv, pass_fds=[child.fileno()], stdin=subprocess.DEVNULL)
        except OSError as exc:
            parent.close()
            log.error("cannot start the database process: %s", exc)
            self._schedule_restart()
            return
        finally:
            child.close()
        parent.setblocking(False)
        connection = _Connection(self)
        self.reactor.adoptStreamConnection(parent.fileno(), socket.AF_UNIX, Factory.forProtocol(lambda: connection))
        parent.close()  # adoptStreamConnection took a duplicate of the descriptor
        self._connection = connection
        log.info("database process %d started", self._child.pid)

    def stop(self) -> Deferred[None]:
        """Let the child finish what it was given and exit; killed after 10 s."""
        self._stopping = True
        if self._restart is not None and self._restart.active():
            self._restart.cancel()
        if self._connection is None:
            return succeed(None)
        self._stopped = Deferred()
        transport = self._connection.transport
        assert transport is not None
        transport.loseWriteConnection()  # type: ignore[attr-defined]
        killer = self.reactor.callLater(10, self._kill)
        self._stopped.addBoth(lambda result: (killer.cancel() if killer.active() else None, result)[1])
        return self._stopped

    def _kill(self) -> None:
        if self._child is not None and self._child.poll() is None:
            log.error("database process %d did not stop within 10 s; killing it", self._child.pid)
            self._child.kill()
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.abortConnection()  # type: ignore[attr-defined]

    # -- requests

    def request(self, op: str, **args: Any) -> Deferred[Any]:
        """Run a named request in the child; its JSON value, or the failure."""
        if op not in REQUESTS:
            return fail(ValueError(f"unknown database request {op!r}"))
        if self._connection is None or self._connection.transport is None or self._stopping:
            return fail(DatabaseUnreachable("the database process is not running"))
        self._next_id += 1
        request_id = self._next_id
        line = json.dumps({"id": request_id, "op": op, "args": args}, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        d: Deferred[Any] = Deferred()
        self._pending[request_id] = d
        self._connection.write(line)
        return d

    def write_entry(self, entry: dict[str, Any]) -> Deferred[Any]:
        """A call-log journal entry (one operation or a batch), in one transaction."""
        return self.request("calllog", entry=entry)

    # -- replies and the end of a child

    def _reply(self, line: bytes) -> None:
        try:
            reply = json.loads(line)
            d = self._pending.pop(reply["id"])
        except (ValueError, KeyError, TypeError):
            log.error("database process sent an unexpected line: %r", line[:200])
            return
        self._delay = self.restart_seconds  # it answers: the next crash restarts quickly again
        if reply.get("ok"):
            d.callback(reply.get("value"))
        elif reply.get("unreachable"):
            d.errback(Failure(DatabaseUnreachable(f"{reply.get('error')}: {reply.get('message')}")))
        else:
            d.errback(Failure(RemoteError(str(reply.get("error")), str(reply.get("message")))))

    def _lost(self, connection: _Connection) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        # Never wait() on the reactor: a child that closed its socket exits at once; one
        # that has not yet is reaped on a later turn.
        code = self._reap(self._child)
        pending, self._pending = self._pending, {}
        for d in pending.values():
            d.errback(Failure(DatabaseUnreachable("the database process ended")))
        if self._stopping:
            log.info("database process stopped (exit status %s)", code)
            if self._stopped is not None and not self._stopped.called:
                self._stopped.callback(None)
            return
        log.error("database process ended unexpectedly (exit status %s, %d requests failed); restarting in %.0f s", code, len(pending), self._delay)
        self._schedule_restart()

    def _reap(self, child: subprocess.Popen[bytes] | None) -> int | None:
        if child is None:
            return None
        code = child.poll()
        if code is None:
            self.reactor.callLater(0.5, self._reap, child)
        return code

    def _schedule_restart(self) -> None:
        if self._stopping:
            return
        self.restarts += 1
        delay, self._delay = self._delay, min(MAX_RESTART_SECONDS, self._delay * 2)
        self._restart = self.reactor.callLater(delay, self.start)


# ============================================================================================
# The child's side


def serve(fd: int, config_file: str | None, readers: int) -> int:
    """Answer requests on the socket `fd` until the parent closes it; reads on `readers`
    threads (at least one), each with its own DB-API connection (`hotline.storage.prepared`)."""
    from hotline import config as configmod
    from hotline.storage.db import Database
    from hotline.calllog.journal import is_unreachable, operations_for
    from hotline.storage.prepared import DirectReader
    from hotline.tickets.services import StatusLookups

    config = configmod.load(config_file)
    readers = max(1, readers)
    database = Database.from_url(config.database_url(), pool_size=readers + 1)
    context = {"operations": operations_for(config)}
    direct = DirectReader(database.engine)
    lookups = StatusLookups(direct)
    connection = socket.socket(fileno=fd)
    lock = threading.Lock()
    writer = ThreadPoolExecutor(1 if database.dialect == "sqlite" else config.database.pool_size, thread_name_prefix="db-write")
    reader = ThreadPoolExecutor(readers, thread_name_prefix="db-read")

    def answer(reply: dict[str, Any]) -> None:
        data = json.dumps(reply, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8") + b"\n"
        with lock:
            connection.sendall(data)

    def write(function: Callable[..., Any], args: dict[str, Any]) -> Any:
        return database.run(lambda session: function(session, context, **args))

    def read(function: Callable[..., Any], args: dict[str, Any]) -> Any:
        return function(lookups, **args)

    def handle(request_id: Any, run: Callable[[], Any]) -> None:
        try:
            value = run()
        except Exception as exc:  # noqa: BLE001 - every failure is answered, classified
            answer({"id": request_id, "ok": False, "unreachable": is_unreachable(exc), "error": type(exc).__name__, "message": str(getattr(exc, "orig", None) or exc).splitlines()[0][:500] if str(exc) else ""})
        else:
            answer({"id": request_id, "ok": True, "value": value})

    stream = connection.makefile("rb")
    try:
        for line in stream:
            request_id = None
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise TypeError("a request is a JSON object")
                request_id = request.get("id")
                op = request["op"]
                args = request.get("args") or {}
                if not isinstance(args, dict):
                    raise TypeError("args is not an object")
                if op in WRITES:
                    writer.submit(handle, request_id, functools.partial(write, WRITES[op], args))
                    continue
                work = functools.partial(read, READS[op], args)
            except (ValueError, KeyError, TypeError) as exc:
                answer({"id": request_id, "ok": False, "unreachable": False, "error": "BadRequest", "message": str(exc)[:200]})
                continue
            reader.submit(handle, request_id, work)
    finally:
        writer.shutdown(wait=True)
        reader.shutdown(wait=True)
        direct.close()
        database.dispose()
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        connection.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotline.storage.dbprocess", description="The IVR's database process (started by `hotline serve`).")
    parser.add_argument("--fd", type=int, required=True, help="the socket inherited from the service")
    parser.add_argument("--config", default=None)
    parser.add_argument("--readers", type=int, default=4, help="reader threads (at least 1)")
    parser.add_argument("--idle", action="store_true", help="run under SCHED_IDLE (Linux; else --nice applies)")
    parser.add_argument("--nice", type=int, default=0, help="lower this process's CPU priority by this much")
    args = parser.parse_args(argv)
    if args.idle and hasattr(os, "sched_setscheduler"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    elif args.nice > 0:
        os.nice(args.nice)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s dbprocess[%(process)d] %(name)s: %(message)s")
    # The service handles SIGINT/SIGTERM and then closes our socket, which is when we end:
    # after the last answer, so nothing it gave us is lost. If the service dies, so does the
    # socket.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return serve(args.fd, args.config, args.readers)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
