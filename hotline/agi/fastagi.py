"""The FastAGI server: Asterisk connects (`AGI(agi://host:port/<flow>?…)`), sends the agi_*
header block, and our handler (the IVR runner) drives the call through a `FastAgiChannel`.

Rules the real Asterisk imposes (tests/fixtures/asterisk/README.md), and how we keep them:
- One command at a time. res_agi does not pipeline, and a command sent while a prompt plays
  aborts that prompt *without a reply*. Commands wait in a queue until the previous reply.
- `HANGUP` is unsolicited. While idle it is remembered, so the next command raises `Hangup`
  at once without writing; during a command Asterisk first answers `result=-1`, which is a
  `Hangup` already. 511 (dead channel) and a lost connection are `Hangup` too.
- Asterisk keeps the channel in AGI until *we* close. When the handler returns or raises,
  the connection is closed; a hangup is normal control flow, anything else is logged with
  the call's uniqueid and counted.
- A peer that never finishes its header is cut off after `header_timeout` seconds, measured
  on the injected clock.

Parsing and command formatting live in `hotline.agi.codec`; this module only moves bytes, keeps
time, and maps replies to the Channel's results.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from twisted.internet import tcp
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure

from hotline.agi import codec
from hotline.agi.channel import CallInfo, Channel, CommandRejected, Hangup, RecordResult
from hotline.agi.codec import AgiDecoder, HangupNotice, ProtocolError, Reply
from hotline.agi.directwrite import DirectWriter
from hotline.agi.driver import CallTask, Pending
from hotline.agi.loopmetrics import LoopHistogram
from hotline.config import FastAgiConfig

log = logging.getLogger(__name__)

Handler = Callable[[Channel], Awaitable[None]]

DEFAULT_HEADER_TIMEOUT = 10.0
#: Asterisk may open hundreds of sessions in a burst (README: 500 calls with media).
LISTEN_BACKLOG = 1024

#: The only values of hotline_agi_errors_total{kind}.
ERROR_KINDS = (
    "header_timeout",  # connected, but no complete header in time
    "header_incomplete",  # the peer closed before the header ended
    "protocol",  # malformed or over-long input, a reply nobody asked for
    "rejected",  # 510/520: we sent a command Asterisk does not accept (our bug)
    "handler",  # the flow raised something other than Hangup
)
#: Channel operations, the only values of hotline_agi_command_seconds{command}.
OPERATIONS = ("answer", "stream_file", "get_data", "wait_for_digit", "say_digits", "say_number", "record_file", "get_variable", "set_variable", "exec", "verbose", "hangup")


class AgiMetrics:
    """The FastAGI server's metrics, registered in the registry given (never the global one).

    What changes per command or per connection is kept without prometheus_client's locks (all
    of it happens on the reactor thread): the command timings in a `LoopHistogram`, the open
    sessions as a plain count the gauge reads when scraped."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        #: Connections open now; read by the gauge at scrape time.
        self.active = 0
        self.sessions_active = Gauge("hotline_agi_sessions_active", "FastAGI connections open (header being read or call being served)", registry=registry)
        self.sessions_active.set_function(lambda: self.active)
        self.sessions_total = Counter("hotline_agi_sessions_total", "FastAGI sessions whose header was read and whose flow was started", registry=registry)
        self.errors = Counter("hotline_agi_errors_total", "FastAGI problems by kind", ["kind"], registry=registry)
        self.protocol_errors = Counter("hotline_agi_protocol_errors_total", "FastAGI peers that sent something that is not AGI (scanners, misdirected clients, broken proxies)", registry=registry)
        self.command_seconds = LoopHistogram(
            "hotline_agi_command_seconds",
            "Time from writing an AGI command to its reply (prompts and recordings included)",
            "command",
            OPERATIONS,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=registry,
        )
        for kind in ERROR_KINDS:
            self.errors.labels(kind)
        #: operation → its histogram's observe function.
        self.command_timer = {operation: self.command_seconds.observer(operation) for operation in OPERATIONS}

    def error(self, kind: str) -> None:
        assert kind in ERROR_KINDS, kind
        self.errors.labels(kind).inc()


