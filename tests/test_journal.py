"""The call-log journal: with the database really unreachable (a PostgreSQL server stopped,
an SQLite file taken away) a call still reaches the queue, its record waits in the journal,
and the retry on the injected clock writes it exactly once when the database is back.
Also: per-call ordering, journals adopted from processes that ended, resuming after a
crash, lines that can never be written, and the synchronous variant."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from hotline.agi.scripted import ScriptedLine, catalogue_durations, in_queue, speak
from hotline.calllog import callbacks
from hotline.calllog import records as calls
from hotline.calllog.journal import REJECTED_NAME, CallLog, Outcome, SyncCallLog, is_unreachable, journal_path, sync_run
from hotline.storage import db as dbmod
from hotline.storage.db import Database
from hotline.storage.models import Callback, CallDisposition, Recording, Ticket, TicketSource
from hotline.tickets import voicemail as messages
from hotline.tickets.services import TicketPolicy
from ivr.flows import DatabaseStore
from ivr.menu import load_menu
from ivr.runner import CallRunner
from tests.conftest import BACKENDS
from tests.test_flows import MONDAY, clock_at, make_config, queued_to, record

_names = itertools.count()


# -- a database that goes away for real


class SqliteOutage:
    """Takes the SQLite file away (a directory in its place: 'unable to open database file')."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.database = Database.from_url(f"sqlite:///{path}")
        self.down = False

    def stop(self) -> None:
        self.database.dispose()
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                part.rename(Path(f"{self.path}{suffix}.away"))
        self.path.mkdir()
        self.down = True

    def start(self) -> None:
        self.path.rmdir()
        for suffix in ("", "-wal", "-shm"):
            away = Path(f"{self.path}{suffix}.away")
            if away.exists():
                away.rename(Path(f"{self.path}{suffix}"))
        self.down = False


class PostgresOutage:
    """Stops and restarts a PostgreSQL server of its own (connection refused meanwhile)."""

    def __init__(self, server: Any, url: str) -> None:
        self.server = server
        self.database = Database.from_url(url)
        self.down = False

    def _pg_ctl(self, *args: str) -> None:
        self.server._run(str(self.server.bindir / "pg_ctl"), "-D", str(self.server.datadir), *args)

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "stop")
        self.down = True

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.server.port} -k {self.server.sockdir} -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.server.root / "log"), "-w", "-t", "60", "start")
        self.down = False


