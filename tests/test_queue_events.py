"""Queue events into the call record: the operations the call log submits for the captured
calls, written through hotline.calllog.records into a real database, and the whole AMI side (start_ami)
surviving a reconnect in the middle of a queue call."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from twisted.application.internet import backoffPolicy
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock

from hotline.ami.codec import AmiDecoder, Event
from hotline.ami.live import CallerLeft, Change, LiveModel
from hotline.ami.service import start_ami
from hotline.calllog import records as calls
from hotline.calllog.queue_events import QueueCallLog
from hotline.config import AmiConfig
from hotline.dialplan import recording_path
from hotline.simulator import ami as peer
from hotline.simulator.ami import AmiPeer, PeerEndpoint
from hotline.storage.db import Database
from hotline.storage.models import CallDisposition

QUEUE = "hotline-general"
#: What the call record holds: the skill, as the IVR writes it.
SKILL = "general"
AGENT_ONE = "Local/agent1@agents/n"
RECORDINGS = "/var/spool/asterisk/monitor/hotline"
CAPTURE_EPOCH = 1795235026.0


class MemoryWriter:
    """The writer interface (`submit(operation, arguments)`), keeping what it was given."""

    def __init__(self) -> None:
        self.operations: list[tuple[str, dict[str, Any]]] = []

    def submit(self, operation: str, arguments: dict[str, Any]) -> None:
        json.dumps(arguments)  # the journal's contract: JSON-friendly arguments only
        self.operations.append((operation, arguments))

    def names(self) -> list[str]:
        return [op for op, _ in self.operations]

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [args for op, args in self.operations if op == operation]


class DatabaseWriter(MemoryWriter):
    """Applies every operation through hotline.calllog.records, as the journal will."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database

    def submit(self, operation: str, arguments: dict[str, Any]) -> None:
        super().submit(operation, arguments)
        replayed = json.loads(json.dumps(arguments))
        self.database.run(lambda session: calls.apply(session, operation, replayed))


class Line:
    """Captured frames → live model → call log, on a Clock."""

    def __init__(self, writer: MemoryWriter | None = None) -> None:
        self.clock = Clock()
        self.clock.advance(CAPTURE_EPOCH)
        self.model = LiveModel(self.clock)
        self.writer = writer or MemoryWriter()
        self.call_log = QueueCallLog(self.writer, recordings_dir=RECORDINGS)
        self.model.subscribe(self.call_log)

    def feed(self, *frames: bytes | Iterable[bytes]) -> None:
        for frame in AmiDecoder(expect_banner=False).feed(peer.stream(*frames)):  # type: ignore[arg-type]
            if isinstance(frame, Event):
                self.model.apply(frame)


def until(frames: tuple[bytes, ...], last: bytes) -> tuple[bytes, ...]:
    return frames[: frames.index(last) + 1]


def between(frames: tuple[bytes, ...], first: bytes, last: bytes) -> tuple[bytes, ...]:
    return frames[frames.index(first) + 1 : frames.index(last) + 1]


def after(frames: tuple[bytes, ...], last: bytes) -> tuple[bytes, ...]:
    return frames[frames.index(last) + 1 :]


def _utc_iso(offset: float) -> str:
    """The ISO time `offset` seconds after the capture's start, as the call log writes it."""
    return datetime.fromtimestamp(CAPTURE_EPOCH + offset, UTC).isoformat()


def answered_call(line: Line) -> None:
    """Call 1 with realistic times: joined at t0, answered at +1 s, 6 s talk."""
    line.feed(until(peer.CALL_ANSWERED, peer.CALLER_JOIN))
    line.clock.advance(1)
    line.feed(between(peer.CALL_ANSWERED, peer.CALLER_JOIN, peer.MEMBER_IN_CALL))
    line.clock.advance(6)
    line.feed(after(peer.CALL_ANSWERED, peer.MEMBER_IN_CALL))


