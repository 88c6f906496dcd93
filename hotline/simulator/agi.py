"""Our own Asterisk for tests: it plays Asterisk 22's side of FastAGI and of classic AGI,
built from the transcripts in tests/fixtures/asterisk/ (copies of the team's captures: agi_fastagi.txt, agi_stdin.txt,
raw/fastagi-*.bin) byte for byte, so that the server and the classic script can be tested
end to end without an Asterisk.

Use it like this::

    peer = AsteriskPeer([Press("1"), Press("42#"), HangUp()], callerid="13800138000")
    call = peer.call_fastagi("127.0.0.1", port, "ivr?lang=zh")        # a blocking call
    assert call.verbs[:2] == ["ANSWER", "STREAM FILE"] and call.closed_after_hangup

    call = peer.run_classic([str(SCRIPT), "ivr"], env={...})           # the script as a child

and, for a FastAGI server on a reactor of the test's own (see `PrivateReactor`)::

    calls = run_fastagi_calls(handler, [(peer, "ivr")])

**Caller script.** `AsteriskPeer(caller=[...])` takes the caller's actions in order. The action
at the head of the list is used by the next command it fits, and only then removed; a
command it does not fit runs as if the caller did nothing (prompts play to the end, inputs
time out):

======================  ============================================================
`Press("12#", after_ms)`  keys for the next DTMF reader (STREAM FILE, GET DATA, GET OPTION,
                          WAIT FOR DIGIT, SAY …, RECORD FILE, CONTROL STREAM FILE,
                          EXEC Read/Background). A key not among the escape digits does not
                          interrupt a prompt. GET DATA stops at `#` or max digits; fewer
                          keys end in `(timeout)`.
`Silence(after_ms)`       the next DTMF reader hears nothing (times out)
`HangUp(after_ms)`        the caller hangs up during the next blocking command
`QueueOutcome("TIMEOUT")` the next EXEC Queue/Dial ends so (default: an agent answers,
                          talks and hangs up → `200 result=-1` with the caller still up)
`RawReply(b"junk\\n")`     the next command, whatever it is, gets these bytes as its reply
======================  ============================================================

Triggers, anywhere in the list: `HangupAtCommand(n)` (the caller hangs up at the n-th
command, 1-based: during it if it blocks, else just before it runs) and
`HangupWhenIdle(after_ms)` (the caller hangs up once the server has sent nothing for
`after_ms` since our last reply).

`after_ms` is real time: the reply waits that long, and a command arriving meanwhile is what
Asterisk punishes (it aborts the prompt without a reply), so it is recorded in `problems`.
Without `after_ms` every reply is immediate, so tests stay fast.

**Hangup semantics, as the real Asterisk does it.** FastAGI: while the server is idle →
`HANGUP` at once; during a command → its `-1` reply (with `endpos` for STREAM FILE,
`(hangup) endpos` for RECORD FILE), then `HANGUP` (after `hangup_notice_delay_ms`; the lab
measured ~40 ms); with `AGIEXITONHANGUP=yes` two `HANGUP` lines and the socket closes; with
`AGISIGHUP=no` no `HANGUP` line at all. Classic: SIGHUP to the script (before the `-1`
reply), nothing with `AGISIGHUP=no`; never a `HANGUP` line. On the dead channel GET/SET
VARIABLE, GET FULL VARIABLE, VERBOSE, EXEC, NOOP and DATABASE * still work and every other
command answers `511 Command Not Permitted on a dead channel or intercept routine`
(res_agi's command table). When the server closes, Asterisk sends one more `HANGUP` and closes.

**What is recorded** (`CallRecord`): every command (verb, args as res_agi's parse_args splits
them, the raw line, our reply), variables set (SET VARIABLE, EXEC Set/MSet), applications
run, gotos, VERBOSE messages, recordings, who hung up and when, whether and how soon the
server closed after the hangup, AGISTATUS as res_agi would set it, and `problems`: server
conduct Asterisk punishes or that is a bug on the server's side (CR LF line ends, pipelined
commands, a command during a prompt, commands over 8190 bytes, NUL bytes, 510 and 520
replies, no close after HANGUP, a session still open at the timeout). A value that broke out
of its quoting shows in `args`.

This is the project's own peer; it shares no code with the team's reference peer.
"""

from __future__ import annotations

import itertools
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twisted.internet.posixbase import PosixReactorBase

# --------------------------------------------------------------------------------------------
# Caller actions


@dataclass(frozen=True)
class Press:
    """The caller presses `keys` (0-9 * # A-D) `after_ms` into the next DTMF-reading command.
    `position_ms` is where the prompt or recording stood then (for `endpos`; default after_ms),
    so that a reply can say "1.66 s into the prompt" without the test waiting 1.66 s."""

    keys: str
    after_ms: int = 0
    position_ms: int | None = None


@dataclass(frozen=True)
class Silence:
    """Nobody presses anything at the next DTMF-reading command; it times out."""

    after_ms: int = 0


@dataclass(frozen=True)
class HangUp:
    """The caller hangs up `after_ms` into the next blocking command (`position_ms`: as Press)."""

    after_ms: int = 0
    position_ms: int | None = None


@dataclass(frozen=True)
class QueueOutcome:
    """How the next EXEC Queue or Dial ends: Queue TIMEOUT/FULL/JOINEMPTY/LEAVEEMPTY/
    JOINUNAVAIL/LEAVEUNAVAIL set QUEUESTATUS and return 0; Dial BUSY/NOANSWER/CHANUNAVAIL/
    CONGESTION set DIALSTATUS and return 0; ANSWERED (the default): -1, caller still up.
    For ANSWERED, `member`, `wait_seconds` and `talk_seconds` (when given) are what app_queue
    leaves in MEMBERINTERFACE, QUEUEWAIT and ANSWEREDTIME (default: the lab's call 1)."""

    status: str
    member: str = ""
    wait_seconds: int | None = None
    talk_seconds: int | None = None


@dataclass(frozen=True)
class RawReply:
    """The next command gets `data` instead of its reply (garbage, a bogus code, …)."""

    data: bytes


@dataclass(frozen=True)
class HangupAtCommand:
    """Trigger: the caller hangs up at command `n` (1-based, every command counts)."""

    n: int


@dataclass(frozen=True)
class HangupWhenIdle:
    """Trigger: the caller hangs up once the server has been silent `after_ms`."""

    after_ms: int


Action = Press | Silence | HangUp | QueueOutcome | RawReply | HangupAtCommand | HangupWhenIdle

# --------------------------------------------------------------------------------------------
# What a call leaves behind


@dataclass
class CommandRecord:
    """One command the server sent, and what we answered."""

    n: int
    raw: bytes
    verb: str
    args: list[str]
    reply: bytes = b""
    #: True when the channel was already dead as the command ran.
    dead: bool = False


