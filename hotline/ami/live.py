"""The live model: queues, agents and channels as Asterisk reports them, in memory.

Fed with AMI events (`apply`), re-based on QueueStatus and CoreShowChannels after every
reconnect (`resync`), read by the desk (`snapshot`), the metrics (`figures`) and the call log
and scheduler (`subscribe`). Subscribers receive `Change` objects — plain frozen dataclasses
with datetimes and strings — and never an AMI message, so nothing outside `hotline.ami`
parses AMI.

The model is plain state with no I/O and no Twisted: every handler is O(1) in the number of
calls (O(callers in the queue) when positions shift), unknown events cost one dict lookup,
and events that arrive out of order or for things we never heard of are absorbed instead
of raising (a `Leave` before its `Join`, a `Hangup` for an unknown channel, a member event for
a queue not yet seen).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from hotline.dialplan import VAR_RECORDING

log = logging.getLogger(__name__)

#: Asterisk's device states (AST_DEVICE_*), as QueueMember's Status reports them.
DEVICE_STATES = {0: "unknown", 1: "not_inuse", 2: "inuse", 3: "busy", 4: "invalid", 5: "unavailable", 6: "ringing", 7: "ringinuse", 8: "onhold"}
#: What a supervisor (and the metrics' `state` label) sees of a member: a small fixed set.
AVAILABILITY = ("available", "busy", "ringing", "paused", "unavailable", "unknown")
_AVAILABILITY_OF = {0: "unknown", 1: "available", 2: "busy", 3: "busy", 4: "unavailable", 5: "unavailable", 6: "ringing", 7: "busy", 8: "busy"}
#: Channel variables that name the recording of a call.
RECORDING_VARIABLES = frozenset({"MIXMONITOR_FILENAME", VAR_RECORDING})
#: How Queue() ended, set on the caller's channel (TIMEOUT, FULL, JOINEMPTY, LEAVEEMPTY …).
QUEUESTATUS = "QUEUESTATUS"
_WATCHED_VARIABLES = RECORDING_VARIABLES | {QUEUESTATUS}
_UNKNOWN_IDS = frozenset({"", "<unknown>", "unknown"})

# What we remember of a (queue, uniqueid) whose waiting ended, to put late events in order.
_CLEAN = 1  # the caller was waiting and left: a new Join is a real re-join
_EARLY = 2  # an outcome arrived for a caller we never saw join: its Join is late
_LATE = 3  # that late Join arrived (and was not made a waiting caller)


class Clock(Protocol):
    """The part of Twisted's IReactorTime the model reads (the model imports no Twisted)."""

    def seconds(self) -> float: ...


class EventLike(Protocol):
    """What the model reads of an AMI event (codec.Event provides it)."""

    @property
    def name(self) -> str: ...

    def get(self, key: str, default: str = "") -> str: ...

    def get_last(self, key: str, default: str = "") -> str: ...


# -- what subscribers and the desk see


@dataclass(frozen=True, slots=True)
class CallerView:
    uniqueid: str
    linkedid: str
    channel: str
    callerid_num: str
    callerid_name: str
    position: int
    joined_at: datetime
    wait_seconds: int


@dataclass(frozen=True, slots=True)
class MemberView:
    interface: str
    name: str
    #: Asterisk's device state name (DEVICE_STATES).
    state: str
    #: available, busy, ringing, paused, unavailable or unknown (AVAILABILITY).
    availability: str
    paused: bool
    pause_reason: str
    paused_since: datetime | None
    calls_taken: int
    in_call: bool
    last_call: datetime | None
    membership: str
    penalty: int
    #: The caller (call record uniqueid) this member is talking to, and the agent's channel.
    talking_to: str | None
    agent_uniqueid: str | None


@dataclass(frozen=True, slots=True)
class QueueView:
    name: str
    strategy: str
    callers: tuple[CallerView, ...]
    members: tuple[MemberView, ...]
    #: Calls answered / abandoned as seen by this process (since it started).
    answered: int
    abandoned: int
    longest_wait_seconds: int
    #: Asterisk's own counters (since its last reload), from the last QueueStatus.
    asterisk_completed: int
    asterisk_abandoned: int


@dataclass(frozen=True, slots=True)
class ChannelView:
    uniqueid: str
    linkedid: str
    name: str
    state: str
    callerid_num: str
    callerid_name: str
    connected_num: str
    bridge: str | None
    #: Uniqueids of the other channels in the same bridge: who this channel talks to.
    peers: tuple[str, ...]
    recording: str | None


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    at: datetime
    connected: bool
    synced_at: datetime | None
    queues: tuple[QueueView, ...]
    channels: tuple[ChannelView, ...]

    def queue(self, name: str) -> QueueView | None:
        return next((q for q in self.queues if q.name == name), None)

    def channel(self, uniqueid: str) -> ChannelView | None:
        return next((c for c in self.channels if c.uniqueid == uniqueid), None)


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """The numbers the metrics need, computed on the reactor thread, read from any thread."""

    name: str
    waiting: int
    oldest_joined_at: float | None
    members: tuple[tuple[str, int], ...]
    answered: int
    abandoned: int


