"""Classic AGI: Asterisk starts `agi_scripts/hotline-agi <flow>` for a call and talks to it
over stdin/stdout. `ClassicAgiChannel` implements `hotline.agi.channel.Channel` with pyst2's
`asterisk.agi.AGI` for what it does well (SIGHUP, the header's env), and fixes each defect
measured on pyst2 0.5.1 (docs/agi.md has the table):

===========================================  ===============================================
pyst2 0.5.1 does                             the adapter does
===========================================  ===============================================
an unsolicited `HANGUP` line, or EOF, raises  replies are read by `hotline.agi.codec`: HANGUP and
`ValueError: invalid literal for int()`       EOF become `Hangup` (a HANGUP already waiting
                                              while idle raises before anything is written)
511 (dead channel) raises AGIUnknownError     `Hangup`
SIGHUP: the next command raises               pyst2's flag is kept, its exception becomes
AGISIGHUPHangup                               `Hangup`; pyst2's constructor installs the
                                              handler before it reads the header, so an early
                                              hangup no longer kills the process
`AGI()` calls signal.signal: main thread only  `AGI()` is built only on the main thread (where
                                              SIGHUP lands); elsewhere there is no pyst2 object
                                              and hangups are seen through -1, 511, HANGUP, EOF
pyst2 reads the header with no limits         pyst2's constructor reads it from `_HeaderLines`,
                                              which takes it from `hotline.agi.codec` (limits,
                                              EOF as Hangup, garbage as ProtocolError)
`_quote()` leaves `"` unescaped               every command is built by `hotline.agi.codec` and
                                              written by us, not by pyst2's send_command
debug lines on stderr, always                 pyst2's stderr is a null sink
`get_data()` drops `(timeout)`                returns (digits, timed_out)
`record_file()` returns `chr(result)`         returns `hotline.agi.channel.RecordResult`
`result=-1` raises AGIAppError, also for      `Hangup`; EXEC returns -1 (Queue/Dial: the
EXEC Queue after the agent hung up            agent hung up, the caller is still there)
===========================================  ===============================================

I/O is blocking and stays on the main thread: one process serves one call, Asterisk answers
one command at a time, and the main thread is where SIGHUP lands. The flow runs as a
coroutine under the same driver as on FastAGI (`hotline.agi.driver`).

A process per call pays Python's imports before the flow can start (SQLAlchemy, Twisted, the
menu: 0.4-0.6 s here). The caller should not wait for them: `main` answers the call as its
first command, with nothing loaded but this module, pyst2 and the codec, and imports and
builds the IVR in a thread that starts once the ANSWER line is written. The flow's own
`answer()` then costs nothing on the wire. Keep this module's imports light for that reason.
"""

from __future__ import annotations

import importlib
import logging
import os
import select
import signal
import sys
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, BinaryIO

from asterisk.agi import AGI, AGIHangup

from hotline.agi import codec
from hotline.agi.channel import CallInfo, Channel, CommandRejected, Hangup, RecordResult
from hotline.agi.codec import AgiDecoder, HangupNotice, ProtocolError, Reply

log = logging.getLogger(__name__)

Handler = Callable[[Channel], Awaitable[None]]

#: For tests only: `module:attribute` naming the handler main() runs instead of the IVR runner.
TEST_HANDLER_ENV = "HOTLINE_AGI_TEST_HANDLER"

EXIT_OK = 0
#: Asterisk sets AGISTATUS=FAILURE for a non-zero exit, so the dialplan can route the caller on.
EXIT_FAILURE = 1


#: For tests only: a file that receives the names in sys.modules at the moment the first
#: command is on the wire (tests/test_classic_agi.py checks nothing heavy is among them).
TEST_MODULES_ENV = "HOTLINE_AGI_TEST_MODULES"


