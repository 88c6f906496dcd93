"""Sans-IO AGI: bytes from Asterisk in, typed messages out; Channel operations in, command
lines out. No sockets, no Twisted, no pyst2, so that FastAGI (`hotline.agi.fastagi`), classic AGI
(`hotline.agi.classic`) and the tests share one reading of the protocol.

What the wire looks like (see tests/fixtures/asterisk/): Asterisk ends every line with a
bare LF; it opens with a block of `agi_<name>: <value>` lines closed by an empty line; then,
for each command we send, it answers `200 result=<r>[ (<data>)][ endpos=<n>]`, or `510 …`,
`511 …` (the channel is dead), or a multi-line `520-…` / `520 End of proper usage.` block.
`HANGUP` is *unsolicited*: it arrives whenever the caller hangs up, also while no command is
outstanding, so it is a message of its own and never the reply to anything.

Commands are built by one function per Channel operation. Every argument is either checked
against a narrow character set (sound names, digits, variable names) or quoted the way
res_agi's `parse_args` unquotes (`"` and `\\` escaped with a backslash), and nothing may
contain NUL, CR or LF. A caller ID or a variable value therefore can never end the line early
and smuggle in a second command.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec
from urllib.parse import parse_qsl

from hotline.agi.channel import CallInfo, ChannelError, CommandRejected, Hangup, RecordResult, UnsafeArgument

#: The agi_* block of a real call has 22 lines plus one per AGI() argument.
MAX_HEADER_LINES = 64
#: No line Asterisk sends is near this; a peer that sends more is not Asterisk.
MAX_LINE_BYTES = 8192
#: res_agi reads a command into a buffer of 8192 bytes; keep a margin (the line includes its LF).
MAX_COMMAND_BYTES = 8190
#: A 520 usage block is a few lines of documentation.
MAX_USAGE_LINES = 256


class ProtocolError(ChannelError):
    """The peer sent something that is not AGI as Asterisk speaks it (an over-long line, a
    malformed header or reply). The session cannot continue; the caller is not to blame."""


@dataclass(frozen=True)
class Reply:
    """One reply from Asterisk to one command.

    `result` stays text: GET DATA answers with the digits themselves (`result=042`, or
    `result=` when nothing was typed), which an int would mangle.
    """

    code: int
    #: The token after `result=`; None for replies without one (510, 511, 520).
    result: str | None = None
    #: The text in parentheses, e.g. "timeout", "dtmf", a variable's value; None when absent.
    data: str | None = None
    endpos: int | None = None
    #: Free text after the code (510/511/100), or the usage text of a 520 block.
    text: str = ""
    #: The reply's first line, verbatim, for logs and errors.
    line: str = ""

    def result_int(self) -> int:
        """The result as a number; a ProtocolError if Asterisk sent something else."""
        try:
            return int(self.result or "")
        except ValueError:
            raise ProtocolError(f"reply {self.line!r} has no numeric result") from None


@dataclass(frozen=True)
class HangupNotice:
    """The unsolicited `HANGUP` line: the caller is gone."""


Message = CallInfo | Reply | HangupNotice

_HEADER_KEY = re.compile(r"^agi_[A-Za-z0-9_]+$")
#: One `agi_<key>: <value>` line of a header block, as the line-by-line path reads it: the
#: key without `agi_`, the value without the one space after the colon.
_HEADER_FIELD = re.compile(r"^agi_([A-Za-z0-9_]+): ?(.*)$", re.MULTILINE)
_REPLY_LINE = re.compile(r"^(?P<code>[0-9]{3})(?P<sep>[ -]|$)(?P<rest>.*)$", re.DOTALL)
_RESULT = re.compile(r"^result=(?P<result>\S*)(?P<tail>.*)$", re.DOTALL)
_RESULT_TAIL = re.compile(r"^(?: \((?P<data>.*)\))?(?: endpos=(?P<endpos>-?[0-9]+))?$", re.DOTALL)
_USAGE_END = "520 End of proper usage."
#: The usual reply in one match; the same reading as _REPLY_LINE, _RESULT and _RESULT_TAIL
#: in turn (after `result=` only a space can end the value, so nothing backtracks).
_RESULT_200 = re.compile(r"^200 result=(?P<result>\S*)(?: \((?P<data>.*)\))?(?: endpos=(?P<endpos>-?[0-9]+))?$", re.DOTALL)


class AgiDecoder:
    """Turns the byte stream from Asterisk into `CallInfo` (once, for the header block),
    `Reply` and `HangupNotice` messages.

    Feed it with `receive_data()` and pull messages with `next_message()` until it returns
    None; bytes of an incomplete line stay buffered. Malformed or over-long input raises
    `ProtocolError`, and keeps raising it: a stream that went wrong once is not resynchronised.
    Invalid UTF-8 is decoded with U+FFFD rather than refused, because a caller name from a
    trunk in GBK is still a call to serve.

    Args:
        expect_header: False for a decoder that starts with replies (tests, a resumed stream).
        flow: classic AGI has no URL; the flow named on the script's command line, parsed
            like `agi_network_script` (`name?query`). None: take it from the header.
    """

    def __init__(self, *, expect_header: bool = True, flow: str | None = None) -> None:
        #: Bytes after the last newline received; complete lines wait in `_lines`, split off
        #: all at once (a header block arrives as ~25 lines in one read).
        self._buffer = bytearray()
        self._lines: deque[bytearray] = deque()
        self._scanned = 0
        self._in_header = expect_header
        self._header: dict[str, str] = {}
        self._header_lines = 0
        self._usage: list[str] | None = None
        self._usage_first = ""
        self._usage_code = 0
        self._flow = flow
        self._error: ProtocolError | None = None

    @property
    def buffered(self) -> bytes:
        """Bytes received but not yet returned as (part of) a message."""
        return b"".join(bytes(line) + b"\n" for line in self._lines) + bytes(self._buffer)

    @property
    def header_done(self) -> bool:
        return not self._in_header

    def receive_data(self, data: bytes) -> None:
        self._buffer += data

    def feed(self, data: bytes) -> list[Message]:
        """Receive `data` and return every message it completes."""
        self.receive_data(data)
        messages = []
        while (message := self.next_message()) is not None:
            messages.append(message)
        return messages

    def next_message(self) -> Message | None:
        if self._error is not None:
            raise self._error
        try:
            if not self._lines:
                buffer = self._buffer
                if not buffer:
                    return None
                if not self._in_header:
                    # The usual read during a call: one whole reply line and nothing after it.
                    end = buffer.find(b"\n")
                    if 0 <= end == len(buffer) - 1:
                        self._buffer = bytearray()
                        self._scanned = 0
                        return self._reply_line(_text_of(buffer[:end]))
            if self._in_header:
                info = self._header_block()
                if info is None:
                    return None
                return info
            while (line := self._next_line()) is not None:
                message = self._reply_line(line)
                if message is not None:
                    return message
            return None
        except ProtocolError as exc:
            self._error = exc
            raise

    # -- lines

    def _whole_header(self) -> CallInfo | None:
        """The usual case in one go: the whole block (~600 bytes) arrived in one read. Decoded
        once and read by one regex; a block any line of which it does not match takes the
        general path, which names the line. None: take the general path."""
        end = self._buffer.find(b"\n\n")
        if end <= 0 or end > MAX_LINE_BYTES or b"\r" in self._buffer[:end]:
            return None
        text = self._buffer[:end].decode("utf-8", "replace")
        lines = text.count("\n") + 1
        if lines > MAX_HEADER_LINES:
            return None  # the general path raises, naming the limit
        fields = _HEADER_FIELD.findall(text)
        if len(fields) != lines:
            return None  # the general path names the malformed line
        self._header.update(fields)
        del self._buffer[: end + 2]
        self._scanned = 0
        self._header_lines = lines
        self._in_header = False
        return call_info(self._header, flow=self._flow)

    def _split(self) -> bool:
        """Move every complete line of the buffer to `_lines`; False if there is none."""
        if self._buffer.find(b"\n", self._scanned) < 0:
            if len(self._buffer) > MAX_LINE_BYTES:
                raise ProtocolError(f"a line longer than {MAX_LINE_BYTES} bytes")
            self._scanned = len(self._buffer)
            return False
        *complete, rest = self._buffer.split(b"\n")
        self._lines.extend(complete)
        self._buffer = rest
        self._scanned = 0
        return True

    def _next_line(self) -> str | None:
        if not self._lines and not self._split():
            return None
        return _text_of(self._lines.popleft())

    def _header_block(self) -> CallInfo | None:
        """Every header line received so far, in one loop (a header is ~25 lines, usually
        in one read); the CallInfo once the empty line that ends the block is in."""
        lines, header = self._lines, self._header
        if not lines and not header:
            info = self._whole_header()
            if info is not None:
                return info
        while lines or self._split():
            line = _text_of(lines.popleft())
            if line == "":
                if not header:
                    raise ProtocolError("empty AGI header block")
                self._in_header = False
                return call_info(header, flow=self._flow)
            self._header_lines += 1
            if self._header_lines > MAX_HEADER_LINES:
                raise ProtocolError(f"AGI header longer than {MAX_HEADER_LINES} lines")
            key, sep, value = line.partition(":")
            if not sep or not _HEADER_KEY.match(key):
                raise ProtocolError(f"malformed AGI header line {line[:80]!r}")
            header[key[4:]] = value[1:] if value.startswith(" ") else value
        return None

    def _reply_line(self, line: str) -> Reply | HangupNotice | None:
        if self._usage is not None:
            return self._usage_line(line)
        if line == "HANGUP":
            return HangupNotice()
        known = _KNOWN_REPLIES.get(line)
        if known is not None:
            return known
        common = _RESULT_200.match(line)
        if common is not None:
            endpos = common["endpos"]
            reply = Reply(code=200, result=common["result"], data=common["data"], endpos=int(endpos) if endpos is not None else None, line=line)
            if len(line) <= _KNOWN_REPLY_LENGTH and len(_KNOWN_REPLIES) < _KNOWN_REPLY_LIMIT:
                _KNOWN_REPLIES[line] = reply
            return reply
        match = _REPLY_LINE.match(line)
        if match is None:
            raise ProtocolError(f"not an AGI reply: {line[:80]!r}")
        code, sep, rest = int(match["code"]), match["sep"], match["rest"]
        if sep == "-":
            self._usage, self._usage_first, self._usage_code = [], line, code
            return None
        if code in (100, 200):
            return _result_reply(code, rest, line)
        return Reply(code=code, text=rest, line=line)

    def _usage_line(self, line: str) -> Reply | None:
        assert self._usage is not None
        end = f"{self._usage_code} "
        if line.startswith(end) or line.endswith(_USAGE_END):
            # A usage text without a final LF runs into the closing line; keep its text.
            if not line.startswith(end):
                self._usage.append(line[: -len(_USAGE_END)])
            usage, self._usage = self._usage, None
            return Reply(code=self._usage_code, text="\n".join(usage), line=self._usage_first)
        self._usage.append(line)
        if len(self._usage) > MAX_USAGE_LINES:
            raise ProtocolError(f"a {self._usage_code} block longer than {MAX_USAGE_LINES} lines")
        return None


#: Replies are few and repeat ("200 result=0", "200 result=0 endpos=20000", "200 result=
#: (timeout)"), and a Reply is immutable: each distinct short line is parsed once per process.
#: The cache stops growing at its limit, so a peer sending endless variety only loses speed.
_KNOWN_REPLIES: dict[str, Reply] = {}
_KNOWN_REPLY_LENGTH = 64
_KNOWN_REPLY_LIMIT = 1024


def _text_of(raw: bytearray) -> str:
    if len(raw) > MAX_LINE_BYTES:
        raise ProtocolError(f"a line longer than {MAX_LINE_BYTES} bytes")
    if raw.endswith(b"\r"):
        # Asterisk never sends CR; tolerate a peer that does rather than keep it in values.
        raw = raw[:-1]
    return raw.decode("utf-8", "replace")


def _result_reply(code: int, rest: str, line: str) -> Reply:
    match = _RESULT.match(rest)
    if match is None:
        raise ProtocolError(f"reply without result=: {line[:80]!r}")
    tail = match["tail"]
    exact = _RESULT_TAIL.match(tail)
    if exact is None:
        # e.g. "100 result=0 Trying..." or replies of commands we never send.
        return Reply(code=code, result=match["result"], text=tail.strip(), line=line)
    endpos = exact["endpos"]
    return Reply(code=code, result=match["result"], data=exact["data"], endpos=int(endpos) if endpos is not None else None, line=line)


def parse_script(script: str) -> tuple[str, dict[str, str]]:
    """`ivr/sub?lang=zh&x=1` → ("ivr", {"lang": "zh", "x": "1"}): the flow is the first path
    segment, so the dialplan may add detail after it without a new flow name."""
    path, _, query = script.partition("?")
    flow = path.strip("/").split("/", 1)[0]
    params = dict(parse_qsl(query, keep_blank_values=True))
    return flow, params


def call_info(headers: dict[str, str], flow: str | None = None) -> CallInfo:
    """Build the CallInfo of a header block (keys without their agi_ prefix).

    FastAGI names the flow in `network_script`; classic AGI passes it on the script's command
    line (`flow`), which wins when given.
    """
    script = flow if flow is not None else headers.get("network_script", "")
    name, params = parse_script(script)
    args = []
    index = 1
    while f"arg_{index}" in headers:
        args.append(headers[f"arg_{index}"])
        index += 1
    return CallInfo(
        uniqueid=headers.get("uniqueid", ""),
        channel=headers.get("channel", ""),
        callerid=headers.get("callerid", ""),
        calleridname=headers.get("calleridname", ""),
        dnid=headers.get("dnid", ""),
        extension=headers.get("extension", ""),
        context=headers.get("context", ""),
        language=headers.get("language", ""),
        flow=name,
        params=params,
        args=tuple(args),
        headers=dict(headers),
    )


# -- replies → Channel results (shared by every transport, so they all agree)


def check_reply(reply: Reply, command: str, *, minus_one_is_hangup: bool = True) -> Reply:
    """Map a final reply to the Channel's exceptions, or return it.

    `result=-1` and 511 mean the channel is gone: `Hangup`. 510 and 520 mean we sent
    something Asterisk does not accept: `CommandRejected`. EXEC passes
    `minus_one_is_hangup=False`, because Queue and Dial return -1 when the *agent* hung up
    while the caller is still there.
    """
    if reply.code == 200 and (reply.result != "-1" or not minus_one_is_hangup):
        return reply
    verb = command.rstrip("\n")
    if reply.code == 200:
        if minus_one_is_hangup and reply.result == "-1":
            detail = f" ({reply.data})" if reply.data else ""
            raise Hangup(f"result=-1{detail} on {verb.split(' ', 2)[0]}: the caller hung up or the command failed", endpos=reply.endpos)
        return reply
    if reply.code == 511:
        raise Hangup(f"511 on {verb.split(' ', 2)[0]}: the channel is dead")
    raise CommandRejected(reply.code, verb, reply.text)


def digit_result(reply: Reply) -> str | None:
    """STREAM FILE, WAIT FOR DIGIT, SAY …: result is the key's code point, 0 for none."""
    value = reply.result_int()
    if value == 0:
        return None
    if not 0 < value < 128:
        raise ProtocolError(f"reply {reply.line!r} is not a key")
    return chr(value)


