"""The AMI client on Twisted: one logged-in connection to Asterisk, kept alive and re-made.

`AmiProtocol` feeds bytes to the sans-IO decoder and correlates what comes back with what we
sent, by ActionID, into pending Deferreds: a plain action completes at its Response, a list
action (QueueStatus, CoreShowChannels …) at the event that says `EventList: Complete`, an
Async Originate at its `OriginateResponse` event (which may even arrive before the Response
line). Every pending action has a timeout on the injected clock and fails with
`AmiDisconnected` when the connection goes, so no caller ever waits for ever.

`AmiClient` keeps the connection: Twisted's `ClientService` with `backoffPolicy` reconnects,
login happens in `prepareConnection` (a refused login is reported and retried with backoff;
the secret is never logged), a Ping every `ping_interval` seconds proves the link, and
events go to subscribers. Nothing here blocks or imports the global reactor.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.interfaces import IAddress, IDelayedCall, IProtocol, IProtocolFactory, IReactorTime, IStreamClientEndpoint, ITransport
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure
from zope.interface import implementer

from hotline.ami import actions
from hotline.ami.actions import LIST, ORIGINATE, RESPONSE, Action, ListResult, OriginateResult, originate_result
from hotline.ami.codec import (
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_MESSAGE,
    ActionEncodingError,
    AmiDecoder,
    AmiProtocolError,
    Banner,
    Event,
    Response,
    encode_action,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_ACTION_TIMEOUT = 10.0
DEFAULT_LOGIN_TIMEOUT = 10.0
DEFAULT_PING_INTERVAL = 20.0
DEFAULT_PING_TIMEOUT = 10.0


# -- errors: one tree, so callers can catch "AMI trouble" or one precise case


class AmiError(Exception):
    """Something went wrong talking to Asterisk's manager interface."""


class AmiNotConnected(AmiError):
    """No logged-in connection right now; the action was not sent."""


class AmiDisconnected(AmiError):
    """The connection went while the action was pending.

    `response_received` tells an Originate that Asterisk had accepted (the call may still be
    placed) from one that was maybe never read.
    """

    def __init__(self, action: str, action_id: str = "", response_received: bool = False) -> None:
        self.action, self.action_id, self.response_received = action, action_id, response_received
        super().__init__(f"AMI connection lost while {action} ({action_id or 'no id'}) was pending")


class AmiTimeout(AmiError):
    """No completion within the action's timeout; late replies are ignored."""

    def __init__(self, action: str, action_id: str, seconds: float, response_received: bool = False) -> None:
        self.action, self.action_id, self.seconds, self.response_received = action, action_id, seconds, response_received
        what = "its closing event" if response_received else "a response"
        super().__init__(f"AMI {action} ({action_id}): no {what} within {seconds:g} s")


class AmiActionError(AmiError):
    """Asterisk answered `Response: Error` (or cancelled a list); `message` is its reason."""

    def __init__(self, action: str, action_id: str, message: str, response: Response | None = None) -> None:
        self.action, self.action_id, self.message, self.response = action, action_id, message, response
        super().__init__(f"AMI {action} refused: {message or 'no reason given'}")


class AmiLoginFailed(AmiError):
    """Asterisk refused our username/secret (the secret is never part of the message)."""

    def __init__(self, username: str, message: str) -> None:
        self.username, self.message = username, message
        super().__init__(f"AMI login as {username!r} refused: {message or 'no reason given'}")


# -- the protocol


class _Pending:
    __slots__ = ("action", "action_id", "complete", "deferred", "event", "events", "response", "timer")

    def __init__(self, action: Action[Any], action_id: str, deferred: Deferred[Any]) -> None:
        self.action, self.action_id, self.deferred = action, action_id, deferred
        self.response: Response | None = None
        self.events: list[Event] = []
        self.complete: Event | None = None
        self.event: Event | None = None
        self.timer: IDelayedCall | None = None