class _NullWriter:
    """Where pyst2's debug lines go (Asterisk would log every one of them)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class _HeaderLines:
    """The `stdin` pyst2's constructor reads the header from: its first readline() reads the
    whole block with `hotline.agi.codec` (limits; EOF raises Hangup, garbage ProtocolError),
    then the lines are handed to pyst2 one by one, so its `env` is filled as usual."""

    def __init__(self, channel: ClassicAgiChannel) -> None:
        self._channel = channel
        self._lines: deque[bytes] | None = None

    def readline(self) -> bytes:
        if self._lines is None:
            self._channel.info = self._channel._read_header()
            self._lines = deque(f"agi_{key}: {value}\n".encode() for key, value in self._channel.info.headers.items())
        return self._lines.popleft() if self._lines else b"\n"


def _again(reason: Exception) -> Exception:
    return type(reason)(*reason.args)


class ClassicAgiChannel:
    """`hotline.agi.channel.Channel` over classic AGI (stdin/stdout), with pyst2's AGI object.

    Build it with `open()`, which reads the header; call `close()` when the call is over to
    restore the previous SIGHUP disposition.
    """

    def __init__(self, stdin: BinaryIO, stdout: BinaryIO, decoder: AgiDecoder, info: CallInfo | None = None) -> None:
        self._stdin = stdin
        self._stdout = stdout
        try:
            self._fd: int | None = stdin.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None
        self._decoder = decoder
        self.info = info if info is not None else CallInfo(uniqueid="")
        #: pyst2's AGI, on the main thread only (its constructor takes SIGHUP).
        self._agi: AGI | None = None
        self._ended: Exception | None = None
        self._answered = False
        self._previous_sighup: Any = None
        self.sighup_installed = False

    @classmethod
    def open(cls, stdin: BinaryIO, stdout: BinaryIO, *, flow: str | None = None) -> ClassicAgiChannel:
        """Take over SIGHUP (main thread only), then read the agi_* header from `stdin`.

        Raises Hangup if Asterisk closes before the header ends, ProtocolError if it is not
        an AGI header.
        """
        channel = cls(stdin, stdout, AgiDecoder(flow=flow))
        if threading.current_thread() is not threading.main_thread():
            log.debug("not on the main thread: SIGHUP stays with its owner; hangups are seen through replies")
            channel.info = channel._read_header()
            return channel
        previous = signal.getsignal(signal.SIGHUP)
        try:
            # pyst2's own constructor: SIGHUP first, then the header (through _HeaderLines).
            channel._agi = AGI(stdin=_HeaderLines(channel), stdout=_NullWriter(), stderr=_NullWriter())
        except BaseException:
            signal.signal(signal.SIGHUP, previous)
            raise
        channel._previous_sighup = previous
        channel.sighup_installed = True
        return channel

    def close(self) -> None:
        if self.sighup_installed:
            signal.signal(signal.SIGHUP, self._previous_sighup)
            self.sighup_installed = False

    def answer_first(self, meanwhile: Callable[[], None] | None = None) -> None:
        """ANSWER as the process's first command. `meanwhile` runs once the line is written,
        before the reply is read: slow work started there overlaps Asterisk answering."""
        self._execute(codec.format_answer(), after_write=meanwhile)
        self._answered = True

    # -- the Channel operations

    async def answer(self) -> None:
        """Once answered (`answer_first`), nothing more goes on the wire; a hangup since is
        still raised, as the command would have."""
        if self._answered:
            self._check_alive()
            return
        self._execute(codec.format_answer())
        self._answered = True

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        return codec.digit_result(self._execute(codec.format_stream_file(name, escape_digits)))

    async def get_data(self, name: str, timeout_ms: int = 5000, max_digits: int = 20) -> tuple[str, bool]:
        return codec.get_data_result(self._execute(codec.format_get_data(name, timeout_ms, max_digits)))

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        return codec.digit_result(self._execute(codec.format_wait_for_digit(timeout_ms)))

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        return codec.digit_result(self._execute(codec.format_say_digits(digits, escape_digits)))

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        return codec.digit_result(self._execute(codec.format_say_number(number, escape_digits)))

    async def record_file(self, name: str, fmt: str = "wav", escape_digits: str = "#", timeout_ms: int = 120_000, beep: bool = True, silence_seconds: int | None = 5) -> RecordResult:
        return codec.record_result(self._execute(codec.format_record_file(name, fmt, escape_digits, timeout_ms, beep, silence_seconds)))

    async def get_variable(self, name: str) -> str | None:
        return codec.variable_result(self._execute(codec.format_get_variable(name)))

    async def set_variable(self, name: str, value: str) -> None:
        self._execute(codec.format_set_variable(name, value))

    async def exec(self, application: str, data: str = "") -> int:
        """The application's result; -1 is returned, not raised (Queue/Dial: the agent hung up)."""
        return self._execute(codec.format_exec(application, data), minus_one_is_hangup=False).result_int()

    async def verbose(self, message: str, level: int = 1) -> None:
        self._execute(codec.format_verbose(message, level))

    async def hangup(self) -> None:
        self._execute(codec.format_hangup())
        self._end(Hangup("we hung up"))

    # -- one command, one reply

    def _check_alive(self) -> None:
        """Raise what ended the call (SIGHUP, a HANGUP line or EOF seen while idle), if anything."""
        if self._ended is None:
            self._check_sighup()
        if self._ended is None:
            self._drain_idle()
        if self._ended is not None:
            raise _again(self._ended)

    def _execute(self, line: bytes, *, minus_one_is_hangup: bool = True, after_write: Callable[[], None] | None = None) -> Reply:
        self._check_alive()
        text = line.decode("utf-8").rstrip("\n")
        try:
            self._stdout.write(line)
            self._stdout.flush()
        except OSError as exc:  # EPIPE: Asterisk is gone
            self._end(Hangup(f"cannot write to Asterisk: {exc}"))
            raise _again(self._ended) from None  # type: ignore[arg-type]
        if after_write is not None:
            after_write()
        reply = self._read_reply()
        try:
            return codec.check_reply(reply, text, minus_one_is_hangup=minus_one_is_hangup)
        except Hangup as exc:
            self._end(exc)
            raise
        except CommandRejected:
            log.error("Asterisk rejected %r on %s: %s %s", text, self.info.uniqueid, reply.code, reply.text[:200])
            raise

    def _check_sighup(self) -> None:
        if self._agi is None:
            return
        try:
            self._agi.test_hangup()
        except AGIHangup:
            self._end(Hangup("SIGHUP from Asterisk"))

    def _drain_idle(self) -> None:
        """Read what Asterisk sent while we were not waiting for a reply: a HANGUP line or EOF
        ends the call before the next command is written."""
        try:
            while True:
                while (message := self._decoder.next_message()) is not None:
                    if isinstance(message, HangupNotice):
                        self._end(Hangup("HANGUP from Asterisk"))
                    else:
                        raise ProtocolError(f"{message!r:.80} with no command outstanding")
                if self._fd is None or not select.select([self._fd], [], [], 0)[0]:
                    return
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    self._end(Hangup("EOF from Asterisk"))
                    return
                self._decoder.receive_data(chunk)
        except ProtocolError as exc:
            self._end(exc)

    def _read_reply(self) -> Reply:
        try:
            while True:
                message = self._decoder.next_message()
                if message is None:
                    chunk = self._read_chunk()
                    if not chunk:
                        self._end(Hangup("EOF from Asterisk"))
                        raise _again(self._ended)  # type: ignore[arg-type]
                    self._decoder.receive_data(chunk)
                    continue
                if isinstance(message, HangupNotice):
                    self._end(Hangup("HANGUP from Asterisk"))
                    raise _again(self._ended)  # type: ignore[arg-type]
                if isinstance(message, Reply) and message.code != 100:
                    return message
        except ProtocolError as exc:
            self._end(exc)
            raise

    def _read_header(self) -> CallInfo:
        while True:
            message = self._decoder.next_message()
            if isinstance(message, CallInfo):
                return message
            chunk = self._read_chunk()
            if not chunk:
                raise Hangup("EOF from Asterisk before the end of the AGI header")
            self._decoder.receive_data(chunk)

    def _read_chunk(self) -> bytes:
        # os.read on the descriptor: no Python-level buffer that select() could not see.
        if self._fd is not None:
            return os.read(self._fd, 65536)
        read1 = getattr(self._stdin, "read1", None)
        return read1(65536) if read1 is not None else self._stdin.read(1)

    def _end(self, reason: Exception) -> None:
        if self._ended is None:
            self._ended = reason


