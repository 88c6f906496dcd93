"""The AMI client against our captured-bytes peer: login, ActionID correlation, list actions,
Originate and its OriginateResponse, timeouts on a Clock, failure of everything pending on
disconnect, keep-alive, reconnect with backoff, and two end-to-end runs over real TCP."""

from __future__ import annotations

import itertools
import logging
import socket
from typing import Any

import pytest
from twisted.application.internet import backoffPolicy
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock, LoopingCall
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure

from hotline.ami import actions
from hotline.ami.actions import ListResult, OriginateResult
from hotline.ami.client import (
    AmiActionError,
    AmiClient,
    AmiDisconnected,
    AmiLoginFailed,
    AmiNotConnected,
    AmiProtocol,
    AmiTimeout,
)
from hotline.ami.codec import ActionEncodingError, AmiProtocolError, Event
from hotline.simulator import ami as peer
from hotline.simulator.ami import AmiPeer, PeerEndpoint, failure_of, iterate_until, result_of, retag, run_until

USERNAME, SECRET = "labuser", "labsecret"


class Wire:
    """An AmiProtocol on a StringTransport and a Clock, fed by hand with captured frames."""

    def __init__(self, banner: bool = True) -> None:
        self.clock = Clock()
        self.events: list[Event] = []
        self.errors: list[AmiProtocolError] = []
        counter = itertools.count(1)
        self.protocol = AmiProtocol(self.clock, lambda: f"t-{next(counter)}", on_event=self.events.append, on_protocol_error=self.errors.append)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        if banner:
            self.feed(peer.BANNER)

    def feed(self, *frames: Any) -> None:
        self.protocol.dataReceived(peer.stream(*frames))

    def drip(self, *frames: Any) -> None:
        for byte in peer.split_every_byte(peer.stream(*frames)):
            self.protocol.dataReceived(byte)

    def sent(self) -> bytes:
        data = self.transport.value()
        self.transport.clear()
        return data

    def lose(self) -> None:
        self.protocol.connectionLost(Failure(ConnectionDone("peer closed")))


def make_client(endpoint: Any, clock: Any, **kw: Any) -> AmiClient:
    """A client with a deterministic backoff (2, 4, 8 … s) and ActionIDs c-1, c-2 …"""
    kw.setdefault("retry_policy", backoffPolicy(initialDelay=1.0, factor=2.0, maxDelay=30.0, jitter=lambda: 0.0))
    kw.setdefault("action_ids", (f"c-{n}" for n in itertools.count(1)))
    return AmiClient(clock, endpoint, USERNAME, SECRET, address="peer:5038", **kw)


def connected_client(**peer_options: Any) -> tuple[AmiClient, PeerEndpoint, Clock]:
    clock = Clock()
    endpoint = PeerEndpoint(clock, lambda: AmiPeer(**peer_options))
    client = make_client(endpoint, clock)
    client.start()
    endpoint.flush()
    assert client.connected
    return client, endpoint, clock


def send(client: AmiClient, endpoint: PeerEndpoint, action: actions.Action[Any]) -> Deferred[Any]:
    d = client.send(action)
    endpoint.flush()
    return d


# -- the protocol on a StringTransport


def test_login_sends_the_captured_bytes_and_completes_on_success() -> None:
    """Login goes out as the lab's client sent it and completes on `Response: Success`."""
    wire = Wire()
    d = wire.protocol.login(USERNAME, SECRET)
    assert wire.sent() == peer.SENT_LOGIN.replace(b"login-1", b"t-1")
    assert not d.called
    wire.feed(retag(peer.LOGIN_OK, "t-1"), peer.FULLY_BOOTED)
    assert result_of(d).message == "Authentication accepted"
    assert [e.name for e in wire.events] == ["FullyBooted"]