# -- changes (what subscribers receive)


@dataclass(frozen=True, slots=True)
class Change:
    at: datetime


@dataclass(frozen=True, slots=True)
class ConnectionChanged(Change):
    connected: bool


@dataclass(frozen=True, slots=True)
class Resynced(Change):
    queues: tuple[str, ...]
    callers: int
    members: int
    channels: int
    #: Every channel Asterisk listed (uniqueids), or None when CoreShowChannels was not had:
    #: the call log closes the records of calls that are gone (`hotline.calllog.queue_events`).
    live_channels: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class CallerJoined(Change):
    queue: str
    caller: CallerView
    #: False for a Join that arrived after the caller's outcome (out of order): a fact for the
    #: call record, not a caller to show as waiting.
    waiting: bool = True
    resync: bool = False


@dataclass(frozen=True, slots=True)
class CallerLeft(Change):
    """The caller no longer waits (answered, abandoned, timed out, or gone during an outage)."""

    queue: str
    uniqueid: str
    linkedid: str
    position: int
    resync: bool = False


@dataclass(frozen=True, slots=True)
class CallerAnswered(Change):
    queue: str
    uniqueid: str
    linkedid: str
    interface: str
    member_name: str
    agent_uniqueid: str
    agent_channel: str
    hold_seconds: int
    ring_seconds: int


@dataclass(frozen=True, slots=True)
class AgentCalled(Change):
    """A queue call rings a member (AgentCalled): the moment the desk pops the call."""

    queue: str
    uniqueid: str
    linkedid: str
    interface: str
    member_name: str
    agent_uniqueid: str
    callerid_num: str
    callerid_name: str


@dataclass(frozen=True, slots=True)
class CallerAbandoned(Change):
    queue: str
    uniqueid: str
    linkedid: str
    position: int
    original_position: int
    hold_seconds: int


@dataclass(frozen=True, slots=True)
class CallCompleted(Change):
    """An answered queue call ended (AgentComplete): hold and talk time, who hung up."""

    queue: str
    uniqueid: str
    linkedid: str
    interface: str
    member_name: str
    agent_uniqueid: str
    hold_seconds: int
    talk_seconds: int
    reason: str


@dataclass(frozen=True, slots=True)
class MemberChanged(Change):
    queue: str
    member: MemberView


@dataclass(frozen=True, slots=True)
class MemberRemoved(Change):
    queue: str
    interface: str


@dataclass(frozen=True, slots=True)
class QueueRemoved(Change):
    queue: str


@dataclass(frozen=True, slots=True)
class ChannelChanged(Change):
    channel: ChannelView


@dataclass(frozen=True, slots=True)
class ChannelHungUp(Change):
    uniqueid: str
    linkedid: str
    name: str
    cause: int
    cause_text: str
    #: True when found gone by a resync (it ended while we were disconnected).
    resync: bool = False


@dataclass(frozen=True, slots=True)
class QueueStatusSet(Change):
    """How Queue() ended for a caller (VarSet QUEUESTATUS): what tells a timeout or a
    leavewhenempty from a hangup, since Asterisk sends QueueCallerAbandon for all three; a
    refused Queue() (FULL, JOINEMPTY) sends nothing else."""

    uniqueid: str
    linkedid: str
    status: str


@dataclass(frozen=True, slots=True)
class BridgeChanged(Change):
    bridge: str
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RecordingStarted(Change):
    uniqueid: str
    linkedid: str
    #: The file if Asterisk told us (MIXMONITOR_FILENAME / HOTLINE_RECORDING); None when only
    #: MixMonitorStart was seen.
    filename: str | None


# -- internal state


@dataclass(slots=True)
class _Caller:
    uniqueid: str
    linkedid: str
    channel: str
    callerid_num: str
    callerid_name: str
    position: int
    joined_at: float


@dataclass(slots=True)
class _Member:
    interface: str
    name: str = ""
    status: int = 0
    paused: bool = False
    pause_reason: str = ""
    last_pause: int = 0
    calls_taken: int = 0
    in_call: bool = False
    last_call: int = 0
    membership: str = ""
    penalty: int = 0
    talking_to: str | None = None
    agent_uniqueid: str | None = None

    def key(self) -> tuple[object, ...]:
        return (
            self.name,
            self.status,
            self.paused,
            self.pause_reason,
            self.last_pause,
            self.calls_taken,
            self.in_call,
            self.last_call,
            self.membership,
            self.penalty,
            self.talking_to,
            self.agent_uniqueid,
        )


