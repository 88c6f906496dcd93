"""The demo's simulated Asterisk (hotline.simulator.asterisk) against our own AMI consumer:
what its AMI server answers to the queue actions, and the events it sends for a call, decoded
by hotline.ami.codec and applied to hotline.ami.live's LiveModel, which must come to the same
picture as the AGI side (who answered, who gave up). The wire format of the frames it builds
on is checked by the tests of hotline.simulator.ami and .agi; the demo as a whole by
test_demo.py."""

from __future__ import annotations

import random
import time
import wave
from collections.abc import Callable
from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from hotline.ami.codec import AmiDecoder, Event, Message, Response
from hotline.ami.live import CallCompleted, CallerAbandoned, CallerAnswered, CallerJoined, Change, LiveModel, RecordingStarted
from hotline.dialplan import recording_path
from hotline.simulator.agi import HangUp, QueueOutcome
from hotline.simulator.ami import AmiPeer
from hotline.simulator.asterisk import SIMULATED_AGENT, Caller, SimulatedAsterisk, _CallEvents, compose, demo_caller

SEAT = "PJSIP/8001"


class ImmediateReactor:
    """callFromThread runs at once: the test is the only thread."""

    def callFromThread(self, f: Callable[..., Any], *args: Any) -> None:
        f(*args)


class Client:
    """One AMI connection to the simulator, as a StringTransport, with what it received decoded."""

    def __init__(self, simulator: SimulatedAsterisk, *, login: bool = True) -> None:
        self.peer: AmiPeer = simulator.factory().buildProtocol(None)  # type: ignore[assignment]
        self.transport = StringTransport()
        self.peer.makeConnection(self.transport)
        self.decoder = AmiDecoder()
        self.frames: list[Message] = []
        if login:
            self.act("Login", Username="demo", Secret="secret")

    def act(self, action: str, **headers: str) -> list[Message]:
        """Send one action; the frames that arrived since the last call."""
        lines = [f"Action: {action}", *(f"{k}: {v}" for k, v in headers.items()), f"ActionID: {action.lower()}-1"]
        self.peer.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.received()

    def received(self) -> list[Message]:
        data = self.transport.value()
        self.transport.clear()
        frames = [f for f in self.decoder.feed(data) if isinstance(f, Message)]
        self.frames += frames
        return frames


def simulator(**kwargs: Any) -> SimulatedAsterisk:
    options: dict[str, Any] = {"agent_wait": (0.0, 0.0), "agent_talk": (0.0, 0.0), "seat_talk": (0.0, 0.0), "seat_ring": 0.0, "rng": random.Random(7)}
    options.update(kwargs)
    return SimulatedAsterisk(ImmediateReactor(), username="demo", secret="secret", queues=[("general", 0), ("emergency", 0)], **options)


def live_model(client: Client) -> tuple[LiveModel, list[Change]]:
    """A LiveModel re-based on the simulator's QueueStatus, then fed what the client receives."""
    model = LiveModel(Clock())
    changes: list[Change] = []
    model.subscribe(changes.append)
    items = [f for f in client.act("QueueStatus") if isinstance(f, Event) and f.get("EventList") != "Complete"]
    model.resync(items)
    return model, changes


def feed(model: LiveModel, client: Client) -> None:
    for frame in client.received():
        if isinstance(frame, Event):
            model.apply(frame)


