"""The live model fed with the captured events: queues, callers, members, channels and who
talks to whom; out-of-order and unknown events; resync; snapshots and the metrics read from it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from twisted.internet.task import Clock

from hotline.ami.codec import AmiDecoder, Event, Message
from hotline.ami.live import (
    AVAILABILITY,
    BridgeChanged,
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    CallerLeft,
    Change,
    ChannelHungUp,
    ConnectionChanged,
    LiveModel,
    MemberChanged,
    QueueRemoved,
    RecordingStarted,
    Resynced,
)
from hotline.ami.metrics import AmiMetrics
from hotline.simulator import ami as peer

QUEUE = "hotline-general"
AGENT_ONE = "Local/agent1@agents/n"
CAPTURE_EPOCH = 1795235026.0


def events(*frames: bytes | Iterable[bytes]) -> list[Event]:
    decoded = AmiDecoder(expect_banner=False).feed(peer.stream(*frames))  # type: ignore[arg-type]
    return [f for f in decoded if isinstance(f, Event)]


def list_items(frames: Iterable[bytes]) -> list[Event]:
    """The items of a captured list (its opening Response and closing event left out)."""
    return [e for e in events(*frames) if e.get("EventList") == ""]


class Harness:
    def __init__(self) -> None:
        self.clock = Clock()
        self.clock.advance(CAPTURE_EPOCH)
        self.model = LiveModel(self.clock)
        self.changes: list[Change] = []
        self.model.subscribe(self.changes.append)

    def feed(self, *frames: bytes | Iterable[bytes]) -> None:
        for event in events(*frames):
            self.model.apply(event)

    def of(self, kind: type[Change]) -> list[Any]:
        return [c for c in self.changes if isinstance(c, kind)]


def until(frames: tuple[bytes, ...], last: bytes) -> tuple[bytes, ...]:
    return frames[: frames.index(last) + 1]


def after(frames: tuple[bytes, ...], last: bytes) -> tuple[bytes, ...]:
    return frames[frames.index(last) + 1 :]


def test_answered_call_from_join_to_hangup() -> None:
    """Call 1: the caller waits, Agent One answers and talks to it, then everything clears."""
    h = Harness()
    h.model.resync(list_items(peer.QUEUE_STATUS_IDLE))
    h.feed(until(peer.CALL_ANSWERED, peer.CALLER_JOIN))
    h.clock.advance(3)
    queue = h.model.queue(QUEUE)
    assert queue is not None and [(c.uniqueid, c.position, c.wait_seconds, c.linkedid) for c in queue.callers] == [(peer.CALLER, 1, 3, peer.CALLER_LINKEDID)]
    assert queue.longest_wait_seconds == 3
    h.feed(until(after(peer.CALL_ANSWERED, peer.CALLER_JOIN), peer.MEMBER_IN_CALL))
    queue = h.model.queue(QUEUE)
    assert queue is not None and queue.callers == () and queue.answered == 1
    [member] = queue.members
    assert (member.talking_to, member.agent_uniqueid, member.state, member.availability) == (peer.CALLER, peer.AGENT, "inuse", "busy")
    snapshot = h.model.snapshot()
    caller = snapshot.channel(peer.CALLER)
    assert caller is not None and caller.peers == (peer.AGENT,) and caller.bridge == peer.BRIDGE and caller.linkedid == peer.CALLER_LINKEDID
    [answered] = h.of(CallerAnswered)
    assert (answered.uniqueid, answered.interface, answered.agent_uniqueid, answered.hold_seconds) == (peer.CALLER, AGENT_ONE, peer.AGENT, 0)
    h.feed(after(peer.CALL_ANSWERED, peer.MEMBER_IN_CALL))
    [completed] = h.of(CallCompleted)
    assert (completed.talk_seconds, completed.reason) == (6, "agent")
    snapshot = h.model.snapshot()
    assert snapshot.channels == () and h.model.bridges == {}
    [member] = snapshot.queues[0].members
    assert (member.talking_to, member.in_call, member.calls_taken, member.availability) == (None, False, 1, "available")
    assert member.last_call is not None and member.last_call.timestamp() == 1795235032


def test_abandoned_call_while_the_only_agent_is_paused() -> None:
    """Call 2: Agent One is paused for lunch, the caller waits 4 s and hangs up."""
    h = Harness()
    h.model.resync(list_items(peer.QUEUE_STATUS_PAUSED))
    [member] = h.model.queue(QUEUE).members  # type: ignore[union-attr]
    assert (member.paused, member.pause_reason, member.availability) == (True, "lunch", "paused")
    assert member.paused_since is not None and member.paused_since.timestamp() == 1795235035
    h.feed(peer.CALL_WAITING)
    h.clock.advance(4)
    [caller] = h.model.queue(QUEUE).callers  # type: ignore[union-attr]
    assert (caller.uniqueid, caller.position, caller.wait_seconds) == (peer.WAITING_CALLER, 1, 4)
    h.feed(peer.CALL_ABANDONED)
    queue = h.model.queue(QUEUE)
    assert queue is not None and queue.callers == () and (queue.answered, queue.abandoned) == (0, 1)
    [abandoned] = h.of(CallerAbandoned)
    assert (abandoned.uniqueid, abandoned.position, abandoned.original_position, abandoned.hold_seconds) == (peer.WAITING_CALLER, 1, 1, 4)
    assert [c.uniqueid for c in h.of(CallerLeft)] == [peer.WAITING_CALLER]


def test_pause_with_reason_and_unpause() -> None:
    """QueueMemberPause sets and clears the pause and its reason."""
    h = Harness()
    h.model.resync(list_items(peer.QUEUE_STATUS_IDLE))
    h.feed(peer.QUEUE_PAUSE_OK[1:])
    member = h.of(MemberChanged)[-1].member
    assert (member.interface, member.paused, member.pause_reason, member.availability) == (AGENT_ONE, True, "lunch", "paused")
    h.feed(peer.QUEUE_UNPAUSE_OK[1:])
    member = h.of(MemberChanged)[-1].member
    assert (member.paused, member.pause_reason, member.paused_since, member.availability) == (False, "", None, "available")


def test_members_added_and_removed() -> None:
    """QueueMemberAdded and QueueMemberRemoved keep the member list."""
    h = Harness()
    h.feed(peer.QUEUE_ADD_OK[1:])
    assert [m.name for m in h.model.queue(QUEUE).members] == ["Agent Two"]  # type: ignore[union-attr]
    h.feed(peer.QUEUE_REMOVE_OK[1:])
    assert h.model.queue(QUEUE).members == ()  # type: ignore[union-attr]


def _join(suffix: str, position: int) -> bytes:
    frame = peer.renumber([peer.CALLER_JOIN], suffix)[0]
    return frame.replace(b"Position: 1\r\nCount: 1", f"Position: {position}\r\nCount: {position}".encode())


def test_positions_move_up_when_a_caller_ahead_leaves() -> None:
    """Three callers wait; the first is answered; the others move to positions 1 and 2."""
    h = Harness()
    h.feed(_join("-a", 1), _join("-b", 2), _join("-c", 3))
    assert [c.position for c in h.model.queue(QUEUE).callers] == [1, 2, 3]  # type: ignore[union-attr]
    h.feed(peer.renumber([peer.CALLER_LEAVE], "-a"))
    assert [(c.uniqueid[-2:], c.position) for c in h.model.queue(QUEUE).callers] == [("-b", 1), ("-c", 2)]  # type: ignore[union-attr]


def test_outcome_before_join_never_shows_a_waiting_caller() -> None:
    """AgentConnect overtaking QueueCallerJoin: the late Join is a fact, not a waiting caller."""
    h = Harness()
    h.feed(peer.AGENT_CONNECT, peer.CALLER_JOIN)
    assert h.model.queue(QUEUE).callers == ()  # type: ignore[union-attr]
    [joined] = h.of(CallerJoined)
    assert joined.waiting is False and joined.caller.uniqueid == peer.CALLER
    assert h.model.queue(QUEUE).answered == 1  # type: ignore[union-attr]


def test_leave_before_join_then_a_real_rejoin() -> None:
    """Leave, late Join (ignored), Leave again; a later Join is a real re-join and waits."""
    h = Harness()
    h.feed(peer.CALLER_LEAVE, peer.CALLER_JOIN)
    assert h.model.queue(QUEUE).callers == ()  # type: ignore[union-attr]
    h.feed(peer.CALLER_LEAVE, peer.CALLER_JOIN)
    assert [c.uniqueid for c in h.model.queue(QUEUE).callers] == [peer.CALLER]  # type: ignore[union-attr]


def test_caller_may_join_again_after_leaving() -> None:
    """A caller who leaves a queue (exit key, timeout) and joins again waits again."""
    h = Harness()
    h.feed(peer.CALLER_JOIN, peer.CALLER_LEAVE, peer.CALLER_JOIN)
    assert [c.uniqueid for c in h.model.queue(QUEUE).callers] == [peer.CALLER]  # type: ignore[union-attr]


def test_hangup_before_late_channel_events_does_not_resurrect_the_channel() -> None:
    """Events about a channel that arrive after its Hangup are dropped."""
    h = Harness()
    agent_frames = [f for f in peer.CALL_ANSWERED if f"Uniqueid: {peer.AGENT}\r\n".encode() in f]
    hangup = peer.event_named(agent_frames, "Hangup")
    h.feed(hangup, *agent_frames)
    assert h.model.snapshot().channel(peer.AGENT) is None
    assert h.model.peers(peer.AGENT) == ()


def test_caller_hangup_while_waiting_without_leave() -> None:
    """A Hangup of a waiting caller whose Leave was lost still takes it off the queue."""
    h = Harness()
    h.feed(peer.CALL_WAITING, peer.event_named(peer.CALL_ABANDONED, "Hangup", f"Uniqueid: {peer.WAITING_CALLER}"))
    assert h.model.queue(QUEUE).callers == ()  # type: ignore[union-attr]
    assert [c.uniqueid for c in h.of(CallerLeft)] == [peer.WAITING_CALLER]


def test_unknown_and_malformed_events_change_nothing() -> None:
    """UserEvent, Cdr, a future event and a Join without Uniqueid are absorbed silently."""
    h = Harness()
    user_event = peer.event_named(peer.CALL_ANSWERED, "UserEvent")
    future = b"Event: QueueCallerTeleported\r\nQueue: hotline-general\r\nUniqueid: x\r\n\r\n"
    broken_join = b"Event: QueueCallerJoin\r\nQueue: hotline-general\r\nPosition: 1\r\n\r\n"
    h.feed(user_event, peer.event_named(peer.CALL_ANSWERED, "Cdr"), future, peer.FULLY_BOOTED)
    assert h.changes == [] and h.model.events_ignored == 4
    h.feed(broken_join)
    assert h.model.snapshot().queues == () and h.changes == []


def test_member_event_for_a_queue_not_yet_seen() -> None:
    """A QueueMemberStatus before any QueueStatus creates the queue and the member."""
    h = Harness()
    h.feed(peer.MEMBER_IN_CALL)
    [queue] = h.model.snapshot().queues
    assert queue.name == QUEUE and [m.in_call for m in queue.members] == [True]


@settings(max_examples=40, deadline=None)
@given(st.permutations(range(len(peer.CALL_ANSWERED))))
def test_any_order_of_the_captured_call_leaves_a_clean_model(order: list[int]) -> None:
    """In any order, call 1's events leave no waiting caller, channel or talking agent, and one answer."""
    h = Harness()
    decoded = events(peer.CALL_ANSWERED)
    for index in order:
        h.model.apply(decoded[index])
    snapshot = h.model.snapshot()
    [queue] = snapshot.queues
    assert queue.callers == () and snapshot.channels == () and queue.answered == 1
    assert all(m.talking_to is None for m in queue.members)


