"""The simulated Asterisk as one whole, for `hotline serve --demo`: an AMI server on loopback
that any number of the service's AMI clients log in to (`hotline.simulator.ami.AmiPeer` per
connection), the queues and members it keeps, and a stream of calls placed into the ivr
role's FastAGI port (`hotline.simulator.agi.AsteriskPeer` per call), each with the AMI queue
events Asterisk would send for it.

Both sides tell one story. A call's AGI session and its AMI events carry the same uniqueid,
caller number and queue; a caller the IVR hands to Queue() joins the simulated queue
(QueueCallerJoin), is offered to a member (AgentCalled), is answered (QueueCallerLeave,
AgentConnect … AgentComplete) or gives up (QueueCallerAbandon), and Queue() returns to the
IVR what app_queue would (ANSWEREDTIME, MEMBERINTERFACE, or a hangup). Members come from
the clients' own QueueAdd/QueuePause/QueueRemove (a desk operator going ready) and from one
simulated agent, who answers when no desk seat is ready and goes off duty for the night
calls (an empty queue refuses the caller, who leaves a message).

The same class is the tests' and the benchmark's seat-aware Asterisk (tests/seat_peer.py
connects a desk to it): without the simulated agent and the call stream, a test rings a seat
itself (`ring`, `hang_up`), reads the members Asterisk would report (`members`), waits for
the actions the desk sent (`wait_for`) and makes Asterisk refuse one (`refuse`).

Every frame is built from the captured ones in `hotline.simulator.ami` by replacing header
values, so the framing is Asterisk 22's byte for byte. Calls run in threads of their own
(the AGI peer is blocking) and hand their events to the reactor with callFromThread.
"""

from __future__ import annotations

import array
import itertools
import logging
import math
import os
import random
import threading
import time
import wave
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.protocol import Factory

from hotline.dialplan import recording_path
from hotline.simulator import ami
from hotline.simulator.agi import Action, AsteriskPeer, HangUp, Press, QueueOutcome, Silence

log = logging.getLogger(__name__)

#: Audio written for a recorded call at most (a demo left running should not fill the disk).
RECORDING_CAP_MS = 8000
#: The simulated agent who answers when no desk seat is ready.
SIMULATED_AGENT = "Local/demo-agent@agents/n"
SIMULATED_AGENT_NAME = "模拟坐席 Simulated agent"

# Captured frames the events are built from.
_NEWCHANNEL = ami.CALL_ANSWERED[1]
_AGENT_CALLED = ami.event_named(ami.CALL_ANSWERED, "AgentCalled")
_ABANDON = ami.event_named(ami.CALL_ABANDONED, "QueueCallerAbandon")
_MEMBER_ADDED = ami.QUEUE_ADD_OK[2]
_MEMBER_REMOVED = ami.QUEUE_REMOVE_OK[1]
_MEMBER_PAUSE = ami.QUEUE_PAUSE_OK[3]
_QUEUE_PARAMS = ami.QUEUE_STATUS_IDLE[1]
_QUEUE_MEMBER = ami.QUEUE_STATUS_IDLE[2]
_QUEUE_ENTRY = ami.QUEUE_STATUS_WITH_CALLER[3]


def compose(template: bytes, **values: object) -> bytes:
    """`template` (one captured frame) with the named headers' values replaced."""
    lines = template.removesuffix(b"\r\n\r\n").split(b"\r\n")
    out = []
    for line in lines:
        key, sep, _ = line.partition(b": ")
        name = key.decode()
        out.append(key + b": " + str(values[name]).encode() if sep and name in values else line)
    return b"\r\n".join(out) + b"\r\n\r\n"


@dataclass
class Member:
    """One queue member as app_queue keeps it."""

    interface: str
    name: str
    state_interface: str
    dynamic: bool = True
    paused: bool = False
    reason: str = ""
    in_call: bool = False
    calls_taken: int = 0
    #: Monotonic time before which the member is in wrap-up and gets no call.
    free_at: float = 0.0
    #: Unix time of the last pause (QueueStatus's LastPause), 0 if never paused.
    last_pause: int = 0

    def fields(self, queue: str) -> dict[str, object]:
        return {
            "Queue": queue,
            "MemberName": self.name,
            "Interface": self.interface,
            "StateInterface": self.state_interface,
            "Membership": "dynamic" if self.dynamic else "static",
            "CallsTaken": self.calls_taken,
            "InCall": int(self.in_call),
            "Status": 2 if self.in_call else 1,
            "Paused": int(self.paused),
            "PausedReason": self.reason,
            "LastPause": self.last_pause,
        }


