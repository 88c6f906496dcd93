"""A lease that one process among every node on one database holds: for work that must be
done exactly once however many nodes run a role (the call records written from AMI events).

PostgreSQL: a session-level advisory lock on a connection of its own, kept open; the server
drops it when that session ends (the process died, the network broke), and another node takes
it on its next try. SQLite lives on one machine: an exclusive `flock` on a file beside the
database does the same, released by the kernel when the process ends.

`LeaseKeeper` drives a lease from a reactor: it tries every `interval` seconds, checks the
lease it holds as often, and calls `on_acquired` / `on_lost`; the blocking calls run on the
database pool's threads, never the reactor's."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet import task

from hotline.storage.db import Database

log = logging.getLogger(__name__)


class Lease:
    """Blocking: `try_acquire()` and `still_held()` run off the reactor."""

    name: str

    def try_acquire(self) -> bool:
        raise NotImplementedError

    def still_held(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError


class PostgresLease(Lease):
    def __init__(self, database: Database, name: str) -> None:
        self.database, self.name = database, name
        # pg advisory keys are signed 64-bit; a stable key per lease name.
        self.key = zlib.crc32(f"hotline.lease.{name}".encode())
        self._connection: Any = None

    def try_acquire(self) -> bool:
        pooled = self.database.engine.raw_connection()
        connection: Any = pooled.driver_connection
        pooled.detach()  # never handed back to the pool: the lock lives with this session
        try:
            connection.autocommit = True
            cursor = connection.cursor()
            cursor.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            (held,) = cursor.fetchone()
            cursor.close()
        except BaseException:
            connection.close()
            raise
        if not held:
            connection.close()
            return False
        self._connection = connection
        return True

    def still_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            cursor = self._connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            cursor.close()
            return True
        except Exception:  # noqa: BLE001 - any failure means the session, and the lock, are gone
            self.release()
            return False

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                connection.close()


class FileLease(Lease):
    def __init__(self, path: Path, name: str) -> None:
        self.path, self.name = path, name
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class ProcessLease(Lease):
    """An in-memory SQLite database exists in one process only: always held."""

    def __init__(self, name: str) -> None:
        self.name, self._held = name, False

    def try_acquire(self) -> bool:
        self._held = True
        return True

    def still_held(self) -> bool:
        return self._held

    def release(self) -> None:
        self._held = False


def lease_for(database: Database, name: str) -> Lease:
    if database.dialect == "postgresql":
        return PostgresLease(database, name)
    path = database.engine.url.database
    if database.dialect == "sqlite" and path and path != ":memory:":
        return FileLease(Path(f"{path}.{name}.lease"), name)
    return ProcessLease(name)


class LeaseKeeper:
    """Try, keep and lose a lease on the reactor's clock."""

    def __init__(
        self,
        reactor: Any,
        lease: Lease,
        run_blocking: Callable[..., Any],
        on_acquired: Callable[[], None],
        on_lost: Callable[[], None],
        interval: float = 5.0,
    ) -> None:
        self.reactor, self.lease, self.run_blocking = reactor, lease, run_blocking
        self.on_acquired, self.on_lost = on_acquired, on_lost
        self.held = False
        self._refused_once = False
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = reactor
        self.interval = interval

    def start(self) -> None:
        self._loop.start(self.interval, now=True)
        self.reactor.addSystemEventTrigger("before", "shutdown", self.stop)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()
        if self.held:
            self.held = False
            self.on_lost()
        self.lease.release()

    def _tick(self) -> Any:
        d = self.run_blocking(self.lease.still_held if self.held else self.lease.try_acquire)
        d.addCallbacks(self._answered, self._failed)
        return d

    def _answered(self, held: bool) -> None:
        if not self._loop.running:
            return
        if held and not self.held:
            self.held = True
            log.info("lease %r taken: this process does that work now", self.lease.name)
            self.on_acquired()
        elif not held and not self.held and not self._refused_once:
            self._refused_once = True
            log.info("lease %r held by another process: this one stands by", self.lease.name)
        elif self.held and not held:
            self.held = False
            log.warning("lease %r lost: another node may take it", self.lease.name)
            self.on_lost()

    def _failed(self, failure: Any) -> None:
        log.warning(
            "lease %r: %s",
            self.lease.name,
            failure.getErrorMessage().splitlines()[0] if failure.getErrorMessage() else failure.type.__name__,
        )
        if self.held:
            self._answered(False)
            self.run_blocking(self.lease.release).addErrback(lambda failure: None)  # best effort: the session is gone anyway
