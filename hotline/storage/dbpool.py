"""Run database work off the reactor thread.

Reactor code never touches a Session: it hands a function of one Session to `DatabasePool.run`,
which runs it in one transaction on a worker thread and fires a Deferred with the result.
Results should be plain values or detached objects (sessions expire nothing on commit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from hotline.storage.db import Database

T = TypeVar("T")


class DatabasePool:
    """Two sets of worker threads: writers, and readers that never queue behind them.

    A caller waiting for their ticket's status must not wait for the call log. On SQLite,
    where one writer holds the lock at a time, more writer threads would only take turns
    sleeping in the busy handler, so there is one; readers read WAL snapshots in parallel.
    PostgreSQL gets `size` of each."""

    def __init__(self, reactor: Any, database: Database, size: int = 5) -> None:
        self.reactor = reactor
        self.database = database
        writers = 1 if database.dialect == "sqlite" else size
        self.threads = ThreadPool(minthreads=1, maxthreads=writers, name="hotline-db")
        self.readers = ThreadPool(minthreads=1, maxthreads=size, name="hotline-db-read")

    def start(self) -> None:
        self.threads.start()
        self.readers.start()
        self.reactor.addSystemEventTrigger("during", "shutdown", self.stop)

    def stop(self) -> None:
        for threads in (self.threads, self.readers):
            if threads.started:
                threads.stop()
        self.database.dispose()

    def run(self, work: Callable[[Session], T]) -> Deferred[T]:
        """`work(session)` in one transaction on a writer thread."""
        return deferToThreadPool(self.reactor, self.threads, self.database.run, work)

    def read(self, work: Callable[[Session], T]) -> Deferred[T]:
        """`work(session)` in a read-only transaction (`Database.read`) on a reader thread."""
        return deferToThreadPool(self.reactor, self.readers, self.database.read, work)

    def call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> Deferred[T]:
        """Any blocking call (a ping, a migration check) on a worker thread."""
        return deferToThreadPool(self.reactor, self.threads, fn, *args, **kw)