def test_resync_replaces_a_stale_view_and_says_what_changed() -> None:
    """QueueStatus + CoreShowChannels replace a stale view (caller now talking) and emit the differences."""
    h = Harness()
    h.model.resync(list_items(peer.QUEUE_STATUS_IDLE))
    h.feed(until(peer.CALL_ANSWERED, peer.CALLER_JOIN))
    h.changes.clear()
    h.model.resync(list_items(peer.QUEUE_STATUS_IN_CALL), list_items(peer.CHANNELS_IN_CALL))
    queue = h.model.queue(QUEUE)
    assert queue is not None and queue.callers == ()
    assert [(m.in_call, m.availability) for m in queue.members] == [(True, "busy")]
    assert h.model.peers(peer.CALLER) == (peer.AGENT,)
    [left] = h.of(CallerLeft)
    assert left.uniqueid == peer.CALLER and left.resync
    assert [b.channels for b in h.of(BridgeChanged)] == [tuple(sorted((peer.CALLER, peer.AGENT)))]
    gone = {c.uniqueid for c in h.of(ChannelHungUp)}
    assert gone == {"asterisk-lab-1795235026.16"} and all(c.resync for c in h.of(ChannelHungUp))
    [resynced] = h.of(Resynced)
    assert (resynced.queues, resynced.callers, resynced.members, resynced.channels) == ((QUEUE,), 0, 1, 2)
    assert h.model.snapshot().synced_at is not None