def test_answered_call_writes_joined_answered_completed_ended() -> None:
    """Queued, answered by Agent One after HoldTime 0, 6 s of talk, then the end of the call."""
    line = Line()
    answered_call(line)
    assert line.writer.operations == [
        ("queue_joined", {"uniqueid": peer.CALLER, "queue": SKILL, "position": 1, "at": _utc_iso(0), "source": "ami"}),
        ("queue_answered", {"uniqueid": peer.CALLER, "queue": SKILL, "agent": AGENT_ONE, "wait_seconds": 0, "at": _utc_iso(1), "source": "ami"}),
        (
            "add_event",
            {
                "uniqueid": peer.CALLER,
                "kind": "queue_complete",
                "detail": {"queue": SKILL, "agent": AGENT_ONE, "hold_seconds": 0, "talk_seconds": 6, "reason": "agent"},
                "at": _utc_iso(7),
            },
        ),
        ("call_ended", {"uniqueid": peer.CALLER, "at": _utc_iso(7), "talk_seconds": 6, "recording_path": None, "cause": "Normal Clearing", "source": "ami"}),
    ]


def test_abandoned_call_writes_position_and_wait() -> None:
    """The caller who hangs up after 4 s: abandoned at position 1 with a 4 s wait."""
    line = Line()
    line.feed(peer.CALL_WAITING)
    line.clock.advance(4)
    line.feed(peer.CALL_ABANDONED)
    assert line.writer.names() == ["queue_joined", "queue_abandoned", "call_ended"]
    [abandoned] = line.writer.of("queue_abandoned")
    assert abandoned == {"uniqueid": peer.WAITING_CALLER, "queue": SKILL, "position": 1, "wait_seconds": 4, "at": _utc_iso(4), "source": "ami"}
    [ended] = line.writer.of("call_ended")
    assert ended["talk_seconds"] is None and ended["recording_path"] is None


def test_only_the_queue_caller_gets_a_record() -> None:
    """Agent channels and the Local ;1 half hang up too; none of them becomes a call record."""
    line = Line()
    answered_call(line)
    line.feed(peer.CALL_WAITING, peer.CALL_ABANDONED)
    assert {args["uniqueid"] for _, args in line.writer.operations} == {peer.CALLER, peer.WAITING_CALLER}


def test_recording_file_from_mixmonitor_on_the_agent_channel() -> None:
    """MIXMONITOR_FILENAME set on the agent's channel before the connect ends up in call_ended."""
    line = Line()
    wav = f"{RECORDINGS}/{peer.CALLER}.wav"
    stream = list(peer.CALL_ANSWERED)
    stream.insert(stream.index(peer.AGENT_CONNECT), peer.var_set(peer.AGENT_BRIDGE_ENTER, "MIXMONITOR_FILENAME", wav))
    line.feed(stream)
    [ended] = line.writer.of("call_ended")
    assert ended["recording_path"] == wav


def test_recording_path_derived_when_only_mixmonitor_start_is_seen() -> None:
    """Without the variable, MixMonitorStart means the file is where the dialplan puts it."""
    line = Line()
    stream = list(peer.CALL_ANSWERED)
    stream.insert(stream.index(peer.AGENT_CONNECT) + 1, peer.mixmonitor_start(peer.AGENT_BRIDGE_ENTER))
    line.feed(stream)
    [ended] = line.writer.of("call_ended")
    assert ended["recording_path"] == recording_path(RECORDINGS, peer.CALLER) == f"{RECORDINGS}/{peer.CALLER}.wav"


def test_caller_hangup_before_agent_complete_still_gets_the_talk_time() -> None:
    """Out of order: the Hangup overtakes AgentComplete; the record is completed afterwards."""
    line = Line()
    stream = [f for f in peer.CALL_ANSWERED if f not in (peer.CALLER_HANGUP, peer.AGENT_COMPLETE)]
    stream += [peer.CALLER_HANGUP, peer.AGENT_COMPLETE]
    line.feed(stream)
    ended = line.writer.of("call_ended")
    assert [e["talk_seconds"] for e in ended] == [None, 6]
    assert ended[0]["at"] == ended[1]["at"]