@dataclass
class QueueState:
    name: str
    wrapup_seconds: int = 10
    members: dict[str, Member] = field(default_factory=dict)
    waiting: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Caller:
    """One call of the stream: who calls, what they do in the IVR, how patient they are."""

    kind: str
    number: str
    script: tuple[Action, ...]
    #: Seconds the caller waits in the queue before hanging up (None: until answered).
    patience: float | None = None
    #: The simulated agent is off duty (a night call): an empty queue refuses the caller.
    night: bool = False
    #: Milliseconds of message the caller speaks, written as the RECORD FILE's audio.
    message_ms: int = 0


class SimulatedAsterisk:
    """The AMI server's state and the call stream. `reactor` runs the AMI side; calls run in
    threads. `agent_wait`, `agent_talk`, `seat_talk`, `seat_ring` (seconds) shape the
    simulated calls. With `recordings_dir`, a call answered at a desk seat is recorded as the
    dialplan's MixMonitor would (MixMonitorStart, and a short audio file where
    hotline.dialplan.recording_path says), so a ticket filed from it has a recording to play.
    `simulated_agent=False` leaves the queues to the clients' members (the tests' seats)."""

    def __init__(
        self,
        reactor: Any,
        *,
        username: str,
        secret: str,
        queues: Sequence[tuple[str, int]],
        rng: random.Random | None = None,
        agent_wait: tuple[float, float] = (2.0, 8.0),
        agent_talk: tuple[float, float] = (6.0, 20.0),
        seat_talk: tuple[float, float] = (45.0, 90.0),
        seat_ring: float = 2.0,
        prompt_ms: int = 200,
        recordings_dir: str = "",
        simulated_agent: bool = True,
    ) -> None:
        self.reactor = reactor
        self.username, self.secret = username, secret
        self.rng = rng or random.Random()
        self.agent_wait, self.agent_talk, self.seat_talk, self.seat_ring = agent_wait, agent_talk, seat_talk, seat_ring
        self.prompt_ms = prompt_ms
        self.recordings_dir = recordings_dir
        self.lock = threading.Lock()
        self.queues = {f"hotline-{name}": QueueState(f"hotline-{name}", wrapup) for name, wrapup in queues}
        if simulated_agent:
            for queue in self.queues.values():
                queue.members[SIMULATED_AGENT] = Member(SIMULATED_AGENT, SIMULATED_AGENT_NAME, SIMULATED_AGENT, dynamic=False)
        self.peers: list[ami.AmiPeer] = []
        #: Action name → the error message Asterisk answers it with (a test's refusal).
        self.refuse: dict[str, str] = {}
        #: Seat extensions whose phone rings out when a listen-in Originate calls it.
        self.unanswered: set[str] = set()
        #: Every action a logged-in client sent: (name, headers), in order.
        self.actions: list[tuple[str, dict[str, str]]] = []
        self._acted = threading.Condition()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.calls_placed = 0
        #: Calls up now, by uniqueid: their headers and when they started (for resyncs).
        self.active: dict[str, tuple[_CallEvents, float]] = {}
        #: Calls a test rang (`ring`) and has not hung up: the call, its member, AgentCalled's headers.
        self._rung: dict[str, tuple[_CallEvents, Member, dict[str, object]]] = {}
        self._numbers = itertools.count(1)
        self._epoch = int(time.time())

    # -- the AMI server

    def factory(self) -> Factory:
        """A factory of AmiPeers that share this state (listen on it with listenTCP)."""
        simulator = self

        class _Factory(Factory):
            def buildProtocol(self, addr: Any) -> ami.AmiPeer:
                return simulator._new_peer()

        return _Factory()

    def _new_peer(self) -> ami.AmiPeer:
        peer = ami.AmiPeer(username=self.username, secret=self.secret, queue_status=())
        peer.on_action = lambda name, fields, action_id: self._on_action(peer, name, fields, action_id)
        self.peers = [p for p in self.peers if not p.closed]
        self.peers.append(peer)
        return peer

    def broadcast(self, *frames: bytes) -> None:
        """Send events to every logged-in client (call from the reactor thread)."""
        for peer in self.peers:
            if peer.logged_in and not peer.closed:
                peer.send(*frames)

    def _emit(self, *frames: bytes) -> None:
        """From a call's thread: the events go out in the reactor thread, in order."""
        self.reactor.callFromThread(self.broadcast, *frames)

    def _on_action(self, peer: ami.AmiPeer, name: str, fields: dict[str, str], action_id: str) -> bool:
        if not peer.logged_in or peer._lacks_class(name):
            return False  # AmiPeer answers as Asterisk does before a login, or without the class
        with self._acted:
            self.actions.append((name, dict(fields)))
            self._acted.notify_all()
        if name in self.refuse:
            peer.send(ami.error(action_id, self.refuse[name]))
            return True
        if name == "QueueStatus":
            peer.queue_status = self._status_items(fields.get("Queue", ""))
            return False
        if name == "CoreShowChannels":
            peer.channels = self._channel_items()
            return False
        if name == "QueueSummary":
            return False
        if name == "Originate" and fields.get("Channel", "").startswith("PJSIP/"):
            self._originate_seat(peer, fields["Channel"], action_id)
            return True
        handlers: Mapping[str, Callable[[dict[str, str], str], list[bytes]]] = {"QueueAdd": self._queue_add, "QueuePause": self._queue_pause, "QueueRemove": self._queue_remove}
        handler = handlers.get(name)
        if handler is None:
            return False
        with self.lock:
            frames = handler(fields, action_id)
        peer.send(frames[0])
        if len(frames) > 1:
            self.broadcast(*frames[1:])
        return True

    def _originate_seat(self, peer: ami.AmiPeer, channel: str, action_id: str) -> None:
        """An async Originate that rings a seat's phone (the wallboard's listen-in), answered
        as ami_originate.txt's: `Originate successfully queued`, then the OriginateResponse
        (answered, or no answer for the extensions in `unanswered`), in the order the
        connection's `originate` asks for. The captured event is of an originate into a
        context; one into an application (ChanSpy) carries empty Context and Exten (manager.c
        fills them from the action): *composed* there."""
        extension = channel.split("/", 1)[1]
        if extension in self.unanswered:
            event = ami.ORIGINATE_NO_ANSWER.replace(b"Channel: Local/noanswer@survey-phone", f"Channel: {channel}".encode())
        else:
            event = ami.ORIGINATE_ANSWERED.replace(b"Channel: Local/5550001@survey-phone-0000000b;1", f"Channel: {channel}-0000000b".encode())
        event = ami.retag(event.replace(b"Context: survey\r\n", b"Context: \r\n").replace(b"Exten: s\r\n", b"Exten: \r\n"), action_id)
        response = ami.retag(ami.ORIGINATE_QUEUED, action_id)
        if peer.originate == "event_first":
            peer.send(event, response)
        else:
            peer.send(response, event)

    #: A queue call in steps, as the lab's call 1 went (`queue_call`): the caller joins
    #: (waiting); the seat rings and answers (on a call); the call ends (agent complete, the
    #: caller's hangup). And the lab's call 2: a caller waits, then hangs up.
    JOIN = (ami.CALLER_JOIN,)
    ANSWER = (_AGENT_CALLED, ami.CALLER_LEAVE, ami.AGENT_CONNECT, ami.MEMBER_IN_CALL)
    HANG_UP = (ami.AGENT_COMPLETE, ami.CALLER_HANGUP, ami.MEMBER_IDLE_AGAIN)
    ABANDON = (*ami.CALL_WAITING, *ami.CALL_ABANDONED)

    def queue_call(self, frames: Sequence[bytes], interface: str, caller: str, suffix: str, queue: str = "hotline-general") -> None:
        """Captured frames of a queue call (the steps above) renumbered with `suffix`, about
        `interface`'s seat and `caller`'s number, to every client (on the reactor thread)."""
        seat, name = f"Interface: {interface}".encode(), f"MemberName: {interface.rsplit('/', maxsplit=1)[-1]}".encode()
        out = [
            frame.replace(b"Interface: Local/agent1@agents/n", seat)
            .replace(b"MemberName: Agent One", name)
            .replace(b"hotline-general", queue.encode())
            .replace(b"CallerIDNum: <unknown>", f"CallerIDNum: {caller}".encode(), 1)
            for frame in ami.renumber(list(frames), suffix)
        ]
        self.broadcast(*out)

    def wait_for(self, name: str, count: int = 1, timeout: float = 10.0, **headers: str) -> list[dict[str, str]]:
        """From another thread: the headers of the first `count` actions `name` (with these
        header values) a client sent, once that many arrived; AssertionError after `timeout`."""

        def found() -> list[dict[str, str]]:
            return [f for n, f in self.actions if n == name and all(f.get(k) == v for k, v in headers.items())]

        with self._acted:
            if not self._acted.wait_for(lambda: len(found()) >= count, timeout):
                raise AssertionError(f"Asterisk received {len(found())} {name} {headers or ''}, not {count}: {[n for n, _ in self.actions]}")
            return found()[:count]

    def sent(self, name: str) -> list[dict[str, str]]:
        """The headers of every action `name` a client sent so far."""
        with self._acted:
            return [f for n, f in self.actions if n == name]

    @property
    def members(self) -> dict[tuple[str, str], tuple[bool, str]]:
        """(queue, interface) → (paused, reason) of every member but the simulated agent."""
        with self.lock:
            return {(q.name, m.interface): (m.paused, m.reason) for q in self.queues.values() for m in q.members.values() if m.interface != SIMULATED_AGENT}

    def _status_items(self, only: str) -> list[bytes]:
        items = []
        with self.lock:
            for queue in self.queues.values():
                if only and queue.name != only:
                    continue
                items.append(compose(_QUEUE_PARAMS, Queue=queue.name, Calls=len(queue.waiting)))
                for member in queue.members.values():
                    f = member.fields(queue.name)
                    items.append(compose(_QUEUE_MEMBER, Queue=queue.name, Name=member.name, Location=member.interface, **{k: v for k, v in f.items() if k not in ("Queue", "MemberName", "Interface")}))
                for position, uniqueid in enumerate(queue.waiting, 1):
                    call, started = self.active.get(uniqueid) or (None, time.monotonic())
                    if call is not None:
                        items.append(compose(_QUEUE_ENTRY, Queue=queue.name, Position=position, Channel=call.channel, Uniqueid=uniqueid, CallerIDNum=call.number, Wait=int(time.monotonic() - started)))
        return items

    def _channel_items(self) -> list[bytes]:
        """CoreShowChannels: every caller's channel that is up, in Queue() or in the IVR."""
        with self.lock:
            active = list(self.active.values())
        items = []
        for call, started in active:
            seconds = int(time.monotonic() - started)
            duration = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            application, data = ("Queue", call.queue) if call.queue else ("AGI", "agi://127.0.0.1/ivr")
            items.append(ami.core_show_channel(call.frame(_NEWCHANNEL), application=application, data=data, duration=duration))
        return items

    def _queue_add(self, fields: dict[str, str], action_id: str) -> list[bytes]:
        queue = self.queues.get(fields.get("Queue", ""))
        interface = fields.get("Interface", "")
        if queue is None:
            return [ami.retag(ami.QUEUE_ADD_NO_SUCH_QUEUE, action_id)]
        if interface in queue.members:
            return [ami.retag(ami.QUEUE_ADD_DUPLICATE, action_id)]
        paused = fields.get("Paused", "false").lower() in ("true", "yes", "1")
        member = Member(interface, fields.get("MemberName") or interface, fields.get("StateInterface") or interface, paused=paused, reason=fields.get("Reason", "") if paused else "")
        member.last_pause = int(time.time()) if paused else 0
        queue.members[interface] = member
        log.info("simulated AMI: %s joined %s%s", interface, queue.name, " (paused)" if paused else "")
        return [ami.retag(ami.QUEUE_ADD_OK[0], action_id), compose(_MEMBER_ADDED, **member.fields(queue.name))]

    def _queue_pause(self, fields: dict[str, str], action_id: str) -> list[bytes]:
        interface = fields.get("Interface", "")
        paused = fields.get("Paused", "").lower() in ("true", "yes", "1")
        named = fields.get("Queue", "")
        queues = [q for q in self.queues.values() if interface in q.members and (not named or q.name == named)]
        if not queues:
            return [ami.retag(ami.QUEUE_PAUSE_NOT_THERE, action_id)]
        events = []
        for queue in queues:
            member = queue.members[interface]
            member.paused, member.reason = paused, fields.get("Reason", "") if paused else ""
            member.last_pause = int(time.time()) if paused else member.last_pause
            events.append(compose(_MEMBER_PAUSE, **member.fields(queue.name)))
        ok = ami.QUEUE_PAUSE_OK[0] if paused else ami.QUEUE_UNPAUSE_OK[0]
        return [ami.retag(ok, action_id), *events]

    def _queue_remove(self, fields: dict[str, str], action_id: str) -> list[bytes]:
        queue = self.queues.get(fields.get("Queue", ""))
        interface = fields.get("Interface", "")
        if queue is None or interface not in queue.members or not queue.members[interface].dynamic:
            return [ami.retag(ami.QUEUE_REMOVE_NOT_THERE, action_id)]
        member = queue.members.pop(interface)
        log.info("simulated AMI: %s left %s", interface, queue.name)
        return [ami.retag(ami.QUEUE_REMOVE_OK[0], action_id), compose(_MEMBER_REMOVED, **member.fields(queue.name))]

    # -- the simulated agent's shifts

    def set_agent_on_duty(self, on_duty: bool) -> None:
        """The simulated agent logs in (QueueMemberAdded) or off (QueueMemberRemoved) in every queue."""
        frames = []
        with self.lock:
            for queue in self.queues.values():
                present = SIMULATED_AGENT in queue.members
                if on_duty and not present:
                    member = queue.members[SIMULATED_AGENT] = Member(SIMULATED_AGENT, SIMULATED_AGENT_NAME, SIMULATED_AGENT, dynamic=False)
                    frames.append(compose(_MEMBER_ADDED, **member.fields(queue.name)))
                elif not on_duty and present:
                    member = queue.members.pop(SIMULATED_AGENT)
                    frames.append(compose(_MEMBER_REMOVED, **member.fields(queue.name)))
        if frames:
            self._emit(*frames)

    # -- calls

    def new_uniqueid(self) -> str:
        return f"demo-{self._epoch}.{next(self._numbers)}"

    def place_call(self, host: str, port: int, caller: Caller) -> threading.Thread:
        """Start one call in a thread of its own; returns the thread."""
        thread = threading.Thread(target=self._call, args=(host, port, caller), name=f"demo-call-{caller.kind}", daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()]
        self.threads.append(thread)
        thread.start()
        return thread

    def _call(self, host: str, port: int, caller: Caller) -> None:
        uniqueid = self.new_uniqueid()
        channel = f"PJSIP/trunk-{next(self._numbers):08x}"
        call = _CallEvents(channel=channel, uniqueid=uniqueid, number=caller.number)
        with self.lock:
            self.active[uniqueid] = (call, time.monotonic())
        if caller.night:
            self.set_agent_on_duty(False)
        self._emit(call.frame(_NEWCHANNEL, Exten="12319", Context="hotline", ChannelState=4, ChannelStateDesc="Ring"))
        peer = AsteriskPeer(
            caller.script,
            callerid=caller.number,
            dnid="12319",
            extension="12319",
            context="hotline",
            language="zh",
            channel=channel,
            uniqueid=uniqueid,
            prompt_ms=self.prompt_ms,
            timeout=600.0,
            on_queue=lambda p, data, scripted: self._queue(call, caller, data),
        )
        try:
            record = peer.call_fastagi(host, port, "ivr")
            for recording in record.recordings:
                write_message(recording, caller.message_ms)
            log.info("simulated call %s from %s (%s): %d AGI commands, hung up by %s", uniqueid, caller.number, caller.kind, len(record.commands), record.hangup_by or "nobody")
            if record.problems:
                log.warning("simulated call %s: %s", uniqueid, "; ".join(record.problems))
        except OSError as exc:
            log.warning("simulated call %s not placed: %s", uniqueid, exc)
        finally:
            self._emit(call.frame(ami.CALLER_HANGUP, Exten="h", Context="hotline"))
            if caller.night:
                self.set_agent_on_duty(True)
            self.calls_placed += 1
            with self.lock:
                self.active.pop(uniqueid, None)

    def _queue(self, call: _CallEvents, caller: Caller, data: str) -> QueueOutcome | HangUp:
        """EXEC Queue, as app_queue runs it: blocks the caller's thread until the call ends."""
        name = data.split(",", 1)[0]
        with self.lock:
            queue = self.queues.get(name)
            if queue is None or not queue.members:
                return QueueOutcome("JOINEMPTY")
            queue.waiting.append(call.uniqueid)
            position = len(queue.waiting)
        call.queue = name
        self._emit(call.frame(ami.CALLER_JOIN, Queue=name, Position=position, Count=position))
        started = time.monotonic()
        agent_after = self.rng.uniform(*self.agent_wait)
        member: Member | None = None
        while member is None:
            waited = time.monotonic() - started
            with self.lock:
                member = self._free_member(queue, desk_only=waited < agent_after)
                if member is not None:
                    member.in_call = True
                    queue.waiting.remove(call.uniqueid)
            if member is not None:
                break
            if self.stopping.is_set() or (caller.patience is not None and waited >= caller.patience):
                with self.lock:
                    queue.waiting.remove(call.uniqueid)
                self._emit(
                    call.frame(_ABANDON, Queue=name, Position=1, OriginalPosition=position, HoldTime=int(waited)), call.frame(ami.CALLER_LEAVE, Queue=name, Position=1, Count=len(queue.waiting))
                )
                return HangUp()
            self.stopping.wait(0.25)
        return self._answered(call, queue, member, started)

    def _free_member(self, queue: QueueState, *, desk_only: bool) -> Member | None:
        """A desk seat that is ready first; the simulated agent once the caller waited a while."""
        now = time.monotonic()
        free = [m for m in queue.members.values() if not m.paused and not m.in_call and m.free_at <= now and (m.interface != SIMULATED_AGENT or not desk_only)]
        desk = [m for m in free if m.interface != SIMULATED_AGENT]
        return (desk or free)[0] if free else None

    def _answered(self, call: _CallEvents, queue: QueueState, member: Member, started: float) -> QueueOutcome | HangUp:
        simulated = member.interface == SIMULATED_AGENT
        agent = call.agent(member, self.new_uniqueid())
        log.info("simulated call %s from %s offered to %s (%s)", call.uniqueid, call.number, member.interface, queue.name)
        self._emit(call.frame(_AGENT_CALLED, **agent))
        ring = 0.5 if simulated else self.seat_ring
        self.stopping.wait(ring)
        hold = int(time.monotonic() - started)
        with self.lock:
            count = len(queue.waiting)
        self._emit(*_connected(call, member, agent, hold=hold, ring=int(ring), waiting=count))
        talk = self.rng.uniform(*(self.agent_talk if simulated else self.seat_talk))
        if self.recordings_dir and not simulated:
            self._emit(ami.mixmonitor_start(call.frame(_NEWCHANNEL)))
            write_message(recording_path(self.recordings_dir, call.uniqueid), max(1000, min(int(talk * 1000), RECORDING_CAP_MS)))
        self.stopping.wait(talk)
        talked = int(talk)
        with self.lock:
            member.in_call = False
            member.calls_taken += 1
            member.free_at = time.monotonic() + (0 if simulated else queue.wrapup_seconds)
        self._emit(*_completed(call, member, agent, hold=hold, talked=talked))
        return QueueOutcome("ANSWERED", member=member.interface, wait_seconds=hold, talk_seconds=talked)

    # -- calls a test places at a seat (from the reactor thread)

    def ring(self, interface: str, caller: str, suffix: str, *, queue: str = "hotline-general", answer: bool = False, complete: bool = False) -> str:
        """A queue call from `caller` offered to the seat `interface` (QueueCallerJoin,
        AgentCalled), answered if asked (`answer`) and ended if asked (`hang_up`). Returns the
        caller's uniqueid: the lab's call 1's with `suffix`."""
        uniqueid = f"{ami.CALLER}{suffix}"
        call = _CallEvents(channel=f"PJSIP/trunk-{next(self._numbers):08x}", uniqueid=uniqueid, number=caller, queue=queue)
        with self.lock:
            state = self.queues[queue]
            member = state.members.get(interface) or Member(interface, interface.rsplit("/", 1)[-1], interface)
            state.waiting.append(uniqueid)
            position = len(state.waiting)
            self.active[uniqueid] = (call, time.monotonic())
        agent = call.agent(member, self.new_uniqueid())
        self._rung[uniqueid] = (call, member, agent)
        self.broadcast(call.frame(ami.CALLER_JOIN, Queue=queue, Position=position, Count=position), call.frame(_AGENT_CALLED, **agent))
        if answer:
            self.answer(uniqueid)
        if complete:
            self.hang_up(uniqueid)
        return uniqueid

    def answer(self, uniqueid: str) -> None:
        """The seat picks up a call `ring` offered (QueueCallerLeave, AgentConnect, and the
        member in call if it is one)."""
        call, member, agent = self._rung[uniqueid]
        with self.lock:
            queue = self.queues[call.queue]
            if uniqueid in queue.waiting:
                queue.waiting.remove(uniqueid)
            member.in_call = True
            count, joined = len(queue.waiting), queue.members.get(member.interface) is member
        frames = _connected(call, member, agent, hold=0, ring=0, waiting=count)
        self.broadcast(*(frames if joined else frames[:2]))

    def hang_up(self, uniqueid: str) -> None:
        """An answered call ends (AgentComplete, the member idle again, the caller's Hangup)."""
        call, member, agent = self._rung.pop(uniqueid)
        with self.lock:
            member.in_call = False
            member.calls_taken += 1
            self.active.pop(uniqueid, None)
            joined = self.queues[call.queue].members.get(member.interface) is member
        frames = _completed(call, member, agent, hold=0, talked=1)
        self.broadcast(*(frames if joined else frames[:1]), call.frame(ami.CALLER_HANGUP, Exten="h", Context="hotline"))

    # -- the stream

    def run_stream(self, host: str, port: int, callers: Callable[[int], Caller], *, gap: tuple[float, float] = (4.0, 12.0), max_calls: int = 6) -> threading.Thread:
        """Place `callers(n)` one after another, `gap` seconds apart (never more than
        `max_calls` at once), until `stop()`."""

        def loop() -> None:
            for n in itertools.count():
                if self.stopping.is_set():
                    return
                if sum(t.is_alive() for t in self.threads) < max_calls:
                    self.place_call(host, port, callers(n))
                self.stopping.wait(self.rng.uniform(*gap))

        thread = threading.Thread(target=loop, name="demo-call-stream", daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def stop(self, timeout: float = 5.0) -> None:
        """Callers waiting or talking hang up; the threads end."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in list(self.threads):
            thread.join(max(0.0, deadline - time.monotonic()))


def _connected(call: _CallEvents, member: Member, agent: dict[str, object], *, hold: int, ring: int, waiting: int) -> list[bytes]:
    """The frames of a queue call answered by `member` (in call now)."""
    return [
        call.frame(ami.CALLER_LEAVE, Queue=call.queue, Position=1, Count=waiting),
        call.frame(ami.AGENT_CONNECT, **agent, HoldTime=hold, RingTime=ring),
        compose(ami.MEMBER_IN_CALL, **member.fields(call.queue)),
    ]


def _completed(call: _CallEvents, member: Member, agent: dict[str, object], *, hold: int, talked: int) -> list[bytes]:
    """The frames of the end of an answered queue call (`member` idle again)."""
    return [call.frame(ami.AGENT_COMPLETE, **agent, HoldTime=hold, TalkTime=talked, Reason="agent"), compose(ami.MEMBER_IDLE_AGAIN, **member.fields(call.queue))]


def write_message(path: str, milliseconds: int) -> None:
    """What Asterisk's RECORD FILE or MixMonitor leaves behind: 8 kHz 16-bit mono audio, here
    a soft warbling tone standing for the voices, so the desk's player has something to play."""
    if not path.startswith("/") or milliseconds <= 0:
        return
    rate = 8000
    samples = array.array("h", (int(3000 * math.sin(2 * math.pi * (300 + 80 * math.sin(i / 900)) * i / rate)) for i in range(rate * milliseconds // 1000)))
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with wave.open(path, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(samples.tobytes())
    except OSError as exc:
        log.warning("simulated message %s not written: %s", path, exc)


@dataclass
class _CallEvents:
    """The headers one call's events share (the caller's channel, its ids and number)."""

    channel: str
    uniqueid: str
    number: str
    queue: str = ""

    def caller_fields(self) -> dict[str, object]:
        return {
            "Channel": self.channel,
            "CallerIDNum": self.number,
            "CallerIDName": "<unknown>",
            "Uniqueid": self.uniqueid,
            "Linkedid": self.uniqueid,
            "Exten": "12319",
            "Context": "hotline",
            "Language": "zh",
            "ChannelState": 6,
            "ChannelStateDesc": "Up",
        }

    def frame(self, template: bytes, **values: object) -> bytes:
        return compose(template, **{**self.caller_fields(), **values})

    def agent(self, member: Member, uniqueid: str) -> dict[str, object]:
        return {
            "Queue": self.queue,
            "Interface": member.interface,
            "MemberName": member.name,
            "DestChannel": f"{member.interface.removesuffix('/n')}-{uniqueid.rsplit('.', 1)[-1]};1",
            "DestUniqueid": uniqueid,
            "DestLinkedid": self.uniqueid,
            "DestCallerIDNum": self.number,
            "DestExten": "12319",
        }


# -- the callers of the demo's stream


#: Callers' numbers: a few call more than once, so the IVR offers their open case's status.
DEMO_NUMBERS = ("13912345678", "13800138000", "15057712319", "18657700001", "13700001111", "13566668888", "057788812345", "13905770123")


def demo_caller(n: int, rng: random.Random, ticket_numbers: Sequence[str] = ()) -> Caller:
    """Call number `n` of the demo: first the few that show each path, then a realistic mix
    (most callers wait for an operator; some press keys, give up or hang up in the menu)."""
    number = DEMO_NUMBERS[n % len(DEMO_NUMBERS)] if n < len(DEMO_NUMBERS) else rng.choice(DEMO_NUMBERS)
    first = ("night_message", "operator", "menu_hangup", "status", "emergency", "abandon")
    if n < len(first):
        kind = first[n]
    else:
        kind = rng.choices(
            ("operator", "operator_key", "abandon", "menu_hangup", "status", "emergency", "english", "night_message"),
            weights=(40, 15, 12, 8, 10, 5, 5, 5),
        )[0]
    think = rng.randint(800, 2500)
    if kind == "night_message":
        # Nobody on duty: the queue refuses the caller, who hears the busy prompt and the
        # message prompt and leaves 10-30 s of message, ended by # or a hangup.
        said = rng.randint(10_000, 30_000)
        end: Action = Press("#", after_ms=1500, position_ms=said) if rng.random() < 0.5 else HangUp(after_ms=1500, position_ms=said)
        return Caller(kind, number, (QueueOutcome("JOINEMPTY"), Silence(), Silence(), end), night=True, message_ms=said)
    if kind == "operator_key":
        return Caller(kind, number, (Press("0", after_ms=think),))
    if kind == "abandon":
        return Caller(kind, number, (), patience=rng.uniform(3.0, 15.0))
    if kind == "menu_hangup":
        return Caller(kind, number, (HangUp(after_ms=think),))
    if kind == "status" and ticket_numbers:
        return Caller(kind, number, (Press("1", after_ms=think), Press(rng.choice(list(ticket_numbers)) + "#", after_ms=think)))
    if kind == "emergency":
        return Caller(kind, number, (Press("2", after_ms=think),))
    if kind == "english":
        return Caller(kind, number, (Press("9", after_ms=think),))
    return Caller("operator", number, ())