def test_resync_keeps_a_waiting_caller_and_its_wait() -> None:
    """A QueueEntry with Wait: 2 becomes a caller who joined two seconds ago."""
    h = Harness()
    h.model.resync(list_items(peer.QUEUE_STATUS_WITH_CALLER))
    [caller] = h.model.queue(QUEUE).callers  # type: ignore[union-attr]
    assert (caller.uniqueid, caller.position, caller.wait_seconds, caller.channel) == (peer.WAITING_CALLER, 1, 2, "Local/12340@hotline-0000000a;2")
    [joined] = h.of(CallerJoined)
    assert joined.resync and joined.waiting
    h.clock.advance(0.5)
    h.model.resync(list_items(peer.QUEUE_STATUS_WITH_CALLER))
    assert len(h.of(CallerJoined)) == 1  # already known: no second join


def test_events_during_a_resync_are_held_and_replayed() -> None:
    """A Join that arrives while QueueStatus is in flight survives the snapshot."""
    h = Harness()
    h.model.begin_resync()
    h.feed(peer.CALLER_JOIN)
    assert h.model.snapshot().queues == () and h.model.resyncing
    h.model.finish_resync(list_items(peer.QUEUE_STATUS_IDLE))
    assert [c.uniqueid for c in h.model.queue(QUEUE).callers] == [peer.CALLER]  # type: ignore[union-attr]
    kinds = [type(c).__name__ for c in h.changes]
    assert kinds.index("Resynced") < kinds.index("CallerJoined")


