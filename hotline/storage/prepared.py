"""Reads a caller waits for, run straight on a DB-API cursor, the same way on both backends.

The IVR asks the database one small question per call (the caller's open case) and one more
when a caller keys a case number. Through a SQLAlchemy Connection each costs ~0.15 ms when the
thread is busy, but ~0.8 ms of CPU in the service, where a reader thread wakes for one read
every few hundred milliseconds (cold caches: bench/RESULTS.md); on the DB-API cursor the same
read costs ~0.01 ms warm and ~0.15 ms cold. So such a read is a `PreparedRead`: a Core SELECT
compiled once per dialect (SQLAlchemy still writes the SQL, the quoting and the driver's
parameter style), run by `KeptConnections` on a DB-API connection that the reading thread
keeps, in autocommit (one statement, no BEGIN/ROLLBACK round trips).

Rows come back as the driver gives them: meant for columns the driver returns as they are
stored (text, integers), not for what SQLAlchemy converts (SQLite's datetimes). Parameters go
through the column types' bind processing as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.engine.interfaces import Dialect


class PreparedRead:
    """A SELECT whose first row is read by `KeptConnections.first`; `statement` stays an
    ordinary Core statement, for code that has a Session at hand."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        return compiled


class _Compiled:
    """The SQL for one dialect, and how to turn named parameters into the driver's."""

    def __init__(self, statement: Select[*tuple[Any, ...]], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        names = [name for name, bind in compiled.binds.items() if bind.value is None and not bind.callable]
        # Expanding IN lists are rendered once, with the statement's own values.
        state = compiled.construct_expanded_state(dict.fromkeys(names, ""))
        expanded_from = {new: old for old, news in state.parameter_expansion.items() for new in news}
        self.sql = state.statement
        self.runtime = frozenset(names)
        self.processors: dict[str, Callable[[Any], Any]] = {}
        for name in state.parameters:
            processor = compiled.binds[expanded_from.get(name, name)].type.bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor
        self.constants = {name: self._processed(name, value) for name, value in state.parameters.items() if name not in self.runtime}
        #: Positional drivers (SQLite's qmark): the parameters' order; None for named ones.
        self.order: tuple[str, ...] | None = tuple(state.positiontup) if state.positiontup is not None else None

    def _processed(self, name: str, value: Any) -> Any:
        processor = self.processors.get(name)
        return processor(value) if processor is not None else value

    def arguments(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        if params.keys() != self.runtime:
            raise ValueError(f"parameters {sorted(params)} given, {sorted(self.runtime)} expected")
        values = {**self.constants, **{name: self._processed(name, value) for name, value in params.items()}}
        return tuple(values[name] for name in self.order) if self.order is not None else values


class KeptConnections:
    """One DB-API connection per reading thread, taken from the engine (its connect-time set-up
    applies: SQLite's pragmas, PostgreSQL's timeouts) and kept outside its pool. A read that
    fails on a kept connection is tried once more on a new one (what the pool's ping after
    idle does for a connection gone stale, e.g. after a server restart); a connection that
    fails is closed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: set[Any] = set()

    def first(self, prepared: PreparedRead, params: Mapping[str, Any]) -> Sequence[Any] | None:
        compiled = prepared.compiled(self.engine.dialect)
        arguments = compiled.arguments(params)
        kept = getattr(self._local, "connection", None)
        if kept is not None:
            try:
                return _first_row(kept, compiled.sql, arguments)
            except Exception:  # noqa: BLE001 - a kept connection may have gone stale (a server restart): once more on a new one
                self._drop(kept)
        connection = self._open()
        try:
            return _first_row(connection, compiled.sql, arguments)
        except Exception:
            self._drop(connection)
            raise

    def _open(self) -> Any:
        proxied = self.engine.raw_connection()
        connection = proxied.driver_connection
        proxied.detach()  # ours from now on: never returned to the pool, never reset by it
        if self.engine.dialect.name == "postgresql":
            try:
                connection.rollback()  # type: ignore[union-attr]  # nothing open, whatever the pool did
                connection.autocommit = True  # type: ignore[union-attr]  # psycopg: one statement per read
            except Exception:
                connection.close()  # type: ignore[union-attr]
                raise
        with self._lock:
            self._all.add(connection)
        self._local.connection = connection
        return connection

    def _drop(self, connection: Any) -> None:
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None
        with self._lock:
            self._all.discard(connection)
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - it failed already; closing is a courtesy
            pass

    def close(self) -> None:
        """Close every thread's connection (the threads have stopped)."""
        with self._lock:
            connections, self._all = list(self._all), set()
        for connection in connections:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - shutting down: nothing to tell anyone
                pass


def _first_row(connection: Any, sql: str, arguments: Sequence[Any] | dict[str, Any]) -> Sequence[Any] | None:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, arguments)
        row: Sequence[Any] | None = cursor.fetchone()
        return row
    finally:
        cursor.close()
