"""Engine, sessions and schema migrations, the same way for SQLite and PostgreSQL.

Services take a `Session` and never open one; callers wrap one unit of work (an AGI request,
an HTTP request, a scheduler tick) in `Database.transaction()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from hotline.storage.prepared import KeptConnections, PreparedRead

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(busy_ms: int) -> Callable[[Any, Any], None]:
    def pragmas(dbapi_connection: DBAPIConnection, connection_record: ConnectionPoolEntry) -> None:
        # WAL lets readers (desk, KPIs) run while the IVR writes; busy_timeout turns a brief
        # writer collision into a wait instead of "database is locked".
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return pragmas


#: Execution option of `Database.reader`'s connections: transactions that only read.
READ_ONLY = "hotline_read_only"


def _sqlite_begin(conn: Connection) -> None:
    # Take the write lock at BEGIN: a deferred transaction that reads and then writes can
    # deadlock against another writer instead of waiting for it. A transaction that only
    # reads begins deferred: in WAL mode it reads a snapshot and never waits for a writer.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def make_engine(url: str, *, pool_size: int = 5, echo: bool = False, timeout: float | None = None) -> Engine:
    """`timeout` (seconds): no statement, lock wait, pool checkout or dead connection lasts
    longer (the service's; None: the defaults of a command-line tool, whose migrations and
    imports may run long)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # A connection for each thread of DatabasePool (`pool_size` readers, one writer) and a
        # spare: a connection beyond the pool is opened and closed for each piece of work.
        engine = create_engine(url, echo=echo, pool_size=pool_size + 2, connect_args={"check_same_thread": False, "isolation_level": None})
        # On SQLite the only wait is for another writer's lock.
        event.listen(engine, "connect", _sqlite_pragmas(int((timeout or 10) * 1000)))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # A database host that drops packets must fail fast, so the IVR journals instead of waiting
    # for the operating system's TCP timeout.
    connect: dict[str, Any] = {"connect_timeout": 3}
    extra: dict[str, Any] = {}
    if timeout is not None:
        ms = int(timeout * 1000)
        # statement_timeout and lock_timeout bound the server's side; tcp_user_timeout and
        # keepalives a server that vanished mid-query (no reply would ever come).
        connect |= {
            "options": f"-c statement_timeout={ms} -c lock_timeout={ms}",
            "tcp_user_timeout": ms,
            "keepalives": 1,
            "keepalives_idle": max(1, int(timeout)),
            "keepalives_interval": 1,
            "keepalives_count": 3,
        }
        extra["pool_timeout"] = timeout
    # DatabasePool runs `pool_size` readers and as many writers, each holding a connection
    # while it works: the pool keeps that many open (beyond it, each piece of work would
    # open and close a connection of its own, a new server process on PostgreSQL).
    engine = create_engine(url, echo=echo, pool_size=2 * pool_size, max_overflow=2, connect_args=connect, **extra)
    _ping_when_idle(engine)
    return engine


#: A pooled PostgreSQL connection that has not been used for this long is pinged before it is
#: handed out (a restarted server or a dropped TCP connection shows there, and the pool opens
#: a new one); one used more recently is handed out as it is. SQLAlchemy's pre-ping pinged on
#: every checkout: a round trip before each desk read, most of the reader threads' waiting
#: in a sign-on storm (bench/RESULTS.md). A server lost within this window fails one piece of
#: work, which invalidates the pool (the call log journals it and retries).
PING_AFTER_IDLE_SECONDS = 1.0
_USED = "hotline.storage.db.used"


def _ping_when_idle(engine: Engine) -> None:
    def connected(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_USED] = monotonic()

    def checkout(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
        if monotonic() - record.info.get(_USED, 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # whatever the driver raises, the connection is unusable
            raise DisconnectionError(f"pooled connection failed its ping: {error}") from error
        if not alive:
            raise DisconnectionError("pooled connection failed its ping")

    def checkin(dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info[_USED] = monotonic()

    event.listen(engine, "connect", connected)
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)


class Database:
    """One engine and its session factory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        # Same pool, marked: SQLite begins these without the write lock (see _sqlite_begin).
        self.reader_engine = engine.execution_options(**{READ_ONLY: True})
        self.reader_sessions = sessionmaker(self.reader_engine, expire_on_commit=False)
        self.kept = KeptConnections(engine)

    @classmethod
    def from_url(cls, url: str, **kw: Any) -> Database:
        return cls(make_engine(url, **kw))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    def run(self, work: Callable[[Session], T]) -> T:
        with self.transaction() as session:
            return work(session)

    def lookup(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` on a Core connection that only reads (as `read`, without the
        ORM session: a caller's ticket lookup costs a third as much)."""
        with self.reader_engine.connect() as connection:
            return work(connection)

    def read_first(self, prepared: PreparedRead, params: Mapping[str, Any]) -> Sequence[Any] | None:
        """The first row of a read a caller waits for, on this thread's kept DB-API
        connection (`hotline.storage.prepared` says why)."""
        return self.kept.first(prepared, params)

    def read(self, work: Callable[[Session], T]) -> T:
        """`work(session)` in a transaction that only reads: on SQLite it never waits for
        the write lock (a caller's ticket lookup must not queue behind call-log writes). It
        is rolled back at the end, so anything it wrote by mistake is not kept."""
        with self.reader_sessions() as session:
            return work(session)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError as exc:
            log.warning("database unreachable: %s", exc.__class__.__name__)
            return False

    def dispose(self) -> None:
        self.kept.close()
        self.engine.dispose()


# -- migrations


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("tickets")