class _Command(Pending):
    """One AGI command line, and the awaitable its reply arrives through.

    Not a Deferred: a call makes thousands of these, and each reply resumes the flow
    directly (`hotline.agi.driver.CallTask`) instead of through a Deferred's callback chain
    and `Deferred.fromCoroutine`'s machinery, which cost as much as the rest of a command."""

    __slots__ = ("error", "line", "operation", "reply", "started")

    def __init__(self, operation: str, line: bytes) -> None:
        self.operation, self.line = operation, line
        self.started = 0.0
        self.done = False
        self.reply: Reply | None = None
        self.error: BaseException | None = None
        #: Called once the reply (or the error) is in: the task waiting for it.
        self.resume: Callable[[], None] | None = None

    def succeed(self, reply: Reply) -> None:
        self.reply = reply
        self._settle()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self._settle()

    def _settle(self) -> None:
        self.done = True
        resume, self.resume = self.resume, None
        if resume is not None:
            resume()

    def __await__(self) -> Generator[Any, Any, Reply]:
        if not self.done:
            sent = yield self
            if not self.done:
                if sent is not self:
                    raise RuntimeError("a FastAGI command was resumed before its reply")
                # Driven by Deferred.fromCoroutine, which hands back what is not a Deferred
                # (a test sending two commands at once does this): wait on a Deferred.
                waiter: Deferred[None] = Deferred()
                self.resume = lambda: waiter.callback(None)
                yield from waiter
        if self.error is not None:
            raise self.error
        assert self.reply is not None
        return self.reply


def _again(reason: Exception) -> Exception:
    """A fresh exception like `reason`, so that each failed command has its own traceback."""
    return type(reason)(*reason.args)


class FastAgiChannel:
    """`hotline.agi.channel.Channel` over one FastAGI connection.

    Built by `FastAgiProtocol` once the header is read; flows only see the Channel methods.
    """

    def __init__(self, info: CallInfo, protocol: FastAgiProtocol) -> None:
        self.info = info
        self._protocol = protocol
        self._queue: deque[_Command] = deque()
        self._pending: _Command | None = None
        #: Why no command may be sent any more (Hangup or ProtocolError); None while alive.
        self._ended: Exception | None = None

    @property
    def hung_up(self) -> bool:
        """True once the call is over for us (HANGUP, -1, 511, lost connection, our HANGUP):
        every further command raises without being sent."""
        return self._ended is not None

    # -- the Channel operations

    async def answer(self) -> None:
        await self._command("answer", codec.format_answer())

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        return codec.digit_result(await self._command("stream_file", codec.format_stream_file(name, escape_digits)))

    async def get_data(self, name: str, timeout_ms: int = 5000, max_digits: int = 20) -> tuple[str, bool]:
        return codec.get_data_result(await self._command("get_data", codec.format_get_data(name, timeout_ms, max_digits)))

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        return codec.digit_result(await self._command("wait_for_digit", codec.format_wait_for_digit(timeout_ms)))

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        return codec.digit_result(await self._command("say_digits", codec.format_say_digits(digits, escape_digits)))

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        return codec.digit_result(await self._command("say_number", codec.format_say_number(number, escape_digits)))

    async def record_file(self, name: str, fmt: str = "wav", escape_digits: str = "#", timeout_ms: int = 120_000, beep: bool = True, silence_seconds: int | None = 5) -> RecordResult:
        line = codec.format_record_file(name, fmt, escape_digits, timeout_ms, beep, silence_seconds)
        return codec.record_result(await self._command("record_file", line))

    async def get_variable(self, name: str) -> str | None:
        return codec.variable_result(await self._command("get_variable", codec.format_get_variable(name)))

    async def set_variable(self, name: str, value: str) -> None:
        await self._command("set_variable", codec.format_set_variable(name, value))

    async def exec(self, application: str, data: str = "") -> int:
        """The application's result; -1 is returned, not raised: Queue and Dial give -1 when
        the agent hung up and the caller is still on the line."""
        reply = await self._command("exec", codec.format_exec(application, data), minus_one_is_hangup=False)
        return reply.result_int()

    async def verbose(self, message: str, level: int = 1) -> None:
        await self._command("verbose", codec.format_verbose(message, level))

    async def hangup(self) -> None:
        """Hang up the caller. Later commands raise Hangup without being sent."""
        await self._command("hangup", codec.format_hangup())
        self._end(Hangup("we hung up"))

    # -- one command at a time

    async def _command(self, operation: str, line: bytes, *, minus_one_is_hangup: bool = True) -> Reply:
        if self._ended is not None:
            raise _again(self._ended)
        command = _Command(operation, line)
        self._queue.append(command)
        self._send_next()
        reply = await command
        try:
            return codec.check_reply(reply, line.decode("utf-8"), minus_one_is_hangup=minus_one_is_hangup)
        except Hangup as exc:
            self._end(exc)
            raise
        except CommandRejected:
            self._protocol.metrics.error("rejected")
            log.error("Asterisk rejected %r on %s: %s %s", line.decode("utf-8").rstrip("\n"), self.info.uniqueid, reply.code, reply.text[:200])
            raise

    def _send_next(self) -> None:
        while self._pending is None and self._queue:
            command = self._queue.popleft()
            if self._ended is not None:
                command.fail(_again(self._ended))
                continue
            command.started = self._protocol.clock.seconds()
            self._pending = command
            self._protocol.send(command.line)

    def _end(self, reason: Exception) -> None:
        """No more commands: fail the one in flight and those waiting with `reason`."""
        if self._ended is None:
            self._ended = reason
        pending, self._pending = self._pending, None
        waiting = list(self._queue)
        self._queue.clear()
        for command in ([pending] if pending else []) + waiting:
            command.fail(_again(reason))

    # -- events from the protocol

    def reply_received(self, reply: Reply) -> None:
        if reply.code == 100:
            return  # "100 result=0 Trying...": the final reply follows
        command = self._pending
        if command is None:
            if self._ended is not None:
                return  # the late answer to a command we already gave up on
            raise ProtocolError(f"reply {reply.line[:80]!r} with no command outstanding")
        self._pending = None
        self._protocol.metrics.command_timer[command.operation](max(0.0, self._protocol.clock.seconds() - command.started))
        command.succeed(reply)
        self._send_next()

    def hangup_received(self) -> None:
        self._end(Hangup("HANGUP from Asterisk"))

    def failed(self, reason: Exception) -> None:
        self._end(reason)


