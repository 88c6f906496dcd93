"""hotline.storage.prepared and the IVR's direct status lookups (hotline.tickets.services.StatusLookups), on
each backend: the same answers as the session lookups for every kind of ticket and caller,
parameters checked, and a connection the server dropped reported as unreachable and replaced."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.exc import DBAPIError

from hotline.tickets import services as tickets
from hotline.calllog.journal import is_unreachable
from hotline.storage.models import Ticket, TicketSource, TicketStatus
from hotline.storage.prepared import DirectReader

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)

#: number, caller, status, minutes after T0 it was opened
ROWS = [
    ("2611020001", "+8613800000001", TicketStatus.DISPATCHED, 0),
    ("2611020002", "+8613800000001", TicketStatus.CLOSED, 10),  # newer, but finished
    ("2611020003", "+8613800000002", TicketStatus.ANSWERED, 0),  # only finished tickets
    ("2611020004", "+8613800000003", TicketStatus.RECEIVED, 0),
    ("2611020005", "+8613800000003", TicketStatus.HANDLED, 5),  # the newer open one
    ("2611020006", "+8613800000004", TicketStatus.REJECTED, 0),
]


@pytest.fixture
def seeded(database):
    with database.transaction() as s:
        for number, caller, status, minutes in ROWS:
            s.add(Ticket(number=number, source=TicketSource.HOTLINE, status=status, caller_number=caller, created_at=T0 + timedelta(minutes=minutes)))
    reader = DirectReader(database.engine)
    try:
        yield database, reader
    finally:
        reader.close()


def test_direct_lookups_answer_as_the_session_lookups(seeded):
    database, reader = seeded
    direct = tickets.StatusLookups(reader)
    numbers = {
        "2611020001": ("2611020001", "dispatched"),
        " 2611020005 ": ("2611020005", "handled"),
        "2611020006": ("2611020006", "rejected"),
        "404": None,
        "": None,
        "' OR 1=1 --": None,
    }
    callers = {
        "13800000001": ("2611020001", "dispatched"),  # the closed newer ticket is not offered
        "+86 138 0000 0003": ("2611020005", "handled"),
        "13800000002": None,  # answered: finished
        "13800000004": None,  # rejected: finished
        "13899999999": None,
        "": None,
        "anonymous": None,
        "1' OR '1'='1": None,
    }
    for number, expected in numbers.items():
        assert direct.ticket_status(number) == expected, number
        assert database.read(lambda s: tickets.ticket_status(s, number)) == expected, number
    for caller, expected in callers.items():
        assert direct.caller_open_ticket_status(caller) == expected, caller
        assert database.read(lambda s: tickets.caller_open_ticket_status(s, caller)) == expected, caller


def test_rows_from_the_orm_and_from_a_cursor_read_the_same():
    """The ORM gives TicketStatus, a DB-API cursor the stored string: one pair either way; a
    status no ticket may have is an error, not something to read to a caller."""
    assert tickets._status_pair(("2611020004", TicketStatus.RECEIVED)) == ("2611020004", "received")
    assert tickets._status_pair(("2611020004", "received")) == ("2611020004", "received")
    assert tickets._status_pair(None) is None
    with pytest.raises(ValueError, match="is not a valid TicketStatus"):
        tickets._status_pair(("2611020004", "lost"))


def test_parameters_must_be_the_ones_prepared(seeded):
    _, reader = seeded
    query = reader.prepare(tickets._STATUS_BY_NUMBER, number="")
    with pytest.raises(TypeError, match="number"):
        reader.first(query)
    with pytest.raises(TypeError, match="number"):
        reader.first(query, number="1", extra="x")


def test_the_expanding_in_list_is_rendered_once(seeded):
    """`status NOT IN (…finished…)` is expanded at prepare time; every finished status is a
    parameter of its own, not text in the SQL."""
    _, reader = seeded
    query = reader.prepare(tickets._OPEN_STATUS_BY_CALLER, caller="")
    assert "POSTCOMPILE" not in query.sql
    for status in ("closed", "answered", "rejected"):
        assert status not in query.sql
    params = query.parameters({"caller": "+8613800000001"})
    values = list(params.values()) if isinstance(params, dict) else list(params)
    assert "+8613800000001" in values
    assert {"closed", "answered", "rejected"} <= set(values)


@pytest.mark.postgres
def test_a_dropped_connection_is_unreachable_and_the_next_read_reconnects(pg_server, pg_template):
    """PostgreSQL ends our backend (as a restart or a failover would): that read fails with an
    error the call log counts as unreachable; the next read connects again and answers."""
    name = "hotline_prepared_drop"
    pg_server._run(str(pg_server.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(pg_server.port), "-U", "postgres", "-T", pg_template, name)
    engine = create_engine(pg_server.url(name))
    admin = create_engine(pg_server.url(name), isolation_level="AUTOCOMMIT")
    reader = DirectReader(engine)
    try:
        lookups = tickets.StatusLookups(reader)
        assert lookups.ticket_status("1") is None
        with admin.connect() as conn:
            ended = conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name}).scalars().all()
        assert ended == [True]
        with pytest.raises(DBAPIError) as raised:
            lookups.ticket_status("1")
        assert is_unreachable(raised.value)
        assert "13800000001" not in str(raised.value)
        assert lookups.ticket_status("1") is None
    finally:
        reader.close()
        engine.dispose()
        admin.dispose()
        pg_server.dropdb(name)


def test_direct_store_answers_at_once_and_fails_as_a_deferred(seeded, tmp_path):
    """The service's SQLite lookups (ivr.flows.DirectStore): an answer is a Deferred that has
    already fired; a database that cannot be opened is a failed one (the flow then says the
    system is busy), not an exception on the reactor."""
    from ivr.flows import DirectStore, TicketView

    _, reader = seeded
    store = DirectStore(reader)
    answered = store.ticket("2611020001")
    assert answered.called and answered.result == TicketView("2611020001", "dispatched")
    assert store.open_ticket_for("13800000001").result == TicketView("2611020001", "dispatched")
    (tmp_path / "gone.db").mkdir()
    broken = DirectStore(DirectReader(create_engine(f"sqlite:///{tmp_path / 'gone.db'}"), sqlite_busy_ms=100))
    failed = broken.ticket("1")
    errors: list[BaseException] = []
    failed.addErrback(lambda failure: errors.append(failure.value))
    assert len(errors) == 1 and is_unreachable(errors[0])
    broken.dispose()


def test_a_locked_sqlite_database_fails_a_direct_read_after_its_own_busy_timeout(tmp_path):
    """A read on the reactor thread waits at most `sqlite_busy_ms` for a lock, not the
    engine's 10 s: its connection carries that busy timeout, and a database another
    connection holds exclusively fails the read as locked."""
    import sqlite3

    from sqlalchemy import column, select, table

    path = tmp_path / "locked.db"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE t (x)")
    engine = create_engine(f"sqlite:///{path}")
    reader = DirectReader(engine, sqlite_busy_ms=50)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        query = reader.prepare(select(column("x")).select_from(table("t")).where(column("x") == bindparam("v")), v="")
        assert reader.first(query, v="1") is None
        assert reader._local.connection.cursor().execute("PRAGMA busy_timeout").fetchone() == (50,)
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(DBAPIError, match="locked"):
            reader.first(query, v="1")
    finally:
        holder.close()
        reader.close()
        engine.dispose()