class AmiProtocol(Protocol):
    """One AMI connection: framing, correlation, timeouts, keep-alive, event hand-off."""

    def __init__(
        self,
        clock: IReactorTime,
        action_ids: Callable[[], str],
        *,
        on_event: Callable[[Event], None] = lambda event: None,
        on_protocol_error: Callable[[AmiProtocolError], None] | None = None,
        default_timeout: float = DEFAULT_ACTION_TIMEOUT,
        max_line: int = DEFAULT_MAX_LINE,
        max_message: int = DEFAULT_MAX_MESSAGE,
    ) -> None:
        self.clock = clock
        self._next_id = action_ids
        self._on_event = on_event
        self._on_protocol_error = on_protocol_error
        self.default_timeout = default_timeout
        self.decoder = AmiDecoder(max_line=max_line, max_message=max_message)
        self.connected = False
        self.accepted = False
        self.banner: Banner | None = None
        self._banner_waiters: list[Deferred[Banner]] = []
        self._pending: dict[str, _Pending] = {}
        self._keepalive: LoopingCall | None = None
        self._ping_outstanding = False
        self._gate: _Gate | None = None
        self.on_lost: Callable[[Failure], None] | None = None
        self.unmatched_responses = 0

    @property
    def ami_protocol(self) -> AmiProtocol:
        """Reachable through ClientService's protocol proxy (which forwards attributes)."""
        return self

    # Twisted hooks

    def connectionMade(self) -> None:
        self.connected = True

    def dataReceived(self, data: bytes) -> None:
        for frame in self.decoder.feed(data):
            if isinstance(frame, Event):
                self._event_received(frame)
            elif isinstance(frame, Response):
                self._response_received(frame)
            elif isinstance(frame, Banner):
                self.banner = frame
                waiters, self._banner_waiters = self._banner_waiters, []
                for waiter in waiters:
                    waiter.callback(frame)
            else:
                self._protocol_error(frame)
            if not self.connected:
                return  # a handler dropped the connection: the rest is moot

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.connected = False
        leftover = self.decoder.close()
        if leftover is not None:
            self._protocol_error(leftover)
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        waiters, self._banner_waiters = self._banner_waiters, []
        for waiter in waiters:
            waiter.errback(AmiDisconnected("the banner"))
        pending, self._pending = self._pending, {}
        for item in pending.values():
            if item.timer is not None and item.timer.active():
                item.timer.cancel()
            item.deferred.errback(AmiDisconnected(item.action.name, item.action_id, item.response is not None))
        if self.accepted and self.on_lost is not None:
            self.on_lost(reason)

    # sending

    def send(self, action: Action[T], timeout: float | None = None) -> Deferred[T]:
        """Send `action`; the Deferred fires with `action.parse(result)` or fails with an AmiError."""
        if not self.connected:
            return fail(AmiNotConnected(f"cannot send {action.name}: not connected"))
        action_id = self._next_id()
        try:
            data = encode_action(action.name, action.fields, action_id)
        except ActionEncodingError as exc:
            return fail(exc)
        deferred: Deferred[T] = Deferred(lambda d: self._forget(action_id))
        pending = _Pending(action, action_id, deferred)
        seconds = timeout if timeout is not None else action.timeout if action.timeout is not None else self.default_timeout
        pending.timer = self.clock.callLater(seconds, self._expire, action_id, seconds)
        self._pending[action_id] = pending
        self.transport.write(data)  # type: ignore[union-attr]
        return deferred

    def when_banner(self) -> Deferred[Banner]:
        if self.banner is not None:
            return succeed(self.banner)
        if not self.connected:
            return fail(AmiDisconnected("the banner"))
        waiter: Deferred[Banner] = Deferred()
        self._banner_waiters.append(waiter)
        return waiter

    def login(self, username: str, secret: str, timeout: float = DEFAULT_LOGIN_TIMEOUT) -> Deferred[Response]:
        """Wait for the banner, then Login; fails with AmiLoginFailed, AmiTimeout or AmiDisconnected.

        Cancelling the result drops the connection (ClientService does so when stopped).
        """
        action = actions.login(username, secret)

        def cancel(_: Deferred[Response]) -> None:
            if timer.active():
                timer.cancel()
            self.abort()

        result: Deferred[Response] = Deferred(cancel)
        timer = self.clock.callLater(timeout, self._login_expired, result, timeout)

        def send_login(_: Banner) -> Deferred[Response] | None:
            if result.called:
                return None  # timed out or cancelled while waiting for the banner
            return self.send(action, timeout=max(0.001, timer.getTime() - self.clock.seconds()))

        def done(outcome: Response | Failure | None) -> None:
            if timer.active():
                timer.cancel()
            if result.called:
                return
            if outcome is None:
                return
            if isinstance(outcome, Failure):
                if isinstance(outcome.value, AmiActionError):
                    result.errback(AmiLoginFailed(username, outcome.value.message))
                else:
                    result.errback(outcome)
            else:
                result.callback(outcome)

        self.when_banner().addCallback(send_login).addBoth(done)
        return result

    def _login_expired(self, result: Deferred[Response], timeout: float) -> None:
        if not result.called:
            result.errback(AmiTimeout("Login", "", timeout))

    def accept(self) -> None:
        """Login succeeded: from now on a lost connection is ClientService's to handle."""
        self.accepted = True
        if self._gate is not None:
            self._gate.open = True

    def start_keepalive(self, interval: float = DEFAULT_PING_INTERVAL, timeout: float = DEFAULT_PING_TIMEOUT) -> None:
        """Ping every `interval` s; no Pong within `timeout` s drops the connection (and so
        reconnects): a half-dead TCP link otherwise looks healthy until the next action."""
        self._keepalive = LoopingCall(self._ping, timeout)
        self._keepalive.clock = self.clock
        self._keepalive.start(interval, now=False)

    def abort(self) -> None:
        if self.transport is not None and self.connected:
            abort = getattr(self.transport, "abortConnection", None)
            (abort or self.transport.loseConnection)()

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    # internals

    def _ping(self, timeout: float) -> None:
        if self._ping_outstanding or not self.connected:
            return
        self._ping_outstanding = True

        def answered(_: object) -> None:
            self._ping_outstanding = False

        def unanswered(failure: Failure) -> None:
            self._ping_outstanding = False
            if isinstance(failure.value, AmiTimeout):
                log.warning("AMI: no answer to Ping within %g s; dropping the connection to reconnect", timeout)
                self.abort()
            elif not isinstance(failure.value, AmiDisconnected | AmiNotConnected):
                log.warning("AMI Ping failed: %s", failure.getErrorMessage())

        self.send(actions.ping(), timeout=timeout).addCallbacks(answered, unanswered)

    def _forget(self, action_id: str) -> None:
        pending = self._pending.pop(action_id, None)
        if pending is not None and pending.timer is not None and pending.timer.active():
            pending.timer.cancel()

    def _expire(self, action_id: str, seconds: float) -> None:
        pending = self._pending.pop(action_id, None)
        if pending is not None:
            pending.deferred.errback(AmiTimeout(pending.action.name, action_id, seconds, pending.response is not None))

    def _finish(self, pending: _Pending, result: Response | ListResult | OriginateResult) -> None:
        self._pending.pop(pending.action_id, None)
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        try:
            value = pending.action.parse(result)
        except Exception:  # noqa: BLE001 - a parser bug fails this action only
            pending.deferred.errback()  # the current exception, with its traceback
            return
        pending.deferred.callback(value)

    def _refuse(self, pending: _Pending, error: AmiError) -> None:
        self._pending.pop(pending.action_id, None)
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        pending.deferred.errback(error)

    def _response_received(self, response: Response) -> None:
        pending = self._pending.get(response.action_id)
        if pending is None:
            # Late (after a timeout) or not ours: nothing waits for it.
            self.unmatched_responses += 1
            log.debug("AMI response for no pending action: %r", response)
            return
        if not response.ok:
            self._refuse(pending, AmiActionError(pending.action.name, pending.action_id, response.message, response))
            return
        completion = pending.action.completion
        if completion == RESPONSE:
            self._finish(pending, response)
        elif completion == LIST:
            pending.response = response
            if pending.complete is not None or response.get("EventList").lower() != "start":
                self._finish(pending, ListResult(response, tuple(pending.events), pending.complete))
        elif completion == ORIGINATE:
            pending.response = response
            if pending.event is not None:
                self._finish(pending, originate_result(response, pending.event))

    def _event_received(self, event: Event) -> None:
        if self._pending:
            action_id = event.get("ActionID")
            if action_id:
                pending = self._pending.get(action_id)
                if pending is not None and self._offer(pending, event):
                    return
        self._on_event(event)

    def _offer(self, pending: _Pending, event: Event) -> bool:
        """Give an event carrying a pending ActionID to that action; True if it took it."""
        completion = pending.action.completion
        if completion == LIST:
            marker = event.get("EventList").lower()
            if marker == "complete":
                pending.complete = event
                if pending.response is not None:
                    self._finish(pending, ListResult(pending.response, tuple(pending.events), event))
            elif marker == "cancelled":
                self._refuse(pending, AmiActionError(pending.action.name, pending.action_id, event.get("Message") or "list cancelled"))
            else:
                pending.events.append(event)
            return True
        if completion == ORIGINATE and event.name == "OriginateResponse":
            pending.event = event
            if pending.response is not None:
                self._finish(pending, originate_result(pending.response, event))
            return False  # still a fact about a call: subscribers see it too
        return False

    def _protocol_error(self, error: AmiProtocolError) -> None:
        if self._on_protocol_error is not None:
            self._on_protocol_error(error)
        else:
            log.warning("AMI: skipped bytes that are not AMI: %s", error)