def test_login_waits_for_the_banner() -> None:
    """Nothing is sent before Asterisk greets; a banner split in two still counts."""
    wire = Wire(banner=False)
    d = wire.protocol.login(USERNAME, SECRET)
    wire.feed(b"Asterisk Call Manager/11")
    assert wire.sent() == b"" and not d.called
    wire.feed(b".0.0\r\n")
    assert wire.sent().startswith(b"Action: Login\r\n")


def test_refused_login_fails_with_a_typed_error_without_the_secret() -> None:
    """`Authentication failed` becomes AmiLoginFailed; the secret appears nowhere in it."""
    wire = Wire()
    d = wire.protocol.login(USERNAME, SECRET)
    wire.sent()
    wire.feed(retag(peer.LOGIN_FAILED, "t-1"))
    error = failure_of(d, AmiLoginFailed)
    assert error.message == "Authentication failed" and error.username == USERNAME
    assert SECRET not in str(error) and SECRET not in repr(error)


def test_login_times_out_on_a_silent_peer() -> None:
    """No banner within the login timeout: AmiTimeout, on the injected clock."""
    wire = Wire(banner=False)
    d = wire.protocol.login(USERNAME, SECRET, timeout=10)
    wire.clock.advance(9.9)
    assert not d.called
    wire.clock.advance(0.1)
    failure_of(d, AmiTimeout)
    wire.feed(peer.BANNER)  # too late: no Login goes out on a login that already failed
    assert wire.sent() == b""


def test_responses_are_matched_by_action_id_not_by_order() -> None:
    """Two pending actions answered in reverse order each get their own response."""
    wire = Wire()
    first = wire.protocol.send(actions.ping())
    second = wire.protocol.send(actions.getvar("SURVEY_ID", channel="Local/5550001@survey-phone-0000000b;1"))
    wire.feed(peer.getvar_response("t-2", "SURVEY_ID", "42"), retag(peer.PONG, "t-1"))
    assert result_of(second) == "42"
    assert result_of(first).get("Ping") == "Pong"


def test_list_action_completes_on_its_complete_event() -> None:
    """QueueStatus collects its items until EventList: Complete; other events pass through."""
    wire = Wire()
    d = wire.protocol.send(actions.queue_status("hotline-general"))
    items = [retag(f, "t-1") for f in peer.QUEUE_STATUS_WITH_CALLER]
    wire.feed(items[0], items[1], peer.CALLER_JOIN, items[2])
    assert not d.called
    wire.feed(items[3:])
    result = result_of(d)
    assert isinstance(result, ListResult)
    assert [e.name for e in result.events] == ["QueueParams", "QueueMember", "QueueEntry"]
    assert result.complete is not None and result.complete.get("ListItems") == "3"
    assert [e.name for e in wire.events] == ["QueueCallerJoin"]  # list items are not broadcast


def test_list_split_at_every_byte() -> None:
    """The same list, delivered one byte per read, completes identically."""
    wire = Wire()
    d = wire.protocol.send(actions.queue_status("hotline-general"))
    wire.drip([retag(f, "t-1") for f in peer.QUEUE_STATUS_WITH_CALLER])
    assert [e.get("Uniqueid") for e in result_of(d).events if e.name == "QueueEntry"] == [peer.WAITING_CALLER]


def test_list_cancelled_by_asterisk_fails() -> None:
    """A list closed with `EventList: Cancelled` fails as an action error."""
    wire = Wire()
    d = wire.protocol.send(actions.core_show_channels())
    wire.feed(peer.list_response("t-1", "Channels will follow"), b"Event: CoreShowChannelsComplete\r\nActionID: t-1\r\nEventList: Cancelled\r\n\r\n")
    failure_of(d, AmiActionError)