class FastAgiProtocol(Protocol):
    """One FastAGI connection: header, then the handler's call, then close."""

    #: A TCP transport (ITCPTransport) from connection to close; Twisted sets it.
    transport: Any
    #: Writes one command line; set once connected.
    send: Callable[[bytes], None]

    def __init__(self, handler: Handler, clock: IReactorTime, metrics: AgiMetrics, deadlines: HeaderDeadlines) -> None:
        self.handler = handler
        self.clock = clock
        self.metrics = metrics
        self.deadlines = deadlines
        self.channel: FastAgiChannel | None = None
        #: Fires (with None) once the handler has finished and we asked to close; for tests
        #: and for a graceful shutdown that waits for calls in progress.
        self.finished: Deferred[None] = Deferred()
        self._decoder = AgiDecoder()
        self._closing = False
        self._counted_error = False

    def connectionMade(self) -> None:
        self.metrics.active += 1
        self.deadlines.add(self)
        #: One command line at a time, written at once (hotline.agi.directwrite says why).
        self._writer = DirectWriter(self.transport)
        self.send = self._writer.write

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            return
        self._decoder.receive_data(data)
        try:
            while not self._closing and (message := self._decoder.next_message()) is not None:
                self._dispatch(message)
        except ProtocolError as exc:
            self._protocol_error(exc)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.deadlines.remove(self)
        self.metrics.active -= 1
        if self.channel is not None:
            self.channel.failed(Hangup("connection to Asterisk lost"))
        else:
            if not self._counted_error:
                self.metrics.error("header_incomplete")
                log.info("FastAGI peer %s closed before its header ended", self._peer())
            self._finish()

    # -- internals

    def _dispatch(self, message: codec.Message) -> None:
        if isinstance(message, CallInfo):
            self.deadlines.remove(self)
            self._start(message)
        elif self.channel is None:
            raise ProtocolError("reply before the header")
        elif isinstance(message, HangupNotice):
            self.channel.hangup_received()
        else:
            self.channel.reply_received(message)

    def _start(self, info: CallInfo) -> None:
        self.metrics.sessions_total.inc()
        self.channel = FastAgiChannel(info, self)
        CallTask(self._run(self.channel)).step()

    async def _run(self, channel: FastAgiChannel) -> None:
        """The one top-level guard of a call: whatever the flow does, the connection closes."""
        info = channel.info
        try:
            await self.handler(channel)
        except Hangup as exc:
            log.debug("call %s (%s) ended by hangup: %s", info.uniqueid, info.flow, exc)
        except ProtocolError as exc:
            log.debug("call %s (%s) abandoned: %s", info.uniqueid, info.flow, exc)  # logged and counted as "protocol"
        except Exception:
            self.metrics.error("handler")
            log.exception("flow %r failed on call %s (%s)", info.flow, info.uniqueid, info.channel)
        finally:
            self._close()
            self._finish()

    def _protocol_error(self, exc: ProtocolError) -> None:
        """Not AGI: one warning with the peer's address, counted, the connection cut. The
        flow (if a header got through) ends quietly: it is no call, and no failed one."""
        self.metrics.error("protocol")
        self.metrics.protocol_errors.inc()
        self._counted_error = True
        uniqueid = self.channel.info.uniqueid if self.channel else "-"
        log.warning("FastAGI protocol error from %s (call %s): %s", self._peer(), uniqueid, exc)
        if self.channel is not None:
            self.channel.failed(exc)
        self._close(abort=True)
        if self.channel is None:
            self._finish()

    def header_timed_out(self) -> None:
        """Called by `HeaderDeadlines` when the header is not complete in time."""
        self.metrics.error("header_timeout")
        self._counted_error = True
        log.warning("FastAGI peer %s sent no complete header within %.1f s", self._peer(), self.deadlines.timeout)
        self._close(abort=True)
        self._finish()

    def _close(self, abort: bool = False) -> None:
        if self._closing:
            return
        self._closing = True
        if abort:
            self.transport.abortConnection()
        else:
            # Asterisk ends the AGI when it reads our FIN: sent now, not on the reactor's
            # next turn, when loseConnection() gets to it (a burst's last callers waited).
            self._writer.finish()
            self.transport.loseConnection()

    def _finish(self) -> None:
        if not self.finished.called:
            self.finished.callback(None)

    def _peer(self) -> str:
        try:
            peer = self.transport.getPeer()
            return f"{peer.host}:{peer.port}"
        except Exception:  # noqa: BLE001 - only for a log line
            return "?"