def test_unknown_and_duplicate_events_write_nothing_twice() -> None:
    """A replayed join or connect (as after a resync) is not written a second time."""
    line = Line()
    line.feed(peer.CALLER_JOIN, peer.CALLER_JOIN, peer.FULLY_BOOTED, peer.event_named(peer.CALL_ANSWERED, "UserEvent"))
    line.feed(peer.AGENT_CONNECT, peer.AGENT_CONNECT)
    assert line.writer.names() == ["queue_joined", "queue_answered"]


def test_a_failing_writer_is_logged_and_the_next_operation_still_goes(caplog: pytest.LogCaptureFixture) -> None:
    """A writer that raises costs that one operation, logged with the call's uniqueid."""

    class Flaky(MemoryWriter):
        def submit(self, operation: str, arguments: dict[str, Any]) -> None:
            if operation == "queue_joined":
                raise OSError("journal disk full")
            super().submit(operation, arguments)

    line = Line(Flaky())
    with caplog.at_level(logging.ERROR):
        answered_call(line)
    assert line.writer.names() == ["queue_answered", "add_event", "call_ended"]
    assert line.call_log.writer_errors == 1 and peer.CALLER in caplog.text


def test_a_writer_returning_a_failed_deferred_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    """A journal-style writer answers with Deferreds; a failed one is logged, not left unhandled."""

    class Deferring(MemoryWriter):
        def submit(self, operation: str, arguments: dict[str, Any]) -> Deferred[None]:  # type: ignore[override]
            super().submit(operation, arguments)
            return fail(RuntimeError("replay bug")) if operation == "call_ended" else succeed(None)

    line = Line(Deferring())
    with caplog.at_level(logging.ERROR):
        answered_call(line)
    assert line.writer.names() == ["queue_joined", "queue_answered", "add_event", "call_ended"]
    assert line.call_log.writer_errors == 1 and "replay bug" in caplog.text


def test_operations_apply_to_the_database(database: Database) -> None:
    """Through hotline.calllog.records: queued/answered/ended times, agent, wait, talk, disposition."""
    writer = DatabaseWriter(database)
    line = Line(writer)
    answered_call(line)
    line.clock.advance(2)
    line.feed(peer.CALL_WAITING)
    line.clock.advance(4)
    line.feed(peer.CALL_ABANDONED)
    with database.transaction() as session:
        answered = calls.get(session, peer.CALLER)
        assert answered is not None
        assert (answered.queue, answered.agent_interface, answered.wait_seconds, answered.talk_seconds) == (SKILL, AGENT_ONE, 0, 6)
        assert answered.disposition is CallDisposition.ANSWERED
        start = datetime.fromtimestamp(CAPTURE_EPOCH).astimezone()
        assert _aware(answered.queued_at) == start and _aware(answered.answered_at) == start + timedelta(seconds=1)
        assert _aware(answered.ended_at) == start + timedelta(seconds=7)
        assert [e.kind for e in calls.timeline(session, peer.CALLER)] == ["queue_join", "queue_answer", "queue_complete", "end"]
        abandoned = calls.get(session, peer.WAITING_CALLER)
        assert abandoned is not None and abandoned.disposition is CallDisposition.ABANDONED and abandoned.wait_seconds == 4


