"""Reads a caller waits for: a Core SELECT compiled once, run on a DB-API connection.

Why: the IVR looks a ticket up while the caller listens to silence. Through an ORM session
one such read cost 0.3 ms of CPU on a warm core and 0.9 ms on a cold one on the 2-core test
VM; the same SELECT on a plain DB-API cursor 0.01 / 0.1 ms (bench/RESULTS.md,
"prepared reads"). The statement stays the one SQLAlchemy statement the rest of the code
uses: it is compiled for the engine's dialect here, with its expanding parameters (an
``IN`` over constants) rendered once, so there is no second copy of the SQL to drift.

Rows come back as the driver gives them (strings, not the enums the ORM would make):
callers convert, which is also where a value the database should never hold is caught.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select


class PreparedRead:
    """`statement` compiled for `dialect`; `example` names the parameters given per run
    (their example values only shape the SQL, like the length of an IN list would)."""

    def __init__(self, statement: Select[*tuple[Any, ...]], dialect: Dialect, **example: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        state = compiled.construct_expanded_state(example)
        self.sql = state.statement
        self.names = tuple(example)
        processors = state.processors
        #: Every parameter with its bind processor applied (the constants for good).
        self._fixed = {name: (processors[name](value) if name in processors else value) for name, value in state.parameters.items()}
        self._processors = {name: processors[name] for name in self.names if name in processors}
        self._order = tuple(state.positiontup) if compiled.positional and state.positiontup is not None else None

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters for one run: a tuple for `?`/`$1` styles, else a dict."""
        missing = set(self.names) - set(values)
        if missing or len(values) != len(self.names):
            raise TypeError(f"parameters {sorted(self.names)} expected, got {sorted(values)}")
        params = dict(self._fixed)
        for name, value in values.items():
            processor = self._processors.get(name)
            params[name] = processor(value) if processor is not None else value
        if self._order is not None:
            return tuple(params[name] for name in self._order)
        return params


class DirectReader:
    """A DB-API connection of its own per thread, checked out of `engine`'s pool once and
    kept, for `PreparedRead`s. Each read ends its transaction at once (rollback), so no
    snapshot is held between callers. A driver error discards the connection (the next read
    connects again) and is raised as SQLAlchemy wraps it, so `hotline.calllog.journal.is_unreachable`
    classifies it like any other database error."""

    def __init__(self, engine: Engine, *, sqlite_busy_ms: int | None = None) -> None:
        """`sqlite_busy_ms`: how long a read may wait for a SQLite lock (WAL readers almost
        never do) before it fails, instead of the engine's 10 s: for reads made on the
        reactor thread, where every call would wait with it."""
        self.engine = engine
        self._busy_ms = sqlite_busy_ms if engine.dialect.name == "sqlite" else None
        self.dialect = engine.dialect
        self._dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[Any] = []

    def prepare(self, statement: Select[*tuple[Any, ...]], **example: Any) -> PreparedRead:
        return PreparedRead(statement, self.dialect, **example)

    def first(self, query: PreparedRead, **values: Any) -> tuple[Any, ...] | None:
        """The first row of `query`, or None."""
        params = query.parameters(values)
        connection = getattr(self._local, "connection", None)
        try:
            if connection is None:
                connection = self._connect()
            cursor = connection.cursor()
            try:
                cursor.execute(query.sql, params)
                row = cursor.fetchone()
            finally:
                cursor.close()
            connection.rollback()
        except self._dbapi_error as exc:
            self._discard(connection)
            # hide_parameters: they are callers' numbers, and this message gets logged.
            raise DBAPIError.instance(query.sql, params, exc, self._dbapi_error, hide_parameters=True, dialect=self.dialect) from exc
        return tuple(row) if row is not None else None

    def _connect(self) -> Any:
        connection = self.engine.raw_connection()
        if self._busy_ms is not None:
            cursor = connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={int(self._busy_ms)}")
            cursor.close()
        self._local.connection = connection
        with self._lock:
            self._connections.append(connection)
        return connection

    def _discard(self, connection: Any) -> None:
        if connection is None:
            return
        self._local.connection = None
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)
        try:
            connection.invalidate()
        except Exception:  # noqa: BLE001 - it is being thrown away; the read's error matters
            pass

    def close(self) -> None:
        """Close every thread's connection (at shutdown). They are discarded, not pooled:
        one may carry this reader's busy timeout."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            try:
                connection.invalidate()
            except Exception:  # noqa: BLE001 - closing at shutdown; nothing to do about it
                pass