@dataclass
class CallRecord:
    transport: str
    commands: list[CommandRecord] = field(default_factory=list)
    #: Variables the server set (SET VARIABLE, EXEC Set, EXEC MSet), last value wins.
    variables: dict[str, str] = field(default_factory=dict)
    #: (application, data) of every EXEC, in order.
    execs: list[tuple[str, str]] = field(default_factory=list)
    #: SET CONTEXT/EXTENSION/PRIORITY, GOSUB, EXEC Goto/Gosub: (what, argument).
    gotos: list[tuple[str, str]] = field(default_factory=list)
    verbose: list[str] = field(default_factory=list)
    #: "name.format" of every RECORD FILE.
    recordings: list[str] = field(default_factory=list)
    #: "caller" (a scripted hangup) or "server" (HANGUP, EXEC Hangup); None: nobody hung up.
    hangup_by: str | None = None
    #: The command during (or before) which the caller hung up; 0 while idle.
    hangup_at: int | None = None
    server_closed: bool = False
    #: Seconds from the hangup to the server's close; None without either.
    close_delay: float | None = None
    agistatus: str = "SUCCESS"
    problems: list[str] = field(default_factory=list)
    #: Classic AGI: the script's exit status (negative: killed by that signal), its stderr,
    #: and the signals we sent it.
    exit_status: int | None = None
    stderr: bytes = b""
    signals: list[int] = field(default_factory=list)
    #: Every byte the server sent us, and every byte we sent.
    received: bytes = b""
    sent: bytes = b""

    @property
    def verbs(self) -> list[str]:
        return [c.verb for c in self.commands]

    @property
    def closed_after_hangup(self) -> bool | None:
        """None if nobody hung up; else whether the server closed (FastAGI) or exited (classic)."""
        if self.hangup_by is None:
            return None
        return self.server_closed

    def command(self, verb: str) -> CommandRecord:
        """The first command with this verb (AssertionError if none)."""
        for c in self.commands:
            if c.verb == verb:
                return c
        raise AssertionError(f"no {verb} among {self.verbs}")


# --------------------------------------------------------------------------------------------
# res_agi's view of a command line


def parse_args(line: str) -> list[str]:
    """Split a command line exactly as res_agi's parse_args does: blanks separate, double
    quotes group, a backslash makes the next character literal (also inside quotes)."""
    args: list[list[str]] = []
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                args.append([])
                whitespace = False
            continue
        if ch in " \t" and not quoted and not escaped:
            whitespace = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            args.append([])
            whitespace = False
        args[-1].append(ch)
        escaped = False
    return ["".join(a) for a in args]


def _position(action: Press | HangUp) -> int:
    """endpos in samples where the caller acted."""
    return SAMPLES_PER_MS * (action.after_ms if action.position_ms is None else action.position_ms)


def _ast_true(value: str) -> bool:
    return value.strip().lower() in ("yes", "true", "y", "t", "1", "on")


def _ast_false(value: str) -> bool:
    return value.strip().lower() in ("no", "false", "n", "f", "0", "off")


#: The 520 usage of WAIT FOR DIGIT, verbatim from the transcript; other commands get a short one.
WAIT_FOR_DIGIT_USAGE = (
    b"Waits up to <replaceable>timeout</replaceable> milliseconds for channel to receive a DTMF digit. Returns "
    b"<literal>-1</literal> on channel failure, <literal>0</literal> if no digit is received in the timeout, or the "
    b"numerical value of the ascii of the digit if one is received. Use <literal>-1</literal> for the "
    b"<replaceable>timeout</replaceable> value if you desire the call to block indefinitely.\n"
)
DEAD_511 = b"511 Command Not Permitted on a dead channel or intercept routine\n"
UNKNOWN_510 = b"510 Invalid or unknown command\n"
#: 8 kHz: endpos counts samples.
SAMPLES_PER_MS = 8

AST_ENVIRONMENT = {
    "AST_AGI_DIR": "/var/lib/asterisk/agi-bin",
    "AST_BUILD_DATE": "2026-11-21 04:16:43 UTC",
    "AST_BUILD_HOST": "vm",
    "AST_BUILD_KERNEL": "6.18.44-fc-v669",
    "AST_BUILD_MACHINE": "x86_64",
    "AST_BUILD_OS": "Linux",
    "AST_BUILD_USER": "root",
    "AST_CONFIG_DIR": "/etc/asterisk",
    "AST_CONFIG_FILE": "/etc/asterisk/asterisk.conf",
    "AST_DATA_DIR": "/var/lib/asterisk",
    "AST_KEY_DIR": "/var/lib/keys",
    "AST_LOG_DIR": "/var/log",
    "AST_MODULE_DIR": "/usr/lib/asterisk/modules",
    "AST_MONITOR_DIR": "/var/spool/monitor",
    "AST_RUN_DIR": "/var/run",
    "AST_SPOOL_DIR": "/var/spool",
    "AST_SYSTEMNAME": "asterisk-lab",
    "AST_VAR_DIR": "/var/lib",
    "AST_VERSION": "22.10.1",
}

_session_numbers = itertools.count()

# --------------------------------------------------------------------------------------------
# The peer