# -- the executable


class _Builder:
    """Imports and builds the call's handler in a thread, so that the slow part (SQLAlchemy,
    Twisted, the menu) runs while Asterisk answers and the caller hears the call start.
    With a handler given (tests) there is nothing to build."""

    def __init__(self, handler: Handler | None, environ: Mapping[str, str]) -> None:
        self._handler = handler
        self._environ = environ
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._started = False

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        probe = self._environ.get(TEST_MODULES_ENV)
        if probe:
            with open(probe, "w", encoding="utf-8") as out:
                out.write("\n".join(sorted(sys.modules)))
        if self._handler is None:
            self._thread = threading.Thread(target=self._build, name="hotline-agi-build")
            self._thread.start()

    def _build(self) -> None:
        try:
            self._handler = _load_handler(self._environ)
            importlib.import_module("hotline.agi.driver")
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread by result()
            self._error = exc

    def result(self) -> Handler:
        """The handler, once built; raises what building it raised."""
        self.start()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._handler is not None
        return self._handler


def _load_handler(environ: Mapping[str, str]) -> Handler:
    spec = environ.get(TEST_HANDLER_ENV)
    if spec:
        module, _, attribute = spec.partition(":")
        handler: Handler = getattr(importlib.import_module(module), attribute)
        return handler
    from hotline import config as configmod
    from hotline import plugins

    config = configmod.load(environ=environ)  # $HOTLINE_CONFIG, ./hotline.toml, or defaults
    # The same handler the ivr role runs, without a reactor: the flows' work runs inline.
    built: Handler = plugins.call_handler_factory()(None, config, None, None, plugins.load(plugins.FLOWS))
    return built