def test_an_aborted_resync_applies_what_it_held() -> None:
    """No snapshot to be had: the held events are applied on the old state."""
    h = Harness()
    h.model.begin_resync()
    h.feed(peer.CALLER_JOIN)
    h.model.abort_resync()
    assert not h.model.resyncing and len(h.model.queue(QUEUE).callers) == 1  # type: ignore[union-attr]


def test_resync_drops_queues_asterisk_no_longer_has() -> None:
    """A queue missing from a full QueueStatus is removed (it was deleted and reloaded)."""
    h = Harness()
    h.feed(peer.MEMBER_IN_CALL.replace(b"Queue: hotline-general", b"Queue: old-queue"))
    h.model.resync(list_items(peer.QUEUE_STATUS_IDLE))
    assert [q.name for q in h.model.snapshot().queues] == [QUEUE]
    assert [c.queue for c in h.of(QueueRemoved)] == ["old-queue"]


def test_snapshot_is_plain_frozen_data_without_ami_types() -> None:
    """The desk gets dataclasses of str/int/datetime: JSON-able, immutable, no AMI message."""
    h = Harness()
    h.model.resync(list_items(peer.QUEUE_STATUS_IN_CALL), list_items(peer.CHANNELS_IN_CALL))
    snapshot = h.model.snapshot()
    as_dict = dataclasses.asdict(snapshot)
    json.dumps(as_dict, default=str)

    def walk(value: Any) -> None:
        assert not isinstance(value, Message)
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(as_dict)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.queues[0].members[0].paused = True  # type: ignore[misc]
    for change in h.changes:
        walk(dataclasses.asdict(change))


def test_a_failing_subscriber_does_not_stop_the_model() -> None:
    """One subscriber raising leaves the model and the other subscribers untouched."""
    h = Harness()

    def broken(change: Change) -> None:
        raise RuntimeError("desk bug")

    h.model.subscribe(broken)
    h.feed(peer.CALLER_JOIN)
    assert len(h.of(CallerJoined)) == 1 and h.model.subscriber_errors == 1
    assert len(h.model.queue(QUEUE).callers) == 1  # type: ignore[union-attr]


