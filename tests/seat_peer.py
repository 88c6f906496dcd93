"""An AMI peer with operators' seats: QueueAdd / QueuePause / QueueRemove for any interface,
answered as the lab's Asterisk answered them (hotline/simulator/ami.py's captured QUEUE_ADD_OK,
QUEUE_PAUSE_OK, QUEUE_UNPAUSE_OK, QUEUE_REMOVE_OK and their errors) with the queue, member
and reason headers rewritten for the seat; and a queue call that rings a seat (the captured
call 1: QueueCallerJoin, AgentCalled, AgentConnect, AgentComplete, with the member's interface
and the caller's number rewritten). The peer keeps its members, so QueueStatus after a
reconnect reports them as Asterisk would.

Built on AmiPeer's `on_action` hook, so hotline/simulator/ami.py itself is unchanged.
`Asterisk` connects a desk's AMI service (on the desk's reactor) to such a peer, for the live
desk's HTTP and browser tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from twisted.internet.protocol import Factory

from hotline.ami.service import start_ami
from hotline.config import AmiConfig, Config, DeskConfig
from hotline.simulator.ami import (
    AGENT_COMPLETE,
    AGENT_CONNECT,
    CALL_ANSWERED,
    CALLER_JOIN,
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
        if name not in ("QueueAdd", "QueuePause", "QueueRemove") or not self.logged_in or name in self.refuse:
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

    def ring(self, interface: str, caller: str, suffix: str, *, queue: str = "hotline-general", answer: bool = False, complete: bool = False) -> str:
        """A queue call from `caller` reaching `interface`: join and AgentCalled (then
        AgentConnect, AgentComplete if asked). Returns the caller's uniqueid."""
        frames = [CALLER_JOIN, AGENT_CALLED] + ([AGENT_CONNECT] if answer else []) + ([AGENT_COMPLETE] if complete else [])
        out = []
        for frame in renumber(frames, suffix):
            frame = frame.replace(b"Interface: Local/agent1@agents/n", f"Interface: {interface}".encode()).replace(
                b"MemberName: Agent One", f"MemberName: {interface.rsplit('/', maxsplit=1)[-1]}".encode()
            )
            frame = frame.replace(b"hotline-general", queue.encode()).replace(b"CallerIDNum: <unknown>", f"CallerIDNum: {caller}".encode(), 1)
            out.append(frame)
        self.send(*out)
        return f"asterisk-lab-1795235026.17{suffix}"


@dataclass
class Asterisk:
    """The scripted Asterisk the desk's AMI service is connected to."""

    reactor: Any = None
    peers: list[SeatPeer] = field(default_factory=list)
    service: Any = None
    connected: threading.Event = field(default_factory=threading.Event)

    def context(self, wrapup: int = 30, port: int | None = None) -> Callable[[Any], dict[str, Any]]:
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
            return {"ami": self.service, "config": Config(ami=ami, desk=DeskConfig(wrapup_seconds=wrapup))}

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

    @property
    def peer(self) -> SeatPeer:
        return self.peers[-1]