# -- ClientService plumbing


@implementer(IProtocol)
class _Gate:
    """Shields ClientService from connections it never accepted.

    ClientService (Twisted 26) has no transition for a connection lost while it is still
    connecting or already waiting to retry: a refused login, followed by Asterisk closing the
    socket, makes it raise `NoTransition` from connectionLost. Until login succeeds the gate
    routes connectionLost to our protocol only; the failed login itself reaches ClientService
    through prepareConnection, which is what schedules the retry with backoff.
    """

    def __init__(self, inner: IProtocol) -> None:
        self.inner = inner
        self.ami: AmiProtocol = inner.ami_protocol  # type: ignore[attr-defined]
        self.ami._gate = self
        self.open = False

    def makeConnection(self, transport: ITransport) -> None:
        self.inner.makeConnection(transport)

    def connectionMade(self) -> None:  # pragma: no cover - makeConnection calls the inner one
        self.inner.connectionMade()

    def dataReceived(self, data: bytes) -> None:
        self.inner.dataReceived(data)

    def connectionLost(self, reason: Failure) -> None:
        if self.open:
            self.inner.connectionLost(reason)
        else:
            self.ami.connectionLost(reason)


@implementer(IProtocolFactory)
class _GateFactory:
    def __init__(self, factory: IProtocolFactory) -> None:
        self.factory = factory

    def buildProtocol(self, addr: IAddress) -> IProtocol | None:
        inner = self.factory.buildProtocol(addr)
        return None if inner is None else _Gate(inner)

    def doStart(self) -> None:
        self.factory.doStart()

    def doStop(self) -> None:
        self.factory.doStop()