class HeaderDeadlines:
    """The connections still sending their header, oldest first, and one timer for them all.

    Why not a timer each: every connection has the same time limit, so they expire in the
    order they came, and a burst of hundreds of calls would otherwise schedule and cancel a
    DelayedCall apiece. The one timer is set for the oldest deadline; when it fires it cuts
    off whoever is late and is set again for the next. With nobody waiting no timer is left."""

    def __init__(self, clock: IReactorTime, timeout: float) -> None:
        self.clock = clock
        self.timeout = timeout
        #: protocol → deadline, in arrival order (so in deadline order too).
        self._waiting: dict[FastAgiProtocol, float] = {}
        self._timer: Any = None

    def add(self, protocol: FastAgiProtocol) -> None:
        self._waiting[protocol] = self.clock.seconds() + self.timeout
        if self._timer is None:
            self._timer = self.clock.callLater(self.timeout, self._expire)

    def remove(self, protocol: FastAgiProtocol) -> None:
        if self._waiting.pop(protocol, None) is not None and not self._waiting and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        now = self.clock.seconds()
        while self._waiting:
            protocol, deadline = next(iter(self._waiting.items()))
            if deadline > now:
                self._timer = self.clock.callLater(deadline - now, self._expire)
                return
            del self._waiting[protocol]
            protocol.header_timed_out()


class FastAgiFactory(Factory):
    """Builds a `FastAgiProtocol` per connection; every call runs `handler(channel)`.

    Args:
        handler: the IVR runner (`ivr.runner.CallRunner`), or any async callable of a Channel.
        clock: the reactor (or a `task.Clock` in tests) for the header timeout and timings.
        registry: where the metrics go; None keeps them private to this factory.
        header_timeout: seconds a peer may take to send its whole header.
    """

    def __init__(self, handler: Handler, clock: IReactorTime, registry: CollectorRegistry | None = None, header_timeout: float = DEFAULT_HEADER_TIMEOUT) -> None:
        self.handler = handler
        self.clock = clock
        self.metrics = AgiMetrics(registry)
        self.deadlines = HeaderDeadlines(clock, header_timeout)

    def buildProtocol(self, addr: Any) -> FastAgiProtocol:
        return FastAgiProtocol(self.handler, self.clock, self.metrics, self.deadlines)


def listen(reactor: Any, config: FastAgiConfig, handler: Handler, registry: CollectorRegistry | None = None, *, header_timeout: float = DEFAULT_HEADER_TIMEOUT) -> IListeningPort:
    """Listen for Asterisk on `config.bind:config.port` (port 0 picks a free one; read it back
    with `port.getHost().port`). `reactor` must provide IReactorTCP and IReactorTime."""
    factory = FastAgiFactory(handler, clock=reactor, registry=registry, header_timeout=header_timeout)
    port: IListeningPort = reactor.listenTCP(config.port, factory, backlog=LISTEN_BACKLOG, interface=config.bind)
    if isinstance(port, tcp.Port):
        _accept_eagerly(port)
    return port


def _accept_eagerly(port: tcp.Port) -> None:
    """Accept every waiting connection, up to the backlog, whenever the socket is readable.

    Twisted's port accepts at most as many connections per reactor turn as it did the turn
    before plus 20, and after a quiet spell that is 1: a burst of calls (a trunk coming back,
    a queue's callers all sent to the IVR) then trickles in over many turns, each spent on
    the calls already in, and the last caller hears the welcome later. asyncio accepts up to
    its backlog at once; so do we. `numberAccepts` is the port's public knob for this."""
    accept = port.doRead

    def doRead() -> Any:
        port.numberAccepts = LISTEN_BACKLOG
        return accept()  # type: ignore[no-untyped-call]  # Twisted leaves Port.doRead unannotated

    port.doRead = doRead  # type: ignore[method-assign]
