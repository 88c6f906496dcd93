"""Complete calls end to end, on SQLite and PostgreSQL: our Asterisk peer (hotline/simulator/agi.py,
built from the real transcripts) against the FastAGI server running the CallRunner with its
database thread pool on a reactor, and against the classic AGI script (agi_scripts/hotline-agi)
as Asterisk runs it. Each call leaves its record; the peer finds no protocol misconduct."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select
from twisted.internet.defer import gatherResults

from hotline import config as configmod
from hotline.agi.fastagi import listen
from hotline.calllog import records as calls
from hotline.calllog.child import writer_argv
from hotline.calllog.journal import CallLog, sync_run
from hotline.config import Config, FastAgiConfig
from hotline.simulator.agi import AsteriskPeer, HangUp, Press, PrivateReactor, QueueOutcome, RawReply, Silence, raw_exchange
from hotline.storage.db import Database
from hotline.storage.models import Callback, CallDisposition, Recording, Ticket, TicketSource
from hotline.tickets import services as tickets
from hotline.tickets.services import SYSTEM, TicketPolicy
from ivr.runner import CallRunner

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "agi_scripts" / "hotline-agi"
CALLER = "13812345678"


def write_config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "hotline.toml"
    path.write_text(
        f'[database]\nurl = "{database_url}"\n[ivr]\njournal_dir = "{tmp_path / "journal"}"\n[asterisk]\nvoicemail_dir = "{tmp_path / "voicemail"}"\n',
        encoding="utf-8",
    )
    return path


def load(path: Path) -> Config:
    return configmod.load(path, environ={})


@pytest.fixture
def case(database: Database) -> str:
    """An open ticket of CALLER, to be asked about by number."""
    policy = TicketPolicy(calendar=configmod.from_mapping({}).working_calendar())
    with database.transaction() as s:
        return tickets.open_ticket(s, policy, source=TicketSource.HOTLINE, actor=SYSTEM, caller_number="13700001111").number


def the_call(database: Database, uniqueid: str) -> Any:
    with database.transaction() as s:
        return calls.get(s, uniqueid)


def test_fastagi_calls_end_to_end(database_url, database, case, tmp_path):
    """Six calls at once through the FastAGI server: a silent caller (general queue), a status
    by number (self-service), a queue timeout (a message and its ticket), a hangup in the
    welcome, a queue-callback leg and an unknown flow — each leaves its record. The service's
    arrangement: lookups on the pool's reader threads, the call log written by the writer
    process (batched across calls there, its journal on its own file thread)."""
    config = load(write_config(tmp_path, database_url))
    peers = {
        "silent": (AsteriskPeer([], callerid=CALLER, dnid="12319"), "ivr?lang=zh"),
        "status": (AsteriskPeer([Press("1"), Press(case + "#")], callerid=CALLER), "ivr"),
        "message": (AsteriskPeer([QueueOutcome("TIMEOUT"), Silence(), Silence(), Press("#", position_ms=9000)], callerid=CALLER), "ivr"),
        "hangup": (AsteriskPeer([HangUp()], callerid=CALLER), "ivr"),
        "callback": (AsteriskPeer([], callerid=CALLER, variables={"QUEUEPOSITION": "4", "HOTLINE_QUEUE": "emergency"}), "queue_callback"),
        "unknown": (AsteriskPeer([], callerid=CALLER), "no_such_flow"),
    }
    registry = CollectorRegistry()
    with PrivateReactor() as private:
        # As the ivr role runs it: the call log written by its writer process.
        runner = CallRunner.from_config(config, database, registry, reactor=private.reactor, writer=writer_argv(config))
        runner.calllog.start()
        port = listen(private.reactor, FastAgiConfig(bind="127.0.0.1", port=0), runner, registry)
        number = port.getHost().port
        try:
            pending = [private.in_thread(peer.call_fastagi, "127.0.0.1", number, script) for peer, script in peers.values()]
            records = dict(zip(peers, private.run_until(gatherResults(pending, consumeErrors=True), 60), strict=False))
            uniqueids = {name: peer.uniqueid for name, (peer, _) in peers.items()}

            def all_written() -> bool:
                found = [the_call(database, u) for u in uniqueids.values()]
                return all(c is not None and c.ended_at is not None for c in found)

            private.run_until_true(all_written, timeout=30)
        finally:
            private.run_until(port.stopListening(), 5)
            private.run_until(runner.close(), 30)
    for name, record in records.items():
        assert record.problems == [], (name, record.problems)
        assert record.server_closed, name

    silent = records["silent"]
    # ?lang=zh: the language is known, so no language offer after the menu.
    assert silent.verbs[:5] == ["ANSWER", "SET VARIABLE", "STREAM FILE", "STREAM FILE", "WAIT FOR DIGIT"]
    assert silent.execs == [("Queue", "hotline-general,,,,600,,hotline-agent-answered")]
    call = the_call(database, uniqueids["silent"])
    assert (call.disposition, call.queue, call.caller_number, call.dnid) == (CallDisposition.ANSWERED, "general", "+8613812345678", "12319")
    assert (call.agent_interface, call.wait_seconds) == ("Local/agent1@agents/n", 0)  # read from what Queue() left

    status = records["status"]
    assert status.command("SAY DIGITS").args[0] == case and status.verbs[-1] == "HANGUP"
    assert the_call(database, uniqueids["status"]).disposition is CallDisposition.SELF_SERVICE

    message = records["message"]
    assert message.recordings == [f"{tmp_path / 'voicemail'}/{uniqueids['message']}.wav"]
    call = the_call(database, uniqueids["message"])
    assert call.disposition is CallDisposition.VOICEMAIL and call.ticket_id is not None
    with database.transaction() as s:
        ticket = s.get(Ticket, call.ticket_id)
        recording = s.scalars(select(Recording).where(Recording.ticket_id == call.ticket_id)).one()
        assert ticket.source is TicketSource.VOICEMAIL and recording.duration_seconds == 9.0

    assert records["hangup"].hangup_by == "caller" and records["hangup"].closed_after_hangup
    assert the_call(database, uniqueids["hangup"]).disposition is CallDisposition.IVR_ABANDONED

    with database.transaction() as s:
        callback = s.scalars(select(Callback)).one()
        assert (callback.position, callback.queue, callback.phone) == (4, "emergency", "+8613812345678")
    assert records["callback"].verbs[-1] == "HANGUP"

    assert records["unknown"].verbs == ["SET VARIABLE", "HANGUP"] and records["unknown"].variables["HOTLINE_OUTCOME"] == "failed"
    assert the_call(database, uniqueids["unknown"]).disposition is CallDisposition.FAILED
    assert registry.get_sample_value("hotline_ivr_calls_total", {"outcome": "queued"}) == 1
    assert registry.get_sample_value("hotline_ivr_menu_choices_total", {"node": "main", "key": "1"}) == 1


def _run_script(peer: AsteriskPeer, config: Path, flow: str = "ivr") -> Any:
    environment = {"HOTLINE_CONFIG": str(config), "PATH": "/usr/bin:/bin"}
    return peer.run_classic([str(SCRIPT), flow], env=environment, cwd="/")


def test_classic_script_end_to_end(database_url, database, case, tmp_path):
    """Asterisk runs agi_scripts/hotline-agi for a call: the script builds the runner from
    $HOTLINE_CONFIG, serves the menu (a status by number), writes the record and exits 0."""
    config = write_config(tmp_path, database_url)
    peer = AsteriskPeer([Press("1"), Press(case + "#")], callerid=CALLER, dnid="12319")
    call = _run_script(peer, config)
    assert call.exit_status == 0 and call.stderr == b"" and call.problems == [], call.stderr
    assert call.command("SAY DIGITS").args[0] == case and call.agistatus == "SUCCESS"
    record = the_call(database, peer.uniqueid)
    assert record.disposition is CallDisposition.SELF_SERVICE and record.ended_at is not None


def test_classic_script_with_the_database_down_journals_and_the_service_replays(database, tmp_path):
    """The classic script with its database unreachable still queues the caller and leaves
    its journal; the service's call log adopts it and writes the record once."""
    down = tmp_path / "down.db"
    down.mkdir()
    config = write_config(tmp_path, f"sqlite:///{down}")
    peer = AsteriskPeer([], callerid=CALLER)
    call = _run_script(peer, config)
    assert call.exit_status == 0 and ("Queue", "hotline-general,,,,600,,hotline-agent-answered") in call.execs
    journals = list((tmp_path / "journal").glob("calllog-*.jsonl"))
    assert len(journals) == 1 and b"unable to open database file" in call.stderr
    service = CallLog(sync_run(database), tmp_path / "journal")
    written: list[int] = []
    service.replay().addCallback(written.append)
    assert written[0] >= 6 and not list((tmp_path / "journal").glob("calllog-*"))
    record = the_call(database, peer.uniqueid)
    assert record.disposition is CallDisposition.ANSWERED and record.queue == "general"
    with database.transaction() as s:
        kinds = [e.kind for e in calls.timeline(s, peer.uniqueid)]
    assert kinds.count("start") == 1 and kinds.count("end") == 1
    assert os.listdir(tmp_path / "journal") == []