def test_queue_actions_are_answered_and_their_member_events_reach_every_client():
    sim = simulator()
    desk, ivr, stranger = Client(sim), Client(sim), Client(sim, login=False)
    model, _ = live_model(ivr)
    assert [m.interface for m in model.queue("hotline-general").members] == [SIMULATED_AGENT]  # type: ignore[union-attr]

    [ok, added] = desk.act("QueueAdd", Queue="hotline-general", Interface=SEAT, MemberName="8001", StateInterface=SEAT)
    assert isinstance(ok, Response) and ok.get("Response") == "Success" and ok.get("Message") == "Added interface to queue"
    assert isinstance(added, Event) and added.name == "QueueMemberAdded" and added.get("Interface") == SEAT and added.get("Paused") == "0"
    feed(model, ivr)
    assert {m.interface: m.availability for m in model.queue("hotline-general").members}[SEAT] == "available"  # type: ignore[union-attr]

    [again] = desk.act("QueueAdd", Queue="hotline-general", Interface=SEAT)
    assert again.get("Response") == "Error" and again.get("Message") == "Unable to add interface: Already there"
    [nowhere] = desk.act("QueueAdd", Queue="hotline-nosuch", Interface=SEAT)
    assert nowhere.get("Message") == "Unable to add interface to queue: No such queue"

    ok, paused = desk.act("QueuePause", Interface=SEAT, Paused="true", Reason="meal")
    assert ok.get("Message") == "Interface paused successfully" and paused.get("Paused") == "1" and paused.get("PausedReason") == "meal"
    feed(model, ivr)
    member = {m.interface: m for m in model.queue("hotline-general").members}[SEAT]  # type: ignore[union-attr]
    assert (member.paused, member.pause_reason, member.availability) == (True, "meal", "paused")
    ok, unpaused = desk.act("QueuePause", Interface=SEAT, Paused="false")
    assert ok.get("Message") == "Interface unpaused successfully" and unpaused.get("Paused") == "0"
    [missing] = desk.act("QueuePause", Interface="PJSIP/nobody", Paused="true")
    assert missing.get("Response") == "Error" and missing.get("Message") == "Interface not found"

    ok, removed = desk.act("QueueRemove", Queue="hotline-general", Interface=SEAT)
    assert ok.get("Message") == "Removed interface from queue" and removed.name == "QueueMemberRemoved"  # type: ignore[attr-defined]
    [gone] = desk.act("QueueRemove", Queue="hotline-general", Interface=SEAT)
    assert gone.get("Message") == "Unable to remove interface: Not there"
    [static] = desk.act("QueueRemove", Queue="hotline-general", Interface=SIMULATED_AGENT)
    assert static.get("Response") == "Error"  # the simulated agent is a static member
    feed(model, ivr)
    assert [m.interface for m in model.queue("hotline-general").members] == [SIMULATED_AGENT]  # type: ignore[union-attr]

    # Nobody logged in gets events, or may act.
    assert [f.get("Message") for f in stranger.received()] == []
    [denied] = stranger.act("QueueAdd", Queue="hotline-general", Interface=SEAT)
    assert denied.get("Message") == "Permission denied"


def test_a_ready_desk_seat_gets_the_caller_and_both_sides_agree(tmp_path):
    sim = simulator(recordings_dir=str(tmp_path))
    desk, ivr = Client(sim), Client(sim)
    desk.act("QueueAdd", Queue="hotline-general", Interface=SEAT, MemberName="8001")
    model, changes = live_model(ivr)
    call = _CallEvents(channel="PJSIP/trunk-00000001", uniqueid="demo-1.1", number="13912345678")

    outcome = sim._queue(call, Caller("operator", "13912345678", ()), "hotline-general,,,,600,,hotline-agent-answered")

    assert isinstance(outcome, QueueOutcome) and (outcome.status, outcome.member) == ("ANSWERED", SEAT)
    events = [f for f in ivr.received() if isinstance(f, Event)]
    for event in events:
        model.apply(event)
    names = [e.name for e in events]
    assert names == ["QueueCallerJoin", "AgentCalled", "QueueCallerLeave", "AgentConnect", "QueueMemberStatus", "MixMonitorStart", "AgentComplete", "QueueMemberStatus"]
    [joined] = [c for c in changes if isinstance(c, CallerJoined)]
    [answered] = [c for c in changes if isinstance(c, CallerAnswered)]
    [completed] = [c for c in changes if isinstance(c, CallCompleted)]
    assert joined.caller.uniqueid == answered.uniqueid == completed.uniqueid == "demo-1.1"
    assert (answered.queue, answered.interface, completed.interface) == ("hotline-general", SEAT, SEAT)
    member = {m.interface: m for m in model.queue("hotline-general").members}[SEAT]  # type: ignore[union-attr]
    assert (member.calls_taken, member.in_call) == (1, False)
    # Recorded as the dialplan's MixMonitor would: the event, and audio where the call log looks.
    [recording] = [c for c in changes if isinstance(c, RecordingStarted)]
    assert recording.uniqueid == "demo-1.1"
    with wave.open(recording_path(str(tmp_path), "demo-1.1")) as audio:
        assert audio.getframerate() == 8000 and audio.getnframes() > 0


