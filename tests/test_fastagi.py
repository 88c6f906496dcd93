"""The FastAGI server: the protocol on a StringTransport with a task.Clock (header timeout,
HANGUP while idle and during a command, 511, 510/520, one command in flight, close after the
handler), then a few end-to-end calls over real loopback sockets against hotline/simulator/agi.py,
and the peer itself checked byte for byte against the captured Asterisk sessions."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from hotline.agi.channel import Channel, CommandRejected, Hangup, RecordResult, UnsafeArgument
from hotline.agi.codec import AgiDecoder, HangupNotice, ProtocolError, Reply
from hotline.agi.fastagi import FastAgiChannel, FastAgiFactory, FastAgiProtocol, listen
from hotline.config import FastAgiConfig
from hotline.simulator.agi import AsteriskPeer, CallRecord, HangUp, HangupWhenIdle, Press, PrivateReactor, QueueOutcome, RawReply, Silence, iter_transcript, raw_exchange, run_fastagi_calls

REFERENCE = Path(__file__).parent / "fixtures" / "asterisk"
RAW = REFERENCE / "raw"
TRANSCRIPT = str(REFERENCE / "agi_fastagi.txt")


def _rx(name: str) -> bytes:
    return (RAW / name).read_bytes()


def _split_header(data: bytes) -> tuple[bytes, bytes]:
    end = data.index(b"\n\n") + 2
    return data[:end], data[end:]


HEADER_001, REPLIES_001 = _split_header(_rx("fastagi-001-ivr.rx.bin"))


def _exchanges(session: str) -> list[tuple[bytes, bytes]]:
    """(command we sent, everything Asterisk sent until the next command) of one session."""
    pairs: list[tuple[bytes, bytes]] = []
    for direction, data in iter_transcript(TRANSCRIPT, session):
        if direction == "S>A":
            pairs.append((data, b""))
        elif pairs:
            pairs[-1] = (pairs[-1][0], pairs[-1][1] + data)
    return pairs


class Session:
    """One FastAgiProtocol over a StringTransport, time on a task.Clock."""

    def __init__(self, handler: Callable[[Channel], Any], header_timeout: float = 10.0) -> None:
        self.clock = Clock()
        self.registry = CollectorRegistry()
        self.factory = FastAgiFactory(handler, clock=self.clock, registry=self.registry, header_timeout=header_timeout)
        self.protocol: FastAgiProtocol = self.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 4573))
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 58684))
        self.protocol.makeConnection(self.transport)

    def receive(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    def written(self) -> bytes:
        value = self.transport.value()
        self.transport.clear()
        return value

    def lose_connection(self) -> None:
        self.protocol.connectionLost(Failure(ConnectionError("peer reset")))

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels or None)


class Gate:
    """A Deferred the test fires to let a flow go on: makes 'the flow is idle now' explicit."""

    def __init__(self) -> None:
        self.deferred: Deferred[None] = Deferred()

    async def wait(self) -> None:
        await self.deferred

    def open(self) -> None:
        self.deferred.callback(None)


# -- the protocol on a StringTransport


def test_header_starts_the_flow_with_call_info() -> None:
    """The header, even one byte at a time, builds a FastAgiChannel whose info is the call's."""
    seen: list[Channel] = []

    async def flow(channel: Channel) -> None:
        seen.append(channel)

    session = Session(flow)
    for i in range(len(HEADER_001)):
        assert not seen
        session.receive(HEADER_001[i : i + 1])
    [channel] = seen
    assert isinstance(channel, FastAgiChannel)
    assert channel.info.flow == "ivr" and channel.info.params == {"lang": "zh"} and channel.info.uniqueid == "asterisk-lab-1795234841.1"
    assert session.metric("hotline_agi_sessions_total") == 1


def test_session_001_byte_for_byte() -> None:
    """Every Channel operation of the lab's session 001 writes the transcript's line and turns
    Asterisk's captured reply into the right result."""
    remaining = _exchanges("Session 001")
    steps: list[tuple[str, tuple[Any, ...], bytes, Any]] = [
        ("answer", (), b"ANSWER\n", None),
        ("verbose", ("probe ivr start lang=zh", 1), b'VERBOSE "probe ivr start lang=zh" 1\n', None),
        ("set_variable", ("LABVAR", "hello world"), b'SET VARIABLE LABVAR "hello world"\n', None),
        ("get_variable", ("LABVAR",), b"GET VARIABLE LABVAR\n", "hello world"),
        ("get_variable", ("NOSUCHVAR",), b"GET VARIABLE NOSUCHVAR\n", None),
        ("set_variable", ("GREETING", "你好 世界"), 'SET VARIABLE GREETING "你好 世界"\n'.encode(), None),
        ("get_variable", ("GREETING",), b"GET VARIABLE GREETING\n", "你好 世界"),
        ("stream_file", ("demo-congrats", "12#"), b'STREAM FILE demo-congrats "12#"\n', "1"),
        ("get_data", ("beep", 6000, 4), b"GET DATA beep 6000 4\n", ("42", False)),
        ("get_data", ("beep", 2500, 4), b"GET DATA beep 2500 4\n", ("9", True)),
        ("wait_for_digit", (5000,), b"WAIT FOR DIGIT 5000\n", "7"),
        ("wait_for_digit", (1500,), b"WAIT FOR DIGIT 1500\n", None),
        ("say_digits", ("123",), b'SAY DIGITS 123 ""\n', None),
        ("say_digits", ("4567", "#"), b'SAY DIGITS 4567 "#"\n', "#"),
        ("say_number", (42,), b'SAY NUMBER 42 ""\n', None),
        (
            "record_file",
            ("/var/spool/asterisk/recording/probe-ivr", "wav", "#", 15000, True, 5),
            b'RECORD FILE /var/spool/asterisk/recording/probe-ivr wav "#" 15000 0 BEEP s=5\n',
            RecordResult("#", False, 22480),
        ),
        ("exec", ("Playback", "beep"), b'EXEC Playback "beep"\n', 0),
        ("get_variable", ("PLAYBACKSTATUS",), b"GET VARIABLE PLAYBACKSTATUS\n", "SUCCESS"),
        ("exec", ("Playback", "no-such-sound-file"), b'EXEC Playback "no-such-sound-file"\n', 0),
        ("exec", ("NoSuchApplication", "x"), b'EXEC NoSuchApplication "x"\n', -2),
        ("exec", ("Set", "EXECSET=via exec"), b'EXEC Set "EXECSET=via exec"\n', 0),
        ("get_variable", ("EXECSET",), b"GET VARIABLE EXECSET\n", "via exec"),
        ("verbose", ("probe ivr done", 1), b'VERBOSE "probe ivr done" 1\n', None),
    ]
    results: list[Any] = []

    async def flow(channel: Channel) -> None:
        for operation, args, _line, _expected in steps:
            results.append(await getattr(channel, operation)(*args))

    session = Session(flow)
    session.receive(HEADER_001)
    for _operation, _args, line, _expected in steps:
        assert session.written() == line
        index = next(i for i, (command, _reply) in enumerate(remaining) if command == line)
        session.receive(remaining.pop(index)[1])
    assert results == [expected for *_, expected in steps]
    assert session.transport.disconnecting and session.protocol.finished.called


