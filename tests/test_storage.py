"""The schema on both databases: migrations, constraints and append-only history."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from hotline.storage import db as dbmod
from hotline.storage.models import Department, HistoryRewriteError, Ticket, TicketEvent, TicketSource, TicketStatus


def test_migrations_reach_head(database):
    """A fresh database is migrated to the newest revision."""
    assert dbmod.current_revision(database.engine) == dbmod.head_revision()


def test_datetimes_come_back_aware_utc(database):
    """Timestamps round-trip as aware UTC datetimes on both backends."""
    shanghai = datetime(2026, 2, 14, 9, 30, tzinfo=UTC).astimezone()
    with database.transaction() as s:
        s.add(Ticket(number="2602140001", source=TicketSource.HOTLINE, created_at=shanghai))
    with database.transaction() as s:
        t = s.scalars(select(Ticket)).one()
        assert t.created_at == shanghai and t.created_at.tzinfo is not None
        assert t.created_at.utcoffset().total_seconds() == 0


def _ticket_with_one_event(database) -> None:
    with database.transaction() as s:
        t = Ticket(number="2602140002", source=TicketSource.HOTLINE)
        s.add(t)
        s.flush()
        s.add(TicketEvent(ticket_id=t.id, seq=1, action="receive", to_status=TicketStatus.RECEIVED))


def test_history_cannot_be_rewritten_through_orm(database):
    """The ORM refuses to update or delete a ticket history row."""
    _ticket_with_one_event(database)
    with pytest.raises(HistoryRewriteError), database.transaction() as s:
        s.scalars(select(TicketEvent)).one().note = "rewritten"
    with pytest.raises(HistoryRewriteError), database.transaction() as s:
        s.delete(s.scalars(select(TicketEvent)).one())


def test_history_cannot_be_rewritten_in_sql(database):
    """The database itself refuses UPDATE and DELETE on history, whoever connects."""
    _ticket_with_one_event(database)
    for statement in ("UPDATE ticket_events SET note = 'x'", "DELETE FROM ticket_events"):
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
            conn.execute(text(statement))
    with database.transaction() as s:
        assert s.scalars(select(TicketEvent.note)).one() == ""


def test_status_check_constraint(database):
    """A status outside the workflow is refused by the database, not just by Python."""
    with database.transaction() as s:
        s.add(Department(code="D1", name_zh="环卫"))
    with pytest.raises(DBAPIError), database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tickets (number, source, status, caller_number, caller_name, location, description, transcript, urgency, "
                "created_at, dispatch_count, rework_count, extension_count, reopen_count, resolution, version) "
                "VALUES ('x', 'hotline', 'lost', '', '', '', '', '', 'normal', CURRENT_TIMESTAMP, 0, 0, 0, 0, '', 1)"
            )
        )


def test_migrations_match_the_models(database):
    """The migrated schema is what the models declare: no drift between Alembic and the ORM."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from hotline.storage.models import Base

    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_back(database_url):
    """The first migration can be undone and redone on both backends."""
    from alembic import command
    from sqlalchemy import create_engine, inspect

    command.downgrade(dbmod.alembic_config(database_url), "base")
    engine = create_engine(database_url)
    try:
        assert not dbmod.is_initialised(engine)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        dbmod.upgrade(database_url)
        assert dbmod.current_revision(engine) == dbmod.head_revision()
    finally:
        engine.dispose()


def test_a_read_does_not_wait_for_a_writer(database):
    """A read-only transaction (a caller's ticket lookup) reads the last committed state
    while another transaction holds the write lock, and what it wrote by mistake is not kept."""
    import threading

    with database.transaction() as s:
        s.add(Department(code="READ1", name_zh="读部门", name_en="Reader"))
    writing, release = threading.Event(), threading.Event()

    def writer() -> None:
        with database.transaction() as s:
            s.add(Department(code="READ2", name_zh="写部门", name_en="Writer"))
            s.flush()
            writing.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(10)
        codes = database.read(lambda s: set(s.scalars(select(Department.code).where(Department.code.like("READ%")))))
        assert codes == {"READ1"}
    finally:
        release.set()
        thread.join(10)

    def careless(s):
        s.add(Department(code="READ3", name_zh="误写", name_en="Mistake"))
        s.flush()

    database.read(careless)
    codes = database.read(lambda s: set(s.scalars(select(Department.code).where(Department.code.like("READ%")))))
    assert codes == {"READ1", "READ2"}


def test_pool_reads_run_while_the_writers_are_busy(database):
    """DatabasePool.read has threads of its own: a lookup is answered while every writer
    thread is busy."""
    import threading

    from twisted.internet import reactor as global_reactor  # noqa: F401 - only for the type
    from twisted.internet.task import Clock

    from hotline.storage.dbpool import DatabasePool

    class Reactor(Clock):
        """Enough of a reactor for deferToThreadPool: results are handed back at once (the
        pool's timeouts are on a clock that never advances)."""

        def callFromThread(self, fn, *args, **kwargs):
            fn(*args, **kwargs)

        def addSystemEventTrigger(self, *args, **kwargs):
            pass

    pool = DatabasePool(Reactor(), database, size=2)
    pool.start()
    release = threading.Event()
    try:
        busy = [pool.run(lambda s: release.wait(10)) for _ in range(3)]
        done = threading.Event()
        results = []
        pool.read(lambda s: s.execute(text("SELECT 1")).scalar()).addCallback(lambda value: (results.append(value), done.set()))
        assert done.wait(10) and results == [1]
        assert not any(d.called for d in busy)
    finally:
        release.set()
        pool.stop()