def test_originate_is_correlated_with_its_originate_response() -> None:
    """Async Originate completes on the OriginateResponse event that carries its ActionID."""
    wire = Wire()
    d = wire.protocol.send(actions.originate("Local/5550001@survey-phone", context="survey", exten="s", channel_id="survey-42-a"))
    wire.feed(retag(peer.ORIGINATE_QUEUED, "t-1"))
    assert not d.called
    wire.feed(retag(peer.ORIGINATE_ANSWERED, "t-1"))
    result = result_of(d)
    assert isinstance(result, OriginateResult)
    assert result.answered and result.reason == 4 and result.reason_text == "answered" and result.uniqueid == "survey-42-a"
    assert [e.name for e in wire.events] == ["OriginateResponse"]  # still a fact for subscribers


def test_originate_response_before_the_response_line() -> None:
    """An OriginateResponse that overtakes the action's own Response is kept until it comes."""
    wire = Wire()
    d = wire.protocol.send(actions.originate("Local/busy@survey-phone", context="survey", exten="s", timeout_ms=5000))
    wire.feed(retag(peer.ORIGINATE_BUSY, "t-1"))
    assert not d.called
    wire.feed(retag(peer.ORIGINATE_QUEUED, "t-1"))
    result = result_of(d)
    assert not result.answered and result.reason == 5 and result.reason_text == "busy" and result.uniqueid is None


def test_originate_without_outcome_times_out() -> None:
    """Accepted but never reported: AmiTimeout after the ring timeout plus the grace period."""
    wire = Wire()
    d = wire.protocol.send(actions.originate("Local/noanswer@survey-phone", context="survey", exten="s", timeout_ms=4000))
    wire.feed(retag(peer.ORIGINATE_QUEUED, "t-1"))
    wire.clock.advance(33.9)
    assert not d.called
    wire.clock.advance(0.1)
    error = failure_of(d, AmiTimeout)
    assert error.response_received and error.seconds == 34
    wire.feed(retag(peer.ORIGINATE_NO_ANSWER, "t-1"))  # too late: ignored by correlation
    assert [e.name for e in wire.events] == ["OriginateResponse"]


def test_error_response_fails_with_asterisks_message() -> None:
    """`Response: Error` carries Asterisk's reason to the caller."""
    wire = Wire()
    d = wire.protocol.send(actions.queue_add("hotline-general", "Local/agent2@agents/n", member_name="Agent Two"))
    wire.feed(retag(peer.QUEUE_ADD_DUPLICATE, "t-1"))
    error = failure_of(d, AmiActionError)
    assert error.message == "Unable to add interface: Already there" and error.action == "QueueAdd"


def test_unanswered_action_times_out_on_the_clock() -> None:
    """Every action has a timeout; a late reply afterwards is counted, not raised."""
    wire = Wire()
    d = wire.protocol.send(actions.hangup("Local/noanswer@survey-phone-00000013;1", 16))
    wire.clock.advance(9.99)
    assert not d.called
    wire.clock.advance(0.01)
    failure_of(d, AmiTimeout)
    wire.feed(retag(peer.HANGUP_OK, "t-1"))
    assert wire.protocol.unmatched_responses == 1 and wire.protocol.pending_count == 0


def test_cancelling_an_action_forgets_it() -> None:
    """A cancelled action no longer waits, and its timer is gone from the clock."""
    wire = Wire()
    d = wire.protocol.send(actions.ping())
    d.cancel()
    d.addErrback(lambda f: None)
    assert wire.protocol.pending_count == 0 and wire.clock.getDelayedCalls() == []


def test_every_pending_action_fails_on_disconnect() -> None:
    """Plain, half-received list and half-done Originate all fail with AmiDisconnected."""
    wire = Wire()
    plain = wire.protocol.send(actions.ping())
    listed = wire.protocol.send(actions.queue_status())
    originate = wire.protocol.send(actions.originate("Local/noanswer@survey-phone", context="survey", exten="s"))
    wire.feed(retag(peer.QUEUE_STATUS_IDLE[0], "t-2"), retag(peer.QUEUE_STATUS_IDLE[1], "t-2"), retag(peer.ORIGINATE_QUEUED, "t-3"))
    wire.lose()
    assert failure_of(plain, AmiDisconnected).response_received is False
    assert failure_of(listed, AmiDisconnected).response_received is True
    error = failure_of(originate, AmiDisconnected)
    assert error.response_received and error.action == "Originate"
    assert wire.clock.getDelayedCalls() == []