@implementer(IStreamClientEndpoint)
class _GatedEndpoint:
    def __init__(self, endpoint: IStreamClientEndpoint, address: str) -> None:
        self.endpoint, self.address = endpoint, address

    def connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        connecting: Deferred[Any] = self.endpoint.connect(_GateFactory(factory))
        return connecting.addCallback(lambda gate: gate.inner)

    def __repr__(self) -> str:
        return f"<AMI endpoint {self.address}>"


class _AmiFactory(Factory):
    noisy = False

    def __init__(self, client: AmiClient) -> None:
        self.client = client

    def buildProtocol(self, addr: IAddress | None) -> AmiProtocol:
        client = self.client
        protocol = AmiProtocol(
            client.clock,
            client.next_action_id,
            on_event=client._deliver,
            on_protocol_error=client._protocol_error,
            default_timeout=client.action_timeout,
            max_line=client.max_line,
            max_message=client.max_message,
        )
        protocol.factory = self
        return protocol


class AmiClient:
    """One logged-in AMI connection, re-made with exponential backoff whenever it is lost.

    Subscribers get every event that is not an item of one of our list actions; connection
    listeners hear True after each successful login and False when that connection goes.
    """

    def __init__(
        self,
        clock: IReactorTime,
        endpoint: IStreamClientEndpoint,
        username: str,
        secret: str,
        *,
        address: str = "",
        retry_policy: Callable[[int], float] | None = None,
        action_timeout: float = DEFAULT_ACTION_TIMEOUT,
        login_timeout: float = DEFAULT_LOGIN_TIMEOUT,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        ping_timeout: float = DEFAULT_PING_TIMEOUT,
        action_ids: Iterator[str] | None = None,
        max_line: int = DEFAULT_MAX_LINE,
        max_message: int = DEFAULT_MAX_MESSAGE,
    ) -> None:
        self.clock = clock
        self.username = username
        self._secret = secret
        self.address = address or repr(endpoint)
        self.action_timeout = action_timeout
        self.login_timeout = login_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_line, self.max_message = max_line, max_message
        self._ids = action_ids or (f"hotline-{n}" for n in itertools.count(1))
        self._subscribers: list[Callable[[Event], None]] = []
        self._listeners: list[Callable[[bool], None]] = []
        self._connected_waiters: list[Deferred[AmiClient]] = []
        self._protocol: AmiProtocol | None = None
        self._stopping = False
        self._service = ClientService(
            _GatedEndpoint(endpoint, self.address),
            _AmiFactory(self),
            retryPolicy=retry_policy or backoffPolicy(initialDelay=1.0, maxDelay=60.0, factor=2.0),
            clock=clock,
            prepareConnection=self._prepare,
        )
        #: Figures for metrics and the desk's health line.
        self.logins = 0
        self.reconnects = 0
        self.login_failures = 0
        self.protocol_errors = 0
        self.events_received = 0
        self.subscriber_errors = 0
        self.last_error = ""

    def __repr__(self) -> str:
        return f"<AmiClient {self.username}@{self.address} {'connected' if self.connected else 'disconnected'}>"

    # lifecycle

    def start(self) -> None:
        self._stopping = False
        self._service.startService()

    def stop(self) -> Deferred[None]:
        """Stop reconnecting and close the connection; pending actions fail with AmiDisconnected."""
        self._stopping = True
        waiters, self._connected_waiters = self._connected_waiters, []
        for waiter in waiters:
            waiter.errback(AmiNotConnected("AMI client stopped"))
        if not self._service.running:
            return succeed(None)
        return self._service.stopService()

    @property
    def connected(self) -> bool:
        return self._protocol is not None and bool(self._protocol.connected)

    @property
    def protocol(self) -> AmiProtocol | None:
        return self._protocol

    def when_connected(self) -> Deferred[AmiClient]:
        """Fires with the client once it is logged in (at once if it is)."""
        if self.connected:
            return succeed(self)
        waiter: Deferred[AmiClient] = Deferred()
        self._connected_waiters.append(waiter)
        return waiter

    # use

    def send(self, action: Action[T], timeout: float | None = None) -> Deferred[T]:
        """Send on the current connection; fails at once with AmiNotConnected if there is none.

        Nothing is queued while Asterisk is away: a pause or a callback that cannot be sent now
        should be reported now, not replayed minutes later.
        """
        protocol = self._protocol
        if protocol is None or not protocol.connected:
            return fail(AmiNotConnected(f"AMI is not connected ({self.address}); {action.name} not sent"))
        return protocol.send(action, timeout)

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """`callback(event)` for every event; returns a function that unsubscribes it."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def on_connection(self, callback: Callable[[bool], None]) -> Callable[[], None]:
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def next_action_id(self) -> str:
        return next(self._ids)

    # ClientService hooks

    def _prepare(self, proxy: IProtocol) -> Deferred[Response]:
        protocol: AmiProtocol = proxy.ami_protocol  # type: ignore[attr-defined]
        d = protocol.login(self.username, self._secret, self.login_timeout)

        def logged_in(response: Response) -> Response:
            protocol.accept()
            protocol.on_lost = lambda reason: self._lost(protocol, reason)
            protocol.start_keepalive(self.ping_interval, self.ping_timeout)
            self._protocol = protocol
            self.logins += 1
            if self.logins > 1:
                self.reconnects += 1
            self.last_error = ""
            version = protocol.banner.version if protocol.banner else "?"
            log.info("AMI: logged in to %s as %s (Asterisk Call Manager %s)", self.address, self.username, version)
            self._notify(True)
            waiters, self._connected_waiters = self._connected_waiters, []
            for waiter in waiters:
                waiter.callback(self)
            return response

        def refused(failure: Failure) -> Failure:
            protocol.abort()
            if isinstance(failure.value, CancelledError):
                return failure  # stopped while logging in: nothing to report
            self.login_failures += 1
            if isinstance(failure.value, AmiLoginFailed):
                self.last_error = f"login refused: {failure.value.message}"
                log.error(
                    "AMI: Asterisk at %s refused login as %r (%s); check [ami] username and password (or HOTLINE_AMI_PASSWORD); retrying with backoff",
                    self.address,
                    self.username,
                    failure.value.message or "no reason given",
                )
            else:
                self.last_error = f"login failed: {failure.getErrorMessage()}"
                log.warning("AMI: login to %s did not complete (%s); retrying with backoff", self.address, failure.getErrorMessage())
            return failure

        return d.addCallbacks(logged_in, refused)

    def _lost(self, protocol: AmiProtocol, reason: Failure) -> None:
        if self._protocol is protocol:
            self._protocol = None
        if self._stopping:
            log.info("AMI: disconnected from %s (stopping)", self.address)
        else:
            self.last_error = f"connection lost: {reason.getErrorMessage()}"
            log.warning("AMI: connection to %s lost (%s); reconnecting with backoff", self.address, reason.getErrorMessage())
        self._notify(False)

    def _notify(self, connected: bool) -> None:
        for listener in list(self._listeners):
            try:
                listener(connected)
            except Exception:  # one broken listener must not stop the others
                log.exception("AMI connection listener %r failed", listener)

    def _deliver(self, event: Event) -> None:
        self.events_received += 1
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:  # a subscriber bug must not cost the connection
                self.subscriber_errors += 1
                log.exception("AMI event subscriber %r failed on %s", subscriber, event.name)

    def _protocol_error(self, error: AmiProtocolError) -> None:
        self.protocol_errors += 1
        # Garbage can come in floods: say it early, then only now and then.
        if self.protocol_errors <= 10 or self.protocol_errors % 1000 == 0:
            log.warning("AMI: skipped bytes from %s that are not AMI (%d so far): %s", self.address, self.protocol_errors, error)