def test_one_command_in_flight() -> None:
    """Two commands started together: the second is written only after the first's reply."""
    results: list[Any] = []

    async def flow(channel: Channel) -> None:
        first = Deferred.fromCoroutine(channel.stream_file("demo-congrats", "12#"))
        second = Deferred.fromCoroutine(channel.get_variable("X"))
        results.append(await first)
        results.append(await second)

    session = Session(flow)
    session.receive(HEADER_001)
    assert session.written() == b'STREAM FILE demo-congrats "12#"\n'
    session.clock.advance(30)
    assert session.written() == b""
    session.receive(b"200 result=49 endpos=13280\n")
    assert session.written() == b"GET VARIABLE X\n"
    session.receive(b"200 result=1 (y)\n")
    assert results == ["1", "y"]


def test_hangup_while_idle_raises_at_the_next_command_without_writing() -> None:
    """Session 002: HANGUP arrives with no command outstanding; the next command raises
    Hangup at once and writes nothing; the connection is closed."""
    gate, outcome = Gate(), []
    header, rest = _split_header(_rx("fastagi-002-hangup-idle.rx.bin"))

    async def flow(channel: Channel) -> None:
        await channel.answer()
        await gate.wait()
        try:
            await channel.get_variable("CHANNEL")
        except Hangup:
            outcome.append("hangup")
            raise

    session = Session(flow)
    session.receive(header)
    assert session.written() == b"ANSWER\n"
    session.receive(rest[: rest.index(b"HANGUP\n") + 7])  # "200 result=0\nHANGUP\n"
    assert not session.transport.disconnecting
    gate.open()
    assert outcome == ["hangup"] and session.written() == b""
    assert session.transport.disconnecting
    assert session.metric("hotline_agi_errors_total", kind="handler") == 0


def test_hangup_during_a_command_is_the_minus_one_reply() -> None:
    """Session 003: STREAM FILE answers -1 (HANGUP follows); the flow gets Hangup and we close."""
    outcome: list[str] = []
    header, _rest = _split_header(_rx("fastagi-003-hangup-stream.rx.bin"))

    async def flow(channel: Channel) -> None:
        await channel.answer()
        try:
            await channel.stream_file("demo-congrats")
        except Hangup:
            outcome.append("hangup")
        with pytest.raises(Hangup):
            await channel.get_variable("CHANNEL")

    session = Session(flow)
    session.receive(header)
    assert session.written() == b"ANSWER\n"
    session.receive(b"200 result=0\n")
    assert session.written() == b'STREAM FILE demo-congrats ""\n'
    session.receive(b"200 result=-1 endpos=20000\n")
    assert outcome == ["hangup"] and session.written() == b""
    assert session.transport.disconnecting
    session.receive(b"HANGUP\n")  # 40 ms later, after we closed: ignored
    assert session.metric("hotline_agi_errors_total", kind="protocol") == 0


def test_agiexitonhangup_session_004() -> None:
    """Session 004: -1, two HANGUP lines and the socket closing end the call cleanly."""
    header, rest = _split_header(_rx("fastagi-004-hangup-exit.rx.bin"))
    outcome: list[str] = []

    async def flow(channel: Channel) -> None:
        await channel.answer()
        try:
            await channel.stream_file("demo-congrats")
        except Hangup:
            outcome.append("hangup")
            raise

    session = Session(flow)
    session.receive(header + rest)  # all of it at once, as a burst
    session.lose_connection()
    assert outcome == ["hangup"]
    assert session.metric("hotline_agi_sessions_active") == 0
    assert session.metric("hotline_agi_errors_total", kind="handler") == 0