def test_peer_closing_mid_frame() -> None:
    """Half a frame then EOF: the whole frames before it count, the half is reported truncated."""
    wire = Wire()
    pending = wire.protocol.send(actions.ping())
    wire.feed(peer.CALLER_JOIN, peer.CALLER_LEAVE[:57])
    wire.lose()
    failure_of(pending, AmiDisconnected)
    assert [e.name for e in wire.events] == ["QueueCallerJoin"]
    assert [e.kind for e in wire.errors] == ["truncated"]


def test_garbage_costs_no_event() -> None:
    """Junk between events is reported as protocol errors; the events around it arrive."""
    wire = Wire()
    wire.feed(peer.CALLER_JOIN, peer.GARBAGE, peer.CALLER_LEAVE)
    assert [e.name for e in wire.events] == ["QueueCallerJoin", "QueueCallerLeave"]
    assert wire.errors and {e.kind for e in wire.errors} == {"not_a_message"}


def test_injection_is_refused_before_anything_is_written() -> None:
    """An encoding error fails the Deferred; no byte reaches the transport."""
    wire = Wire()
    action = actions.Action("QueuePause", (("Interface", "PJSIP/1001"), ("Reason", "x\r\nAction: Hangup")))
    failure_of(wire.protocol.send(action), ActionEncodingError)
    assert wire.sent() == b""


def test_keepalive_drops_a_silent_connection() -> None:
    """Ping every 20 s; no Pong within 10 s aborts the connection so it is re-made."""
    wire = Wire()
    wire.protocol.start_keepalive(20, 10)
    wire.clock.advance(20)
    assert wire.sent() == b"Action: Ping\r\nActionID: t-1\r\n\r\n"
    wire.feed(retag(peer.PONG, "t-1"))
    wire.clock.advance(20)
    assert wire.sent() == b"Action: Ping\r\nActionID: t-2\r\n\r\n"
    wire.clock.advance(10)
    assert wire.transport.disconnecting


# -- the client: ClientService, login in prepareConnection, backoff


def test_client_logs_in_and_round_trips_every_action() -> None:
    """After login every listed action reaches the peer and completes with its typed result."""
    client, endpoint, _ = connected_client()
    assert endpoint.peer.actions[0] == [("Action", "Login"), ("Username", USERNAME), ("Secret", SECRET), ("ActionID", "c-1")]
    assert result_of(send(client, endpoint, actions.queue_add("hotline-general", "Local/agent2@agents/n", member_name="Agent Two"))).message == "Added interface to queue"
    failure_of(send(client, endpoint, actions.queue_add("no-such-queue", "Local/agent2@agents/n")), AmiActionError)
    assert result_of(send(client, endpoint, actions.queue_pause("Local/agent1@agents/n", True, queue="hotline-general", reason="lunch"))).ok
    assert result_of(send(client, endpoint, actions.queue_remove("hotline-general", "Local/agent2@agents/n"))).ok
    assert [e.name for e in result_of(send(client, endpoint, actions.queue_status("hotline-general"))).events] == ["QueueParams", "QueueMember"]
    assert [e.name for e in result_of(send(client, endpoint, actions.queue_summary("hotline-general"))).events] == ["QueueSummary"]
    assert result_of(send(client, endpoint, actions.redirect("PJSIP/1001-00000001", "hotline-inbound", "s"))).message == "Redirect successful"
    assert result_of(send(client, endpoint, actions.hangup("Local/noanswer@survey-phone-00000013;1", 16))).message == "Channel Hungup"
    failure_of(send(client, endpoint, actions.hangup("Local/doesnotexist-0000;1")), AmiActionError)
    assert result_of(send(client, endpoint, actions.setvar("HOTLINE_TICKET", "2027-0001", channel="PJSIP/1001-00000001"))).message == "Variable Set"
    assert result_of(send(client, endpoint, actions.getvar("SURVEY_ID", channel="PJSIP/1001-00000001"))) == "42"
    assert result_of(send(client, endpoint, actions.originate("Local/5550001@survey-phone", context="survey", exten="s"))).answered


