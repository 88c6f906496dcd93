"""The IVR's database process (hotline.storage.dbprocess): a real child process on each backend,
driven by a private reactor. Requests by name, answers by id; an unreachable database, a
failing operation, a child that dies, a stop in the middle of work, hostile lines on the
socket, and the call log journalling through it while it is away."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import deferLater

from hotline.calllog import records as calls
from hotline.storage.db import Database
from hotline.storage.dbprocess import DatabaseProcess, DatabaseUnreachable, RemoteError
from hotline.calllog.journal import CallLog, Outcome, operations_for
from hotline import config as configmod
from hotline.storage.models import Ticket, TicketSource, TicketStatus
from tests.agi_peer import PrivateReactor

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-11-23T02:00:00+00:00"


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "hotline.toml"
    path.write_text(f'[service]\ndata_dir = "{tmp_path / "var"}"\n[database]\nurl = "{url}"\n', encoding="utf-8")
    return path


def batch(uniqueid: str, *ops: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    items = [{"id": f"{uniqueid}-{index}", "op": op, "args": {"uniqueid": uniqueid, "at": AT, **args}} for index, (op, args) in enumerate(ops)]
    return {"id": f"{uniqueid}-batch", "op": "batch", "args": {"uniqueid": uniqueid, "operations": items}}


@pytest.fixture
def running(tmp_path: Path, database_url: str) -> Iterator[tuple[PrivateReactor, DatabaseProcess, Database]]:
    config = write_config(tmp_path, database_url)
    with PrivateReactor() as private:
        process = DatabaseProcess(private.reactor, str(config), readers=2, restart_seconds=0.2)
        process.start()
        database = Database.from_url(database_url)
        try:
            yield private, process, database
        finally:
            private.run_until(process.stop(), timeout=30)
            database.dispose()


def test_writes_and_reads_by_name(running):
    """A batch is written in the child (one transaction); the two IVR lookups answer with
    (number, status) or None."""
    private, process, database = running
    with database.transaction() as s:
        s.add(Ticket(number="2611230001", source=TicketSource.HOTLINE, status=TicketStatus.DISPATCHED, caller_number="+8613812345678"))
    private.run_until(process.write_entry(batch("p.1", ("start_call", {"caller_number": "13812345678"}), ("mark_answered", {}), ("call_ended", {}))), timeout=30)
    with database.transaction() as s:
        assert [e.kind for e in calls.timeline(s, "p.1")] == ["start", "answer", "end"]
        assert calls.get(s, "p.1").caller_number == "+8613812345678"
    assert private.run_until(process.request("ticket_status", number="2611230001"), timeout=30) == ["2611230001", "dispatched"]
    assert private.run_until(process.request("caller_open_ticket", caller_number="13812345678"), timeout=30) == ["2611230001", "dispatched"]
    assert private.run_until(process.request("ticket_status", number="404"), timeout=30) is None
    # Requests went straight to the socket, not through the reactor's write buffer.
    assert process._connection is not None and process._connection.write.__self__.direct  # type: ignore[attr-defined]


def test_an_operation_failing_by_itself_is_a_remote_error(running):
    """A bad argument is the operation's own failure (RemoteError, not worth retrying); the
    child keeps serving."""
    private, process, _ = running
    with pytest.raises(RemoteError, match="ValueError"):
        private.run_until(process.write_entry({"id": "x", "op": "set_outcome", "args": {"uniqueid": "p.2", "outcome": "delighted", "at": AT}}), timeout=30)
    with pytest.raises(ValueError, match="unknown database request"):
        private.run_until(process.request("drop_table"), timeout=30)
    assert private.run_until(process.request("ticket_status", number="1"), timeout=30) is None


def test_a_child_that_dies_fails_its_requests_as_unreachable_and_is_restarted(running):
    """Requests in flight when the child dies fail with DatabaseUnreachable (the call log
    journals them); the next child answers again."""
    private, process, _ = running
    assert private.run_until(process.request("ticket_status", number="1"), timeout=30) is None
    assert process._child is not None
    os.kill(process._child.pid, signal.SIGKILL)
    with pytest.raises(DatabaseUnreachable):
        private.run_until(process.request("ticket_status", number="1"), timeout=30)
    private.run_until_true(lambda: process.restarts == 1 and process._connection is not None, timeout=30)
    assert private.run_until(process.request("ticket_status", number="1"), timeout=30) is None


def test_stop_answers_what_was_given_first(running):
    """Writes sent just before stop are all written and answered; later requests fail as
    unreachable, so the call log would journal them."""
    private, process, database = running
    sent = [process.write_entry(batch(f"s.{i}", ("start_call", {}), ("call_ended", {}))) for i in range(20)]
    stopped = process.stop()
    for d in sent:
        assert private.run_until(d, timeout=30) is None
    private.run_until(stopped, timeout=30)
    with pytest.raises(DatabaseUnreachable):
        private.run_until(process.request("ticket_status", number="1"), timeout=5)
    with database.transaction() as s:
        assert all(calls.get(s, f"s.{i}").ended_at is not None for i in range(20))


def test_unreachable_database_is_reported_as_such(tmp_path):
    """The child cannot open the database: each request fails with DatabaseUnreachable."""
    (tmp_path / "gone.db").mkdir()  # a directory where the SQLite file should be
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'gone.db'}")
    with PrivateReactor() as private:
        process = DatabaseProcess(private.reactor, str(config), readers=1)
        process.start()
        try:
            with pytest.raises(DatabaseUnreachable, match="OperationalError"):
                private.run_until(process.write_entry(batch("u.1", ("start_call", {}))), timeout=30)
            with pytest.raises(DatabaseUnreachable, match="OperationalError"):
                private.run_until(process.request("ticket_status", number="1"), timeout=30)
        finally:
            private.run_until(process.stop(), timeout=30)


def test_call_log_journals_while_the_child_is_away_and_replays_through_it(tmp_path, database_url):
    """The service's arrangement: CallLog(write=process.write_entry). With no child running
    the batch is journalled; once the child is up, the replay writes it, once."""
    config_path = write_config(tmp_path, database_url)
    config = configmod.load(config_path)
    with PrivateReactor() as private:
        process = DatabaseProcess(private.reactor, str(config_path), readers=1)
        calllog = CallLog(None, tmp_path / "journal", clock=private.reactor, operations=operations_for(config), write=process.write_entry)
        first = private.run_until(calllog.submit_batch("j.1", [("start_call", {"uniqueid": "j.1", "at": AT}), ("call_ended", {"uniqueid": "j.1", "at": AT})]), timeout=30)
        assert first.outcome is Outcome.JOURNALLED and calllog.pending() == 2
        process.start()
        try:
            assert private.run_until(calllog.replay(), timeout=30) == 2
            assert not calllog.journalling
            assert private.run_until(calllog.submit("add_event", {"uniqueid": "j.1", "kind": "late", "at": AT}), timeout=30).outcome is Outcome.WRITTEN
        finally:
            private.run_until(process.stop(), timeout=30)
    database = Database.from_url(database_url)
    try:
        with database.transaction() as s:
            assert [e.kind for e in calls.timeline(s, "j.1")] == ["start", "end", "late"]
    finally:
        database.dispose()


def test_the_child_answers_hostile_lines_and_goes_on(tmp_path, sqlite_template):
    """Garbage, a non-object, an unknown name and arguments of the wrong shape each get a
    BadRequest answer; a good request after them is served; EOF ends the child cleanly."""
    url = f"sqlite:///{tmp_path / 'h.db'}"
    Path(tmp_path / "h.db").write_bytes(Path(sqlite_template).read_bytes())
    config = write_config(tmp_path, url)
    ours, theirs = socket.socketpair()
    child = subprocess.Popen([sys.executable, "-m", "hotline.storage.dbprocess", "--fd", str(theirs.fileno()), "--config", str(config)], pass_fds=[theirs.fileno()], cwd=ROOT)
    theirs.close()
    try:
        ours.sendall(b'{not json\n[1, 2]\n{"id": 3, "op": "drop_table"}\n{"id": 4, "op": "ticket_status", "args": [1]}\n{"id": 5, "op": "ticket_status", "args": {"number": "1"}}\n{"id": 6, "op": "ticket_status", "args": {"caller_number": "1"}}\n{"id": 7, "op": "ticket_status", "args": {"number": 7}}\n{"id": 8, "op": "caller_open_ticket", "args": {"caller_number": "13812345678"}}\n')
        ours.shutdown(socket.SHUT_WR)
        replies = [json.loads(line) for line in ours.makefile("rb")]
        assert child.wait(30) == 0
    finally:
        ours.close()
        if child.poll() is None:
            child.kill()
    # Reads run on threads here: answers come in any order.
    assert sorted(((r["id"], r["ok"], r.get("error")) for r in replies), key=lambda r: -1 if r[0] is None else r[0]) == [(None, False, "BadRequest"), (None, False, "BadRequest"), (3, False, "BadRequest"), (4, False, "BadRequest"), (5, True, None), (6, False, "TypeError"), (7, False, "AttributeError"), (8, True, None)]