def _aware(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -- the whole AMI side: start_ami over our peer, a reconnect in the middle of a call


def start(reactor: MemoryReactorClock, peers: list[AmiPeer], writer: MemoryWriter, registry: CollectorRegistry) -> tuple[Any, PeerEndpoint]:
    endpoint = PeerEndpoint(reactor, lambda: peers.pop(0))
    config = AmiConfig(enabled=True, username="labuser", password="labsecret")
    service = start_ami(
        reactor,
        config,
        registry,
        QueueCallLog(writer, recordings_dir=RECORDINGS, clock=reactor),
        endpoint=endpoint,
        retry_policy=backoffPolicy(initialDelay=1.0, factor=2.0, jitter=lambda: 0.0),
    )
    endpoint.flush()
    return service, endpoint


def test_reconnect_in_the_middle_of_an_answered_call() -> None:
    """A mid-frame drop while the caller waits, answered meanwhile: resync, then a complete record."""
    # After the reconnect QueueStatus/CoreShowChannels show the truth, and AgentComplete still
    # gives the record its answer, agent, wait and talk time.
    reactor = MemoryReactorClock()
    reactor.advance(CAPTURE_EPOCH)
    writer, registry = MemoryWriter(), CollectorRegistry()
    peers = [AmiPeer(), AmiPeer(queue_status=peer.QUEUE_STATUS_IN_CALL, channels=peer.CHANNELS_IN_CALL)]
    service, endpoint = start(reactor, peers, writer, registry)
    changes: list[Change] = []
    service.model.subscribe(changes.append)
    assert service.client.connected and service.resyncs == 1
    assert [c.actions[1][0] for c in endpoint.peers] == [("Action", "QueueStatus")]

    endpoint.peer.send(until(peer.CALL_ANSWERED, peer.CALLER_JOIN))
    endpoint.flush()
    reactor.advance(2)
    next_frame = after(peer.CALL_ANSWERED, peer.CALLER_JOIN)[0]
    endpoint.peer.send(next_frame[: len(next_frame) // 2])
    endpoint.peer.close()
    endpoint.flush()
    stale = service.snapshot()
    assert not stale.connected and [c.uniqueid for c in stale.queues[0].callers] == [peer.CALLER]
    assert writer.names() == ["reconcile_open_calls", "queue_joined"]  # the first login reconciles too
    assert service.client.protocol_errors == 1  # the half frame

    reactor.advance(2)
    endpoint.flush()
    assert service.client.connected and service.resyncs == 2
    fresh = service.snapshot()
    assert fresh.connected and fresh.queues[0].callers == ()
    assert [(m.in_call, m.state) for m in fresh.queues[0].members] == [(True, "inuse")]
    assert fresh.channel(peer.CALLER).peers == (peer.AGENT,)  # type: ignore[union-attr]
    assert [c.uniqueid for c in changes if isinstance(c, CallerLeft) and c.resync] == [peer.CALLER]
    assert writer.names() == ["reconcile_open_calls", "queue_joined", "add_event", "reconcile_open_calls"] and writer.of("add_event")[0]["kind"] == "ami_gap"
    # Gone while we were away is judged from the moment the connection dropped; both
    # channels are still up.
    reconciled = writer.of("reconcile_open_calls")[-1]
    assert reconciled["since"] == _utc_iso(2) and reconciled["live"] == sorted([peer.CALLER, peer.AGENT])

    reactor.advance(4)
    endpoint.peer.send(after(peer.CALL_ANSWERED, peer.MEMBER_IN_CALL))
    endpoint.flush()
    firm = [(op, args) for op, args in writer.operations if op != "reconcile_open_calls" and not args.get("if_exists")]
    assert [op for op, _ in firm] == ["queue_joined", "add_event", "queue_answered", "add_event", "call_ended"]
    # The agent's channel, up at the resync and never seen in a queue: closed only if on record.
    assert [e["uniqueid"] for e in writer.of("call_ended") if e.get("if_exists")] == [peer.AGENT]
    [answered] = writer.of("queue_answered")
    assert answered["agent"] == AGENT_ONE and answered["wait_seconds"] == 0
    assert answered["at"] == _utc_iso(8 - 6)  # AgentComplete's time minus the talk time
    [ended] = [e for e in writer.of("call_ended") if not e.get("if_exists")]
    assert ended["talk_seconds"] == 6 and ended["at"] == _utc_iso(8)
    assert service.snapshot().channels == ()
    text = generate_latest(registry).decode()
    assert "hotline_ami_connected 1.0" in text and "hotline_ami_reconnects_total 1.0" in text


def test_reconnect_while_the_caller_still_waits() -> None:
    """A caller still waiting after the reconnect keeps its place and is not queued twice."""
    reactor = MemoryReactorClock()
    reactor.advance(CAPTURE_EPOCH)
    writer, registry = MemoryWriter(), CollectorRegistry()
    peers = [AmiPeer(queue_status=peer.QUEUE_STATUS_PAUSED[1:-1]), AmiPeer(queue_status=peer.QUEUE_STATUS_WITH_CALLER[1:-1])]
    service, endpoint = start(reactor, peers, writer, registry)
    endpoint.peer.send(peer.CALL_WAITING)
    endpoint.flush()
    endpoint.peer.close()
    endpoint.flush()
    reactor.advance(2)
    endpoint.flush()
    snapshot = service.snapshot()
    [caller] = snapshot.queues[0].callers
    assert caller.uniqueid == peer.WAITING_CALLER and caller.position == 1
    # CoreShowChannels (empty here) cannot hang up a caller that QueueStatus shows waiting.
    assert snapshot.channel(peer.WAITING_CALLER) is not None
    assert writer.names() == ["reconcile_open_calls", "queue_joined", "reconcile_open_calls"] and writer.of("reconcile_open_calls")[-1]["live"] == [peer.WAITING_CALLER]
    reactor.advance(2)
    endpoint.peer.send(peer.CALL_ABANDONED)
    endpoint.flush()
    assert writer.names() == ["reconcile_open_calls", "queue_joined", "reconcile_open_calls", "queue_abandoned", "call_ended"]
    assert writer.of("queue_abandoned")[0]["wait_seconds"] == 4


def test_disabled_ami_never_connects_but_serves_metrics() -> None:
    """With [ami] enabled = false nothing dials out; the gauges say disconnected."""
    reactor = MemoryReactorClock()
    endpoint = PeerEndpoint(reactor)
    registry = CollectorRegistry()
    service = start_ami(reactor, AmiConfig(enabled=False), registry, QueueCallLog(MemoryWriter(), clock=reactor), endpoint=endpoint)
    reactor.advance(120)
    assert endpoint.attempts == 0 and not service.client.connected
    assert "hotline_ami_connected 0.0" in generate_latest(registry).decode()
    assert service.stop().called


def test_a_call_delivered_one_byte_per_read_is_logged_the_same() -> None:
    """Call 2 split at every byte through the client gives the same operations as one read."""
    outcomes = []
    for drip in (False, True):
        reactor = MemoryReactorClock()
        reactor.advance(CAPTURE_EPOCH)
        writer = MemoryWriter()
        service, endpoint = start(reactor, [AmiPeer(queue_status=peer.QUEUE_STATUS_PAUSED[1:-1])], writer, CollectorRegistry())
        if drip:
            endpoint.drip(peer.CALL_WAITING, peer.CALL_ABANDONED)
        else:
            endpoint.peer.send(peer.CALL_WAITING, peer.CALL_ABANDONED)
            endpoint.flush()
        assert service.client.protocol_errors == 0
        outcomes.append(writer.operations)
    assert outcomes[0] == outcomes[1] and [op for op, _ in outcomes[0]] == ["reconcile_open_calls", "queue_joined", "queue_abandoned", "call_ended"]


def test_failed_resync_keeps_the_model_and_applies_held_events(caplog: pytest.LogCaptureFixture) -> None:
    """QueueStatus refused: a warning, the old state stays, and events keep flowing."""
    reactor = MemoryReactorClock()
    writer = MemoryWriter()
    with caplog.at_level(logging.WARNING):
        service, endpoint = start(reactor, [AmiPeer(refuse={"QueueStatus": "Permission denied"})], writer, CollectorRegistry())
    assert service.client.connected and service.resyncs == 0 and not service.model.resyncing
    assert "resync failed (QueueStatus" in caplog.text
    endpoint.peer.send(peer.CALL_WAITING)
    endpoint.flush()
    assert [c.uniqueid for c in service.snapshot().queues[0].callers] == [peer.WAITING_CALLER]


def test_channels_list_refused_still_resyncs_queues(caplog: pytest.LogCaptureFixture) -> None:
    """CoreShowChannels refused (a user without `reporting`, as the lab's Asterisk refused
    it): queues and members are resynchronised, channels kept, and the warning says what to
    fix."""
    reactor = MemoryReactorClock()
    partial = AmiPeer(queue_status=peer.QUEUE_STATUS_PAUSED[1:-1], write=["call", "agent", "originate"])
    with caplog.at_level(logging.WARNING):
        service, _ = start(reactor, [partial], MemoryWriter(), CollectorRegistry())
    assert "the AMI user lacks the write class it needs" in caplog.text and "check-manager" in caplog.text
    assert service.resyncs == 1
    [member] = service.snapshot().queues[0].members
    assert member.pause_reason == "lunch"


# -- after kill -9: open records reconciled with Asterisk's channels (issue 11.4)


def _hangup_of(core_show_channel: bytes) -> bytes:
    """Composed: the Hangup event of a channel CoreShowChannels listed (the same channel
    snapshot lines, as the captured Hangup events carry them)."""
    return b"Event: Hangup\r\nPrivilege: call,all\r\n" + peer.header_block(core_show_channel) + b"Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n"


def _apply(database: Database, operation: str, **arguments: Any) -> None:
    database.run(lambda session: calls.apply(session, operation, arguments))


def _record(database: Database, uniqueid: str) -> tuple[CallDisposition, datetime | None, list[str]]:
    with database.transaction() as session:
        call = calls.get(session, uniqueid)
        assert call is not None
        return call.disposition, call.ended_at, [e.kind for e in calls.timeline(session, uniqueid)]


def test_records_left_open_by_a_killed_service_are_reconciled_on_start(database: Database) -> None:
    """The service was killed with three calls on record as going. On start, CoreShowChannels
    (the captured list: caller B still talks to an agent) decides: the call Asterisk no longer
    has ended while the service was down, at the latest when it started again; B is followed
    again and closed by its hangup; a call that started after the restart is not judged."""
    restart = CAPTURE_EPOCH + 3600
    at = lambda seconds: datetime.fromtimestamp(restart + seconds, UTC).isoformat()  # noqa: E731
    gone, newer = "1796272200.5", "1796275870.1"
    _apply(database, "start_call", uniqueid=gone, at=at(-300))
    _apply(database, "queue_joined", uniqueid=gone, queue=SKILL, at=at(-290), source="ami")
    _apply(database, "start_call", uniqueid=peer.B_CALLER, at=at(-60))
    _apply(database, "queue_joined", uniqueid=peer.B_CALLER, queue=SKILL, at=at(-50), source="ami")
    _apply(database, "queue_answered", uniqueid=peer.B_CALLER, queue=SKILL, agent="Local/talk60@lab-agents/n", wait_seconds=0, at=at(-50), source="ami")
    _apply(database, "start_call", uniqueid=newer, at=at(1))

    reactor = MemoryReactorClock()
    reactor.advance(restart)
    channels = peer.CORE_SHOW_CHANNELS_B_TALKING[1:-1]
    service, endpoint = start(reactor, [AmiPeer(channels=channels)], DatabaseWriter(database), CollectorRegistry())
    assert service.resyncs == 1 and "CoreShowChannels" in endpoint.peer.action_names()
    disposition, ended_at, kinds = _record(database, gone)
    assert disposition is CallDisposition.SERVICE_DOWN and ended_at == datetime.fromtimestamp(restart, UTC) and kinds.count("service_down") == 1
    assert _record(database, peer.B_CALLER)[:2] == (CallDisposition.ANSWERED, None)
    assert _record(database, newer)[:2] == (CallDisposition.IN_PROGRESS, None)

    reactor.advance(30)
    b_caller = next(f for f in channels if f"Uniqueid: {peer.B_CALLER}".encode() in f)
    endpoint.peer.send(_hangup_of(b_caller), *(_hangup_of(f) for f in channels if f is not b_caller))
    endpoint.flush()
    disposition, ended_at, kinds = _record(database, peer.B_CALLER)
    assert (disposition, ended_at) == (CallDisposition.ANSWERED, datetime.fromtimestamp(restart + 30, UTC)) and kinds.count("end") == 1
    with database.transaction() as session:  # the agent's and the ;1 channels' hangups made no records
        assert all(calls.get(session, uniqueid) is None for uniqueid in peer.B_CHANNELS if uniqueid != peer.B_CALLER)


def test_a_call_that_ends_while_the_ami_connection_is_down_is_closed_at_the_loss(database: Database) -> None:
    """After every reconnect too: caller B was up at the first login, the connection drops,
    and the second CoreShowChannels no longer lists it: its record ends when we lost sight
    of it, and keeps what was known (answered)."""
    start_at = CAPTURE_EPOCH + 7200
    _apply(database, "start_call", uniqueid=peer.B_CALLER, at=datetime.fromtimestamp(start_at - 60, UTC).isoformat())
    _apply(database, "queue_answered", uniqueid=peer.B_CALLER, queue=SKILL, agent="Local/talk60@lab-agents/n", at=datetime.fromtimestamp(start_at - 50, UTC).isoformat(), source="ami")
    reactor = MemoryReactorClock()
    reactor.advance(start_at)
    peers = [AmiPeer(channels=peer.CORE_SHOW_CHANNELS_B_TALKING[1:-1]), AmiPeer(channels=())]
    service, endpoint = start(reactor, peers, DatabaseWriter(database), CollectorRegistry())
    assert _record(database, peer.B_CALLER)[1] is None
    reactor.advance(5)
    endpoint.peer.close()
    endpoint.flush()
    reactor.advance(2)
    endpoint.flush()
    assert service.resyncs == 2
    disposition, ended_at, _ = _record(database, peer.B_CALLER)
    assert (disposition, ended_at) == (CallDisposition.ANSWERED, datetime.fromtimestamp(start_at + 5, UTC))


def test_no_channel_list_no_reconciliation(database: Database, caplog: pytest.LogCaptureFixture) -> None:
    """A manager user without the write class CoreShowChannels needs gets the captured
    "Permission denied": which calls are gone cannot be told, so no record is closed (and
    the log says why)."""
    start_at = CAPTURE_EPOCH + 9000
    _apply(database, "start_call", uniqueid="1796272200.7", at=datetime.fromtimestamp(start_at - 60, UTC).isoformat())
    reactor = MemoryReactorClock()
    reactor.advance(start_at)
    denied = AmiPeer(refuse={"CoreShowChannels": peer.CORE_SHOW_CHANNELS_DENIED.split(b"Message: ")[1].split(b"\r\n")[0].decode()})
    with caplog.at_level(logging.WARNING):
        service, _ = start(reactor, [denied], DatabaseWriter(database), CollectorRegistry())
    assert service.resyncs == 1 and "not reconciled" in caplog.text
    assert _record(database, "1796272200.7")[:2] == (CallDisposition.IN_PROGRESS, None)


# -- QueueCallerAbandon is not always a hangup (reference: ami_channels.txt)


def test_a_queue_timeout_and_a_leavewhenempty_are_told_from_a_hangup(database: Database) -> None:
    """Asterisk sends QueueCallerAbandon when Queue() times out and when leavewhenempty puts
    the caller out, as for a caller who hangs up; QUEUESTATUS (VarSet) tells them apart. From
    the AMI alone: C1 timed out after 6 s, E was refused (leaveempty: no queued time), and C2,
    refused at the door, sent no queue event and gets no record from the AMI side."""
    line = Line(DatabaseWriter(database))
    line.feed(peer.CALL_TIMED_OUT, peer.CALL_LEFT_EMPTY, peer.CALL_REFUSED_FULL)
    with database.transaction() as session:
        timed_out, left_empty = calls.get(session, peer.C1_CALLER), calls.get(session, peer.E_CALLER)
        assert timed_out is not None and left_empty is not None and calls.get(session, peer.C2_CALLER) is None
        assert (timed_out.disposition, timed_out.queue, timed_out.queue_result, timed_out.wait_seconds) == (CallDisposition.TIMED_OUT, "capture-full", "timeout", 6)
        assert (left_empty.disposition, left_empty.queue_result, left_empty.queued_at) == (CallDisposition.REFUSED, "leaveempty", None)
        assert [e.kind for e in calls.timeline(session, peer.C1_CALLER)] == ["queue_join", "queue_abandon", "queue_timeout", "end"]