@pytest.mark.parametrize(
    "order, channel, reason",
    [
        ("response_first", "Local/5550001@survey-phone", "answered"),
        ("event_first", "Local/5550001@survey-phone", "answered"),
        ("response_first", "Local/busy@survey-phone", "busy"),
        ("event_first", "Local/noanswer@survey-phone", "no_answer"),
        ("response_first", "Local/5559999@survey-phone", "failed"),
    ],
)
def test_originate_outcomes_through_the_client(order: str, channel: str, reason: str) -> None:
    """Success, busy, no answer and failure arrive as OriginateResult, in either order."""
    client, endpoint, _ = connected_client(originate=order)
    result = result_of(send(client, endpoint, actions.originate(channel, context="survey", exten="s", timeout_ms=5000)))
    assert result.reason_text == reason and result.answered == (reason == "answered")


def test_events_reach_subscribers_and_a_broken_one_harms_nobody() -> None:
    """Every subscriber gets every event, even after another one raised."""
    clock = Clock()
    endpoint = PeerEndpoint(clock)
    client = make_client(endpoint, clock)
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    client.subscribe(broken)
    unsubscribe = client.subscribe(lambda e: seen.append(e.name))
    client.start()
    endpoint.flush()
    endpoint.peer.send(peer.CALLER_JOIN)
    endpoint.flush()
    assert seen == ["FullyBooted", "SuccessfulAuth", "QueueCallerJoin"]
    assert client.subscriber_errors == 3 and client.connected
    unsubscribe()
    endpoint.peer.send(peer.CALLER_LEAVE)
    endpoint.flush()
    assert seen[-1] == "QueueCallerJoin"


def test_failed_login_is_reported_and_retried_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    """A refused login is logged once per attempt (without the secret) and retried at 2, 4, 8 s."""
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    endpoint = PeerEndpoint(clock, lambda: AmiPeer(secret="the-right-one"))
    client = make_client(endpoint, clock)
    connections: list[bool] = []
    client.on_connection(connections.append)
    client.start()
    endpoint.flush()
    assert endpoint.attempts == 1 and not client.connected and endpoint.peer.closed
    assert client.last_error == "login refused: Authentication failed"
    clock.advance(1.9)
    assert endpoint.attempts == 1
    clock.advance(0.1)
    endpoint.flush()
    assert endpoint.attempts == 2
    clock.advance(3.9)
    assert endpoint.attempts == 2
    clock.advance(0.1)
    endpoint.flush()
    assert endpoint.attempts == 3 and client.login_failures == 3
    endpoint.make_peer = AmiPeer  # the administrator fixed the password
    clock.advance(8)
    endpoint.flush()
    assert client.connected and connections == [True] and client.reconnects == 0
    refused = [r for r in caplog.records if r.levelno == logging.ERROR and "refused login" in r.getMessage()]
    assert len(refused) == 3 and "'labuser'" in refused[0].getMessage() and "[ami] username and password" in refused[0].getMessage()
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    assert SECRET not in repr(client)


def test_reconnects_with_exponential_backoff_while_refused() -> None:
    """Refused connections are retried after 2, 4 and 8 s; then the client logs in."""
    clock = Clock()
    endpoint = PeerEndpoint(clock, refuse=3)
    client = make_client(endpoint, clock)
    client.start()
    times = [clock.seconds()]
    while not client.connected:
        clock.advance(0.5)
        if endpoint.attempts > len(times):
            times.append(clock.seconds())
        endpoint.flush()
    assert times == [0, 2, 6, 14]


