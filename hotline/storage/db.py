"""Engine, sessions and schema migrations, the same way for SQLite and PostgreSQL.

Services take a `Session` and never open one; callers wrap one unit of work (an AGI request,
an HTTP request, a scheduler tick) in `Database.transaction()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, connection_record: ConnectionPoolEntry) -> None:
    # WAL lets readers (desk, KPIs) run while the IVR writes; busy_timeout turns a brief
    # writer collision into a wait instead of "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


#: Execution option of `Database.reader`'s connections: transactions that only read.
READ_ONLY = "hotline_read_only"


def _sqlite_begin(conn: Connection) -> None:
    # Take the write lock at BEGIN: a deferred transaction that reads and then writes can
    # deadlock against another writer instead of waiting for it. A transaction that only
    # reads begins deferred: in WAL mode it reads a snapshot and never waits for a writer.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def make_engine(url: str, *, pool_size: int = 5, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "isolation_level": None})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # A database host that drops packets must fail fast, so the IVR journals instead of waiting
    # for the operating system's TCP timeout.
    return create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, connect_args={"connect_timeout": 3})


class Database:
    """One engine and its session factory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        # Same pool, marked: SQLite begins these without the write lock (see _sqlite_begin).
        self.reader_sessions = sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

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
