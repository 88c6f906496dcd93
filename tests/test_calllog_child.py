"""The call log written by the writer process (hotline.calllog.child): entries reach the
database through a real `hotline serve --calllog-writer`, a killed writer is started again
and loses nothing, a writer that cannot run leaves the entries in a journal file the next
replay adopts, and the writer answers malformed input with a clear log line and keeps serving."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import func, select

from hotline import config as configmod
from hotline.calllog import records as calls
from hotline.calllog.child import ChildCallLog, writer_argv
from hotline.calllog.journal import JOURNAL_PREFIX, Entries, Outcome, SyncCallLog, encode, operations_for
from hotline.simulator.agi import PrivateReactor
from hotline.storage.db import Database
from hotline.storage.models import CallEvent

START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def write_config(tmp_path: Path, database_url: str) -> configmod.Config:
    path = tmp_path / "hotline.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n[ivr]\njournal_dir = "{tmp_path / "journal"}"\n', encoding="utf-8")
    return configmod.load(path, environ={})


def a_call(uniqueid: str, minute: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """What the IVR submits for a short call: the record opened, a step, the end."""
    at = START + timedelta(minutes=minute)
    return [
        ("start_call", {"uniqueid": uniqueid, "caller_number": "13812345678", "dnid": "12319", "at": at}),
        ("add_event", {"uniqueid": uniqueid, "kind": "menu", "detail": {"node": "main", "key": "1"}, "at": at + timedelta(seconds=5)}),
        ("call_ended", {"uniqueid": uniqueid, "at": at + timedelta(seconds=30), "cause": "16"}),
    ]


def events_of(database: Database, uniqueid: str) -> list[str]:
    with database.transaction() as s:
        call = calls.get(s, uniqueid)
        if call is None:
            return []
        return list(s.scalars(select(CallEvent.kind).where(CallEvent.call_id == call.id).order_by(CallEvent.id)))


def outcomes(private: PrivateReactor, pending: list[Any], timeout: float = 30.0) -> list[Outcome]:
    from twisted.internet.defer import gatherResults

    return [s.outcome for s in private.run_until(gatherResults(pending, consumeErrors=True), timeout)]


def test_entries_reach_the_database_through_the_writer_process(database_url, database, tmp_path):
    config = write_config(tmp_path, database_url)
    registry = CollectorRegistry()
    with PrivateReactor() as private:
        calllog = ChildCallLog(private.reactor, writer_argv(config), tmp_path / "journal", operations_for(config))
        calllog.register_metrics(registry)
        calllog.start()
        try:
            pending = [calllog.submit_batch(f"w-{n}", a_call(f"w-{n}", n)) for n in range(5)]
            pending.append(calllog.submit("add_event", {"uniqueid": "w-0", "kind": "note", "detail": {"text": "后来补记"}}))
            assert outcomes(private, pending) == [Outcome.WRITTEN] * 6
            private.run_until_true(lambda: calllog.state["pending"] == 0 and calllog.unacknowledged() == 0)
        finally:
            private.run_until(calllog.close(), 30)
    for n in range(5):
        with database.transaction() as s:
            call = calls.get(s, f"w-{n}")
            assert call is not None and call.ended_at is not None and call.caller_number == "+8613812345678"
    assert events_of(database, "w-0").count("note") == 1
    text = generate_latest(registry).decode()
    assert "hotline_calllog_writer_unacknowledged_entries 0.0" in text
    assert "hotline_calllog_writer_restarts_total 0.0" in text
    assert "hotline_calllog_journal_pending_operations 0.0" in text


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "terminated"])
def test_a_writer_that_ends_is_started_again_and_loses_nothing(tmp_path, sqlite_url, how):
    """Killed while its batch lingers (before any acknowledgement), or asked to stop alone
    (it writes what it has and exits): a new writer is sent everything not acknowledged, in
    order; every call has each of its events once."""
    config = write_config(tmp_path, sqlite_url)
    database = Database.from_url(sqlite_url)
    with PrivateReactor() as private:
        calllog = ChildCallLog(private.reactor, writer_argv(config), tmp_path / "journal", operations_for(config), restart_seconds=0.2)
        calllog.start()
        try:
            private.run_until_true(lambda: calllog._child is not None and calllog.state.get("replayed") == 0 and calllog._failures == 0, 30)
            first = [calllog.submit_batch(f"k-{n}", a_call(f"k-{n}", n)[:2]) for n in range(10)]
            private.run_until_true(lambda: not calllog._unsent)  # on the pipe, not yet written (0.5 s linger)
            pid = calllog._child.transport.pid  # type: ignore[union-attr]
            os.kill(pid, how)
            later = [calllog.submit("call_ended", {"uniqueid": f"k-{n}", "at": START + timedelta(minutes=n, seconds=30)}) for n in range(10)]
            assert outcomes(private, first + later, 60) == [Outcome.WRITTEN] * 20
            assert calllog.restarts == 1
        finally:
            private.run_until(calllog.close(), 30)
    for n in range(10):
        assert events_of(database, f"k-{n}").count("menu") == 1
        with database.transaction() as s:
            assert calls.get(s, f"k-{n}").ended_at is not None
    database.dispose()


def test_a_writer_that_cannot_run_leaves_its_entries_to_the_next_replay(tmp_path, sqlite_url):
    config = write_config(tmp_path, sqlite_url)
    journal = tmp_path / "journal"
    broken = [sys.executable, "-c", "import sys; sys.exit(3)"]
    with PrivateReactor() as private:
        calllog = ChildCallLog(private.reactor, broken, journal, operations_for(config), restart_seconds=0.1, spill_seconds=0.3)
        calllog.start()
        pending = [calllog.submit_batch(f"s-{n}", a_call(f"s-{n}", n)) for n in range(3)]
        assert outcomes(private, pending) == [Outcome.JOURNALLED] * 3
        assert calllog.restarts >= 2 and calllog.spilled == 3
        # Submitted after the stop: journalled at once, never dropped.
        private.run_until(calllog.close(), 10)
        assert outcomes(private, [calllog.submit_batch("s-late", a_call("s-late"))]) == [Outcome.JOURNALLED]
    files = sorted(journal.glob(f"{JOURNAL_PREFIX}*.jsonl"))
    assert files and sum(len(f.read_text().splitlines()) for f in files) == 4
    database = Database.from_url(sqlite_url)
    replaying = SyncCallLog(database, journal, operations=operations_for(config))
    written: list[int] = []
    replaying.replay().addCallback(written.append)
    assert written == [3 * 3 + 3]
    for uniqueid in ("s-0", "s-1", "s-2", "s-late"):
        assert events_of(database, uniqueid), uniqueid
    assert not list(journal.glob(f"{JOURNAL_PREFIX}*.jsonl"))
    database.dispose()


def test_a_writer_that_cannot_even_be_forked_is_tried_again_then_its_entries_spilled(tmp_path):
    """On a virtual clock: no fork at all (process limits) counts as a writer that died at
    once; tries after 1, 2 and 4 s, and once it has been down `spill_seconds` the entries are
    journalled by the role."""
    import errno

    from twisted.internet.task import Clock

    class NoFork(Clock):
        def spawnProcess(self, *args: Any, **kwargs: Any) -> None:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    clock = NoFork()
    calllog = ChildCallLog(clock, ["hotline"], tmp_path / "journal", calls.OPERATIONS, restart_seconds=1.0, spill_seconds=5.0)
    calllog.start()
    results: list[Any] = []
    calllog.submit_batch("f-1", a_call("f-1")).addCallback(results.append)
    for step in (1.0, 2.0):
        clock.advance(step)
    assert (calllog.restarts, results) == (3, [])
    clock.advance(4.0)
    assert calllog.restarts == 4 and [r.outcome for r in results] == [Outcome.JOURNALLED]
    (line,) = next((tmp_path / "journal").glob(f"{JOURNAL_PREFIX}*.jsonl")).read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["args"]["uniqueid"] == "f-1"
    calllog.close()
    assert not clock.getDelayedCalls()


def test_the_writer_refuses_malformed_lines_and_keeps_serving(tmp_path, sqlite_url):
    """The child alone, driven over its pipe the way the ivr role drives it."""
    config = write_config(tmp_path, sqlite_url)
    good = {"id": "a" * 32, "op": "add_event", "args": {"uniqueid": "m-1", "kind": "note", "detail": {}, "at": START.isoformat()}, "submitted": START.isoformat()}
    unknown = {"id": "b" * 32, "op": "drop_table", "args": {"uniqueid": "m-1"}}
    lines = [b"not json at all", b"[1, 2, 3]", b'{"op": "add_event", "args": {}}', json.dumps(unknown).encode(), b"\xff\xfe", json.dumps(good).encode()]
    done = subprocess.run(writer_argv(config), input=b"\n".join(lines) + b"\n", capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    acks = [ack for line in done.stdout.splitlines() for ack in json.loads(line)["acks"]]
    assert sorted(acks) == [["a" * 32, "written"], ["b" * 32, "failed"]]
    errors = done.stderr.decode()
    assert "unreadable entry from the ivr role" in errors and "malformed entry from the ivr role" in errors
    assert "unknown operation 'drop_table'" in errors
    rejected = (tmp_path / "journal" / "rejected.jsonl").read_text(encoding="utf-8")
    assert "drop_table" in rejected
    database = Database.from_url(sqlite_url)
    assert events_of(database, "m-1") == ["note"]
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(CallEvent)) == 1
    database.dispose()


def test_an_entry_encoded_directly_reads_as_the_journal_makes_it():
    """The role encodes its entries without a plain copy first; the writer must read what a
    journal line of the same entry holds (aware times as UTC text, tuples as lists, keys as text)."""
    from twisted.internet.task import Clock

    clock = Clock()
    clock.advance(START.timestamp())
    detail = {"keys": ("1", "2"), "when": START.astimezone(timezone(timedelta(hours=8))), 3: "a number as a key", "nested": [{"ok": True}]}
    plain, direct = Entries(calls.OPERATIONS, clock), Entries(calls.OPERATIONS, clock, plain=False)
    a, b = plain.entry("add_event", {"uniqueid": "e-1", "kind": "menu", "detail": detail}), direct.entry("add_event", {"uniqueid": "e-1", "kind": "menu", "detail": detail})
    b["id"] = a["id"]
    assert encode(a) == encode(b)
    assert json.loads(encode(b))["args"] == a["args"]
    assert a["args"]["detail"]["when"] == "2026-12-03T09:00:00+00:00" and a["args"]["at"] == "2026-12-03T09:00:00+00:00"


def test_the_writer_journals_while_the_database_is_away_and_the_replay_writes_it(tmp_path, sqlite_url):
    """The real child on a database it cannot open: the entry is acknowledged as journalled
    (not lost, not failed), and the journal it leaves is written by the next replay."""
    away = write_config(tmp_path, f"sqlite:///{tmp_path / 'no-such-directory' / 'hotline.db'}")
    entry = {"id": "c" * 32, "op": "add_event", "args": {"uniqueid": "j-1", "kind": "note", "detail": {"text": "数据库不在"}, "at": START.isoformat()}, "submitted": START.isoformat()}
    done = subprocess.run(writer_argv(away), input=json.dumps(entry).encode() + b"\n", capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    acks = [ack for line in done.stdout.splitlines() for ack in json.loads(line)["acks"]]
    assert acks == [["c" * 32, "journalled"]]
    assert "database unreachable" in done.stderr.decode()
    database = Database.from_url(sqlite_url)
    written: list[int] = []
    SyncCallLog(database, tmp_path / "journal", operations=operations_for(away)).replay().addCallback(written.append)
    assert written == [1] and events_of(database, "j-1") == ["note"]
    database.dispose()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    from tests.conftest import _sqlite_url

    return _sqlite_url(sqlite_template, tmp_path)