@pytest.fixture(scope="module")
def stoppable_pg() -> Iterator[Any]:
    """A PostgreSQL server for this module only: the shared one must never be stopped."""
    from tests.pgserver import PostgresServer

    server = PostgresServer()
    server.start()
    dbmod.upgrade(server.createdb("outage_template"))
    try:
        yield server
    finally:
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - already stopped by a failed test: nothing to do
            shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteOutage | PostgresOutage]:
    """A migrated database of each backend that the test can make unreachable."""
    if request.param == "sqlite":
        path = tmp_path / "outage.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        made: SqliteOutage | PostgresOutage = SqliteOutage(path)
    else:
        server = request.getfixturevalue("stoppable_pg")
        name = f"outage_{os.getpid()}_{next(_names)}"
        server._run(str(server.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", "-T", "outage_template", name)
        made = PostgresOutage(server, server.url(name))
    try:
        yield made
    finally:
        if made.down:
            made.start()
        made.database.dispose()


def operations_for(config: Any) -> dict[str, Callable[..., Any]]:
    return {**calls.OPERATIONS, **callbacks.OPERATIONS, **messages.operations(TicketPolicy.from_config(config))}


def runner_with_retry(config: Any, database: Database, clock: Clock) -> tuple[ScriptedLine, CallRunner, CallLog]:
    """The service's arrangement (a CallLog with its retry timer on the clock) with an inline
    session runner, so the test sees each step."""
    calllog = CallLog(sync_run(database), journal_path(config), clock=clock, operations=operations_for(config), retry_seconds=15)
    runner = CallRunner(config=config, menu=load_menu(config), store=DatabaseStore.inline(database), calllog=calllog, clock=clock, registry=CollectorRegistry())
    calllog.start()
    return ScriptedLine(runner, clock, catalogue_durations(config.asterisk.sounds_dir, runner.catalogue)), runner, calllog


def event_counts(database: Database, uniqueid: str) -> dict[str, int]:
    _, events = record(database, uniqueid)
    counts: dict[str, int] = {}
    for kind, _detail in events:
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def journal_files(config: Any) -> list[Path]:
    directory = journal_path(config)
    return sorted(directory.glob("calllog-*.jsonl")) if directory.exists() else []


# -- the outage


def test_call_is_queued_while_the_database_is_down_and_written_once_when_back(outage, tmp_path):
    """Database stopped: the caller still reaches the general queue in time, the record is in
    the journal (fsync'd JSON lines), nothing is in the database; database back: the next
    retry writes it, exactly once, and later retries add nothing."""
    config = make_config(tmp_path)
    clock = clock_at(MONDAY)
    line, runner, calllog = runner_with_retry(config, outage.database, clock)
    clock.advance(0)  # the start-up replay: nothing to do
    outage.stop()
    channel = line.call(in_queue("ANSWERED", wait=20, talk=90))
    assert queued_to(channel) == ["general"] and channel.seconds_to_queue() <= 10.0
    assert calllog.journalling
    files = journal_files(config)
    assert len(files) == 1
    lines = [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]
    # One line per point where the caller started listening (a prompt, the queue) and one
    # at the end; the first holds the start of the record, the last the queue's outcome.
    assert {entry["op"] for entry in lines} == {"batch"}
    batches = [[item["op"] for item in entry["args"]["operations"]] for entry in lines]
    assert batches[0][:2] == ["start_call", "mark_answered"] and batches[-1][-1] == "call_ended"
    assert sum(ops.count("queue_joined") for ops in batches) == 1 and "queue_answered" in batches[-1]
    inner = [item for entry in lines for item in entry["args"]["operations"]]
    assert len(lines) < len(inner)
    assert all(entry["args"]["uniqueid"] == channel.info.uniqueid for entry in lines)
    assert all(item["args"]["uniqueid"] == channel.info.uniqueid and item["args"]["at"] for item in inner)
    assert len({item["id"] for item in inner}) == len(inner)
    assert calllog.pending() == len(inner)

    clock.advance(60)  # retries while still down: nothing lost, nothing written
    assert calllog.pending() == len(inner)
    outage.start()
    clock.advance(15)
    assert not calllog.journalling and calllog.pending() == 0 and journal_files(config) == []
    call, _ = record(outage.database, channel.info.uniqueid)
    assert call.disposition is CallDisposition.ANSWERED and call.queue == "general" and call.ended_at is not None
    assert call.caller_number == "+8613812345678"
    assert (call.ended_at - call.started_at).total_seconds() == pytest.approx(channel.commands[-1].ended, abs=0.01)
    counts = event_counts(outage.database, channel.info.uniqueid)
    assert counts["start"] == counts["answer"] == counts["end"] == counts["queue_join"] == counts["ivr_summary"] == 1
    clock.advance(120)
    assert event_counts(outage.database, channel.info.uniqueid) == counts
    runner.close()


def test_message_left_while_the_database_is_down_becomes_a_ticket_once(outage, tmp_path):
    """A voicemail (queue closed) during the outage: the ticket draft and its recording are
    made from the journal when the database is back, once."""
    config = make_config(tmp_path, general={"hours": ["workdays 08:30-17:30"]})
    clock = clock_at(MONDAY.replace(hour=21))
    line, runner, _calllog = runner_with_retry(config, outage.database, clock)
    outage.stop()
    channel = line.call(speak(12))
    assert "record_file" in channel.verbs()
    outage.start()
    clock.advance(15)
    clock.advance(15)
    with outage.database.transaction() as s:
        tickets = s.scalars(select(Ticket)).all()
        assert [t.source for t in tickets] == [TicketSource.VOICEMAIL]
        assert s.scalar(select(func.count()).select_from(Recording)) == 1
    call, _ = record(outage.database, channel.info.uniqueid)
    assert call.disposition is CallDisposition.VOICEMAIL and call.ticket_id == tickets[0].id
    runner.close()


def test_callback_request_while_the_database_is_down_is_stored_once(outage, tmp_path):
    """A queue-callback request during the outage is kept and stored once afterwards."""
    config = make_config(tmp_path)
    clock = clock_at(MONDAY)
    line, runner, _calllog = runner_with_retry(config, outage.database, clock)
    outage.stop()
    first = line.call(in_queue("EXIT", wait=30, position=4))
    line.call(flow="queue_callback", uniqueid=first.info.uniqueid, variables=dict(first.variables))
    outage.start()
    clock.advance(15)
    with outage.database.transaction() as s:
        found = s.scalars(select(Callback)).all()
        assert [(c.position, c.queue, c.phone) for c in found] == [(4, "general", "+8613812345678")]
    assert record(outage.database, first.info.uniqueid)[0].disposition is CallDisposition.CALLBACK_REQUESTED
    runner.close()


# -- ordering and the state machine, with a session runner the test steps by hand


class SteppedRun:
    """A session runner whose work waits until the test lets it run, to watch the order."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.waiting: list[tuple[Callable[[Session], Any], Deferred[Any]]] = []

    def __call__(self, work: Callable[[Session], Any]) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.waiting.append((work, d))
        return d

    def finish(self, index: int = 0) -> None:
        work, d = self.waiting.pop(index)
        try:
            result = self.database.run(work)
        except Exception as exc:  # noqa: BLE001 - handed to the Deferred, as the pool would
            d.errback(exc)
        else:
            d.callback(result)


def test_operations_of_one_call_run_in_order_others_in_parallel(database, tmp_path):
    """Two operations for the same uniqueid never overlap (the second starts when the first
    is done); another call's operation does not wait for them."""
    run = SteppedRun(database)
    calllog = CallLog(run, tmp_path / "journal", clock=Clock())
    results: list[Any] = []
    calllog.submit("start_call", {"uniqueid": "a.1", "caller_number": "13812345678"}).addCallback(results.append)
    calllog.submit("set_outcome", {"uniqueid": "a.1", "outcome": "self_service"}).addCallback(results.append)
    calllog.submit("start_call", {"uniqueid": "b.1"}).addCallback(results.append)
    assert len(run.waiting) == 2  # a.1's first and b.1's; a.1's second waits its turn
    run.finish(1)
    run.finish(0)
    assert len(run.waiting) == 1
    run.finish(0)
    assert [r.outcome for r in results] == [Outcome.WRITTEN] * 3
    assert record(database, "a.1")[0].disposition is CallDisposition.SELF_SERVICE


def _refusing(work: Callable[[Session], Any]) -> Deferred[Any]:
    """A session runner whose database refuses the connection."""
    d: Deferred[Any] = Deferred()
    d.errback(sa_exc.OperationalError("connect", {}, ConnectionRefusedError(111, "Connection refused")))
    return d


def test_after_the_first_failure_everything_is_journalled_in_order(database, tmp_path):
    """Once one operation was journalled, the following ones are too (the journal never
    overtakes itself) until a replay has caught up."""
    calllog = CallLog(_refusing, tmp_path / "journal", clock=Clock())
    out = [calllog.submit("start_call", {"uniqueid": "c.1"}), calllog.submit("add_event", {"uniqueid": "c.1", "kind": "menu", "detail": {"node": "main"}})]
    assert all(d.result.outcome is Outcome.JOURNALLED for d in out)
    calllog._run = sync_run(database)  # the database is back
    assert calllog.submit("call_ended", {"uniqueid": "c.1"}).result.outcome is Outcome.JOURNALLED
    written: list[int] = []
    calllog.replay().addCallback(written.append)
    assert written == [3] and not calllog.journalling
    assert [k for k, _ in record(database, "c.1")[1]] == ["start", "menu", "end"]
    assert calllog.submit("add_event", {"uniqueid": "c.1", "kind": "late"}).result.outcome is Outcome.WRITTEN


def test_time_is_stamped_when_submitted_not_when_replayed(database, tmp_path):
    """An operation submitted without `at` gets the clock's time then; the replay keeps it."""
    clock = clock_at(MONDAY)
    refused: list[bool] = [True]

    def run(work: Callable[[Session], Any]) -> Deferred[Any]:
        if refused[0]:
            d: Deferred[Any] = Deferred()
            d.errback(sa_exc.InterfaceError("connect", {}, Exception("server closed the connection")))
            return d
        return sync_run(database)(work)

    calllog = CallLog(run, tmp_path / "journal", clock=clock)
    calllog.submit("start_call", {"uniqueid": "t.1"})
    clock.advance(3600)
    refused[0] = False
    calllog.replay()
    call, _ = record(database, "t.1")
    assert call.started_at == MONDAY


# -- batches


class CountingRun:
    """sync_run that counts transactions."""

    def __init__(self, database: Database) -> None:
        self.run, self.transactions = sync_run(database), 0

    def __call__(self, work: Callable[[Session], Any]) -> Deferred[Any]:
        self.transactions += 1
        return self.run(work)


STEPS = [
    ("start_call", {"uniqueid": "k.1", "caller_number": "13812345678"}),
    ("mark_answered", {"uniqueid": "k.1"}),
    ("add_event", {"uniqueid": "k.1", "kind": "key", "detail": {"node": "main", "key": "1"}}),
    ("set_outcome", {"uniqueid": "k.1", "outcome": "self_service"}),
]


def test_a_batch_is_one_transaction_in_order_with_single_operations(database, tmp_path):
    """A batch's operations are written in one transaction, after what was submitted for the
    same call before it; each result comes back."""
    run = CountingRun(database)
    calllog = CallLog(run, tmp_path / "journal", clock=clock_at(MONDAY))
    result = calllog.submit_batch("k.1", STEPS).result
    assert result.outcome is Outcome.WRITTEN and run.transactions == 1
    assert [type(value).__name__ for value in result.value] == ["Record", "Record", "NoneType", "Record"]
    calllog.submit("call_ended", {"uniqueid": "k.1"})
    call, events = record(database, "k.1")
    assert [k for k, _ in events] == ["start", "answer", "key", "outcome", "end"]
    assert call.disposition is CallDisposition.SELF_SERVICE and call.caller_number == "+8613812345678"
    assert calllog.submit_batch("k.1", []).result.outcome is Outcome.WRITTEN and run.transactions == 2


def test_a_batch_with_a_bad_operation_loses_only_that_operation(database, tmp_path):
    """One operation failing by itself (a bug) rolls back the batch's transaction; the batch
    is then written one operation at a time, so only the bad one is dropped."""
    calllog = CallLog(sync_run(database), tmp_path / "journal", clock=clock_at(MONDAY))
    steps = [*STEPS[:3], ("set_outcome", {"uniqueid": "k.1", "outcome": "delighted"}), ("call_ended", {"uniqueid": "k.1"})]
    result = calllog.submit_batch("k.1", steps).result
    assert result.outcome is Outcome.FAILED and calllog.failed_operations == 1
    assert [k for k, _ in record(database, "k.1")[1]] == ["start", "answer", "key", "end"]
    assert not calllog.journalling


def test_a_batch_journalled_while_down_is_replayed_once(database, tmp_path):
    """A batch journalled as one line is written by the replay in one transaction; a crash
    after it was written but before its line was marked done adds nothing the second time."""
    directory = tmp_path / "journal"
    script = SyncCallLog(_down(tmp_path), directory, clock=clock_at(MONDAY))
    results: list[Any] = []
    script.submit_batch("k.1", STEPS).addCallback(results.append)
    assert results[0].outcome is Outcome.JOURNALLED and script.pending() == len(STEPS)
    path = script._own.path
    script.close()
    copy = path.read_bytes()
    run = CountingRun(database)
    written: list[int] = []
    CallLog(run, directory).replay().addCallback(written.append)
    assert written == [len(STEPS)] and run.transactions == 1
    path.write_bytes(copy)  # the same line again, as after a crash before its .done record
    CallLog(sync_run(database), directory).replay()
    assert [k for k, _ in record(database, "k.1")[1]] == ["start", "answer", "key", "outcome"]


def test_batch_lines_that_can_never_be_written_are_set_aside(database, tmp_path):
    """A malformed batch, or one naming an unknown operation, is rejected whole; a batch the
    database refuses is split and only the refused operation is rejected."""
    directory = tmp_path / "journal"
    directory.mkdir()
    at = "2026-11-23T02:00:00+00:00"
    malformed = {"id": "1", "op": "batch", "args": {"uniqueid": "m.1", "operations": "start_call"}}
    unknown = {"id": "2", "op": "batch", "args": {"uniqueid": "m.1", "operations": [{"id": "a", "op": "drop_table", "args": {}}]}}
    mixed = {
        "id": "3",
        "op": "batch",
        "args": {
            "uniqueid": "m.1",
            "operations": [
                {"id": "b", "op": "start_call", "args": {"uniqueid": "m.1", "at": at}},
                {"id": "c", "op": "set_outcome", "args": {"uniqueid": "m.1", "outcome": "no_such_outcome", "at": at}},
                {"id": "d", "op": "call_ended", "args": {"uniqueid": "m.1", "at": at}},
            ],
        },
    }
    (directory / "calllog-00000000000000000001-1.jsonl").write_text("\n".join(json.dumps(e) for e in (malformed, unknown, mixed)) + "\n", encoding="utf-8")
    calllog = CallLog(sync_run(database), directory)
    written: list[int] = []
    calllog.replay().addCallback(written.append)
    assert written == [2]
    rejected = [json.loads(line) for line in (directory / REJECTED_NAME).read_text(encoding="utf-8").splitlines()]
    assert [r["reason"].split(":")[0] for r in rejected] == ["malformed batch", "unknown operation 'drop_table' in a batch", "ValueError"]
    assert json.loads(rejected[2]["line"])["id"] == "c"
    assert [k for k, _ in record(database, "m.1")[1]] == ["start", "end"]


def test_batch_is_not_an_operation_name(tmp_path):
    with pytest.raises(ValueError, match="journal's own entry name"):
        CallLog(lambda work: Deferred(), tmp_path, operations={"batch": calls.add_event})


# -- journals of other processes, crashes, lines that can never be written


def _down(tmp_path: Path) -> Database:
    """A Database whose file cannot be opened (a directory is in its place)."""
    (tmp_path / "down.db").mkdir(exist_ok=True)
    return Database.from_url(f"sqlite:///{tmp_path / 'down.db'}")


def test_journal_of_an_ended_process_is_adopted(database, tmp_path):
    """A classic AGI script journals while the database is down and exits; the service's
    call log adopts its file on the next retry and writes it."""
    directory = tmp_path / "journal"
    script = SyncCallLog(_down(tmp_path), directory)
    assert script.submit_now("start_call", {"uniqueid": "o.1", "caller_number": "13812345678"}).outcome is Outcome.JOURNALLED
    assert script.submit_now("call_ended", {"uniqueid": "o.1"}).outcome is Outcome.JOURNALLED
    script.close()
    assert len(list(directory.glob("calllog-*.jsonl"))) == 1
    clock = Clock()
    service = CallLog(sync_run(database), directory, clock=clock)
    service.start()
    clock.advance(0)
    assert list(directory.glob("calllog-*")) == []
    assert record(database, "o.1")[0].ended_at is not None


def test_journal_of_a_live_process_is_left_alone(database, tmp_path):
    """A journal whose owner still holds its lock is not adopted (no double writes)."""
    directory = tmp_path / "journal"
    owner = SyncCallLog(_down(tmp_path), directory)
    owner.submit_now("start_call", {"uniqueid": "l.1"})
    other = CallLog(sync_run(database), directory, clock=Clock())
    other.replay()
    with database.transaction() as s:
        assert calls.get(s, "l.1") is None
    owner._run = sync_run(database)
    owner.replay()
    assert event_counts(database, "l.1") == {"start": 1}
    assert list(directory.glob("calllog-*")) == []


def test_replay_resumes_after_a_crash(database, tmp_path):
    """The .done offset written after each line lets a new process resume where the old one
    stopped: lines already written are not written again."""
    directory = tmp_path / "journal"
    script = SyncCallLog(_down(tmp_path), directory)
    for kind in ("one", "two", "three"):
        script.submit_now("add_event", {"uniqueid": "r.1", "kind": kind})
    path = script._own.path
    script.close()
    first_line_end = len(path.read_bytes().split(b"\n")[0]) + 1
    with database.transaction() as s:  # the crashed process had written line 1
        calls.add_event(s, **json.loads(path.read_text().splitlines()[0])["args"])
    path.with_name(path.name + ".done").write_text(f"{first_line_end:020d}\n")
    CallLog(sync_run(database), directory).replay()
    assert [k for k, _ in record(database, "r.1")[1]] == ["one", "two", "three"]


def test_lines_that_can_never_be_written_are_set_aside(database, tmp_path):
    """An unreadable line, an unknown operation, one the database refuses and an incomplete
    last line go to rejected.jsonl; the others are written."""
    directory = tmp_path / "journal"
    directory.mkdir()
    good = {"id": "1", "op": "start_call", "args": {"uniqueid": "j.1", "at": "2026-11-23T02:00:00+00:00"}}
    refused = {"id": "2", "op": "set_outcome", "args": {"uniqueid": "j.1", "outcome": "no_such_outcome"}}
    unknown = {"id": "3", "op": "drop_table", "args": {}}
    later = {"id": "4", "op": "call_ended", "args": {"uniqueid": "j.1", "at": "2026-11-23T02:01:00+00:00"}}
    text = "\n".join([json.dumps(good), "{not json", json.dumps(refused), json.dumps(unknown), json.dumps(later)]) + "\n" + '{"id": "5", "op": "add_ev'
    (directory / "calllog-00000000000000000001-1.jsonl").write_text(text, encoding="utf-8")
    calllog = CallLog(sync_run(database), directory)
    written: list[int] = []
    calllog.replay().addCallback(written.append)
    assert written == [2]
    rejected = [json.loads(line) for line in (directory / REJECTED_NAME).read_text(encoding="utf-8").splitlines()]
    assert [r["reason"].split(":")[0] for r in rejected] == ["unreadable line", "ValueError", "unknown operation 'drop_table'", "incomplete last line"]
    assert calllog.failed_operations == 1
    assert record(database, "j.1")[0].ended_at is not None


def test_an_operation_that_fails_by_itself_is_not_journalled(database, tmp_path):
    """A bad argument is a bug, not an outage: logged, counted, dropped, never journalled."""
    calllog = SyncCallLog(database, tmp_path / "journal")
    result = calllog.submit_now("set_outcome", {"uniqueid": "x.1", "outcome": "delighted"})
    assert result.outcome is Outcome.FAILED and calllog.failed_operations == 1
    assert not calllog.journalling and not (tmp_path / "journal").exists()


def test_an_unwritable_journal_loses_the_operation_not_the_call(tmp_path):
    """Database down and the journal directory unusable: logged and counted as failed; the
    submit still answers, so the call goes on."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    calllog = SyncCallLog(_down(tmp_path), blocker / "journal")
    assert calllog.submit_now("start_call", {"uniqueid": "w.1"}).outcome is Outcome.FAILED
    assert calllog.failed_operations == 1


def test_submit_refuses_unknown_operations_and_naive_times(database, tmp_path):
    """Mistakes a replay could never fix are refused at once."""
    from datetime import datetime

    calllog = SyncCallLog(database, tmp_path / "journal")
    with pytest.raises(ValueError, match="unknown call-log operation 'hang_up'"):
        calllog.submit("hang_up", {"uniqueid": "y.1"})
    with pytest.raises(ValueError, match="naive datetime"):
        calllog.submit("start_call", {"uniqueid": "y.1", "at": datetime(2026, 1, 1)})


def test_sync_call_log_writes_or_journals_then_catches_up(database, tmp_path):
    """The classic-script variant: written when the database is there, journalled when not,
    and close() writes what waits if the database is back."""
    directory = tmp_path / "journal"
    up = SyncCallLog(database, directory)
    written = up.submit_now("start_call", {"uniqueid": "s.1"})
    assert written.outcome is Outcome.WRITTEN and written.value.uniqueid == "s.1"
    script = SyncCallLog(_down(tmp_path), directory)
    assert script.submit_now("call_ended", {"uniqueid": "s.1"}).outcome is Outcome.JOURNALLED
    assert script.pending() == 1
    script._run = sync_run(database)
    script.close()
    assert list(directory.glob("calllog-*")) == [] and record(database, "s.1")[0].ended_at is not None


@pytest.mark.parametrize(
    "error, unreachable",
    [
        (sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused")), True),
        (sa_exc.InterfaceError("SELECT 1", {}, Exception("connection already closed")), True),
        (sa_exc.TimeoutError("QueuePool limit reached"), True),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (ValueError("bad outcome"), False),
    ],
)
def test_what_counts_as_unreachable(error, unreachable):
    """Only trouble reaching the database is journalled; everything else would fail again."""
    assert is_unreachable(error) is unreachable


# -- file work off the reactor, and the journal's counters in /metrics


class SteppedDisk:
    """A `disk` runner whose file work waits until the test runs it, in the order asked."""

    def __init__(self) -> None:
        self.waiting: list[tuple[Callable[..., Any], tuple[Any, ...], Deferred[Any]]] = []

    def __call__(self, fn: Callable[..., Any], *args: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.waiting.append((fn, args, d))
        return d

    def run_all(self) -> None:
        while self.waiting:
            fn, args, d = self.waiting.pop(0)
            try:
                d.callback(fn(*args))
            except Exception as exc:  # noqa: BLE001 - handed to the Deferred, as the thread pool would
                d.errback(exc)


def test_journal_file_work_goes_to_the_disk_runner_in_order(database, tmp_path):
    """With the database away, appending (and its fsync) is file work handed to the `disk`
    runner (the service's journal thread), never done where `submit` was called; appends and
    the replay's reads run in the order asked, so nothing is written twice or skipped."""
    disk = SteppedDisk()
    directory = tmp_path / "journal"
    calllog = CallLog(_refusing, directory, clock=clock_at(MONDAY), disk=disk)
    outcomes: list[Any] = []
    for uniqueid in ("d.1", "d.2"):
        calllog.submit("start_call", {"uniqueid": uniqueid}).addCallback(lambda s: outcomes.append(s.outcome))
    assert outcomes == [] and not directory.exists() and len(disk.waiting) == 2
    disk.run_all()
    assert outcomes == [Outcome.JOURNALLED] * 2
    assert len(journal_files_in(directory)) == 1 and calllog.pending() == 2
    calllog._run = sync_run(database)
    written: list[int] = []
    calllog.replay().addCallback(written.append)
    calllog.submit("call_ended", {"uniqueid": "d.1"}).addCallback(lambda s: outcomes.append(s.outcome))  # behind the replay's reads
    while disk.waiting:
        disk.run_all()
    assert written == [3] and outcomes[2] is Outcome.JOURNALLED
    assert not calllog.journalling and journal_files_in(directory) == []
    assert event_counts(database, "d.1") == {"start": 1, "end": 1} and event_counts(database, "d.2") == {"start": 1}


def journal_files_in(directory: Path) -> list[Path]:
    return sorted(directory.glob("calllog-*.jsonl")) if directory.exists() else []


def test_journal_counters_are_in_the_registry(database, tmp_path):
    """/metrics shows what waits in the journal, how old the oldest is, and what the replay
    wrote; the runner registers them in the registry it is given (the service's)."""
    clock = clock_at(MONDAY)
    registry = CollectorRegistry()
    calllog = CallLog(_refusing, tmp_path / "journal", clock=clock)
    calllog.register_metrics(registry)
    calllog.submit_batch("g.1", STEPS[:2])
    clock.advance(30)
    calllog.submit("call_ended", {"uniqueid": "g.1"})
    clock.advance(15)
    sample = registry.get_sample_value
    assert sample("hotline_calllog_journal_pending_operations") == 3
    assert sample("hotline_calllog_journal_oldest_pending_seconds") == 45
    assert sample("hotline_calllog_journal_replayed_operations_total") == 0
    calllog._run = sync_run(database)
    calllog.replay()
    assert sample("hotline_calllog_journal_pending_operations") == 0
    assert sample("hotline_calllog_journal_oldest_pending_seconds") == 0
    assert sample("hotline_calllog_journal_replayed_operations_total") == 3

    config = make_config(tmp_path)
    service_registry = CollectorRegistry()
    runner = CallRunner.from_config(config, database, service_registry, clock=clock)
    assert service_registry.get_sample_value("hotline_calllog_journal_pending_operations") == 0
    runner.close()


def test_a_torn_line_in_our_own_journal_is_set_aside_not_replayed_for_ever(database, tmp_path):
    """An append that failed half-way (disk full) leaves a fragment at the end of our own
    file: the replay writes what is whole, sets the fragment aside and finishes."""
    directory = tmp_path / "journal"
    calllog = CallLog(_refusing, directory, clock=clock_at(MONDAY))
    calllog.submit("start_call", {"uniqueid": "f.1"})
    with open(calllog._own.path, "ab") as torn:
        torn.write(b'{"id": "x", "op": "call_en')
    calllog._run = sync_run(database)
    written: list[int] = []
    calllog.replay().addCallback(written.append)
    assert written == [1] and not calllog.journalling and journal_files_in(directory) == []
    rejected = [json.loads(line) for line in (directory / REJECTED_NAME).read_text(encoding="utf-8").splitlines()]
    assert [r["reason"] for r in rejected] == ["incomplete last line"]