@dataclass(slots=True)
class _Queue:
    name: str
    strategy: str = ""
    callers: dict[str, _Caller] = field(default_factory=dict)
    members: dict[str, _Member] = field(default_factory=dict)
    answered: int = 0
    abandoned: int = 0
    asterisk_completed: int = 0
    asterisk_abandoned: int = 0


@dataclass(slots=True)
class _Channel:
    uniqueid: str
    linkedid: str = ""
    name: str = ""
    state: str = ""
    callerid_num: str = ""
    callerid_name: str = ""
    connected_num: str = ""
    bridge: str | None = None
    recording: str | None = None


def _int(value: str, default: int = 0) -> int:
    try:
        return int(value)
    except ValueError:
        try:
            return int(float(value))
        except ValueError:
            return default


def _id(value: str) -> str:
    return "" if value in _UNKNOWN_IDS else value


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


K = TypeVar("K")
V = TypeVar("V")


class _Bounded(OrderedDict[K, V]):
    """A mapping that forgets its oldest entries past `limit` (tombstones, late-event marks).

    OrderedDict, not dict: evicting a plain dict's first key is O(deleted keys) per eviction.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        if len(self) > self.limit:
            self.popitem(last=False)


class LiveModel:
    """Queues → callers and members, channels and bridges, kept from AMI events."""

    def __init__(self, clock: Clock | None = None, *, memory: int = 20_000, resync_buffer: int = 200_000) -> None:
        self._now: Callable[[], float] = clock.seconds if clock is not None else time.time
        self.queues: dict[str, _Queue] = {}
        self.channels: dict[str, _Channel] = {}
        self.bridges: dict[str, set[str]] = {}
        self._left: _Bounded[tuple[str, str], int] = _Bounded(memory)  # (queue, caller uniqueid) → _CLEAN/_EARLY/_LATE
        self._gone: _Bounded[str, bool] = _Bounded(memory)  # uniqueids of channels that hung up
        self._completed: _Bounded[tuple[str, str], bool] = _Bounded(memory)  # (queue, caller uniqueid) after AgentComplete
        self._agents: dict[str, tuple[str, str]] = {}  # agent channel uniqueid → (queue, interface)
        self._subscribers: list[Callable[[Change], None]] = []
        self._buffer: list[EventLike] | None = None
        self._buffer_limit = resync_buffer
        self.connected = False
        self.synced_at: float | None = None
        self.events_applied = 0
        self.events_ignored = 0
        self.subscriber_errors = 0
        self._handlers: dict[str, Callable[[EventLike], None]] = {
            "QueueCallerJoin": self._caller_join,
            "QueueCallerLeave": self._caller_leave,
            "QueueCallerAbandon": self._caller_abandon,
            "AgentCalled": self._agent_called,
            "AgentConnect": self._agent_connect,
            "AgentComplete": self._agent_complete,
            "QueueMemberAdded": self._member_update,
            "QueueMemberStatus": self._member_update,
            "QueueMemberPause": self._member_update,
            "QueueMemberPaused": self._member_update,
            "QueueMemberPenalty": self._member_update,
            "QueueMemberRinginuse": self._member_update,
            "QueueMemberRemoved": self._member_removed,
            "Newchannel": self._channel_update,
            "Newstate": self._channel_update,
            "NewCallerid": self._channel_update,
            "NewConnectedLine": self._channel_update,
            "Hangup": self._hangup,
            "BridgeCreate": self._bridge_create,
            "BridgeEnter": self._bridge_enter,
            "BridgeLeave": self._bridge_leave,
            "BridgeDestroy": self._bridge_destroy,
            "VarSet": self._var_set,
            "MixMonitorStart": self._mixmonitor_start,
        }

    # -- subscribers

    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        """`callback(change)` after every change; returns a function that unsubscribes it."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _emit(self, change: Change) -> None:
        for callback in self._subscribers:
            try:
                callback(change)
            except Exception:  # a subscriber's bug must not stop the model
                self.subscriber_errors += 1
                log.exception("live model subscriber %r failed on %s", callback, type(change).__name__)

    # -- feeding

    def apply(self, event: EventLike) -> None:
        """One AMI event. During a resync, events wait and are replayed on top of the snapshot."""
        buffer = self._buffer
        if buffer is not None:
            if len(buffer) < self._buffer_limit:
                buffer.append(event)
                return
            log.warning("live model: resync took too long (%d events waiting); applying events directly", len(buffer))
            self.abort_resync()
        handler = self._handlers.get(event.name)
        if handler is None:
            self.events_ignored += 1
            return
        self.events_applied += 1
        handler(event)

    def set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self._emit(ConnectionChanged(_utc(self._now()), connected))

    # -- resync

    @property
    def resyncing(self) -> bool:
        return self._buffer is not None

    def begin_resync(self) -> None:
        """From now on hold incoming events until `finish_resync` or `abort_resync`."""
        if self._buffer is None:
            self._buffer = []

    def abort_resync(self) -> None:
        """The snapshot could not be had: apply what was held, keep the model as it was."""
        buffer, self._buffer = self._buffer, None
        for event in buffer or ():
            self.apply(event)

    def finish_resync(self, queue_status: Iterable[EventLike], channels: Iterable[EventLike] | None = None, *, all_queues: bool = True) -> None:
        """Re-base the model on a QueueStatus list (and a CoreShowChannels list when given),
        emit what differs as changes, then replay the events that arrived meanwhile.

        Replaying is safe because every event sets state rather than adding to it: an event
        older than the snapshot re-applies what the snapshot already shows.
        """
        buffer, self._buffer = self._buffer, None
        now = self._now()
        at = _utc(now)
        queue_items = list(queue_status)
        if channels is not None:
            # A caller QueueStatus shows waiting is alive, whatever a list taken a moment
            # earlier or later says about channels.
            waiting = {item.get("Uniqueid") for item in queue_items if item.name == "QueueEntry"}
            self._resync_channels(list(channels), at, waiting)
        self._resync_queues(queue_items, now, at, all_queues)
        self.synced_at = now
        self._emit(
            Resynced(
                at,
                tuple(sorted(self.queues)),
                sum(len(q.callers) for q in self.queues.values()),
                sum(len(q.members) for q in self.queues.values()),
                len(self.channels),
                tuple(self.channels) if channels is not None else None,
            )
        )
        for event in buffer or ():
            self.apply(event)

    def resync(self, queue_status: Iterable[EventLike], channels: Iterable[EventLike] | None = None, *, all_queues: bool = True) -> None:
        """`begin_resync` + `finish_resync` in one go (for callers that hold both lists)."""
        self.begin_resync()
        self.finish_resync(queue_status, channels, all_queues=all_queues)

    def _resync_channels(self, items: Sequence[EventLike], at: datetime, keep: set[str]) -> None:
        fresh: dict[str, _Channel] = {}
        bridges: dict[str, set[str]] = {}
        for item in items:
            if item.name not in ("CoreShowChannel", "Status"):
                continue
            uid = item.get("Uniqueid")
            if not uid:
                continue
            old = self.channels.get(uid)
            channel = _Channel(
                uniqueid=uid,
                linkedid=item.get("Linkedid") or (old.linkedid if old else ""),
                name=item.get("Channel"),
                state=item.get("ChannelStateDesc").lower(),
                callerid_num=_id(item.get("CallerIDNum")),
                callerid_name=_id(item.get("CallerIDName")),
                connected_num=_id(item.get("ConnectedLineNum")),
                recording=old.recording if old else None,
            )
            bridge = item.get("BridgeId") or item.get("BridgeID")
            if bridge:
                channel.bridge = bridge
                bridges.setdefault(bridge, set()).add(uid)
            fresh[uid] = channel
            self._gone.pop(uid, None)
        for uid in keep:
            if uid not in fresh and uid in self.channels:
                kept = fresh[uid] = self.channels[uid]
                if kept.bridge is not None and kept.bridge not in bridges:
                    kept.bridge = None
        gone = [c for uid, c in self.channels.items() if uid not in fresh]
        self.channels = fresh
        self.bridges = bridges
        for agent_uid in [u for u in self._agents if u not in fresh]:
            queue_name, interface = self._agents.pop(agent_uid)
            member = self.queues.get(queue_name, _Queue(queue_name)).members.get(interface)
            if member is not None and member.agent_uniqueid == agent_uid:
                member.talking_to = member.agent_uniqueid = None
        for channel in gone:
            self._gone[channel.uniqueid] = True
            self._emit(ChannelHungUp(at, channel.uniqueid, channel.linkedid, channel.name, 0, "gone when resynchronised", resync=True))
        for channel in fresh.values():
            self._emit(ChannelChanged(at, self._channel_view(channel)))
        for bridge, members in bridges.items():
            if len(members) > 1:
                self._emit(BridgeChanged(at, bridge, tuple(sorted(members))))

    def _resync_queues(self, items: Sequence[EventLike], now: float, at: datetime, all_queues: bool) -> None:
        seen: dict[str, tuple[list[EventLike], list[EventLike]]] = {}
        for item in items:
            name = item.get("Queue")
            if not name:
                continue
            members, entries = seen.setdefault(name, ([], []))
            kind = item.name
            if kind == "QueueParams":
                queue = self._queue(name)
                queue.strategy = item.get("Strategy")
                queue.asterisk_completed = _int(item.get("Completed"))
                queue.asterisk_abandoned = _int(item.get("Abandoned"))
            elif kind == "QueueMember":
                members.append(item)
            elif kind == "QueueEntry":
                entries.append(item)
        if all_queues:
            for name in [n for n in self.queues if n not in seen]:
                del self.queues[name]
                self._emit(QueueRemoved(at, name))
        for name, (members, entries) in seen.items():
            queue = self._queue(name)
            fresh_members: dict[str, _Member] = {}
            for item in members:
                interface = item.get("Location") or item.get("Interface")
                if not interface:
                    continue
                old = queue.members.get(interface)
                member = _Member(interface)
                self._fill_member(member, item)
                if old is not None and member.in_call and old.agent_uniqueid in self.channels:
                    member.talking_to, member.agent_uniqueid = old.talking_to, old.agent_uniqueid
                fresh_members[interface] = member
                if old is None or old.key() != member.key():
                    self._emit(MemberChanged(at, name, self._member_view(member)))
            for interface in [i for i in queue.members if i not in fresh_members]:
                self._emit(MemberRemoved(at, name, interface))
            queue.members = fresh_members
            fresh_callers: dict[str, _Caller] = {}
            for item in entries:
                uid = item.get("Uniqueid")
                if not uid:
                    continue
                old_caller = queue.callers.get(uid)
                channel = self.channels.get(uid)
                caller = _Caller(
                    uniqueid=uid,
                    linkedid=(channel.linkedid if channel else "") or (old_caller.linkedid if old_caller else ""),
                    channel=item.get("Channel"),
                    callerid_num=_id(item.get("CallerIDNum")),
                    callerid_name=_id(item.get("CallerIDName")),
                    position=_int(item.get("Position")),
                    joined_at=now - _int(item.get("Wait")),
                )
                if old_caller is not None and abs(old_caller.joined_at - caller.joined_at) < 2:
                    caller.joined_at = old_caller.joined_at  # Wait is whole seconds: keep our finer time
                fresh_callers[uid] = caller
                self._left.pop((name, uid), None)
                if old_caller is None:
                    self._emit(CallerJoined(at, name, self._caller_view(caller, now), True, resync=True))
            for uid, caller in queue.callers.items():
                if uid not in fresh_callers:
                    self._left[(name, uid)] = _CLEAN
                    self._emit(CallerLeft(at, name, uid, caller.linkedid, caller.position, resync=True))
            queue.callers = fresh_callers

    # -- reading

    def snapshot(self) -> LiveSnapshot:
        """Everything, as plain frozen dataclasses (for the desk and tests)."""
        now = self._now()
        queues = tuple(self._queue_view(q, now) for _, q in sorted(self.queues.items()))
        channels = tuple(self._channel_view(c) for c in self.channels.values())
        return LiveSnapshot(_utc(now), self.connected, _utc(self.synced_at) if self.synced_at is not None else None, queues, channels)

    def queue(self, name: str) -> QueueView | None:
        queue = self.queues.get(name)
        return None if queue is None else self._queue_view(queue, self._now())

    def caller(self, name: str, uniqueid: str) -> CallerView | None:
        """One caller waiting in queue `name` (a pop's wait so far), without a view of the rest."""
        queue = self.queues.get(name)
        caller = queue.callers.get(uniqueid) if queue is not None else None
        return None if caller is None else self._caller_view(caller, self._now())

    def seat(self, name: str, interface: str) -> QueueView | None:
        """The queue as one seat sees it: only that member, no callers. A console request or a
        seat event would otherwise copy every member and caller of a queue of hundreds."""
        queue = self.queues.get(name)
        if queue is None:
            return None
        member = queue.members.get(interface)
        members = (self._member_view(member),) if member is not None else ()
        return QueueView(queue.name, queue.strategy, (), members, queue.answered, queue.abandoned, 0, queue.asterisk_completed, queue.asterisk_abandoned)

    def figures(self) -> tuple[QueueFigures, ...]:
        """Per-queue numbers for the metrics; immutable, so another thread may read them."""
        out = []
        for name, queue in sorted(self.queues.items()):
            counts = dict.fromkeys(AVAILABILITY, 0)
            for member in queue.members.values():
                counts[_availability(member)] += 1
            oldest = min((c.joined_at for c in queue.callers.values()), default=None)
            out.append(QueueFigures(name, len(queue.callers), oldest, tuple(counts.items()), queue.answered, queue.abandoned))
        return tuple(out)

    def peers(self, uniqueid: str) -> tuple[str, ...]:
        """Who the channel talks to: the other channels in its bridge."""
        channel = self.channels.get(uniqueid)
        if channel is None or channel.bridge is None:
            return ()
        return tuple(sorted(u for u in self.bridges.get(channel.bridge, ()) if u != uniqueid))

    def _queue_view(self, queue: _Queue, now: float) -> QueueView:
        callers = tuple(sorted((self._caller_view(c, now) for c in queue.callers.values()), key=lambda c: (c.position, c.joined_at)))
        members = tuple(self._member_view(m) for _, m in sorted(queue.members.items()))
        longest = max((c.wait_seconds for c in callers), default=0)
        return QueueView(queue.name, queue.strategy, callers, members, queue.answered, queue.abandoned, longest, queue.asterisk_completed, queue.asterisk_abandoned)

    @staticmethod
    def _caller_view(caller: _Caller, now: float) -> CallerView:
        return CallerView(
            caller.uniqueid,
            caller.linkedid,
            caller.channel,
            caller.callerid_num,
            caller.callerid_name,
            caller.position,
            _utc(caller.joined_at),
            max(0, int(now - caller.joined_at)),
        )

    @staticmethod
    def _member_view(member: _Member) -> MemberView:
        return MemberView(
            interface=member.interface,
            name=member.name,
            state=DEVICE_STATES.get(member.status, "unknown"),
            availability=_availability(member),
            paused=member.paused,
            pause_reason=member.pause_reason,
            paused_since=_utc(member.last_pause) if member.paused and member.last_pause > 0 else None,
            calls_taken=member.calls_taken,
            in_call=member.in_call,
            last_call=_utc(member.last_call) if member.last_call > 0 else None,
            membership=member.membership,
            penalty=member.penalty,
            talking_to=member.talking_to,
            agent_uniqueid=member.agent_uniqueid,
        )

    def _channel_view(self, channel: _Channel) -> ChannelView:
        bridge = channel.bridge
        peers = tuple(sorted(u for u in self.bridges.get(bridge, ()) if u != channel.uniqueid)) if bridge else ()
        return ChannelView(channel.uniqueid, channel.linkedid, channel.name, channel.state, channel.callerid_num, channel.callerid_name, channel.connected_num, bridge, peers, channel.recording)

    # -- helpers

    def _at(self, event: EventLike) -> float:
        stamp = event.get_last("Timestamp")  # present only with timestampevents = yes
        if stamp:
            try:
                return float(stamp)
            except ValueError:
                pass
        return self._now()

    def _queue(self, name: str) -> _Queue:
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues[name] = _Queue(name)
        return queue

    def _remove_caller(self, queue: _Queue, uniqueid: str) -> _Caller | None:
        """Take a caller off the waiting list (shifting those behind) and remember it left."""
        key = (queue.name, uniqueid)
        caller = queue.callers.pop(uniqueid, None)
        if caller is not None:
            for other in queue.callers.values():
                if other.position > caller.position:
                    other.position -= 1
            self._left[key] = _CLEAN
            return caller
        mark = self._left.get(key)
        if mark is None:
            self._left[key] = _EARLY
        elif mark == _LATE:
            self._left[key] = _CLEAN
        return None

    @staticmethod
    def _fill_member(member: _Member, event: EventLike) -> None:
        get = event.get
        member.name = get("MemberName") or get("Name") or member.name
        member.status = _int(get("Status"), member.status)
        member.paused = get("Paused") == "1"
        member.pause_reason = get("PausedReason") if member.paused else ""
        member.last_pause = _int(get("LastPause"), member.last_pause)
        member.calls_taken = _int(get("CallsTaken"), member.calls_taken)
        member.in_call = get("InCall") == "1"
        member.last_call = _int(get("LastCall"), member.last_call)
        member.membership = get("Membership") or member.membership
        member.penalty = _int(get("Penalty"), member.penalty)

    def _channel(self, event: EventLike, uniqueid: str) -> _Channel | None:
        """The channel an event is about, created from the event's channel fields if new;
        None for a channel that already hung up (a late event must not resurrect it)."""
        channel = self.channels.get(uniqueid)
        if channel is None:
            if uniqueid in self._gone:
                return None
            channel = self.channels[uniqueid] = _Channel(uniqueid)
        get = event.get
        channel.linkedid = get("Linkedid") or channel.linkedid
        channel.name = get("Channel") or channel.name
        state = get("ChannelStateDesc")
        if state:
            channel.state = state.lower()
        channel.callerid_num = _id(get("CallerIDNum", channel.callerid_num))
        channel.callerid_name = _id(get("CallerIDName", channel.callerid_name))
        channel.connected_num = _id(get("ConnectedLineNum", channel.connected_num))
        return channel

    # -- queue handlers

    def _caller_join(self, event: EventLike) -> None:
        get = event.get
        name, uid = get("Queue"), get("Uniqueid")
        if not name or not uid:
            return
        queue = self._queue(name)
        now = self._at(event)
        caller = queue.callers.get(uid)
        key = (name, uid)
        mark = self._left.get(key)
        waiting = True
        if caller is None:
            caller = _Caller(uid, get("Linkedid"), get("Channel"), _id(get("CallerIDNum")), _id(get("CallerIDName")), _int(get("Position")), now)
            if mark == _EARLY:
                self._left[key] = _LATE
                waiting = False
            else:
                if mark is not None:
                    del self._left[key]
                queue.callers[uid] = caller
        else:
            caller.position = _int(get("Position"), caller.position)
        self._emit(CallerJoined(_utc(now), name, self._caller_view(caller, now), waiting))

    def _caller_leave(self, event: EventLike) -> None:
        get = event.get
        name, uid = get("Queue"), get("Uniqueid")
        if not name or not uid:
            return
        queue = self._queue(name)
        caller = self._remove_caller(queue, uid)
        if caller is not None:
            self._emit(CallerLeft(_utc(self._at(event)), name, uid, caller.linkedid, _int(get("Position"), caller.position)))

    def _caller_abandon(self, event: EventLike) -> None:
        get = event.get
        name, uid = get("Queue"), get("Uniqueid")
        if not name or not uid:
            return
        queue = self._queue(name)
        queue.abandoned += 1
        at = _utc(self._at(event))
        caller = self._remove_caller(queue, uid)
        linkedid = get("Linkedid") or (caller.linkedid if caller else "")
        position = _int(get("Position"))
        self._emit(CallerAbandoned(at, name, uid, linkedid, position, _int(get("OriginalPosition"), position), _int(get("HoldTime"))))
        if caller is not None:
            self._emit(CallerLeft(at, name, uid, linkedid, position))

    def _agent_called(self, event: EventLike) -> None:
        get = event.get
        name, uid, interface = get("Queue"), get("Uniqueid"), get("Interface")
        if name and uid and interface:
            at = _utc(self._at(event))
            self._emit(AgentCalled(at, name, uid, get("Linkedid"), interface, get("MemberName"), get("DestUniqueid"), _id(get("CallerIDNum")), _id(get("CallerIDName"))))

    def _agent_connect(self, event: EventLike) -> None:
        get = event.get
        name, uid, interface = get("Queue"), get("Uniqueid"), get("Interface")
        if not name or not uid:
            return
        queue = self._queue(name)
        queue.answered += 1
        at = _utc(self._at(event))
        caller = self._remove_caller(queue, uid)
        linkedid = get("Linkedid") or (caller.linkedid if caller else "")
        agent_uid = get("DestUniqueid")
        if caller is not None:
            self._emit(CallerLeft(at, name, uid, linkedid, caller.position))
        self._emit(CallerAnswered(at, name, uid, linkedid, interface, get("MemberName"), agent_uid, get("DestChannel"), _int(get("HoldTime")), _int(get("RingTime"))))
        if interface and (name, uid) not in self._completed and agent_uid not in self._gone:
            # (a Connect arriving after its call's Complete or the agent's Hangup is history)
            member = queue.members.get(interface)
            if member is None:
                member = queue.members[interface] = _Member(interface, name=get("MemberName"))
            member.talking_to, member.agent_uniqueid, member.in_call = uid, agent_uid or None, True
            if agent_uid:
                self._agents[agent_uid] = (name, interface)
            self._emit(MemberChanged(at, name, self._member_view(member)))

    def _agent_complete(self, event: EventLike) -> None:
        get = event.get
        name, uid, interface = get("Queue"), get("Uniqueid"), get("Interface")
        if not name or not uid:
            return
        queue = self._queue(name)
        at = _utc(self._at(event))
        caller = self._remove_caller(queue, uid)  # normally long gone; a missed Leave ends here
        linkedid = get("Linkedid") or (caller.linkedid if caller else "")
        if caller is not None:
            self._emit(CallerLeft(at, name, uid, linkedid, caller.position))
        agent_uid = get("DestUniqueid")
        self._completed[(name, uid)] = True
        self._emit(CallCompleted(at, name, uid, linkedid, interface, get("MemberName"), agent_uid, _int(get("HoldTime")), _int(get("TalkTime")), get("Reason")))
        self._agents.pop(agent_uid, None)
        member = queue.members.get(interface)
        if member is not None and member.talking_to == uid:
            member.talking_to = member.agent_uniqueid = None
            self._emit(MemberChanged(at, name, self._member_view(member)))

    def _member_update(self, event: EventLike) -> None:
        get = event.get
        name, interface = get("Queue"), get("Interface") or get("Location")
        if not name or not interface:
            return
        queue = self._queue(name)
        member = queue.members.get(interface)
        before = member.key() if member is not None else None
        if member is None:
            member = queue.members[interface] = _Member(interface)
        self._fill_member(member, event)
        if before != member.key():
            self._emit(MemberChanged(_utc(self._at(event)), name, self._member_view(member)))

    def _member_removed(self, event: EventLike) -> None:
        get = event.get
        queue = self.queues.get(get("Queue"))
        interface = get("Interface") or get("Location")
        if queue is not None and queue.members.pop(interface, None) is not None:
            self._emit(MemberRemoved(_utc(self._at(event)), queue.name, interface))

    # -- channel handlers

    def _channel_update(self, event: EventLike) -> None:
        uid = event.get("Uniqueid")
        if not uid:
            return
        channel = self._channel(event, uid)
        if channel is not None:
            self._emit(ChannelChanged(_utc(self._at(event)), self._channel_view(channel)))

    def _hangup(self, event: EventLike) -> None:
        get = event.get
        uid = get("Uniqueid")
        if not uid:
            return
        at = _utc(self._at(event))
        channel = self.channels.pop(uid, None)
        self._gone[uid] = True
        if channel is not None and channel.bridge is not None:
            members = self.bridges.get(channel.bridge)
            if members is not None:
                members.discard(uid)
        for queue in self.queues.values():
            if uid in queue.callers:  # hung up while waiting and the Leave was missed
                caller = self._remove_caller(queue, uid)
                if caller is not None:
                    self._emit(CallerLeft(at, queue.name, uid, caller.linkedid, caller.position))
        agent = self._agents.pop(uid, None)
        if agent is not None:
            member = self.queues.get(agent[0], _Queue(agent[0])).members.get(agent[1])
            if member is not None and member.agent_uniqueid == uid:
                member.talking_to = member.agent_uniqueid = None
                self._emit(MemberChanged(at, agent[0], self._member_view(member)))
        linkedid = get("Linkedid") or (channel.linkedid if channel else "")
        name = get("Channel") or (channel.name if channel else "")
        self._emit(ChannelHungUp(at, uid, linkedid, name, _int(get("Cause")), get("Cause-txt")))

    def _bridge_create(self, event: EventLike) -> None:
        bridge = event.get("BridgeUniqueid")
        if bridge:
            self.bridges.setdefault(bridge, set())

    def _bridge_enter(self, event: EventLike) -> None:
        bridge, uid = event.get("BridgeUniqueid"), event.get("Uniqueid")
        if not bridge or not uid:
            return
        channel = self._channel(event, uid)
        if channel is None:
            return
        if channel.bridge is not None and channel.bridge != bridge:
            self.bridges.get(channel.bridge, set()).discard(uid)
        channel.bridge = bridge
        members = self.bridges.setdefault(bridge, set())
        members.add(uid)
        self._emit(BridgeChanged(_utc(self._at(event)), bridge, tuple(sorted(members))))

    def _bridge_leave(self, event: EventLike) -> None:
        bridge, uid = event.get("BridgeUniqueid"), event.get("Uniqueid")
        members = self.bridges.get(bridge)
        if members is None:
            return
        members.discard(uid)
        channel = self.channels.get(uid)
        if channel is not None and channel.bridge == bridge:
            channel.bridge = None
        self._emit(BridgeChanged(_utc(self._at(event)), bridge, tuple(sorted(members))))

    def _bridge_destroy(self, event: EventLike) -> None:
        bridge = event.get("BridgeUniqueid")
        members = self.bridges.pop(bridge, None)
        if members is None:
            return
        for uid in members:
            channel = self.channels.get(uid)
            if channel is not None and channel.bridge == bridge:
                channel.bridge = None
        if members:
            self._emit(BridgeChanged(_utc(self._at(event)), bridge, ()))

    def _var_set(self, event: EventLike) -> None:
        variable = event.get_last("Variable")
        if variable not in _WATCHED_VARIABLES:
            return  # most VarSets: decided without indexing the event
        if variable == QUEUESTATUS:
            value = event.get("Value")
            if value and event.get("Uniqueid"):
                self._emit(QueueStatusSet(_utc(self._at(event)), event.get("Uniqueid"), event.get("Linkedid"), value.upper()))
            return
        uid = event.get("Uniqueid")
        channel = self._channel(event, uid) if uid else None
        if channel is None:
            return
        value = event.get("Value")
        if not value:
            return
        channel.recording = value
        self._emit(RecordingStarted(_utc(self._at(event)), uid, channel.linkedid, value))

    def _mixmonitor_start(self, event: EventLike) -> None:
        uid = event.get("Uniqueid")
        channel = self._channel(event, uid) if uid else None
        if channel is None or channel.recording is not None:
            return
        channel.recording = ""
        self._emit(RecordingStarted(_utc(self._at(event)), uid, channel.linkedid, None))


def _availability(member: _Member) -> str:
    if member.paused:
        return "paused"
    return _AVAILABILITY_OF.get(member.status, "unknown")