class AsteriskPeer:
    """One scripted call, played against a FastAGI server or a classic AGI script.

    Args:
        caller: the caller's actions and triggers (see the module docstring).
        callerid, calleridname, dnid, context, extension, priority, language, channel,
            uniqueid: header fields; defaults as in the lab (`unknown` caller ID).
        args: AGI() arguments (agi_arg_N). Classic AGI takes them from argv instead.
        variables: channel variables before AGI(), e.g. {"AGISIGHUP": "no"} or
            {"AGIEXITONHANGUP": "yes"}; GET VARIABLE sees them.
        missing_sounds: sounds that do not exist: STREAM FILE → `-1`, Playback → FAILED.
        answered: False when the dialplan did not Answer() before AGI() (CHANNEL STATUS 4).
        prompt_ms: how long a prompt plays when nobody presses anything (default 0).
        hangup_notice_delay_ms: the gap between a `-1` reply and its HANGUP line.
        close_timeout: seconds the server has to close after a hangup.
        timeout: seconds the whole session may last.
        header: raw bytes to send instead of the normal header (hostile-peer tests).
        url_authority: "host:port" written in agi_request instead of the address connected
            to (to reproduce a transcript byte for byte).
        on_queue: called, in the peer's thread, when EXEC Queue runs, with the peer, the
            application's data and the scripted action for it (the head QueueOutcome or
            HangUp, else None); it may block while the caller waits (the demo's queue does)
            and returns how Queue() ends (a QueueOutcome, or HangUp: the caller gave up).
    """

    def __init__(
        self,
        caller: Sequence[Action] = (),
        *,
        callerid: str = "unknown",
        calleridname: str = "unknown",
        dnid: str = "unknown",
        context: str = "hotline",
        extension: str = "12319",
        priority: str = "3",
        language: str = "en",
        channel: str | None = None,
        uniqueid: str | None = None,
        args: Sequence[str] = (),
        variables: Mapping[str, str] | None = None,
        missing_sounds: Sequence[str] = (),
        answered: bool = True,
        prompt_ms: int = 0,
        hangup_notice_delay_ms: int = 0,
        close_timeout: float = 2.0,
        timeout: float = 10.0,
        header: bytes | None = None,
        url_authority: str | None = None,
        on_queue: Callable[[AsteriskPeer, str, Action | None], QueueOutcome | HangUp] | None = None,
    ) -> None:
        number = next(_session_numbers)
        self.caller = list(caller)
        self.callerid, self.calleridname, self.dnid = callerid, calleridname, dnid
        self.context, self.extension, self.priority, self.language = context, extension, priority, language
        self.channel = channel or f"Local/{extension}@{context}-{number:08x};2"
        self.uniqueid = uniqueid or f"asterisk-lab-{1795234841 + number}.{2 * number + 1}"
        self.args = list(args)
        self.variables = dict(variables or {})
        self.missing_sounds = set(missing_sounds)
        self.answered = answered
        self.prompt_ms = prompt_ms
        self.hangup_notice_delay_ms = hangup_notice_delay_ms
        self.close_timeout = close_timeout
        self.timeout = timeout
        self.raw_header = header
        self.url_authority = url_authority
        self.on_queue = on_queue

    # -- the header block, as Asterisk writes it

    def header(self, *, script: str | None = None, request: str | None = None, host: str = "127.0.0.1", port: int = 4573, args: Sequence[str] | None = None) -> bytes:
        """FastAGI header when `script` is given (`agi_network*` first), else the classic one
        (`agi_request` is the script's path)."""
        fields: list[tuple[str, str]] = []
        if script is not None:
            authority = self.url_authority or f"{host}:{port}"
            fields += [("network", "yes"), ("network_script", script), ("request", f"agi://{authority}/{script}")]
        else:
            fields.append(("request", request or ""))
        fields += [
            ("channel", self.channel),
            ("language", self.language),
            ("type", self.channel.split("/", 1)[0]),
            ("uniqueid", self.uniqueid),
            ("version", "22.10.1"),
            ("callerid", self.callerid),
            ("calleridname", self.calleridname),
            ("callingpres", "67"),
            ("callingani2", "0"),
            ("callington", "0"),
            ("callingtns", "0"),
            ("dnid", self.dnid),
            ("rdnis", "unknown"),
            ("context", self.context),
            ("extension", self.extension),
            ("priority", self.priority),
            ("enhanced", "0.0"),
            ("accountcode", ""),
            ("threadid", "140214705182400"),
        ]
        fields += [(f"arg_{i}", a) for i, a in enumerate(self.args if args is None else args, 1)]
        return b"".join(f"agi_{k}: {v}\n".encode() for k, v in fields) + b"\n"

    # -- the two transports

    def call_fastagi(self, host: str, port: int, script: str = "ivr") -> CallRecord:
        """Connect to a FastAGI server and play the call; returns when the server has closed
        (or the session timed out). Blocking: run it in a thread next to a reactor."""
        link = _SocketLink(host, port, self.timeout)
        record = CallRecord(transport="fastagi")
        header = self.raw_header if self.raw_header is not None else self.header(script=script, host=host, port=port)
        _Session(self, link, record, classic=False).run(header)
        return record

    def run_classic(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None) -> CallRecord:
        """Run a classic AGI script as Asterisk does (argv = [script, arg, …], stdin/stdout
        pipes, AST_* environment) and play the call; returns when the script has exited."""
        environment = dict(os.environ)
        environment.update(AST_ENVIRONMENT)
        environment.update(env or {})
        link = _ProcessLink(list(argv), environment, cwd)
        record = CallRecord(transport="classic")
        header = self.raw_header if self.raw_header is not None else self.header(request=argv[0], args=list(argv[1:]))
        _Session(self, link, record, classic=True).run(header)
        return record


# --------------------------------------------------------------------------------------------
# Transports: a socket, or a child process's pipes


# A link has: wait(timeout) -> bytes from the server, b"" once it closed, None on timeout;
# send(data) -> False if the server is gone; signal_hangup() (SIGHUP for a script); close().


class _SocketLink:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setblocking(False)
        self.poller = select.poll()  # no FD_SETSIZE limit: hundreds of calls share one process
        self.poller.register(self.sock.fileno(), select.POLLIN)

    def wait(self, timeout: float) -> bytes | None:
        if not self.poller.poll(max(0, int(timeout * 1000))):
            return None
        try:
            return self.sock.recv(65536)
        except BlockingIOError:
            return None
        except OSError:
            return b""

    def send(self, data: bytes) -> bool:
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                select.select([], [self.sock], [], 1.0)
                continue
            except OSError:
                return False
            view = view[sent:]
        return True

    def signal_hangup(self) -> bool:
        return False  # FastAGI hears of a hangup through the HANGUP line only

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class _ProcessLink:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: str | None) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, bufsize=0)
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self.stdout_fd = self.proc.stdout.fileno()
        self.stderr_fd = self.proc.stderr.fileno()
        self.stderr = bytearray()
        self.signals: list[int] = []
        self.poller = select.poll()
        self.poller.register(self.stdout_fd, select.POLLIN)
        self.poller.register(self.stderr_fd, select.POLLIN)
        self.stderr_open = True

    def wait(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            events = self.poller.poll(int(remaining * 1000))
            if not events:
                return None
            for fd, _event in events:
                data = os.read(fd, 65536)
                if fd == self.stderr_fd:
                    if data:
                        self.stderr += data
                    else:
                        self.poller.unregister(fd)
                        self.stderr_open = False
                    continue
                if not data:
                    self.poller.unregister(fd)
                return data

    def send(self, data: bytes) -> bool:
        assert self.proc.stdin
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.proc.stdin.fileno(), view) :]
        except (OSError, ValueError):
            return False
        return True

    def signal_hangup(self) -> bool:
        try:
            self.proc.send_signal(signal.SIGHUP)
        except ProcessLookupError:
            return False
        self.signals.append(signal.SIGHUP)
        return True

    def close(self, wait: float = 5.0) -> None:
        assert self.proc.stdin
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=wait)
        deadline = time.monotonic() + wait
        while self.stderr_open and time.monotonic() < deadline:
            events = self.poller.poll(int(max(0.0, deadline - time.monotonic()) * 1000))
            for fd, _event in events:
                data = os.read(fd, 65536)
                if fd == self.stderr_fd:
                    self.stderr += data
                    if not data:
                        self.stderr_open = False
                        self.poller.unregister(fd)
                elif not data:
                    self.poller.unregister(fd)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


