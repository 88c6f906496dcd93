"""An AMI peer with operators' seats: QueueAdd / QueuePause / QueueRemove for any interface,
answered as the lab's Asterisk answered them (hotline/simulator/ami.py's captured QUEUE_ADD_OK,
QUEUE_PAUSE_OK, QUEUE_UNPAUSE_OK, QUEUE_REMOVE_OK and their errors) with the queue, member
and reason headers rewritten for the seat; and a queue call that rings a seat (the captured
call 1: QueueCallerJoin, AgentCalled, AgentConnect, AgentComplete, with the member's interface
and the caller's number rewritten). The peer keeps its members, so QueueStatus after a
reconnect reports them as Asterisk would. An Originate to a seat (`PJSIP/<extension>`, the
wallboard's listen-in) is answered as ami_originate.txt's async originate: `Originate
successfully queued`, then the OriginateResponse (answered, or no answer for the extensions in
`unanswered`), in the order `originate` asks for.

Built on AmiPeer's `on_action` hook, so hotline/simulator/ami.py itself is unchanged.
`Asterisk` connects a desk's AMI service (on the desk's reactor) to such a peer, for the live
desk's HTTP and browser tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from twisted.internet.protocol import Factory

from hotline.ami.service import start_ami
from hotline.config import AmiConfig, Config, DeskConfig
from hotline.simulator.ami import (
    AGENT_COMPLETE,
    AGENT_CONNECT,
    CALL_ABANDONED,
    CALL_ANSWERED,
    CALL_WAITING,
    CALLER_HANGUP,
    CALLER_JOIN,
    CALLER_LEAVE,
    MEMBER_IDLE_AGAIN,
    MEMBER_IN_CALL,
    ORIGINATE_ANSWERED,
    ORIGINATE_NO_ANSWER,
    ORIGINATE_QUEUED,
    QUEUE_ADD_DUPLICATE,
    QUEUE_ADD_NO_SUCH_QUEUE,
    QUEUE_ADD_OK,
    QUEUE_PAUSE_NOT_THERE,
    QUEUE_PAUSE_OK,
    QUEUE_REMOVE_NOT_THERE,
    QUEUE_REMOVE_OK,
    QUEUE_STATUS_IDLE,
    QUEUE_UNPAUSE_OK,
    AmiPeer,
    event_named,
    renumber,
    retag,
)

QUEUES = ("hotline-general", "hotline-emergency")
AGENT_CALLED = event_named(CALL_ANSWERED, "AgentCalled")
#: The captured QueueMember line of QueueStatus (Agent One, static), to describe our members.
_QUEUE_MEMBER = QUEUE_STATUS_IDLE[2]


def _member(frame: bytes, queue: str, interface: str, name: str, *, paused: bool | None = None, reason: str = "") -> bytes:
    """A captured member frame about `interface` in `queue` (Agent One/Two's lines rewritten)."""
    for old in (b"Local/agent1@agents/n", b"Local/agent2@agents/n", b"Local/agent2@agents"):
        frame = frame.replace(old, interface.encode())
    frame = frame.replace(b"Agent One", name.encode()).replace(b"Agent Two", name.encode()).replace(b"hotline-general", queue.encode())
    if paused is not None:
        frame = frame.replace(b"Paused: 1\r\n", b"Paused: 0\r\n").replace(b"PausedReason: lunch\r\n", b"PausedReason: \r\n")
        if paused:
            frame = frame.replace(b"Paused: 0\r\n", b"Paused: 1\r\n").replace(b"PausedReason: \r\n", f"PausedReason: {reason}\r\n".encode())
    return frame


class SeatPeer(AmiPeer):
    """AmiPeer plus members: {(queue, interface): (paused, reason)}."""

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("queue_status", [])
        super().__init__(**kw)
        self.members: dict[tuple[str, str], tuple[bool, str]] = {}
        #: Extensions whose phone rings out when originated to (OriginateResponse Reason 3).
        self.unanswered: set[str] = set()
        self.on_action = self._seat_action

    def connectionMade(self) -> None:
        super().connectionMade()
        self._refresh()

    def _refresh(self) -> None:
        """QueueStatus items: each queue's params, then our members."""
        items = []
        for queue in QUEUES:
            items.append(QUEUE_STATUS_IDLE[1].replace(b"hotline-general", queue.encode()))
            for (q, interface), (paused, reason) in sorted(self.members.items()):
                if q == queue:
                    items.append(_member(_QUEUE_MEMBER, queue, interface, interface.split("/")[-1], paused=paused, reason=reason))
        self.queue_status = items

    def _seat_action(self, name: str, fields: dict[str, str], action_id: str) -> bool:
        if not self.logged_in or name in self.refuse or self._lacks_class(name):
            return False
        if name == "Originate" and fields.get("Channel", "").startswith("PJSIP/"):
            self._originate_seat(fields["Channel"], action_id)
            return True
        if name not in ("QueueAdd", "QueuePause", "QueueRemove"):
            return False
        queue, interface = fields.get("Queue", ""), fields.get("Interface", "")
        member_name = fields.get("MemberName") or interface.split("/")[-1]
        key = (queue, interface)
        if name == "QueueAdd":
            if queue not in QUEUES:
                self.send(retag(QUEUE_ADD_NO_SUCH_QUEUE, action_id))
            elif key in self.members:
                self.send(retag(QUEUE_ADD_DUPLICATE, action_id))
            else:
                paused = fields.get("Paused") == "true"
                self.members[key] = (paused, fields.get("Reason", "") if paused else "")
                self.send(retag(QUEUE_ADD_OK[0], action_id), [_member(f, queue, interface, member_name, paused=paused) for f in QUEUE_ADD_OK[1:]])
        elif name == "QueueRemove":
            if self.members.pop(key, None) is None:
                self.send(retag(QUEUE_REMOVE_NOT_THERE, action_id))
            else:
                self.send(retag(QUEUE_REMOVE_OK[0], action_id), [_member(f, queue, interface, member_name) for f in QUEUE_REMOVE_OK[1:]])
        else:
            if key not in self.members:
                self.send(retag(QUEUE_PAUSE_NOT_THERE, action_id))
                return True
            paused = fields.get("Paused") == "true"
            reason = fields.get("Reason", "") if paused else ""
            self.members[key] = (paused, reason)
            frames = QUEUE_PAUSE_OK if paused else QUEUE_UNPAUSE_OK
            self.send(retag(frames[0], action_id), [_member(f, queue, interface, member_name, paused=paused, reason=reason) for f in frames[1:]])
        self._refresh()
        return True

    def _originate_seat(self, channel: str, action_id: str) -> None:
        """The async originate's answer with the seat's channel in the event. The captured
        event is of an originate into a context; one into an application (ChanSpy) carries
        empty Context and Exten (manager.c fills them from the action): *composed* there."""
        extension = channel.split("/", 1)[1]
        if extension in self.unanswered:
            event = ORIGINATE_NO_ANSWER.replace(b"Channel: Local/noanswer@survey-phone", f"Channel: {channel}".encode())
        else:
            event = ORIGINATE_ANSWERED.replace(b"Channel: Local/5550001@survey-phone-0000000b;1", f"Channel: {channel}-0000000b".encode())
        event = retag(event.replace(b"Context: survey\r\n", b"Context: \r\n").replace(b"Exten: s\r\n", b"Exten: \r\n"), action_id)
        response = retag(ORIGINATE_QUEUED, action_id)
        if self.originate == "event_first":
            self.send(event, response)
        else:
            self.send(response, event)

    def queue_call(self, frames: list[bytes], interface: str, caller: str, suffix: str, queue: str = "hotline-general") -> None:
        """Captured frames of a queue call (CALL_ANSWERED's, CALL_WAITING's …) renumbered
        with `suffix`, about `interface`'s seat and `caller`'s number."""
        out = []
        for frame in renumber(frames, suffix):
            frame = frame.replace(b"Interface: Local/agent1@agents/n", f"Interface: {interface}".encode()).replace(
                b"MemberName: Agent One", f"MemberName: {interface.rsplit('/', maxsplit=1)[-1]}".encode()
            )
            frame = frame.replace(b"hotline-general", queue.encode()).replace(b"CallerIDNum: <unknown>", f"CallerIDNum: {caller}".encode(), 1)
            out.append(frame)
        self.send(*out)

    def ring(self, interface: str, caller: str, suffix: str, *, queue: str = "hotline-general", answer: bool = False, complete: bool = False) -> str:
        """A queue call from `caller` reaching `interface`: join and AgentCalled (then
        AgentConnect, AgentComplete if asked). Returns the caller's uniqueid."""
        frames = [CALLER_JOIN, AGENT_CALLED] + ([AGENT_CONNECT] if answer else []) + ([AGENT_COMPLETE] if complete else [])
        self.queue_call(frames, interface, caller, suffix, queue)
        return f"asterisk-lab-1795235026.17{suffix}"

    #: A queue call in steps, as the lab's call 1 went: the caller joins (waiting); the seat
    #: rings and answers (on a call); the call ends (agent complete, the caller's hangup).
    JOIN = (CALLER_JOIN,)
    ANSWER = (AGENT_CALLED, CALLER_LEAVE, AGENT_CONNECT, MEMBER_IN_CALL)
    HANG_UP = (AGENT_COMPLETE, CALLER_HANGUP, MEMBER_IDLE_AGAIN)
    #: The lab's call 2: a caller waits, then hangs up (QueueCallerAbandon, Leave, Hangup).
    ABANDON = (*CALL_WAITING, *CALL_ABANDONED)


@dataclass
class Asterisk:
    """The scripted Asterisk the desk's AMI service is connected to."""

    reactor: Any = None
    peers: list[SeatPeer] = field(default_factory=list)
    service: Any = None
    connected: threading.Event = field(default_factory=threading.Event)

    def context(self, wrapup: int = 30, port: int | None = None, listen_in: bool = False) -> Callable[[Any], dict[str, Any]]:
        def build(reactor: Any) -> dict[str, Any]:
            self.reactor = reactor

            def make() -> SeatPeer:
                peer = SeatPeer()
                self.peers.append(peer)
                return peer

            listening = reactor.listenTCP(0, Factory.forProtocol(make), interface="127.0.0.1") if port is None else None
            ami = AmiConfig(enabled=True, host="127.0.0.1", port=port or listening.getHost().port, username="labuser", password="labsecret")
            self.service = start_ami(reactor, ami, CollectorRegistry(), None)
            self.service.client.on_connection(lambda up: self.connected.set() if up else None)
            return {"ami": self.service, "config": Config(ami=ami, desk=DeskConfig(wrapup_seconds=wrapup, listen_in=listen_in))}

        return build

    def call(self, work: Callable[[], Any]) -> Any:
        """Run `work` on the desk's reactor thread and return its result."""
        done, out = threading.Event(), []

        def run() -> None:
            out.append(work())
            done.set()

        self.reactor.callFromThread(run)
        assert done.wait(10)
        return out[0]

    def record_calls(self, pool: Any, journal: Path) -> None:
        """Write the calls Asterisk reports into the call records (the ivr role's AMI writer:
        `QueueCallLog` through the journalled `CallLog`), so the recorded figures move too."""
        from hotline.calllog.journal import CallLog
        from hotline.calllog.queue_events import QueueCallLog

        self.call(lambda: self.service.write_calls(QueueCallLog(CallLog(pool.write, journal, clock=self.reactor), clock=self.reactor)))

    @property
    def peer(self) -> SeatPeer:
        return self.peers[-1]
