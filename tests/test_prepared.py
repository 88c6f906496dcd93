"""Reads a caller waits for (hotline.storage.prepared), on both backends: the same rows as
SQLAlchemy gives for the same statement, one kept connection per thread, a broken one
replaced, every one closed with the database."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from hotline.storage.db import Database
from hotline.storage.prepared import PreparedRead
from hotline.tickets import services as tickets
from hotline.tickets.services import STATUS_BY_NUMBER
from tests.test_flows import REPEAT_CALLER, cases  # noqa: F401 - `cases` is a fixture: the tickets to ask about


def both_ways(database: Database, query: Any) -> tuple[Any, Any]:
    prepared, params = query
    with database.transaction() as s:
        through_sqlalchemy = s.execute(prepared.statement, params).first()
    return database.read_first(prepared, params), through_sqlalchemy


def test_a_prepared_read_gives_what_sqlalchemy_gives(database: Database, cases: dict[str, str]) -> None:  # noqa: F811 - the fixture
    for query, expected in [
        (tickets.caller_open_ticket_query(REPEAT_CALLER), (cases["open"], "dispatched")),
        (tickets.caller_open_ticket_query("13700002222"), None),  # only a finished case
        (tickets.caller_open_ticket_query("13900009999"), None),
        (tickets.ticket_status_query(cases["done"]), (cases["done"], "answered")),
        (tickets.ticket_status_query(f" {cases['open']} "), (cases["open"], "dispatched")),
        (tickets.ticket_status_query("' OR 1=1 --"), None),
    ]:
        raw, through_sqlalchemy = both_ways(database, query)
        assert tickets.status_pair(raw) == tickets.status_pair(through_sqlalchemy) == expected
    assert tickets.caller_open_ticket_query("not a number") is None


def test_parameters_must_be_the_statements_own(database: Database) -> None:
    with pytest.raises(ValueError, match="caller"):
        database.read_first(tickets.OPEN_STATUS_BY_CALLER, {"number": "1"})
    with pytest.raises(ValueError, match="caller"):
        database.read_first(tickets.OPEN_STATUS_BY_CALLER, {})


def test_each_thread_keeps_one_connection_and_a_broken_one_is_replaced(database: Database, cases: dict[str, str]) -> None:  # noqa: F811 - the fixture
    query = tickets.ticket_status_query(cases["open"])
    assert database.read_first(*query) is not None
    first = database.kept._local.connection
    assert database.read_first(*query) is not None and database.kept._local.connection is first
    seen: list[Any] = []

    def elsewhere() -> None:
        database.read_first(*query)
        seen.append(database.kept._local.connection)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert seen[0] is not first and len(database.kept._all) == 2
    first.close()  # the connection breaks under the thread (a server restart): read on a new one
    assert tickets.status_pair(database.read_first(*query)) == (cases["open"], "dispatched")
    assert database.kept._local.connection is not first and first not in database.kept._all
    database.dispose()
    assert not database.kept._all


@pytest.mark.postgres
def test_postgresql_reads_leave_no_transaction_open(pg_server: Any, pg_template: str) -> None:
    """Autocommit: one statement per read, no idle transaction holding a snapshot."""
    name = "hotline_prepared_autocommit"
    database = Database.from_url(pg_server.createdb(name, template=pg_template))
    try:
        query = tickets.caller_open_ticket_query(REPEAT_CALLER)
        assert query is not None and database.read_first(*query) is None
        connection = database.kept._local.connection
        assert connection.autocommit and connection.info.transaction_status == 0  # psycopg: IDLE
    finally:
        database.dispose()
        pg_server.dropdb(name)


def test_a_read_that_fails_twice_raises_the_drivers_error_and_keeps_nothing(database: Database) -> None:
    """Both tries fail (here: no such table): the caller's store sees the error (the flow says
    "cannot tell"), and no broken connection is kept."""
    from sqlalchemy import bindparam, column, select, table

    missing = PreparedRead(select(column("x")).select_from(table("no_such_table")).where(column("x") == bindparam("x")))
    database.read_first(STATUS_BY_NUMBER, {"number": "1"})  # a kept connection first
    with pytest.raises(Exception, match="no_such_table"):  # the driver's own error class
        database.read_first(missing, {"x": "1"})
    assert database.kept._local.connection is None and not database.kept._all
    assert database.read_first(STATUS_BY_NUMBER, {"number": "1"}) is None  # and the next read works