# --------------------------------------------------------------------------------------------
# One call: read commands, answer them the way res_agi does


@dataclass(frozen=True)
class _Spec:
    words: tuple[str, ...]
    handler: str
    dead_ok: bool
    min_argc: int
    max_argc: int | None = None
    #: A command that takes time on the channel: prompts, inputs, recordings.
    blocking: bool = False
    reads_dtmf: bool = False


# res_agi's command table (dead flag from it); argc counts the verb's words.
_SPECS = [
    _Spec(("ANSWER",), "answer", False, 1),
    _Spec(("ASYNCAGI", "BREAK"), "noop", True, 2),
    _Spec(("CHANNEL", "STATUS"), "channel_status", False, 2, 3),
    _Spec(("DATABASE", "DEL"), "database", True, 4, 4),
    _Spec(("DATABASE", "DELTREE"), "database", True, 3, 4),
    _Spec(("DATABASE", "GET"), "database", True, 4, 4),
    _Spec(("DATABASE", "PUT"), "database", True, 5, 5),
    _Spec(("EXEC",), "exec", True, 2),
    _Spec(("GET", "DATA"), "get_data", False, 3, blocking=True, reads_dtmf=True),
    _Spec(("GET", "FULL", "VARIABLE"), "get_full_variable", True, 4, 5),
    _Spec(("GET", "OPTION"), "stream_file", False, 4, 5, blocking=True, reads_dtmf=True),
    _Spec(("GET", "VARIABLE"), "get_variable", True, 3, 3),
    _Spec(("GOSUB",), "gosub", False, 4, 5),
    _Spec(("HANGUP",), "hangup", False, 1, 2),
    _Spec(("NOOP",), "noop", True, 1),
    _Spec(("RECORD", "FILE"), "record_file", False, 6, blocking=True, reads_dtmf=True),
    _Spec(("SAY", "ALPHA"), "say", False, 4, 4, blocking=True, reads_dtmf=True),
    _Spec(("SAY", "DIGITS"), "say", False, 4, 4, blocking=True, reads_dtmf=True),
    _Spec(("SAY", "NUMBER"), "say", False, 4, 5, blocking=True, reads_dtmf=True),
    _Spec(("SAY", "PHONETIC"), "say", False, 4, 4, blocking=True, reads_dtmf=True),
    _Spec(("SAY", "DATE"), "say", False, 4, 4, blocking=True, reads_dtmf=True),
    _Spec(("SAY", "TIME"), "say", False, 4, 4, blocking=True, reads_dtmf=True),
    _Spec(("SAY", "DATETIME"), "say", False, 4, 6, blocking=True, reads_dtmf=True),
    _Spec(("SET", "AUTOHANGUP"), "result0", False, 3, 3),
    _Spec(("SET", "CALLERID"), "result1", False, 3),
    _Spec(("SET", "CONTEXT"), "goto", False, 3, 3),
    _Spec(("SET", "EXTENSION"), "goto", False, 3, 3),
    _Spec(("SET", "MUSIC"), "result0", False, 3, 4),
    _Spec(("SET", "PRIORITY"), "goto", False, 3, 3),
    _Spec(("SET", "VARIABLE"), "set_variable", True, 4, 4),
    _Spec(("STREAM", "FILE"), "stream_file", False, 4, 5, blocking=True, reads_dtmf=True),
    _Spec(("CONTROL", "STREAM", "FILE"), "stream_file", False, 5, 9, blocking=True, reads_dtmf=True),
    _Spec(("VERBOSE",), "verbose", True, 2),
    _Spec(("WAIT", "FOR", "DIGIT"), "wait_for_digit", False, 4, 4, blocking=True, reads_dtmf=True),
]

#: EXEC applications that take time on the channel (a hangup can land in them).
_BLOCKING_APPS = {"playback", "background", "queue", "dial", "read", "wait", "waitexten", "record", "saydigits", "saynumber", "echo", "musiconhold"}
_DTMF_APPS = {"background", "read"}
_KNOWN_APPS = _BLOCKING_APPS | {
    "answer",
    "set",
    "mset",
    "goto",
    "gotoif",
    "gosub",
    "hangup",
    "noop",
    "verbose",
    "log",
    "userevent",
    "mixmonitor",
    "stopmixmonitor",
    "ringing",
    "progress",
    "celgenuserevent",
    "system",
    "playtones",
    "stopplaytones",
}
_QUEUE_STATUSES = {"TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL", "CONTINUE"}


def _find_spec(argv: list[str]) -> _Spec | None:
    upper = [a.upper() for a in argv]
    for spec in _SPECS:
        if tuple(upper[: len(spec.words)]) == spec.words:
            return spec
    return None


class _Aborted(Exception):
    """The server sent a command while one was still running: Asterisk drops the running one."""