# -- DatabasePool: batched writes across calls, a timeout on everything, file work off the reactor


@pytest.fixture
def pool(database):
    from hotline.simulator.agi import PrivateReactor
    from hotline.storage.dbpool import DatabasePool

    with PrivateReactor() as private:
        # One writer and one reader thread on both backends: a hung work holds its kind up.
        made = DatabasePool(private.reactor, database, size=1, timeout=5.0, linger=0.05)
        made.start()
        try:
            yield private, made
        finally:
            made.stop()


def test_pool_writes_of_several_calls_share_one_transaction_and_a_bad_one_fails_alone(pool):
    """What `write` is given within its linger runs in one session (one transaction); a work
    that fails by itself rolls that back, and every other work is then written alone."""
    from twisted.internet.defer import gatherResults

    from hotline.calllog import records as calls

    private, made = pool
    sessions: list[int] = []

    def start(uniqueid: str) -> Any:
        def work(session: Any) -> str:
            sessions.append(id(session))
            return calls.start_call(session, uniqueid=uniqueid).uniqueid

        return work

    # A reactor woken while the writer holds the GIL gets it back within half a millisecond.
    assert sys.getswitchinterval() <= 0.0005
    written = private.run_until(gatherResults([made.write(start("p.1")), made.write(start("p.2"))]))
    assert written == ["p.1", "p.2"] and len(set(sessions)) == 1

    def bad(session: Any) -> None:
        calls.set_outcome(session, uniqueid="p.3", outcome="delighted")

    results = private.run_until(gatherResults([made.write(start("p.3")).addErrback(lambda f: f.type), made.write(bad).addErrback(lambda f: f.type)]))
    assert results == ["p.3", ValueError]
    with made.database.transaction() as s:
        assert {c.uniqueid for c in s.scalars(select(calls.Call))} == {"p.1", "p.2", "p.3"}


def test_a_database_operation_that_hangs_times_out_as_unreachable_and_is_journalled(pool, tmp_path):
    """A write or a lookup the database does not answer fails after the pool's timeout with
    an error the call log counts as unreachable: the operation is journalled, not lost, and
    the caller's lookup counts as unavailable."""
    import threading

    from twisted.internet.defer import TimeoutError as DeferredTimeout

    from hotline.calllog.journal import CallLog, Outcome, is_unreachable

    private, made = pool
    made.timeout = 0.2
    release = threading.Event()
    try:
        hung = made.write(lambda session: release.wait(30))
        calllog = CallLog(made.write, tmp_path / "journal", clock=private.reactor, disk=made.disk)
        submitted = private.run_until(calllog.submit("start_call", {"uniqueid": "h.1"}))
        assert submitted.outcome is Outcome.JOURNALLED and calllog.pending() == 1
        with pytest.raises(DeferredTimeout) as timed_out:
            private.run_until(hung)
        assert is_unreachable(timed_out.value) and "did not answer within 0.2 s" in str(timed_out.value)
        lookup = made.lookup(lambda connection: release.wait(30))
        with pytest.raises(DeferredTimeout):
            private.run_until(lookup)
    finally:
        release.set()
    made.timeout = 5.0
    assert private.run_until(calllog.replay()) == 1 and calllog.pending() == 0
    with made.database.transaction() as s:
        assert calls_of(s) == ["h.1"]


def calls_of(session: Any) -> list[str]:
    from hotline.calllog import records as calls

    return [c.uniqueid for c in session.scalars(select(calls.Call))]


@pytest.mark.postgres
def test_a_pooled_postgresql_connection_is_pinged_only_after_it_sat_idle(pg_server: Any, pg_template: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection used a moment ago is handed out without a round trip; one idle longer than
    PING_AFTER_IDLE_SECONDS is pinged, and one the server dropped meanwhile is replaced, so
    the work sees no error."""
    url = pg_server.createdb("hotline_ping_when_idle", template=pg_template)
    database, admin = dbmod.Database.from_url(url, pool_size=1), dbmod.Database.from_url(url, pool_size=1)
    pings: list[object] = []
    real_ping = database.engine.dialect.do_ping
    monkeypatch.setattr(database.engine.dialect, "do_ping", lambda connection: pings.append(connection) or real_ping(connection))
    clock = [1000.0]
    monkeypatch.setattr(dbmod, "monotonic", lambda: clock[0])
    try:
        pid = database.run(lambda s: s.execute(text("SELECT pg_backend_pid()")).scalar_one())
        assert database.run(lambda s: s.execute(text("SELECT pg_backend_pid()")).scalar_one()) == pid
        assert pings == []  # a new connection, then one used a moment ago: no ping
        clock[0] += dbmod.PING_AFTER_IDLE_SECONDS + 0.5
        assert database.run(lambda s: s.execute(text("SELECT pg_backend_pid()")).scalar_one()) == pid
        assert len(pings) == 1
        # The server drops the connection while it sits idle in the pool (a restart, a proxy).
        assert admin.run(lambda s: s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()) is True
        clock[0] += dbmod.PING_AFTER_IDLE_SECONDS + 0.5
        assert database.run(lambda s: s.execute(text("SELECT pg_backend_pid()")).scalar_one()) != pid
        assert len(pings) >= 2
    finally:
        database.dispose()
        admin.dispose()