def test_connection_lost_fails_pending_and_reconnects() -> None:
    """Losing the connection fails what was pending, tells listeners, and comes back."""
    client, endpoint, clock = connected_client()
    connections: list[bool] = []
    client.on_connection(connections.append)
    endpoint.peer.on_action = lambda name, fields, action_id: name == "QueueStatus"  # never answered
    pending = send(client, endpoint, actions.queue_status())
    endpoint.peer.close()
    endpoint.flush()
    failure_of(pending, AmiDisconnected)
    failure_of(client.send(actions.ping()), AmiNotConnected)
    assert connections == [False] and not client.connected
    clock.advance(2)
    endpoint.flush()
    assert connections == [False, True] and client.reconnects == 1 and len(endpoint.peers) == 2


def test_a_peer_closing_mid_frame_is_survived() -> None:
    """Asterisk dying in the middle of an event: the client reconnects and carries on."""
    client, endpoint, clock = connected_client()
    events: list[str] = []
    client.subscribe(lambda e: events.append(e.name))
    endpoint.peer.send(peer.CALLER_JOIN, peer.CALLER_LEAVE[:100])
    endpoint.peer.close()
    endpoint.flush()
    assert events == ["QueueCallerJoin"] and client.protocol_errors == 1
    clock.advance(2)
    endpoint.flush()
    assert client.connected


def test_missing_pongs_make_the_client_reconnect() -> None:
    """A peer that stops answering Ping is dropped after the ping timeout and re-dialled."""
    client, endpoint, clock = connected_client(pong=False)
    clock.advance(20)
    endpoint.flush()
    assert endpoint.peer.action_names()[-1] == "Ping" and client.connected
    clock.advance(10)
    endpoint.flush()
    assert not client.connected
    clock.advance(2)
    endpoint.flush()
    assert client.connected and len(endpoint.peers) == 2


def test_nothing_blocks_while_asterisk_is_away() -> None:
    """With Asterisk unreachable every call returns at once; only the clock drives retries."""
    clock = Clock()
    endpoint = PeerEndpoint(clock, refuse=10**6)
    client = make_client(endpoint, clock)
    client.start()
    assert endpoint.attempts == 1
    failure_of(client.send(actions.queue_pause("PJSIP/1001", reason="培训")), AmiNotConnected)
    waiting = client.when_connected()
    assert not waiting.called and len(clock.getDelayedCalls()) == 1
    stopped = client.stop()
    assert stopped.called and clock.getDelayedCalls() == []
    failure_of(waiting, AmiNotConnected)


def test_stop_closes_and_stops_reconnecting() -> None:
    """stop() closes the connection, fails pending actions, and no retry follows."""
    client, endpoint, clock = connected_client()
    endpoint.peer.on_action = lambda name, fields, action_id: True
    pending = send(client, endpoint, actions.ping())
    stopped = client.stop()
    endpoint.flush()
    assert stopped.called and endpoint.peer.closed
    failure_of(pending, AmiDisconnected)
    clock.advance(600)
    endpoint.flush()
    assert endpoint.attempts == 1


def test_stop_while_logging_in() -> None:
    """Stopping before the banner arrived cancels the login and closes the connection quietly."""
    clock = Clock()
    endpoint = PeerEndpoint(clock)
    client = make_client(endpoint, clock)
    client.start()
    stopped = client.stop()
    endpoint.flush()
    assert stopped.called and client.login_failures == 0 and not client.connected
    clock.advance(600)
    assert endpoint.attempts == 1


# -- end to end over real TCP, with a private reactor driven by a bounded loop


class _ErrorLog:
    """Collects Twisted log events that carry a failure (e.g. an automat NoTransition)."""

    def __init__(self) -> None:
        self.failures: list[Any] = []

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("log_failure") is not None or event.get("isError"):
            self.failures.append(event)


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_end_to_end_refused_login_then_queue_status_over_tcp() -> None:
    """Over a socket: a wrong secret is refused and retried, then login, QueueStatus and events."""
    with peer.private_reactor() as reactor:
        _refused_login_then_queue_status(reactor)