def test_hangup_line_while_a_command_is_pending() -> None:
    """The race: HANGUP arrives before the reply to a command just sent; the command raises
    Hangup at once and its late reply is ignored."""
    outcome: list[str] = []

    async def flow(channel: Channel) -> None:
        try:
            await channel.set_variable("HOTLINE_OUTCOME", "queued")
        except Hangup:
            outcome.append("hangup")

    session = Session(flow)
    session.receive(HEADER_001)
    assert session.written() == b'SET VARIABLE HOTLINE_OUTCOME "queued"\n'
    session.receive(b"HANGUP\n")
    assert outcome == ["hangup"] and session.transport.disconnecting
    session.receive(b"200 result=1\n")
    assert session.metric("hotline_agi_errors_total", kind="protocol") == 0


def test_511_is_a_hangup_and_nothing_more_is_sent() -> None:
    """511 on a dead channel raises Hangup; later commands raise without being written."""
    outcome: list[str] = []

    async def flow(channel: Channel) -> None:
        for attempt in (channel.wait_for_digit(1000), channel.set_variable("X", "y")):
            try:
                await attempt
            except Hangup:
                outcome.append("hangup")

    session = Session(flow)
    session.receive(HEADER_001)
    assert session.written() == b"WAIT FOR DIGIT 1000\n"
    session.receive(b"511 Command Not Permitted on a dead channel or intercept routine\n")
    assert outcome == ["hangup", "hangup"] and session.written() == b""


def test_510_and_520_are_command_rejected_and_the_call_goes_on() -> None:
    """510 and the multi-line 520 raise CommandRejected with code and text; the call continues."""
    exchanges = _exchanges("Session 001")
    reply_510 = dict(exchanges)[b"FOO BAR\n"]
    reply_520 = dict(exchanges)[b"WAIT FOR DIGIT\n"]
    caught: list[CommandRejected] = []
    results: list[Any] = []

    async def flow(channel: Channel) -> None:
        for attempt in (channel.exec("Playback", "beep"), channel.wait_for_digit(5000)):
            try:
                await attempt
            except CommandRejected as exc:
                caught.append(exc)
        results.append(await channel.get_variable("X"))

    session = Session(flow)
    session.receive(HEADER_001)
    session.written()
    session.receive(reply_510)
    session.written()
    for i in range(len(reply_520)):
        session.receive(reply_520[i : i + 1])
    assert session.written() == b"GET VARIABLE X\n"
    session.receive(b"200 result=0\n")
    assert [(c.code, c.command) for c in caught] == [(510, 'EXEC Playback "beep"'), (520, "WAIT FOR DIGIT 5000")]
    assert caught[1].text.startswith("Waits up to")
    assert results == [None]
    assert session.metric("hotline_agi_errors_total", kind="rejected") == 2


def test_trying_line_is_not_the_reply() -> None:
    """`100 result=0 Trying...` is intermediate: the 200 line after it is the result."""
    results: list[Any] = []

    async def flow(channel: Channel) -> None:
        results.append(await channel.exec("Gosub", "sub,s,1"))

    session = Session(flow)
    session.receive(HEADER_001)
    session.receive(b"100 result=0 Trying...\n")
    assert results == []
    session.receive(b"200 result=0 Gosub complete\n")
    assert results == [0]


def test_exec_returns_minus_one_without_raising() -> None:
    """EXEC Queue answered -1 (the agent hung up, the caller is still there) is a result."""
    results: list[Any] = []

    async def flow(channel: Channel) -> None:
        results.append(await channel.exec("Queue", "general,,,,60"))
        results.append(await channel.get_variable("QUEUESTATUS"))

    session = Session(flow)
    session.receive(HEADER_001)
    assert session.written() == b'EXEC Queue "general,,,,60"\n'
    session.receive(b"200 result=-1\n")
    assert session.written() == b"GET VARIABLE QUEUESTATUS\n"
    session.receive(b"200 result=0\n")
    assert results == [-1, None]


def test_our_own_hangup_ends_the_channel() -> None:
    """After HANGUP from the flow, further commands raise Hangup without being written."""
    outcome: list[str] = []

    async def flow(channel: Channel) -> None:
        await channel.hangup()
        try:
            await channel.verbose("after")
        except Hangup:
            outcome.append("hangup")

    session = Session(flow)
    session.receive(HEADER_001)
    assert session.written() == b"HANGUP\n"
    session.receive(b"200 result=1\n")
    assert outcome == ["hangup"] and session.written() == b""


def test_header_timeout() -> None:
    """A peer that never finishes its header is cut off after header_timeout on the clock."""
    called: list[Channel] = []

    async def flow(channel: Channel) -> None:
        called.append(channel)

    session = Session(flow, header_timeout=10.0)
    session.receive(HEADER_001[:100])
    session.clock.advance(9.9)
    assert not session.transport.disconnecting
    session.clock.advance(0.1)
    assert session.transport.disconnecting and not called
    assert session.metric("hotline_agi_errors_total", kind="header_timeout") == 1
    assert session.protocol.finished.called
    session.lose_connection()
    assert session.metric("hotline_agi_errors_total", kind="header_incomplete") == 0
    assert session.metric("hotline_agi_sessions_active") == 0


def test_complete_header_cancels_the_timer() -> None:
    """Once the header is read no timer is left to fire in the middle of the call."""

    async def flow(channel: Channel) -> None:
        await Deferred()

    session = Session(flow)
    assert len(session.clock.getDelayedCalls()) == 1
    session.receive(HEADER_001)
    assert session.clock.getDelayedCalls() == []