def test_without_a_desk_seat_the_simulated_agent_answers():
    sim = simulator()
    ivr = Client(sim)
    model, changes = live_model(ivr)
    call = _CallEvents(channel="PJSIP/trunk-00000002", uniqueid="demo-1.2", number="13800138000")
    outcome = sim._queue(call, Caller("operator", "13800138000", ()), "hotline-emergency,,,,,,x")
    feed(model, ivr)
    [answered] = [c for c in changes if isinstance(c, CallerAnswered)]
    assert isinstance(outcome, QueueOutcome) and outcome.member == answered.interface == SIMULATED_AGENT and answered.queue == "hotline-emergency"


def test_a_caller_out_of_patience_abandons_and_an_empty_queue_refuses():
    sim = simulator(agent_wait=(60.0, 60.0))
    sim.queues["hotline-general"].members.clear()
    ivr = Client(sim)
    model, changes = live_model(ivr)

    refused = sim._queue(_CallEvents("PJSIP/trunk-3", "demo-1.3", "13700001111"), Caller("night_message", "13700001111", ()), "hotline-general")
    assert refused == QueueOutcome("JOINEMPTY") and ivr.received() == []

    sim.set_agent_on_duty(True)
    assert [(f.name, f.get("Queue")) for f in ivr.received() if isinstance(f, Event)] == [("QueueMemberAdded", "hotline-general")]  # emergency had the agent already
    abandoned = sim._queue(_CallEvents("PJSIP/trunk-4", "demo-1.4", "13700001111"), Caller("abandon", "13700001111", (), patience=0.0), "hotline-general")
    assert isinstance(abandoned, HangUp)
    feed(model, ivr)
    [gave_up] = [c for c in changes if isinstance(c, CallerAbandoned)]
    assert gave_up.uniqueid == "demo-1.4" and not [c for c in changes if isinstance(c, CallerAnswered)]
    assert model.queue("hotline-general").callers == ()  # type: ignore[union-attr]


def test_compose_replaces_only_the_named_headers():
    frame = b"Event: QueueCallerJoin\r\nQueue: hotline-general\r\nAccountCode: \r\nPosition: 1\r\n\r\n"
    assert compose(frame, Queue="hotline-emergency", Position=3) == b"Event: QueueCallerJoin\r\nQueue: hotline-emergency\r\nAccountCode: \r\nPosition: 3\r\n\r\n"


def test_the_demo_stream_shows_every_path_first():
    rng = random.Random(1)
    kinds = [demo_caller(n, rng, ["2612030001"]).kind for n in range(6)]
    assert kinds == ["night_message", "operator", "menu_hangup", "status", "emergency", "abandon"]
    night = demo_caller(0, rng)
    assert night.night and night.message_ms >= 10_000


def test_a_client_that_logs_in_mid_call_finds_the_waiting_caller_and_its_channel():
    """A role that (re)connects while a call waits is re-based on QueueStatus and
    CoreShowChannels, and must not take the call for one that ended while it was away."""
    sim = simulator()
    call = _CallEvents("PJSIP/trunk-00000005", "demo-1.5", "13566668888", queue="hotline-general")
    sim.active[call.uniqueid] = (call, time.monotonic() - 3)
    sim.queues["hotline-general"].waiting.append(call.uniqueid)
    client = Client(sim)
    status = [f for f in client.act("QueueStatus") if isinstance(f, Event) and f.get("EventList") == ""]
    channels = [f for f in client.act("CoreShowChannels") if isinstance(f, Event) and f.get("EventList") == ""]
    model = LiveModel(Clock())
    model.resync(status, channels)
    [caller] = model.queue("hotline-general").callers  # type: ignore[union-attr]
    assert (caller.uniqueid, caller.position) == ("demo-1.5", 1)
    channel = model.snapshot().channel("demo-1.5")
    assert channel is not None and channel.name == "PJSIP/trunk-00000005"