def _refused_login_then_queue_status(reactor: Any) -> None:
    errors = _ErrorLog()
    globalLogPublisher.addObserver(errors)
    secrets = ["wrong-secret-at-first"]
    factory = Factory.forProtocol(lambda: AmiPeer(secret=secrets[0], after_login=(peer.FULLY_BOOTED, peer.CALLER_JOIN)))
    listening = reactor.listenTCP(0, factory, interface="127.0.0.1")
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", listening.getHost().port)
    client = make_client(endpoint, reactor, retry_policy=backoffPolicy(initialDelay=0.02, factor=2.0, maxDelay=0.2, jitter=lambda: 0.0))
    events: list[str] = []
    client.subscribe(lambda e: events.append(e.name))
    try:
        client.start()
        iterate_until(reactor, lambda: client.login_failures >= 2)
        secrets[0] = SECRET
        run_until(reactor, client.when_connected())
        result = run_until(reactor, client.send(actions.queue_status("hotline-general")))
        assert [e.name for e in result.events] == ["QueueParams", "QueueMember"]
        assert events == ["FullyBooted", "QueueCallerJoin"]
        run_until(reactor, client.stop())
    finally:
        globalLogPublisher.removeObserver(errors)
        run_until(reactor, maybeDeferred(listening.stopListening))
    assert errors.failures == []


def test_end_to_end_reconnects_when_asterisk_comes_back() -> None:
    """Over TCP: retries with backoff while the reactor keeps working, logs in once Asterisk listens."""
    with peer.private_reactor() as reactor:
        _reconnects_when_asterisk_comes_back(reactor)


def _reconnects_when_asterisk_comes_back(reactor: Any) -> None:
    port = _closed_port()
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
    client = make_client(endpoint, reactor, retry_policy=backoffPolicy(initialDelay=0.01, factor=2.0, maxDelay=0.1, jitter=lambda: 0.0))
    attempts: list[float] = []
    original = endpoint.connect

    def counting(factory: Any) -> Any:
        attempts.append(reactor.seconds())
        return original(factory)

    endpoint.connect = counting  # type: ignore[method-assign]
    ticks = [0]
    ticker = LoopingCall(lambda: ticks.__setitem__(0, ticks[0] + 1))
    ticker.clock = reactor
    ticker.start(0.01)
    client.start()
    iterate_until(reactor, lambda: len(attempts) >= 3)
    assert not client.connected and ticks[0] > 0
    listening = reactor.listenTCP(port, Factory.forProtocol(AmiPeer), interface="127.0.0.1")
    try:
        run_until(reactor, client.when_connected())
        pong = run_until(reactor, client.send(actions.ping()))
        assert pong.get("Ping") == "Pong" and client.reconnects == 0
        run_until(reactor, client.stop())
    finally:
        ticker.stop()
        run_until(reactor, maybeDeferred(listening.stopListening))


def test_a_user_without_the_write_class_gets_asterisks_permission_denied() -> None:
    """ami_channels.txt, user labcall (write=call,agent,originate): CoreShowChannels is
    answered with the captured `Permission denied` frame and fails as AmiActionError;
    Status (call) still runs; with `reporting` the list comes."""
    assert retag(peer.PERMISSION_DENIED, "coreshow-1") == peer.CORESHOW_DENIED
    client, endpoint, _ = connected_client(write=["call", "agent", "originate"])
    error = failure_of(send(client, endpoint, actions.core_show_channels()), AmiActionError)
    assert error.message == "Permission denied" and error.action == "CoreShowChannels"
    assert list(result_of(send(client, endpoint, actions.status())).events) == []
    client, endpoint, _ = connected_client(write=["call", "agent", "originate", "reporting"])
    assert list(result_of(send(client, endpoint, actions.core_show_channels())).events) == []
