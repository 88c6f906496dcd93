"""Database work off the reactor thread, the same way on SQLite and PostgreSQL.

Reactor code never touches a Session: it hands a function of one Session (or, for a lookup,
of one Core connection; for a read a caller waits for, a `PreparedRead`) to `DatabasePool`,
which runs it on a worker thread and fires a Deferred with the result. Results should be
plain values or detached objects (sessions expire nothing on commit). Every Deferred fails with `twisted.internet.defer.TimeoutError`
after `timeout` seconds, whatever the thread is doing, and the engine bounds the work itself
(`hotline.storage.db.make_engine`'s timeout), so a database that hangs holds no caller up.

Writes nobody waits for (the call log) go through `write`: what arrives within `linger`
seconds runs in ONE transaction on the writer thread, across calls. Why: a transaction per
call costs its BEGIN, commit and session set-up for a handful of rows, and a thread waking
30 times a second for it competes with the reactor for the GIL; batched, the thread wakes
twice a second. At the IVR's pace (a few calls a second, each reporting three times) a 0.1 s
linger still meant a transaction of one or two calls, and the transaction's own cost (begin,
commit, session) made the writer thread half the service's CPU per call (bench/RESULTS.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session
from twisted.internet import defer
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from hotline.storage.db import Database
from hotline.storage.prepared import PreparedRead

T = TypeVar("T")


@dataclass(frozen=True)
class Keyed:
    """A write that names the rows it will touch (`keys`), so that a batch of them first
    reads all those rows in one statement (`load(session, keys)`) instead of one each.
    Called like the work it wraps."""

    work: Callable[[Session], Any]
    keys: tuple[str, ...]
    load: Callable[[Session, list[str]], None]

    def __call__(self, session: Session) -> Any:
        return self.work(session)


#: How long a thread may keep the GIL while another wants it (Python's default: 5 ms). The
#: writer thread's ORM work holds it for milliseconds; a reactor woken by an AGI reply must
#: get it back sooner than that.
SWITCH_INTERVAL = 0.0005


def is_unreachable(error: BaseException) -> bool:
    """The database could not be reached, dropped us or did not answer in time: worth
    journalling and retrying. Anything else (a constraint, a bad argument) would fail again
    on replay and is not."""
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.DisconnectionError | sa_exc.TimeoutError | defer.TimeoutError):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, ConnectionError)


class DatabasePool:
    """Writer threads, reader threads that never queue behind them, and one thread for the
    call-log journal's files.

    On SQLite, where one writer holds the lock at a time, more writer threads would only take
    turns sleeping in the busy handler, so there is one; readers read WAL snapshots in
    parallel. PostgreSQL gets `size` of each."""

    def __init__(self, reactor: Any, database: Database, size: int = 5, *, timeout: float = 5.0, linger: float = 0.5) -> None:
        self.reactor = reactor
        self.database = database
        self.timeout = timeout
        self.linger = linger
        writers = 1 if database.dialect == "sqlite" else size
        self.threads = ThreadPool(minthreads=1, maxthreads=writers, name="hotline-db")
        self.readers = ThreadPool(minthreads=1, maxthreads=size, name="hotline-db-read")
        #: One thread, so journal appends and reads happen in the order they were asked for.
        self.files = ThreadPool(minthreads=1, maxthreads=1, name="hotline-journal")
        self._batch: list[tuple[Callable[[Session], Any], Deferred[Any]]] = []
        self._flush: Any = None
        self._writing: set[Deferred[Any]] = set()

    def start(self) -> None:
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)
        for threads in (self.threads, self.readers, self.files):
            threads.start()
        self.reactor.addSystemEventTrigger("before", "shutdown", self.drain)
        self.reactor.addSystemEventTrigger("during", "shutdown", self.stop)

    def drain(self) -> Deferred[Any]:
        """Write what waits for the next batch now; fires when every write has answered."""
        self._write_batch()
        return DeferredList(list(self._writing), consumeErrors=True)

    def stop(self) -> None:
        for threads in (self.threads, self.readers, self.files):
            if threads.started:
                threads.stop()
        self.database.dispose()

    def _timed(self, d: Deferred[T]) -> Deferred[T]:
        return d.addTimeout(self.timeout, self.reactor, onTimeoutCancel=_timed_out)

    def run(self, work: Callable[[Session], T]) -> Deferred[T]:
        """`work(session)` in one transaction of its own on a writer thread."""
        return self._timed(deferToThreadPool(self.reactor, self.threads, self.database.run, work))

    def read(self, work: Callable[[Session], T]) -> Deferred[T]:
        """`work(session)` in a read-only transaction (`Database.read`) on a reader thread."""
        return self._timed(deferToThreadPool(self.reactor, self.readers, self.database.read, work))

    def lookup(self, work: Callable[[Connection], T]) -> Deferred[T]:
        """`work(connection)` on a read-only Core connection (`Database.lookup`) on a reader
        thread: what a caller waits for."""
        return self._timed(deferToThreadPool(self.reactor, self.readers, self.database.lookup, work))

    def read_first(self, prepared: PreparedRead, params: Mapping[str, Any]) -> Deferred[Sequence[Any] | None]:
        """`Database.read_first` on a reader thread: a read a caller waits for."""
        return self._timed(deferToThreadPool(self.reactor, self.readers, self.database.read_first, prepared, params))

    def call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> Deferred[T]:
        """Any blocking call (a ping, a migration check) on a worker thread."""
        return self._timed(deferToThreadPool(self.reactor, self.threads, fn, *args, **kw))

    def disk(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        """A file operation (the journal's append and fsync) on the one journal thread."""
        return deferToThreadPool(self.reactor, self.files, fn, *args)

    def write(self, work: Callable[[Session], T]) -> Deferred[T]:
        """`work(session)` in the next batch: one transaction with everything else written
        within `linger` seconds. If the batch fails for a reason other than the database
        being away, each work is run again alone, so one bad work fails only itself."""
        d: Deferred[T] = Deferred()
        self._batch.append((work, d))
        self._writing.add(d)
        d.addBoth(self._written, d)
        if self._flush is None:
            self._flush = self.reactor.callLater(self.linger, self._write_batch)
        return self._timed(d)

    def _written(self, result: Any, d: Deferred[Any]) -> Any:
        self._writing.discard(d)
        return result

    def _write_batch(self) -> None:
        if self._flush is not None and self._flush.active():
            self._flush.cancel()
        self._flush = None
        batch, self._batch = self._batch, []
        if batch:
            self.threads.callInThread(self._apply, batch)

    def _apply(self, batch: list[tuple[Callable[[Session], Any], Deferred[Any]]]) -> None:
        """On the writer thread: the batch in one transaction, or each work alone."""
        # One that timed out was journalled already: writing it too would only repeat it.
        batch = [(work, d) for work, d in batch if not d.called]
        try:
            results = self.database.run(lambda session: run_batch(session, [work for work, _ in batch]))
        except Exception as error:  # noqa: BLE001 - sorted: the database away, or one bad work
            if not is_unreachable(error) and len(batch) > 1:
                for item in batch:
                    self._apply([item])
                return
            results = [error] * len(batch)
        # One hand-over to the reactor for the whole batch: each callFromThread wakes the
        # reactor and takes the GIL back from it.
        self.reactor.callFromThread(_fire_all, [(d, result) for (_, d), result in zip(batch, results, strict=True)])


def run_batch(session: Session, works: list[Callable[[Session], Any]]) -> list[Any]:
    """The works of one batch in `session`, after one `load` per kind of `Keyed` work."""
    loads: dict[Callable[[Session, list[str]], None], list[str]] = {}
    for work in works:
        if isinstance(work, Keyed):
            loads.setdefault(work.load, []).extend(work.keys)
    for load, keys in loads.items():
        load(session, keys)
    return [work(session) for work in works]


def _fire_all(outcomes: list[tuple[Deferred[Any], Any]]) -> None:
    for d, result in outcomes:
        if not d.called:
            # Works return rows or plain values, never exceptions: an exception is the failure.
            if isinstance(result, BaseException):
                d.errback(result)
            else:
                d.callback(result)


def _timed_out(result: Any, timeout: float) -> Any:
    if isinstance(result, Failure) and isinstance(result.value, defer.CancelledError):
        raise defer.TimeoutError(f"the database did not answer within {timeout:g} s")
    return result