def test_header_deadlines_of_many_connections_share_one_timer() -> None:
    """Connections opened at 0 s, 4 s and 6 s with a 10 s limit: one timer at a time; the
    first is cut off at 10 s, the second (header done at 8 s) never, the third at 16 s; then
    no timer is left."""
    called: list[Channel] = []

    async def flow(channel: Channel) -> None:
        called.append(channel)
        await Deferred()

    first = Session(flow, header_timeout=10.0)
    clock, factory = first.clock, first.factory

    def connect() -> tuple[FastAgiProtocol, StringTransport]:
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 4573))
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 58685))
        protocol.makeConnection(transport)
        return protocol, transport

    first.receive(HEADER_001[:100])
    clock.advance(4)
    second, second_transport = connect()
    clock.advance(2)
    _third, third_transport = connect()
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(2)
    second.dataReceived(HEADER_001)
    assert len(called) == 1
    clock.advance(2)  # 10 s
    assert first.transport.disconnecting and not second_transport.disconnecting and not third_transport.disconnecting
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(5.9)
    assert not third_transport.disconnecting
    clock.advance(0.1)  # 16 s
    assert third_transport.disconnecting and not second_transport.disconnecting
    assert clock.getDelayedCalls() == []
    assert first.metric("hotline_agi_errors_total", kind="header_timeout") == 2
    assert first.metric("hotline_agi_sessions_active") == 3  # nobody has closed yet


def test_peer_closing_mid_header_is_counted() -> None:
    """A connection closed before the end of the header never reaches the handler."""
    called: list[Channel] = []

    async def flow(channel: Channel) -> None:
        called.append(channel)

    session = Session(flow)
    session.receive(HEADER_001[:50])
    session.lose_connection()
    assert not called and session.protocol.finished.called
    assert session.metric("hotline_agi_errors_total", kind="header_incomplete") == 1
    assert session.clock.getDelayedCalls() == []


def test_close_after_the_handler_returns() -> None:
    """A flow that finishes closes the connection (Asterisk waits for our close)."""

    async def flow(channel: Channel) -> None:
        await channel.answer()

    session = Session(flow)
    session.receive(HEADER_001)
    session.receive(b"200 result=0\n")
    assert session.transport.disconnecting and session.protocol.finished.called


def test_close_after_the_handler_raises(caplog: pytest.LogCaptureFixture) -> None:
    """A flow that fails is logged with the uniqueid, counted, and the connection closed."""

    async def flow(channel: Channel) -> None:
        raise RuntimeError("menu broken")

    with caplog.at_level(logging.ERROR, logger="hotline.agi.fastagi"):
        session = Session(flow)
        session.receive(HEADER_001)
    assert session.transport.disconnecting
    assert session.metric("hotline_agi_errors_total", kind="handler") == 1
    assert "asterisk-lab-1795234841.1" in caplog.text and "menu broken" in caplog.text


def test_flow_awaits_deferreds_between_commands() -> None:
    """A flow may await Deferreds (the database reads) between commands: it resumes with the
    value, or with the failure raised where it awaited, and goes on sending commands."""
    lookups: list[Deferred[str]] = [Deferred(), Deferred()]
    seen: list[str] = []

    async def flow(channel: Channel) -> None:
        await channel.answer()
        seen.append(await lookups[0])
        try:
            await lookups[1]
        except LookupError as exc:
            seen.append(f"failed: {exc}")
        await channel.set_variable("X", "1")

    session = Session(flow)
    session.receive(HEADER_001)
    assert session.written() == b"ANSWER\n"
    session.receive(b"200 result=0\n")
    assert session.written() == b""
    lookups[0].callback("ticket 261121001")
    lookups[1].errback(Failure(LookupError("database away")))
    assert seen == ["ticket 261121001", "failed: database away"]
    assert session.written() == b'SET VARIABLE X "1"\n'
    session.receive(b"200 result=1\n")
    assert session.protocol.finished.called


def test_flow_awaiting_an_already_fired_deferred_goes_straight_on() -> None:
    """A Deferred that has its result before the flow awaits it does not stall the call."""
    from twisted.internet.defer import succeed

    async def flow(channel: Channel) -> None:
        assert await succeed(7) == 7
        await channel.answer()

    session = Session(flow)
    session.receive(HEADER_001)
    assert session.written() == b"ANSWER\n"


def test_flow_awaiting_something_else_gets_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    """Awaiting an asyncio future (or anything but a Deferred or a channel command) raises
    TypeError in the flow; the guard logs it and the connection closes."""

    class Foreign:
        def __await__(self) -> Any:
            yield "not a Deferred"

    async def flow(channel: Channel) -> None:
        await Foreign()

    with caplog.at_level(logging.ERROR, logger="hotline.agi.fastagi"):
        session = Session(flow)
        session.receive(HEADER_001)
    assert session.transport.disconnecting
    assert session.metric("hotline_agi_errors_total", kind="handler") == 1
    assert "only channel commands and Deferreds" in caplog.text