async def _serve(handler: Handler, channel: ClassicAgiChannel) -> int:
    info = channel.info
    try:
        await handler(channel)
    except Hangup as exc:
        log.debug("call %s (%s) ended by hangup: %s", info.uniqueid, info.flow, exc)
    except ProtocolError as exc:
        log.warning("call %s (%s) abandoned: %s", info.uniqueid, info.flow, exc)
        return EXIT_FAILURE
    except Exception:
        log.exception("flow %r failed on call %s (%s)", info.flow, info.uniqueid, info.channel)
        return EXIT_FAILURE
    return EXIT_OK


def main(argv: Sequence[str] | None = None, *, handler: Handler | None = None, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Serve one call: `argv[1]` names the flow (else the header's agi_network_script),
    the configuration comes from $HOTLINE_CONFIG, the handler is the IVR runner unless one
    is injected (tests). The call is answered first, the handler built while Asterisk
    answers. Exit status 0 for a finished or hung-up call, 1 otherwise."""
    argv = list(sys.argv if argv is None else argv)
    environ = os.environ if environ is None else environ
    if not logging.getLogger().handlers:
        # Asterisk logs the script's stderr: warnings and errors only, never debug chatter.
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="hotline-agi[%(process)d] %(levelname)s %(name)s: %(message)s")
    flow = argv[1] if len(argv) > 1 and argv[1] else None
    try:
        channel = ClassicAgiChannel.open(stdin or sys.stdin.buffer, stdout or sys.stdout.buffer, flow=flow)
    except Hangup as exc:
        log.info("no call to serve: %s", exc)
        return EXIT_OK
    except ProtocolError as exc:
        log.error("not an AGI header on stdin: %s", exc)
        return EXIT_FAILURE
    builder = _Builder(handler, environ)
    try:
        try:
            channel.answer_first(meanwhile=builder.start)
        except Hangup as exc:
            log.debug("call %s hung up before it was answered: %s", channel.info.uniqueid, exc)
        except ProtocolError as exc:
            log.warning("call %s abandoned: %s", channel.info.uniqueid, exc)
        try:
            chosen = builder.result()
        except Exception:
            log.exception("cannot build the IVR for call %s", channel.info.uniqueid)
            return EXIT_FAILURE
        from hotline.agi.driver import Suspended, run_to_end  # loaded by the builder

        try:
            return run_to_end(_serve(chosen, channel))
        except Suspended as exc:
            log.error("flow %r on call %s: %s", channel.info.flow, channel.info.uniqueid, exc)
            return EXIT_FAILURE
    finally:
        channel.close()