class _Session:
    def __init__(self, peer: AsteriskPeer, link: _SocketLink | _ProcessLink, record: CallRecord, classic: bool) -> None:
        self.peer, self.link, self.record, self.classic = peer, link, record, classic
        self.actions: deque[Action] = deque(a for a in peer.caller if not isinstance(a, (HangupAtCommand, HangupWhenIdle)))
        self.hangup_commands = {a.n for a in peer.caller if isinstance(a, HangupAtCommand)}
        idle = [a.after_ms for a in peer.caller if isinstance(a, HangupWhenIdle)]
        self.idle_hangup_ms: int | None = idle[0] if idle else None
        self.channel_variables = {
            "CHANNEL": peer.channel,
            "UNIQUEID": peer.uniqueid,
            "EXTEN": peer.extension,
            "CONTEXT": peer.context,
            "PRIORITY": peer.priority,
            "CALLERID(num)": "" if peer.callerid == "unknown" else peer.callerid,
            "CALLERID(name)": "" if peer.calleridname == "unknown" else peer.calleridname,
            **peer.variables,
        }
        self.database: dict[tuple[str, str], str] = {}
        self.send_sighup = not _ast_false(peer.variables.get("AGISIGHUP", ""))
        self.exit_on_hangup = _ast_true(peer.variables.get("AGIEXITONHANGUP", ""))
        self.buffer = bytearray()
        self.received = bytearray()
        self.sent = bytearray()
        self.n = 0
        self.dead = False
        self.answered = peer.answered
        self.forced_hangup = False
        self.eof = False
        self.closed_by_us = False
        self.hangup_time: float | None = None
        self.deadline = time.monotonic() + peer.timeout
        self.last_sent = time.monotonic()
        self.status = "SUCCESS"

    # -- the loop

    def run(self, header: bytes) -> None:
        try:
            self._send(header)
            while not self.closed_by_us:
                line = self._next_command()
                if line is None:
                    break
                self._handle(line)
        finally:
            self._finish()

    def _finish(self) -> None:
        record = self.record
        if self.eof:
            record.server_closed = True
            if self.hangup_time is not None:
                record.close_delay = time.monotonic() - self.hangup_time
            if not self.classic and self.send_sighup and not self.closed_by_us:
                self.link.send(b"HANGUP\n")  # what Asterisk does once the server closed
        if isinstance(self.link, _ProcessLink):
            self.link.close()
            record.exit_status = self.link.proc.returncode
            record.stderr = bytes(self.link.stderr)
            record.signals = list(self.link.signals)
            if record.exit_status not in (0, None) and self.status == "SUCCESS":
                self.status = "FAILURE"
            if record.exit_status == -signal.SIGHUP:
                # The script died of the signal: as Asterisk sees it, the call simply hung up.
                self.status = "HANGUP" if self.record.hangup_by else self.status
        else:
            self.link.close()
        record.agistatus = self.status
        record.received = bytes(self.received)
        record.sent = bytes(self.sent)

    def _send(self, data: bytes) -> None:
        self.sent += data
        self.last_sent = time.monotonic()
        self.link.send(data)

    def _reply(self, data: bytes) -> None:
        """Send (part of) the reply to the command being handled."""
        if self.record.commands:
            self.record.commands[-1].reply += data
        self._send(data)

    def _problem(self, text: str) -> None:
        self.record.problems.append(text)

    def _next_command(self) -> bytes | None:
        idle_done = False
        while True:
            line = self._take_line()
            if line is not None:
                return line
            if self.eof:
                if self.buffer:
                    self._problem(f"closed in the middle of a command line: {bytes(self.buffer[:80])!r}")
                return None
            now = time.monotonic()
            limits = [self.deadline]
            idle_at = None
            if self.idle_hangup_ms is not None and not self.dead and not idle_done:
                idle_at = self.last_sent + self.idle_hangup_ms / 1000
                limits.append(idle_at)
            close_at = None
            if self.hangup_time is not None:
                close_at = self.hangup_time + self.peer.close_timeout
                limits.append(close_at)
            data = self.link.wait(max(0.0, min(limits) - now))
            if data is None:
                now = time.monotonic()
                if idle_at is not None and now >= idle_at:
                    idle_done = True
                    self.idle_hangup_ms = None
                    self._caller_hangs_up(at=0)
                    continue
                if close_at is not None and now >= close_at:
                    self._problem(f"no close within {self.peer.close_timeout:g} s after HANGUP")
                    return None
                if now >= self.deadline:
                    self._problem(f"session still open at the {self.peer.timeout:g} s timeout")
                    return None
                continue
            self._receive(data)

    def _receive(self, data: bytes) -> None:
        if data == b"":
            self.eof = True
            return
        self.buffer += data
        self.received += data

    def _take_line(self) -> bytes | None:
        end = self.buffer.find(b"\n")
        if end < 0:
            return None
        raw = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        if len(raw) + 1 > 8190:
            self._problem(f"command {self.n + 1} is {len(raw) + 1} bytes, over res_agi's 8190")
        if self.buffer:
            self._problem(f"pipelined: command {self.n + 2} arrived before the reply to command {self.n + 1}")
        return raw

    def _wait(self, ms: int, verb: str) -> None:
        """Let `ms` pass on the channel (a prompt playing, a caller thinking). A command that
        arrives meanwhile aborts the running one, as in Asterisk: no reply is sent for it."""
        if ms <= 0:
            return
        deadline = time.monotonic() + ms / 1000
        while (remaining := deadline - time.monotonic()) > 0:
            data = self.link.wait(remaining)
            if data is None:
                continue
            self._receive(data)
            if self.eof:
                raise _Aborted()
            self._problem(f"command sent while command {self.n} ({verb}) was still running: Asterisk aborts it without a reply")
            raise _Aborted()

    # -- commands

    def _handle(self, raw: bytes) -> None:
        self.n += 1
        text = raw.decode("utf-8", "replace")
        if "\x00" in text:
            self._problem(f"NUL byte in command {self.n}: Asterisk cuts the line there")
            text = text.split("\x00", 1)[0]
        if text.endswith("\r"):
            self._problem(f"CR LF line end on command {self.n}: the CR stays in the last argument")
        argv = parse_args(text)
        spec = _find_spec(argv)
        verb = " ".join(spec.words) if spec else (argv[0].upper() if argv else "")
        command = CommandRecord(n=self.n, raw=raw, verb=verb, args=argv[len(spec.words) :] if spec else argv[1:], dead=self.dead)
        self.record.commands.append(command)
        if self.n in self.hangup_commands and not self.dead:
            if spec is not None and (spec.blocking or self._blocking_exec(argv)):
                self.forced_hangup = True
            else:
                self._caller_hangs_up(at=self.n)
                command.dead = True
        if self.actions and isinstance(self.actions[0], RawReply):
            self._reply(self.actions.popleft().data)  # type: ignore[union-attr]
            return
        if spec is None:
            self._problem(f"510 for command {self.n}: {text[:80]!r} is not an AGI command")
            reply: bytes | None = UNKNOWN_510
        elif self.dead and not spec.dead_ok:
            reply = DEAD_511
        elif len(argv) < spec.min_argc or (spec.max_argc is not None and len(argv) > spec.max_argc):
            reply = self._usage(spec)
        else:
            try:
                reply = getattr(self, f"_do_{spec.handler}")(argv, spec)
            except _Aborted:
                reply = None
        if reply is not None:
            self._reply(reply)
        if self.forced_hangup:
            # The command meant for the hangup did not reach the channel (usage error, …).
            self.forced_hangup = False
            self._caller_hangs_up(at=self.n)

    def _usage(self, spec: _Spec) -> bytes:
        self._problem(f"520 for command {self.n}: wrong syntax for {' '.join(spec.words)}")
        usage = WAIT_FOR_DIGIT_USAGE if spec.words == ("WAIT", "FOR", "DIGIT") else f"Usage: {' '.join(spec.words)} <arguments>\n".encode()
        return b"520-Invalid command syntax.  Proper usage follows:\n" + usage + b"520 End of proper usage.\n"

    def _blocking_exec(self, argv: list[str]) -> bool:
        return len(argv) > 1 and argv[0].upper() == "EXEC" and argv[1].lower() in _BLOCKING_APPS

    def _caller_action(self, *, reads_dtmf: bool, queue: bool = False) -> Action | None:
        """The caller's action for the blocking command now running, if the head fits it."""
        if self.forced_hangup:
            self.forced_hangup = False
            return HangUp()
        if not self.actions:
            return None
        head = self.actions[0]
        fits = isinstance(head, HangUp) or (reads_dtmf and isinstance(head, (Press, Silence))) or (queue and isinstance(head, QueueOutcome))
        if fits:
            return self.actions.popleft()
        return None

    def _caller_hangs_up(self, at: int, reply: bytes | None = None) -> None:
        """The caller hangs up: during command `at` (its `-1` reply given), before it, or idle (0)."""
        if self.dead:
            if reply is not None:
                self._reply(reply)
            return
        self.dead = True
        self.hangup_time = time.monotonic()
        self.record.hangup_by, self.record.hangup_at = "caller", at
        if self.status == "SUCCESS":
            self.status = "HANGUP"
        if self.classic:
            if self.send_sighup:
                self.link.signal_hangup()  # the script gets SIGHUP before the -1 reply
            if reply is not None:
                self._reply(reply)
            return
        if reply is not None:
            self._reply(reply)
            if self.send_sighup and self.peer.hangup_notice_delay_ms > 0:
                self._quiet_wait(self.peer.hangup_notice_delay_ms)
        self._hangup_notice()

    def _server_hangs_up(self) -> None:
        """HANGUP or EXEC Hangup from the server: the channel dies; Asterisk says HANGUP."""
        if self.dead:
            return
        self.dead = True
        self.hangup_time = time.monotonic()
        self.record.hangup_by, self.record.hangup_at = "server", self.n
        if self.classic:
            if self.send_sighup:
                self.link.signal_hangup()
            return
        self._hangup_notice()

    def _hangup_notice(self) -> None:
        if self.send_sighup:
            self._send(b"HANGUP\n")
        if self.exit_on_hangup:
            if self.send_sighup:
                self._send(b"HANGUP\n")
            self.link.close()
            self.closed_by_us = True

    def _quiet_wait(self, ms: int) -> None:
        """Let time pass without acting on what arrives (it stays buffered)."""
        deadline = time.monotonic() + ms / 1000
        while (remaining := deadline - time.monotonic()) > 0 and not self.eof:
            data = self.link.wait(remaining)
            if data is not None:
                self._receive(data)

    def _minus_one(self, action: HangUp, verb: str, reply: bytes) -> None:
        try:
            self._wait(action.after_ms, verb)
        except _Aborted:
            self.actions.appendleft(action)  # the caller still means to hang up
            raise
        self._caller_hangs_up(at=self.n, reply=reply)

    # handlers: each returns the reply to send, or None when it was sent already

    def _do_answer(self, argv: list[str], spec: _Spec) -> bytes:
        self.answered = True
        return b"200 result=0\n"

    def _do_noop(self, argv: list[str], spec: _Spec) -> bytes:
        return b"200 result=0\n"

    def _do_result0(self, argv: list[str], spec: _Spec) -> bytes:
        return b"200 result=0\n"

    def _do_result1(self, argv: list[str], spec: _Spec) -> bytes:
        return b"200 result=1\n"

    def _do_channel_status(self, argv: list[str], spec: _Spec) -> bytes:
        return b"200 result=6\n" if self.answered else b"200 result=4\n"

    def _do_verbose(self, argv: list[str], spec: _Spec) -> bytes:
        self.record.verbose.append(argv[1])
        return b"200 result=1\n"

    def _do_goto(self, argv: list[str], spec: _Spec) -> bytes:
        self.record.gotos.append((" ".join(spec.words), argv[2]))
        return b"200 result=0\n"

    def _do_gosub(self, argv: list[str], spec: _Spec) -> bytes:
        self.record.gotos.append(("GOSUB", ",".join(argv[1:4])))
        self._reply(b"100 result=0 Trying...\n")
        return b"200 result=0 Gosub complete\n"

    def _do_database(self, argv: list[str], spec: _Spec) -> bytes:
        action, family = spec.words[1], argv[2]
        key = argv[3] if len(argv) > 3 else ""
        if action == "GET":
            value = self.database.get((family, key))
            return b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode()
        if action == "PUT":
            self.database[(family, key)] = argv[4]
            return b"200 result=1\n"
        if action == "DEL":
            return b"200 result=1\n" if self.database.pop((family, key), None) is not None else b"200 result=0\n"
        for k in [k for k in self.database if k[0] == family and k[1].startswith(key)]:
            del self.database[k]
        return b"200 result=1\n"

    def _variable(self, name: str) -> str | None:
        if name in self.record.variables:
            return self.record.variables[name]
        return self.channel_variables.get(name)

    def _do_get_variable(self, argv: list[str], spec: _Spec) -> bytes:
        value = self._variable(argv[2])
        return b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode()

    def _do_get_full_variable(self, argv: list[str], spec: _Spec) -> bytes:
        expanded = re.sub(r"\$\{([^}]*)\}", lambda m: self._variable(m.group(1)) or "", argv[3])
        return f"200 result=1 ({expanded})\n".encode()

    def _do_set_variable(self, argv: list[str], spec: _Spec) -> bytes:
        self.record.variables[argv[2]] = argv[3]
        return b"200 result=1\n"

    def _do_hangup(self, argv: list[str], spec: _Spec) -> bytes | None:
        if len(argv) == 2 and argv[1] != self.peer.channel:
            return b"200 result=-1\n"
        self._reply(b"200 result=1\n")
        self._server_hangs_up()
        return None

    def _do_stream_file(self, argv: list[str], spec: _Spec) -> bytes | None:
        name = argv[len(spec.words)]
        escapes = argv[len(spec.words) + 1] if len(argv) > len(spec.words) + 1 else ""
        verb = " ".join(spec.words)
        if name in self.peer.missing_sounds:
            if self.status == "SUCCESS":
                self.status = "FAILURE"
            return b"200 result=-1 endpos=0\n"
        full = SAMPLES_PER_MS * max(self.peer.prompt_ms, 2500)
        action = self._caller_action(reads_dtmf=True)
        if isinstance(action, HangUp):
            self._minus_one(action, verb, f"200 result=-1 endpos={min(full, _position(action))}\n".encode())
            return None
        if isinstance(action, Press):
            self._wait(action.after_ms, verb)
            key = next((k for k in action.keys if k in escapes), None)
            if key is not None:
                self.channel_variables["PLAYBACKSTATUS"] = "FAILED"  # as measured: an interrupted STREAM FILE
                return f"200 result={ord(key)} endpos={min(full, _position(action))}\n".encode()
        else:
            self._wait(action.after_ms if isinstance(action, Silence) else 0, verb)
        self._wait(self.peer.prompt_ms, verb)
        if spec.words == ("CONTROL", "STREAM", "FILE"):
            return b"200 result=0\n"
        return f"200 result=0 endpos={full}\n".encode()

    def _do_get_data(self, argv: list[str], spec: _Spec) -> bytes | None:
        max_digits = int(argv[4]) if len(argv) > 4 and argv[4].lstrip("-").isdigit() else 1024
        max_digits = max_digits if max_digits > 0 else 1024
        action = self._caller_action(reads_dtmf=True)
        if isinstance(action, HangUp):
            self._minus_one(action, "GET DATA", b"200 result=-1\n")
            return None
        if isinstance(action, Press):
            self._wait(action.after_ms, "GET DATA")
            digits = ""
            for key in action.keys:
                if key == "#":
                    return f"200 result={digits}\n".encode()
                digits += key
                if len(digits) >= max_digits:
                    return f"200 result={digits}\n".encode()
            return f"200 result={digits} (timeout)\n".encode()
        self._wait(action.after_ms if isinstance(action, Silence) else self.peer.prompt_ms, "GET DATA")
        return b"200 result= (timeout)\n"

    def _do_wait_for_digit(self, argv: list[str], spec: _Spec) -> bytes | None:
        if not re.match(r"^-?[0-9]+$", argv[3]):
            return self._usage(spec)
        action = self._caller_action(reads_dtmf=True)
        if isinstance(action, HangUp):
            self._minus_one(action, "WAIT FOR DIGIT", b"200 result=-1\n")
            return None
        if isinstance(action, Press) and action.keys:
            self._wait(action.after_ms, "WAIT FOR DIGIT")
            return f"200 result={ord(action.keys[0])}\n".encode()
        self._wait(action.after_ms if isinstance(action, Silence) else 0, "WAIT FOR DIGIT")
        return b"200 result=0\n"

    def _do_say(self, argv: list[str], spec: _Spec) -> bytes | None:
        verb = " ".join(spec.words)
        if spec.words in (("SAY", "DIGITS"), ("SAY", "NUMBER")) and not re.match(r"^\s*[-+]?[0-9]", argv[2]):
            return self._usage(spec)
        escapes = argv[3]
        action = self._caller_action(reads_dtmf=True)
        if isinstance(action, HangUp):
            self._minus_one(action, verb, b"200 result=-1\n")
            return None
        if isinstance(action, Press):
            self._wait(action.after_ms, verb)
            key = next((k for k in action.keys if k in escapes), None)
            if key is not None:
                return f"200 result={ord(key)}\n".encode()
        self._wait(self.peer.prompt_ms, verb)
        return b"200 result=0\n"

    def _do_record_file(self, argv: list[str], spec: _Spec) -> bytes | None:
        if not re.match(r"^-?[0-9]+$", argv[5]):
            return self._usage(spec)
        name, fmt, escapes = argv[2], argv[3], argv[4]
        self.record.recordings.append(f"{name}.{fmt}")
        action = self._caller_action(reads_dtmf=True)
        if isinstance(action, HangUp):
            self._minus_one(action, "RECORD FILE", f"200 result=-1 (hangup) endpos={_position(action)}\n".encode())
            return None
        if isinstance(action, Press):
            self._wait(action.after_ms, "RECORD FILE")
            key = next((k for k in action.keys if k in escapes), None)
            if key is not None:
                return f"200 result={ord(key)} (dtmf) endpos={_position(action)}\n".encode()
        self._wait(action.after_ms if isinstance(action, Silence) else self.peer.prompt_ms, "RECORD FILE")
        return f"200 result=0 (timeout) endpos={SAMPLES_PER_MS * 5000}\n".encode()

    def _do_exec(self, argv: list[str], spec: _Spec) -> bytes | None:
        app, data = argv[1], (argv[2] if len(argv) > 2 else "")
        self.record.execs.append((app, data))
        name = app.lower()
        if name not in _KNOWN_APPS:
            return b"200 result=-2\n"
        blocking = name in _BLOCKING_APPS and not self.dead
        action: Action | None
        if blocking and name == "queue" and self.peer.on_queue is not None:
            action = self.peer.on_queue(self.peer, data, self._caller_action(reads_dtmf=False, queue=True))
        else:
            action = self._caller_action(reads_dtmf=name in _DTMF_APPS, queue=name in ("queue", "dial")) if blocking else None
        if name == "queue":
            # app_queue clears these when Queue() starts and sets them when the caller leaves
            # (values of the lab's calls in reference/asterisk/ami_queue.txt, ami_channels.txt).
            self.channel_variables.update(ANSWEREDTIME="", DIALEDTIME="", QUEUEWAIT="")
            status = action.status.upper() if isinstance(action, QueueOutcome) else "ANSWERED"
            if isinstance(action, HangUp):
                self.channel_variables.update(ABANDONED="TRUE", QUEUEWAIT="8", ANSWEREDTIME="0")
            elif status == "ANSWERED":
                answered = action if isinstance(action, QueueOutcome) else QueueOutcome("ANSWERED")
                self.channel_variables.update(
                    QUEUEWAIT=str(answered.wait_seconds if answered.wait_seconds is not None else 0),
                    ANSWEREDTIME=str(answered.talk_seconds if answered.talk_seconds is not None else 5),
                    MEMBERINTERFACE=answered.member or "Local/agent1@agents/n",
                )
            elif status in ("TIMEOUT", "LEAVEEMPTY", "LEAVEUNAVAIL"):
                self.channel_variables.update(ABANDONED="TRUE", QUEUEWAIT="6" if status == "TIMEOUT" else "0", ANSWEREDTIME="0")
        if isinstance(action, HangUp):
            self._minus_one(action, f"EXEC {app}", b"200 result=-1\n")
            return None
        if name in ("set", "mset"):
            for assignment in [data] if name == "set" else data.split(","):
                key, _, value = assignment.partition("=")
                self.record.variables[key] = value
            return b"200 result=0\n"
        if name in ("playback", "background"):
            files = data.split(",", 1)[0].split("&")
            missing = any(f in self.peer.missing_sounds for f in files)
            self.channel_variables["PLAYBACKSTATUS"] = "FAILED" if missing else "SUCCESS"
            if isinstance(action, Press):
                self._wait(action.after_ms, f"EXEC {app}")
            return b"200 result=0\n"
        if name == "read":
            variable = data.split(",", 1)[0]
            digits = ""
            if isinstance(action, Press):
                self._wait(action.after_ms, f"EXEC {app}")
                digits = action.keys.split("#", 1)[0]
            self.record.variables[variable] = digits
            self.channel_variables["READSTATUS"] = "OK" if isinstance(action, Press) else "TIMEOUT"
            return b"200 result=0\n"
        if name in ("queue", "dial"):
            status = action.status.upper() if isinstance(action, QueueOutcome) else "ANSWERED"
            if name == "queue" and status in _QUEUE_STATUSES:
                self.channel_variables["QUEUESTATUS"] = status
                return b"200 result=0\n"
            if name == "dial" and status not in ("ANSWERED", "ANSWER"):
                self.channel_variables["DIALSTATUS"] = status
                return b"200 result=0\n"
            if name == "dial":
                self.channel_variables["DIALSTATUS"] = "ANSWER"
            return b"200 result=-1\n"  # the agent talked and hung up; the caller is still here
        if name == "hangup":
            self._reply(b"200 result=-1\n")
            self._server_hangs_up()
            return None
        if name in ("goto", "gotoif", "gosub"):
            self.record.gotos.append((app, data))
        return b"200 result=0\n"