def _serve(config: Config, database: Database, registry: CollectorRegistry, calls: dict[str, tuple[AsteriskPeer, str]], *, raw: bytes | None = None, recorded: bool = True) -> dict[str, Any]:
    """Play `calls` (and one raw, non-AGI exchange) against the FastAGI server running the
    CallRunner on its database threads; the CallRecords by name, once every record is written."""
    with PrivateReactor() as private:
        runner = CallRunner.from_config(config, database, registry, reactor=private.reactor)
        port = listen(private.reactor, FastAgiConfig(bind="127.0.0.1", port=0), runner, registry)
        number = port.getHost().port
        try:
            pending = [private.in_thread(peer.call_fastagi, "127.0.0.1", number, script) for peer, script in calls.values()]
            if raw is not None:
                pending.append(private.in_thread(raw_exchange, "127.0.0.1", number, raw))
            results = private.run_until(gatherResults(pending, consumeErrors=True), 60)
            records = dict(zip(calls, results, strict=False))
            if recorded:
                private.run_until_true(lambda: all((found := the_call(database, peer.uniqueid)) is not None and found.ended_at is not None for peer, _ in calls.values()), timeout=30)
        finally:
            private.run_until(port.stopListening(), 5)
            private.run_until(runner.close(), 30)
    return records