def test_recording_is_noticed_from_mixmonitor() -> None:
    """MIXMONITOR_FILENAME names the file; MixMonitorStart alone says a recording exists."""
    h = Harness()
    h.feed(peer.var_set(peer.AGENT_BRIDGE_ENTER, "MIXMONITOR_FILENAME", "/var/spool/asterisk/monitor/hotline/x.wav"))
    h.feed(peer.mixmonitor_start(peer.CALLER_BRIDGE_ENTER), peer.mixmonitor_start(peer.CALLER_BRIDGE_ENTER))
    recordings = h.of(RecordingStarted)
    assert [(r.uniqueid, r.filename) for r in recordings] == [(peer.AGENT, "/var/spool/asterisk/monitor/hotline/x.wav"), (peer.CALLER, None)]
    assert h.model.snapshot().channel(peer.AGENT).recording == "/var/spool/asterisk/monitor/hotline/x.wav"  # type: ignore[union-attr]


def test_connection_state_is_part_of_the_model() -> None:
    """Connected/disconnected is reported once per change, and shown in snapshots."""
    h = Harness()
    h.model.set_connected(True)
    h.model.set_connected(True)
    h.model.set_connected(False)
    assert [c.connected for c in h.of(ConnectionChanged)] == [True, False]
    assert h.model.snapshot().connected is False


def test_metrics_read_from_the_model() -> None:
    """The gauges show waiting callers, the longest wait, members by availability and counts."""
    h = Harness()
    registry = CollectorRegistry()
    metrics = AmiMetrics(registry, h.model, client=None, clock=h.clock)
    h.model.resync(list_items(peer.QUEUE_STATUS_PAUSED))
    h.feed(peer.CALL_WAITING)
    metrics.refresh()
    h.clock.advance(3)
    text = generate_latest(registry).decode()
    assert 'hotline_queue_callers_waiting{queue="hotline-general"} 1.0' in text
    assert 'hotline_queue_longest_wait_seconds{queue="hotline-general"} 3.0' in text
    assert 'hotline_queue_members{queue="hotline-general",state="paused"} 1.0' in text
    assert 'hotline_queue_members{queue="hotline-general",state="available"} 0.0' in text
    assert "hotline_ami_connected 0.0" in text and "hotline_ami_reconnects_total 0.0" in text
    h.feed(peer.CALL_ABANDONED)
    metrics.refresh()
    text = generate_latest(registry).decode()
    assert 'hotline_queue_abandoned_total{queue="hotline-general"} 1.0' in text
    assert 'hotline_queue_answered_total{queue="hotline-general"} 0.0' in text
    assert 'hotline_queue_callers_waiting{queue="hotline-general"} 0.0' in text


def test_metric_labels_stay_bounded_however_many_calls() -> None:
    """A hundred calls with distinct uniqueids add no series: labels are queue and state only."""
    h = Harness()
    registry = CollectorRegistry()
    metrics = AmiMetrics(registry, h.model, clock=h.clock)
    h.feed(peer.CALL_ANSWERED)
    metrics.refresh()
    before = generate_latest(registry).decode().count("\nhotline_")
    for index in range(100):
        h.feed(peer.renumber(peer.CALL_ANSWERED, f"-{index}"))
    metrics.refresh()
    text = generate_latest(registry).decode()
    assert text.count("\nhotline_") == before and "asterisk-lab" not in text
    assert {line.split('state="')[1].split('"')[0] for line in text.splitlines() if line.startswith("hotline_queue_members{")} == set(AVAILABILITY)
    assert 'hotline_queue_answered_total{queue="hotline-general"} 101.0' in text


def test_memory_of_hung_up_channels_is_bounded() -> None:
    """Tombstones keep the newest N channels only; the oldest are forgotten first."""
    clock = Clock()
    model = LiveModel(clock, memory=3)
    hangups = [peer.renumber([peer.CALLER_HANGUP], f"-{n}")[0] for n in range(5)]
    for event in events(*hangups):
        model.apply(event)
    newchannel = peer.event_named(peer.CALL_ANSWERED, "Newchannel", f"Uniqueid: {peer.CALLER}")
    for event in events(peer.renumber([newchannel], "-0"), peer.renumber([newchannel], "-4")):
        model.apply(event)
    assert [c.uniqueid for c in model.snapshot().channels] == [f"{peer.CALLER}-0"]