class SocketTransport(StringTransport):
    """A StringTransport that also hands out a real socket, as a TCP transport does."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(peerAddress=IPv4Address("TCP", "127.0.0.1", 58684))
        self.sock = sock

    def getHandle(self) -> socket.socket:
        return self.sock


def test_the_end_of_a_call_is_sent_at_once_unless_the_transport_holds_data() -> None:
    """When the flow ends, Asterisk reads EOF right away (FIN sent by us, not on the
    reactor's next turn); when earlier lines had to go through the transport's buffer, the
    close is left to the transport, which sends them first."""
    from twisted.internet.interfaces import ISystemHandle
    from zope.interface import directlyProvides

    async def flow(channel: Channel) -> None:
        await channel.answer()

    for buffered in (False, True):
        ours, theirs = socket.socketpair()
        try:
            transport = SocketTransport(ours)
            directlyProvides(transport, ISystemHandle)
            protocol = FastAgiFactory(flow, clock=Clock(), registry=CollectorRegistry()).buildProtocol(IPv4Address("TCP", "127.0.0.1", 4573))
            protocol.makeConnection(transport)
            if buffered:
                protocol._writer._socket = None  # as after a partial send: the transport has the rest
            protocol.dataReceived(HEADER_001)
            protocol.dataReceived(b"200 result=0\n")
            assert protocol.finished.called and transport.disconnecting
            theirs.settimeout(1)
            if buffered:
                assert transport.value() == b"ANSWER\n"
                theirs.setblocking(False)
                with pytest.raises(BlockingIOError):
                    theirs.recv(100)  # nothing yet: the transport will write, then close
            else:
                assert theirs.recv(100) == b"ANSWER\n" and theirs.recv(100) == b""
        finally:
            ours.close()
            theirs.close()


def test_commands_go_straight_to_the_socket_and_fall_back_in_order() -> None:
    """Each command is written to the socket at once; when the kernel takes only part of a
    line (a peer that stopped reading), the rest and every later line go through the
    transport, so the bytes Asterisk gets are still whole lines in order."""
    from twisted.internet.interfaces import ISystemHandle
    from zope.interface import directlyProvides

    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    transport = SocketTransport(ours)
    directlyProvides(transport, ISystemHandle)
    value = "x" * 4000
    sent: list[bytes] = []

    async def flow(channel: Channel) -> None:
        for index in range(200):
            await channel.set_variable(f"V{index}", value)

    try:
        protocol = FastAgiFactory(flow, clock=Clock(), registry=CollectorRegistry()).buildProtocol(IPv4Address("TCP", "127.0.0.1", 4573))
        protocol.makeConnection(transport)
        protocol.dataReceived(HEADER_001)
        for index in range(200):
            sent.append(f'SET VARIABLE V{index} "{value}"\n'.encode())
            protocol.dataReceived(b"200 result=1\n")
        assert protocol.finished.called
        assert transport.value(), "the kernel buffer filled up and the transport took over"
        theirs.setblocking(False)
        received = b""
        while True:
            try:
                chunk = theirs.recv(1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                break
            received += chunk
        assert received and received + transport.value() == b"".join(sent)
    finally:
        ours.close()
        theirs.close()


def test_connection_lost_mid_command_is_a_hangup() -> None:
    """Losing the connection fails the command in flight with Hangup."""
    outcome: list[str] = []

    async def flow(channel: Channel) -> None:
        try:
            await channel.record_file("vm/1")
        except Hangup:
            outcome.append("hangup")

    session = Session(flow)
    session.receive(HEADER_001)
    assert session.metric("hotline_agi_sessions_active") == 1
    session.lose_connection()
    assert outcome == ["hangup"]
    assert session.metric("hotline_agi_sessions_active") == 0


def test_garbage_reply_is_a_protocol_error() -> None:
    """A reply that is not AGI fails the command with ProtocolError and aborts the session."""
    outcome: list[type] = []

    async def flow(channel: Channel) -> None:
        try:
            await channel.answer()
        except ProtocolError as exc:
            outcome.append(type(exc))
        with pytest.raises(ProtocolError):
            await channel.answer()

    session = Session(flow)
    session.receive(HEADER_001)
    session.receive(b"HTTP/1.1 400 Bad Request\r\n")
    assert outcome == [ProtocolError] and session.transport.disconnecting
    assert session.metric("hotline_agi_errors_total", kind="protocol") == 1


def test_stray_reply_while_idle_is_a_protocol_error() -> None:
    """A reply with no command outstanding means the stream is out of step: abort."""
    gate = Gate()

    async def flow(channel: Channel) -> None:
        await gate.wait()
        await channel.answer()

    session = Session(flow)
    session.receive(HEADER_001 + b"200 result=0\n")
    assert session.transport.disconnecting
    assert session.metric("hotline_agi_errors_total", kind="protocol") == 1
    gate.open()
    assert session.written() == b""


@pytest.mark.parametrize("garbage", [b"x" * 70000, b"agi_network: yes\n" * 70, b"GET / HTTP/1.0\r\n\r\n", b"\n"])
def test_hostile_header_is_refused(garbage: bytes) -> None:
    """Over-long lines, too many lines, HTTP or an empty header: abort, count, no flow."""
    called: list[Channel] = []

    async def flow(channel: Channel) -> None:
        called.append(channel)

    session = Session(flow)
    session.receive(garbage)
    assert session.transport.disconnecting and not called
    assert session.metric("hotline_agi_errors_total", kind="protocol") == 1


def test_unsafe_argument_is_never_written() -> None:
    """A caller ID with a line break raises UnsafeArgument in the flow; nothing reaches Asterisk."""
    outcome: list[str] = []

    async def flow(channel: Channel) -> None:
        try:
            await channel.set_variable("CALLER", '13800138000"\nEXEC System "reboot')
        except UnsafeArgument:
            outcome.append("refused")
        await channel.set_variable("CALLER", '13800138000" EXEC System "reboot')

    session = Session(flow)
    session.receive(HEADER_001)
    assert outcome == ["refused"]
    assert session.written() == b'SET VARIABLE CALLER "13800138000\\" EXEC System \\"reboot"\n'


def test_command_time_is_measured_on_the_clock() -> None:
    """hotline_agi_command_seconds observes the time from write to reply, per operation."""

    async def flow(channel: Channel) -> None:
        await channel.stream_file("demo-congrats", "12#")

    session = Session(flow)
    session.receive(HEADER_001)
    session.clock.advance(1.5)
    session.receive(b"200 result=49 endpos=13280\n")
    assert session.metric("hotline_agi_command_seconds_sum", command="stream_file") == 1.5
    assert session.metric("hotline_agi_command_seconds_count", command="stream_file") == 1


def test_every_error_kind_is_exported_from_the_start() -> None:
    """The errors counter shows each bounded kind at 0 before anything happens."""
    session = Session(lambda channel: Deferred())
    for kind in ("header_timeout", "header_incomplete", "protocol", "rejected", "handler"):
        assert session.metric("hotline_agi_errors_total", kind=kind) == 0


def test_listen_uses_the_config_and_the_given_reactor() -> None:
    """listen() binds fastagi.bind:fastagi.port on the injected reactor, not the global one."""
    reactor = MemoryReactorClock()
    listen(reactor, FastAgiConfig(bind="127.0.0.1", port=4573), lambda channel: Deferred())
    [(port, factory, backlog, interface)] = reactor.tcpServers
    assert (port, interface) == (4573, "127.0.0.1") and isinstance(factory, FastAgiFactory)
    assert backlog >= 512 and factory.clock is reactor


# -- our peer against the captured sessions, byte for byte


def _replay_against_peer(session: str, peer: AsteriskPeer, script: str, rx: bytes) -> tuple[bytes, CallRecord]:
    """Be the lab's probe: send the transcript's commands to our peer, one at a time, waiting
    for the bytes Asterisk sent after each; return all the peer sent and its record."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    records: list[CallRecord] = []
    thread = threading.Thread(target=lambda: records.append(peer.call_fastagi("127.0.0.1", port, script)), daemon=True)
    thread.start()
    connection, _ = server.accept()
    connection.settimeout(5)
    received = bytearray()

    def read_until(length: int) -> None:
        while len(received) < length:
            try:
                piece = connection.recv(65536)
            except OSError:  # timeout or reset: the comparison below shows what is missing
                return
            if not piece:
                return
            received.extend(piece)

    header_end = rx.index(b"\n\n") + 2
    read_until(header_end)
    expected = header_end
    exchanges = _exchanges(session)
    for n, (command, answer) in enumerate(exchanges, 1):
        try:
            connection.sendall(command)
        except OSError:
            break
        if n == len(exchanges) and answer.endswith(b"HANGUP\n"):
            answer = answer[: -len(b"HANGUP\n")]  # Asterisk's last HANGUP follows our close
        expected += len(answer)
        read_until(expected)
    try:
        connection.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    read_until(len(rx) + 1)
    connection.close()
    server.close()
    thread.join(timeout=10)
    return bytes(received), records[0]


def test_peer_replays_session_001() -> None:
    """Driven with session 001's commands, our peer sends exactly what Asterisk sent."""
    peer = AsteriskPeer(
        [Press("1", position_ms=1660), Press("42#"), Press("9"), Press("7"), Silence(), Silence(), Press("#"), Silence(), Press("#", position_ms=2810)],
        channel="Local/12319@hotline-00000000;2",
        uniqueid="asterisk-lab-1795234841.1",
        missing_sounds=["no-such-sound-file"],
        url_authority="127.0.0.1:4573",
    )
    rx = _rx("fastagi-001-ivr.rx.bin")
    received, record = _replay_against_peer("Session 001", peer, "ivr?lang=zh", rx)
    assert received == rx
    assert record.server_closed and record.agistatus == "SUCCESS"
    assert [p.split(":")[0] for p in record.problems] == ["CR LF line end on command 10", "510 for command 12", "520 for command 13"]
    assert record.variables["GREETING"] == "你好 世界" and record.recordings == ["/var/spool/asterisk/recording/probe-ivr.wav"]


def test_peer_replays_session_002_hangup_idle() -> None:
    """Session 002: HANGUP while idle, then the dead-channel 511s and the final HANGUP."""
    peer = AsteriskPeer([HangupWhenIdle(50)], channel="Local/12320@hotline-00000001;2", uniqueid="asterisk-lab-1795234884.3", extension="12320", priority="2", url_authority="127.0.0.1:4573")
    rx = _rx("fastagi-002-hangup-idle.rx.bin")
    received, record = _replay_against_peer("Session 002", peer, "hangup-idle", rx)
    assert received == rx
    assert (record.hangup_by, record.hangup_at, record.agistatus) == ("caller", 0, "HANGUP")
    assert record.closed_after_hangup


def test_peer_replays_session_003_hangup_during_stream_file() -> None:
    """Session 003: -1 with endpos, HANGUP, then 511 for STREAM FILE and WAIT FOR DIGIT."""
    peer = AsteriskPeer([HangUp(position_ms=2500)], channel="Local/12321@hotline-00000002;2", uniqueid="asterisk-lab-1795234893.5", extension="12321", priority="2", url_authority="127.0.0.1:4573")
    rx = _rx("fastagi-003-hangup-stream.rx.bin")
    received, record = _replay_against_peer("Session 003", peer, "hangup-stream", rx)
    assert received == rx and record.hangup_at == 2


def test_peer_replays_session_004_agiexitonhangup() -> None:
    """Session 004: with AGIEXITONHANGUP=yes, -1, two HANGUP lines and the close."""
    peer = AsteriskPeer(
        [HangUp(position_ms=2500)],
        variables={"AGIEXITONHANGUP": "yes"},
        channel="Local/12322@hotline-00000003;2",
        uniqueid="asterisk-lab-1795234899.7",
        extension="12322",
        url_authority="127.0.0.1:4573",
    )
    rx = _rx("fastagi-004-hangup-exit.rx.bin")
    received, _record = _replay_against_peer("Session 004", peer, "hangup-exit", rx)
    assert received == rx


def test_peer_classic_header_matches_the_stdin_transcript() -> None:
    """The classic header (agi_request = script, agi_arg_N) is the one Asterisk wrote on stdin."""
    received = [data for direction, data in iter_transcript(str(REFERENCE / "agi_stdin.txt"), "12329:") if direction == "A>S"]
    header = b"".join(received[: received.index(b"\n") + 1])
    peer = AsteriskPeer(channel="Local/12329@hotline-00000004;2", uniqueid="asterisk-lab-1795234925.9", extension="12329", priority="2")
    assert peer.header(request="/var/lib/asterisk/agi-bin/stdin_agi.py", args=["arg1", "arg two"]) == header


# -- end to end over loopback sockets


async def ivr_like(channel: Channel) -> None:
    """A small flow touching every operation, the way the 12319 menu will."""
    await channel.answer()
    await channel.set_variable("HOTLINE_FLOW", channel.info.flow)
    key = await channel.stream_file("hotline/zh/welcome", "12#")
    digits, timed_out = await channel.get_data("hotline/zh/enter_ticket", 5000, 8)
    await channel.set_variable("HOTLINE_CHOICE", f"{key}|{digits}|{timed_out}")
    await channel.say_digits(digits or "0")
    recording = await channel.record_file(f"/var/spool/asterisk/hotline-voicemail/{channel.info.uniqueid}", "wav", "#", 60000, True, 3)
    await channel.set_variable("HOTLINE_RECORDING", f"{recording.digit}|{recording.endpos}")
    await channel.set_variable("HOTLINE_CALLER", f'{channel.info.callerid} "{channel.info.calleridname}"')
    result = await channel.exec("Queue", "general,,,,60")
    await channel.set_variable("HOTLINE_QUEUE", str(result))
    await channel.wait_for_digit(10000)


def test_end_to_end_call() -> None:
    """A scripted caller through the whole flow over TCP: every command, every variable, the
    caller's hangup during the last command, our close right after, no protocol problems."""
    peer = AsteriskPeer([Press("1"), Press("2027001#"), Silence(), Press("#", position_ms=2000), QueueOutcome("TIMEOUT"), HangUp()], callerid="13800138000", calleridname='Zhang "Lao" San\\')
    [call] = run_fastagi_calls(ivr_like, [(peer, "ivr?lang=zh")])
    assert call.verbs == ["ANSWER", "SET VARIABLE", "STREAM FILE", "GET DATA", "SET VARIABLE", "SAY DIGITS", "RECORD FILE", "SET VARIABLE", "SET VARIABLE", "EXEC", "SET VARIABLE", "WAIT FOR DIGIT"]
    assert call.variables == {
        "HOTLINE_FLOW": "ivr",
        "HOTLINE_CHOICE": "1|2027001|False",
        "HOTLINE_RECORDING": "#|16000",
        "HOTLINE_CALLER": '13800138000 "Zhang "Lao" San\\"',
        "HOTLINE_QUEUE": "0",
    }
    assert (call.hangup_by, call.hangup_at, call.agistatus) == ("caller", 12, "HANGUP")
    assert call.closed_after_hangup and call.close_delay is not None and call.close_delay < 1
    assert call.problems == []


def test_two_hundred_concurrent_calls_on_one_reactor() -> None:
    """200 calls at once on one reactor: each gets its own answers, none waits for another,
    every session is closed and counted."""
    registry = CollectorRegistry()
    peers = [(AsteriskPeer([Press(str(i % 10)), Press(f"{i}#"), HangUp()], callerid=f"1380000{i:04d}", timeout=60), "ivr") for i in range(200)]

    async def flow(channel: Channel) -> None:
        await channel.answer()
        key = await channel.stream_file("hotline/zh/welcome", "0123456789")
        digits, _ = await channel.get_data("hotline/zh/enter", 5000, 6)
        await channel.set_variable("RESULT", f"{channel.info.callerid}|{key}|{digits}")
        await channel.wait_for_digit(10000)

    calls = run_fastagi_calls(flow, peers, timeout=120, registry=registry)
    assert len(calls) == 200
    for i, call in enumerate(calls):
        assert call.variables == {"RESULT": f"1380000{i:04d}|{i % 10}|{i}"}
        assert call.closed_after_hangup and call.problems == []
    assert registry.get_sample_value("hotline_agi_sessions_total") == 200
    assert registry.get_sample_value("hotline_agi_sessions_active") == 0
    assert registry.get_sample_value("hotline_agi_command_seconds_count", {"command": "get_data"}) == 200


def test_hangup_while_idle_end_to_end() -> None:
    """The caller hangs up while the flow is busy elsewhere; its next command is never sent,
    and the connection is closed at once."""
    gate, channels = Gate(), []

    async def flow(channel: Channel) -> None:
        channels.append(channel)
        await channel.answer()
        await gate.wait()  # e.g. a database call
        await channel.stream_file("hotline/zh/welcome")

    peer = AsteriskPeer([HangupWhenIdle(30)])
    with PrivateReactor() as private:
        port = listen(private.reactor, FastAgiConfig(bind="127.0.0.1", port=0), flow)
        done = private.in_thread(peer.call_fastagi, "127.0.0.1", port.getHost().port, "ivr")
        private.run_until_true(lambda: bool(channels) and isinstance(channels[0], FastAgiChannel) and channels[0].hung_up)
        gate.open()
        call = private.run_until(done)
        port.stopListening()
    assert call.verbs == ["ANSWER"] and (call.hangup_by, call.hangup_at) == ("caller", 0)
    assert call.closed_after_hangup and call.problems == []


def test_hangup_line_racing_the_next_command_end_to_end() -> None:
    """Queue ends with -1 (the flow goes on), the caller's HANGUP arrives 40 ms later while
    the next command is in flight: that command raises Hangup, and we close without
    pipelining or a protocol error."""
    outcome: list[Any] = []

    async def flow(channel: Channel) -> None:
        outcome.append(await channel.exec("Queue", "general"))
        try:
            await channel.set_variable("HOTLINE_OUTCOME", "answered")
        except Hangup:
            outcome.append("hangup")
            raise

    peer = AsteriskPeer([HangUp()], hangup_notice_delay_ms=40)
    registry = CollectorRegistry()
    [call] = run_fastagi_calls(flow, [(peer, "ivr")], registry=registry)
    assert outcome == [-1, "hangup"]
    assert call.verbs == ["EXEC", "SET VARIABLE"] and call.commands[1].dead
    assert call.closed_after_hangup and call.problems == []
    assert registry.get_sample_value("hotline_agi_errors_total", {"kind": "protocol"}) == 0


def test_agiexitonhangup_end_to_end() -> None:
    """With AGIEXITONHANGUP=yes Asterisk closes first; the flow still ends with Hangup."""
    outcome: list[str] = []

    async def flow(channel: Channel) -> None:
        await channel.answer()
        try:
            await channel.stream_file("hotline/zh/welcome")
        except Hangup:
            outcome.append("hangup")

    [call] = run_fastagi_calls(flow, [(AsteriskPeer([HangUp()], variables={"AGIEXITONHANGUP": "yes"}), "ivr")])
    assert outcome == ["hangup"] and call.problems == []


def test_hostile_peers_do_not_disturb_a_real_call() -> None:
    """Noise, a peer closing mid-header and a garbage reply: each hostile connection is cut,
    counted, and a normal call on the same server is served."""
    registry = CollectorRegistry()

    async def flow(channel: Channel) -> None:
        await channel.answer()
        await channel.set_variable("OK", "1")

    with PrivateReactor() as private:
        port = listen(private.reactor, FastAgiConfig(bind="127.0.0.1", port=0), flow, registry)
        number = port.getHost().port
        noise = private.run_until(private.in_thread(raw_exchange, "127.0.0.1", number, b"\x00\xff" * 32768))
        half = private.run_until(private.in_thread(raw_exchange, "127.0.0.1", number, HEADER_001[:200], close_after_send=True))
        garbage = private.run_until(private.in_thread(AsteriskPeer([RawReply(b"200 rezult=what\n")]).call_fastagi, "127.0.0.1", number, "ivr"))
        normal = private.run_until(private.in_thread(AsteriskPeer().call_fastagi, "127.0.0.1", number, "ivr"))
        private.run_until_true(lambda: registry.get_sample_value("hotline_agi_sessions_active") == 0)
        port.stopListening()
    assert noise.server_closed and noise.received == b""
    assert half.received == b""  # it closed at once; the server's side shows in the metric
    assert garbage.server_closed and garbage.verbs == ["ANSWER"]
    assert normal.variables == {"OK": "1"} and normal.problems == []
    assert registry.get_sample_value("hotline_agi_errors_total", {"kind": "protocol"}) == 2
    assert registry.get_sample_value("hotline_agi_errors_total", {"kind": "header_incomplete"}) == 1
    assert registry.get_sample_value("hotline_agi_sessions_total") == 2


def test_header_timeout_end_to_end() -> None:
    """A real connection that stalls mid-header is closed by the server after its timeout."""
    registry = CollectorRegistry()
    with PrivateReactor() as private:
        port = listen(private.reactor, FastAgiConfig(bind="127.0.0.1", port=0), lambda channel: Deferred(), registry, header_timeout=0.2)
        stalled = private.run_until(private.in_thread(raw_exchange, "127.0.0.1", port.getHost().port, HEADER_001[:300], read_timeout=5.0))
        port.stopListening()
    assert stalled.server_closed
    assert registry.get_sample_value("hotline_agi_errors_total", {"kind": "header_timeout"}) == 1


def test_decoder_sees_what_the_server_wrote() -> None:
    """Sanity for the peer's records: our codec decodes the peer's side of a call completely."""
    [call] = run_fastagi_calls(ivr_like, [(AsteriskPeer([HangUp()]), "ivr")])
    messages = AgiDecoder().feed(call.sent)
    assert isinstance(messages[-1], HangupNotice) and all(isinstance(m, (Reply, HangupNotice)) for m in messages[1:])


def test_a_burst_of_connections_is_accepted_in_one_turn() -> None:
    """Sixty calls connect at once, after a quiet spell in which Twisted's port would have
    come down to accepting one connection per turn: one readable event accepts them all."""
    from hotline.simulator.agi import PrivateReactor

    registry = CollectorRegistry()
    clients: list[socket.socket] = []
    with PrivateReactor() as private:
        port = listen(private.reactor, FastAgiConfig(bind="127.0.0.1", port=0), lambda channel: Deferred(), registry)
        try:
            port.numberAccepts = 1  # type: ignore[attr-defined]  # what a quiet spell leaves
            address = ("127.0.0.1", port.getHost().port)  # type: ignore[attr-defined]
            for _ in range(60):
                clients.append(socket.create_connection(address, timeout=5))
            port.doRead()  # type: ignore[attr-defined]  # the reactor's one call for the event
            assert registry.get_sample_value("hotline_agi_sessions_active") == 60
        finally:
            for client in clients:
                client.close()
            private.run_until(port.stopListening(), 5)