def test_no_answer_on_the_wire_when_the_dialplan_answered(database_url, database, tmp_path):
    """The rendered dialplan answers and passes state=${CHANNEL(state)}: with state=Up no
    ANSWER goes on the wire (one round trip less before the welcome); a channel that is not
    up (no Answer() in the dialplan) still gets ANSWER first."""
    config = load(write_config(tmp_path, database_url))
    calls = {
        "answered": (AsteriskPeer([], callerid=CALLER, language="zh", answered=True), "ivr?linkedid=L1&state=Up&lang="),
        "ringing": (AsteriskPeer([], callerid=CALLER, language="zh", answered=False), "ivr?state=Ring&lang="),
    }
    records = _serve(config, database, CollectorRegistry(), calls)
    assert "ANSWER" not in records["answered"].verbs and records["answered"].verbs[0] == "STREAM FILE"
    assert records["ringing"].verbs[0] == "ANSWER"
    for name, record in records.items():
        assert record.problems == [], (name, record.problems)
        assert record.execs == [("Queue", "hotline-general,,,,600,,hotline-agent-answered")]


def test_message_length_from_a_hangup_during_recording(database_url, database, tmp_path):
    """RECORD FILE ended by the caller's hangup answers `200 result=-1 (hangup) endpos=N`:
    a caller who spoke 12 s leaves a message of 12 s (it had no length); one who hung up at
    the beep (endpos=0) leaves no message and no ticket, only "no message" on the record."""
    config = load(write_config(tmp_path, database_url))
    calls = {
        "spoke": (AsteriskPeer([QueueOutcome("TIMEOUT"), Silence(), Silence(), HangUp(position_ms=12000)], callerid=CALLER), "ivr"),
        "beep": (AsteriskPeer([QueueOutcome("TIMEOUT"), Silence(), Silence(), HangUp(position_ms=0)], callerid="13900002222"), "ivr"),
    }
    records = _serve(config, database, CollectorRegistry(), calls)
    for name, record in records.items():
        assert record.recordings and record.hangup_by == "caller", name
    spoke = the_call(database, calls["spoke"][0].uniqueid)
    with database.transaction() as s:
        recording = s.scalars(select(Recording).where(Recording.ticket_id == spoke.ticket_id)).one()
        assert recording.duration_seconds == 12.0
    beep = the_call(database, calls["beep"][0].uniqueid)
    assert beep.ticket_id is None and beep.ended_at is not None
    with database.transaction() as s:
        assert [t.caller_number for t in s.scalars(select(Ticket))] == ["+8613812345678"]
        assert [e.detail["seconds"] for e in calls_timeline(s, beep.uniqueid) if e.kind == "no_message"] == [0.0]


def calls_timeline(session: Any, uniqueid: str) -> Any:
    return calls.timeline(session, uniqueid)


def test_a_peer_that_is_not_agi_is_a_warning_not_a_failed_call(database_url, database, tmp_path, caplog):
    """Something that is not Asterisk: a header and then garbage for a reply, or an HTTP
    request. One warning each with the peer's address, hotline_agi_protocol_errors_total,
    no flow error, no ERROR log, no failed call on record."""
    config = load(write_config(tmp_path, database_url))
    registry = CollectorRegistry()
    garbage = AsteriskPeer([RawReply(b"SSH-2.0-OpenSSH_9.2\n")], callerid=CALLER)
    with caplog.at_level(logging.INFO):
        _serve(config, database, registry, {"garbage": (garbage, "ivr")}, raw=b"GET / HTTP/1.1\r\nHost: hotline\r\n\r\n", recorded=False)
    assert registry.get_sample_value("hotline_agi_protocol_errors_total") == 2
    assert registry.get_sample_value("hotline_ivr_flow_errors_total", {"flow": "ivr"}) in (None, 0)
    assert registry.get_sample_value("hotline_agi_errors_total", {"kind": "handler"}) == 0
    assert registry.get_sample_value("hotline_ivr_calls_total", {"outcome": "failed"}) == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "protocol error" in r.getMessage()]
    assert len(warnings) == 2 and all("127.0.0.1:" in r.getMessage() for r in warnings)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert the_call(database, garbage.uniqueid) is None