_ENTERED = re.compile(r"^[0-9A-D*#]*$")


def get_data_result(reply: Reply) -> tuple[str, bool]:
    """GET DATA: (digits, timed_out). `#` ends entry and is not included."""
    digits = reply.result or ""
    if not _ENTERED.match(digits):
        raise ProtocolError(f"reply {reply.line!r} is not a digit string")
    return digits, reply.data == "timeout"


def record_result(reply: Reply) -> RecordResult:
    """RECORD FILE: `(dtmf)` with the key, `(timeout)` for the time limit or silence.
    A key during the beep comes back as `(randomerror)` with the key as result."""
    value = reply.result_int()
    digit = chr(value) if 0 < value < 128 else None
    return RecordResult(digit=digit, timed_out=reply.data == "timeout", endpos=reply.endpos or 0)


def variable_result(reply: Reply) -> str | None:
    """GET VARIABLE: `result=0` unset, `result=1 (value)` set."""
    if reply.result == "0":
        return None
    return reply.data if reply.data is not None else ""


# -- commands


_FORBIDDEN = re.compile(r"[\x00\r\n]")
_SOUND = re.compile(r"^/?[A-Za-z0-9_][A-Za-z0-9_.\-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.\-]*)*$")
_FORMAT = re.compile(r"^[a-z0-9]{1,16}$")
_ESCAPE_DIGITS = re.compile(r"^[0-9*#]*$")
_SAY_DIGITS = re.compile(r"^[0-9][0-9*#]*$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\([^()\s\"\\]*\))?$")
_APPLICATION = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise UnsafeArgument(f"{what} must be text, not {type(value).__name__}")
    if _FORBIDDEN.search(value):
        raise UnsafeArgument(f"{what} contains NUL, CR or LF: {value!r}")
    return value