# --------------------------------------------------------------------------------------------
# Hostile peers


@dataclass
class RawExchange:
    received: bytes
    #: True when the server closed (or reset) the connection before `read_timeout`.
    server_closed: bool


def raw_exchange(host: str, port: int, data: bytes, *, close_after_send: bool = False, read_timeout: float = 5.0, chunk: int | None = None) -> RawExchange:
    """Send `data` (in pieces of `chunk` bytes if given), then read until the server closes
    or `read_timeout` passes; with `close_after_send`, close at once instead."""
    sock = socket.create_connection((host, port), timeout=read_timeout)
    received = bytearray()
    closed = False
    try:
        try:
            pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)] if chunk else [data]
            for piece in pieces:
                sock.sendall(piece)
        except OSError:
            return RawExchange(bytes(received), True)
        if close_after_send:
            return RawExchange(b"", False)
        deadline = time.monotonic() + read_timeout
        while (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            try:
                piece = sock.recv(65536)
            except TimeoutError:
                break
            except OSError:
                closed = True
                break
            if not piece:
                closed = True
                break
            received += piece
        return RawExchange(bytes(received), closed)
    finally:
        sock.close()


# --------------------------------------------------------------------------------------------
# A reactor of the test's own


def _new_reactor() -> PosixReactorBase:
    try:
        from twisted.internet.epollreactor import EPollReactor

        return EPollReactor()  # type: ignore[no-untyped-call]  # Twisted leaves it unannotated
    except ImportError:  # not Linux
        from twisted.internet.pollreactor import PollReactor

        return PollReactor()  # type: ignore[no-untyped-call]  # Twisted leaves it unannotated


class PrivateReactor:
    """A fresh, never-installed reactor for one test, driven from the test's own thread.

    Why: pytest-twisted is not installed, the global reactor cannot be restarted, and the
    code under test takes its reactor as an argument anyway. The reactor runs only inside
    `run_until()`, which iterates it until a Deferred fires or the bounded timeout passes;
    blocking peers run in threads (`in_thread`) and report back with `callFromThread`.
    Use it as a context manager so that its sockets, epoll and waker are closed.
    """

    def __init__(self) -> None:
        self.reactor = _new_reactor()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> PrivateReactor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def in_thread(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `function` in a new daemon thread; the Deferred fires in the reactor thread."""
        from twisted.internet.defer import Deferred
        from twisted.python.failure import Failure

        deferred: Deferred[Any] = Deferred()

        def target() -> None:
            try:
                result = function(*args, **kwargs)
            except BaseException:  # noqa: BLE001 - handed to the Deferred
                failure = Failure()  # type: ignore[no-untyped-call]  # Twisted leaves it unannotated
                self.reactor.callFromThread(deferred.errback, failure)
            else:
                self.reactor.callFromThread(deferred.callback, result)

        thread = threading.Thread(target=target, daemon=True)
        self._threads.append(thread)
        thread.start()
        return deferred

    def run_until(self, deferred: Any, timeout: float = 10.0) -> Any:
        """Iterate the reactor until `deferred` fires; its result, or its exception raised.
        TimeoutError after `timeout` seconds."""
        outcome: list[Any] = []
        deferred.addBoth(outcome.append)
        deadline = time.monotonic() + timeout
        while not outcome:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing happened within {timeout} s")
            self.iterate()
        from twisted.python.failure import Failure

        result = outcome[0]
        if isinstance(result, Failure):
            result.raiseException()
        return result

    def run_until_true(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            self.iterate()

    def iterate(self) -> None:
        """One turn of the reactor, and child processes that exited reaped: a reactor that
        was never run has no SIGCHLD handler to do that (code under test may spawn some)."""
        from twisted.internet.process import reapAllProcesses

        self.reactor.iterate(0.02)
        reapAllProcesses()

    def close(self) -> None:
        reactor = self.reactor
        for thread in self._threads:
            thread.join(timeout=5)
        for _ in range(3):  # let what is due now run: stopListening() closes its socket so
            reactor.iterate(0)
        for call in reactor.getDelayedCalls():
            call.cancel()
        reactor.disconnectAll()
        reactor.iterate(0)
        for reader in list(getattr(reactor, "_internalReaders", ())):
            reactor.removeReader(reader)
            reader.connectionLost(None)
        poller = getattr(reactor, "_poller", None)
        if poller is not None and hasattr(poller, "close"):
            poller.close()


def run_fastagi_calls(handler: Callable[[Any], Any], calls: Sequence[tuple[AsteriskPeer, str]], *, timeout: float = 30.0, registry: Any = None, header_timeout: float = 10.0) -> list[CallRecord]:
    """Serve `handler` with `hotline.agi.fastagi` on a free loopback port of a private reactor, play
    every (peer, script) call against it at once, and return the CallRecords in order."""
    from twisted.internet.defer import gatherResults

    from hotline.agi.fastagi import listen
    from hotline.config import FastAgiConfig

    with PrivateReactor() as private:
        port = listen(private.reactor, FastAgiConfig(bind="127.0.0.1", port=0), handler, registry, header_timeout=header_timeout)
        number = port.getHost().port  # type: ignore[attr-defined]  # IListeningPort.getHost() is an IPv4Address here
        try:
            pending = [private.in_thread(peer.call_fastagi, "127.0.0.1", number, script) for peer, script in calls]
            return list(private.run_until(gatherResults(pending, consumeErrors=True), timeout))
        finally:
            private.run_until(port.stopListening(), 5)


def iter_transcript(path: str, block: str) -> Iterator[tuple[str, bytes]]:
    """(direction, bytes) of one block of a reference transcript, direction 'A>S' (Asterisk
    to us) or 'S>A'. A block is named by the start of its title line, the `## …` line right
    after a `=====` rule: "Session 001" in agi_fastagi.txt, "12329:" in agi_stdin.txt."""
    import ast

    current: str | None = None
    after_rule = False
    with open(path, encoding="utf-8") as file:
        lines = file.readlines()
    for line in lines:
        if line.startswith("====="):
            after_rule = True
            continue
        if after_rule and line.startswith("## "):
            current = line[3:]
            after_rule = False
            continue
        after_rule = False
        if current is None or not current.startswith(block):
            continue
        match = re.match(r"^\[\+\s*[0-9.]+ ms\] (A>S|S>A) (b'.*'|b\".*\")$", line.rstrip("\n"))
        if match:
            yield match.group(1), ast.literal_eval(match.group(2))
