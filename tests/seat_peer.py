"""The tests' Asterisk for operators' seats: `Asterisk` connects a desk's AMI service (on the
desk's reactor) over real TCP to the one seat-aware simulated Asterisk of the package
(hotline.simulator.asterisk.SimulatedAsterisk, the demo's, without its simulated agent and
call stream), for the live desk's HTTP and browser tests. The simulator answers
QueueAdd / QueuePause / QueueRemove with the lab's captured frames, keeps the members (so
QueueStatus after a reconnect reports them), rings a seat (`ring`, `answer`, `hang_up`) and
records the actions it received (`sent`, `wait_for`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from hotline.ami.service import start_ami
from hotline.config import AmiConfig, Config, DeskConfig
from hotline.simulator.ami import AmiPeer
from hotline.simulator.asterisk import SimulatedAsterisk

QUEUES = ("hotline-general", "hotline-emergency")
USERNAME, SECRET = "labuser", "labsecret"


def seat_asterisk(reactor: Any) -> SimulatedAsterisk:
    """The simulator with the tests' queues and nobody in them."""
    return SimulatedAsterisk(reactor, username=USERNAME, secret=SECRET, queues=[(q.removeprefix("hotline-"), 0) for q in QUEUES], simulated_agent=False)


@dataclass
class Asterisk:
    """The scripted Asterisk the desk's AMI service is connected to."""

    reactor: Any = None
    simulator: SimulatedAsterisk | None = None
    service: Any = None
    connected: threading.Event = field(default_factory=threading.Event)
    #: The AMI port the desk connects to (a second desk can connect to the same Asterisk).
    port: int = 0

    def context(self, wrapup: int = 30, port: int | None = None, listen_in: bool = False) -> Callable[[Any], dict[str, Any]]:
        def build(reactor: Any) -> dict[str, Any]:
            self.reactor = reactor
            self.simulator = seat_asterisk(reactor)
            listening = reactor.listenTCP(0, self.simulator.factory(), interface="127.0.0.1") if port is None else None
            self.port = port or listening.getHost().port
            ami = AmiConfig(enabled=True, host="127.0.0.1", port=self.port, username=USERNAME, password=SECRET)
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
    def connection(self) -> AmiPeer:
        """The desk's current AMI connection as Asterisk sees it: the headers of each action
        it sent, and its manager.conf classes (`write`) and Originate answer order."""
        assert self.simulator is not None and self.simulator.peers, "the desk has not connected"
        return self.simulator.peers[-1]

    @property
    def peer(self) -> SimulatedAsterisk:
        """The simulated Asterisk (named for the tests written against its first version)."""
        assert self.simulator is not None, "the desk has not started"
        return self.simulator