def quote(value: str, what: str = "argument") -> str:
    """One argument as res_agi's parse_args reads it back verbatim: in double quotes, with
    `\\` and `"` escaped by a backslash. NUL, CR and LF cannot be quoted (a LF ends the
    command whatever the quoting), so they are refused."""
    _text(value, what)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _matching(value: object, pattern: re.Pattern[str], what: str, expected: str, limit: int = 255) -> str:
    text = _text(value, what)
    if len(text) > limit or not pattern.match(text):
        raise UnsafeArgument(f"{what} must be {expected}: {text[:80]!r}")
    return text


def _sound(name: object, what: str = "sound name") -> str:
    text = _matching(name, _SOUND, what, "letters, digits, '_', '-', '.' and '/' (no spaces or quotes)")
    if ".." in text.split("/"):
        raise UnsafeArgument(f"{what} must not climb out of its directory: {text!r}")
    return text


def _escape_digits(digits: object) -> str:
    return quote(_matching(digits, _ESCAPE_DIGITS, "escape digits", "made of 0-9, * and #", limit=12), "escape digits")


def _integer(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UnsafeArgument(f"{what} must be an integer from {low} to {high}, not {value!r}")
    return value


def _variable(name: object) -> str:
    return _matching(name, _VARIABLE, "variable name", "NAME or FUNCTION(args) without spaces or quotes", limit=128)


def _line(*parts: str) -> bytes:
    line = " ".join(parts) + "\n"
    try:
        data = line.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafeArgument(f"command is not encodable as UTF-8: {line[:80]!r}") from None
    if len(data) > MAX_COMMAND_BYTES:
        raise UnsafeArgument(f"command of {len(data)} bytes is longer than {MAX_COMMAND_BYTES}")
    return data


_INT32 = 2**31 - 1

P = ParamSpec("P")
#: Distinct command lines remembered per format function.
_MEMO_LIMIT = 1024


def _memoised(build: Callable[P, bytes]) -> Callable[P, bytes]:
    """Command lines repeat (the same prompts, keys and variables in every call): each
    distinct line is checked and built once per process. Only plain `str` and `int`
    arguments are remembered, so a bool, a float or a str subclass is always checked afresh;
    an argument that fails a check raises every time (nothing is stored for it)."""
    cache: dict[tuple[object, ...], bytes] = {}

    @functools.wraps(build)
    def line(*args: P.args, **kwargs: P.kwargs) -> bytes:
        if kwargs:
            return build(*args, **kwargs)
        for arg in args:
            if type(arg) is not str and type(arg) is not int:
                return build(*args, **kwargs)
        found = cache.get(args)
        if found is None:
            found = build(*args, **kwargs)
            if len(cache) < _MEMO_LIMIT:
                cache[args] = found
        return found

    return line


@_memoised
def format_answer() -> bytes:
    return _line("ANSWER")


@_memoised
def format_stream_file(name: str, escape_digits: str = "") -> bytes:
    return _line("STREAM FILE", _sound(name), _escape_digits(escape_digits))


@_memoised
def format_get_data(name: str, timeout_ms: int = 5000, max_digits: int = 20) -> bytes:
    return _line("GET DATA", _sound(name), str(_integer(timeout_ms, "timeout_ms", 0, _INT32)), str(_integer(max_digits, "max_digits", 1, 1023)))


@_memoised
def format_wait_for_digit(timeout_ms: int) -> bytes:
    return _line("WAIT FOR DIGIT", str(_integer(timeout_ms, "timeout_ms", -1, _INT32)))


@_memoised
def format_say_digits(digits: str, escape_digits: str = "") -> bytes:
    text = _matching(digits, _SAY_DIGITS, "digits", "a digit followed by digits, * or #", limit=64)
    return _line("SAY DIGITS", text, _escape_digits(escape_digits))


@_memoised
def format_say_number(number: int, escape_digits: str = "") -> bytes:
    return _line("SAY NUMBER", str(_integer(number, "number", -_INT32, _INT32)), _escape_digits(escape_digits))


def format_record_file(name: str, fmt: str = "wav", escape_digits: str = "#", timeout_ms: int = 120_000, beep: bool = True, silence_seconds: int | None = 5) -> bytes:
    """`RECORD FILE <name> <fmt> "<keys>" <ms> 0 [BEEP] [s=<n>]`; the offset 0 is always
    written so that res_agi never mistakes BEEP for an offset."""
    parts = [
        "RECORD FILE",
        _sound(name, "recording name"),
        _matching(fmt, _FORMAT, "format", "a sound format such as wav"),
        _escape_digits(escape_digits),
        str(_integer(timeout_ms, "timeout_ms", -1, _INT32)),
        "0",
    ]
    if beep:
        parts.append("BEEP")
    if silence_seconds is not None:
        parts.append(f"s={_integer(silence_seconds, 'silence_seconds', 1, 3600)}")
    return _line(*parts)


@_memoised
def format_get_variable(name: str) -> bytes:
    return _line("GET VARIABLE", _variable(name))


@_memoised
def format_set_variable(name: str, value: str) -> bytes:
    return _line("SET VARIABLE", _variable(name), quote(value, "variable value"))


@_memoised
def format_exec(application: str, data: str = "") -> bytes:
    """`EXEC <App> "<data>"`: res_agi passes exactly one argument to the application, so the
    data is always one quoted argument (commas inside it still separate the app's options)."""
    app = _matching(application, _APPLICATION, "application", "a dialplan application name", limit=64)
    if data == "":
        return _line("EXEC", app)
    return _line("EXEC", app, quote(data, "application data"))


@_memoised
def format_verbose(message: str, level: int = 1) -> bytes:
    return _line("VERBOSE", quote(message, "message"), str(_integer(level, "level", 1, 4)))


@_memoised
def format_hangup() -> bytes:
    return _line("HANGUP")
