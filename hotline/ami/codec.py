"""AMI framing without I/O: bytes in → typed messages plus leftover bytes; actions → bytes.

Asterisk's manager speaks in blocks: a banner line (`Asterisk Call Manager/11.0.0\\r\\n`), then
messages made of `Key: Value\\r\\n` header lines closed by an empty line. Nothing here imports
Twisted, so the framing is tested byte by byte with plain pytest, and the benchmark measures
exactly what the service runs.

Hostile or broken input never raises: a block that is not a message, an over-long line or
message, a header line without a colon are skipped and reported as `AmiProtocolError` values
among the decoded frames (counted in `AmiDecoder.errors`), so one bad byte cannot cost the
events that follow it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter

EOL = b"\r\n"
END_OF_MESSAGE = b"\r\n\r\n"
BANNER_PREFIX = b"Asterisk Call Manager/"

#: Asterisk itself refuses header lines past 1024 bytes in actions, but events may carry long
#: values (ChanVariable, AppData): 8 KiB per line and 256 KiB per message leave wide margins
#: while bounding what a broken peer can make us hold.
DEFAULT_MAX_LINE = 8 * 1024
DEFAULT_MAX_MESSAGE = 256 * 1024

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
_FORBIDDEN = re.compile(r"[\r\n\x00]")


class AmiProtocolError(Exception):
    """Bytes that were not AMI: skipped, counted and reported, never raised by the decoder.

    `kind` is one of a fixed set (used as a bounded metric label): banner, not_a_message,
    bad_header, line_too_long, message_too_long, truncated.
    """

    KINDS = ("banner", "not_a_message", "bad_header", "line_too_long", "message_too_long", "truncated")

    def __init__(self, kind: str, detail: str, sample: bytes = b"") -> None:
        self.kind, self.detail, self.sample = kind, detail, sample[:80]
        super().__init__(f"{kind}: {detail}" + (f" ({self.sample!r})" if self.sample else ""))


class ActionEncodingError(ValueError):
    """An action header that would break the framing (CR, LF, NUL) or is not a valid key."""


@dataclass(frozen=True, slots=True)
class Banner:
    """The greeting line; `version` is the protocol version (11.0.0 on Asterisk 22)."""

    version: str


class Message:
    """One AMI message: ordered headers, repeated keys kept (ChanVariable, Variable …).

    Lookups are by Asterisk's spelling first and fall back to a case-insensitive match,
    because Asterisk is not consistent (`Uniqueid` in most events, `UniqueID` in Cdr,
    `Holdtime` in QueueParams, `HoldTime` elsewhere). The lookup index is built on first use:
    most events are looked at by name only and never pay for it.
    """

    __slots__ = ("_folded", "_index", "_parts")

    def __init__(self, parts: list[tuple[str, str, str]]) -> None:
        # (key, ": ", value) triples as str.partition leaves them; see `from_headers`.
        self._parts = parts
        self._index: dict[str, str] | None = None
        self._folded: dict[str, str] | None = None

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, str]]) -> Message:
        return cls([(key, ": ", value) for key, value in headers])

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Every header in order, repeated keys included."""
        return tuple((key, value) for key, _, value in self._parts)

    def get(self, key: str, default: str = "") -> str:
        """The first value of `key`, or `default`."""
        index = self._index
        if index is None:
            index = self._index = {k: v for k, _, v in reversed(self._parts)}
        value = index.get(key)
        if value is not None:
            return value
        folded = self._folded
        if folded is None:
            folded = self._folded = {k.lower(): v for k, _, v in reversed(self._parts)}
        return folded.get(key.lower(), default)

    def get_last(self, key: str, default: str = "") -> str:
        """The last value of `key` (exact spelling), scanning from the end without building the
        index: the cheap way to read one event-specific field, which Asterisk writes after the
        channel snapshot (VarSet's Variable, for instance)."""
        for k, _, v in reversed(self._parts):
            if k == key:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated key, in order (case-insensitive)."""
        wanted = key.lower()
        return [v for k, _, v in self._parts if k.lower() == wanted]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, "\x00") != "\x00"

    def __getitem__(self, key: str) -> str:
        value = self.get(key, "\x00")
        if value == "\x00":
            raise KeyError(key)
        return value

    def __len__(self) -> int:
        return len(self._parts)

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._parts == self._parts

    def __hash__(self) -> int:
        return hash(tuple(self._parts))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, _, v in self._parts[:4])
        more = f", … {len(self._parts) - 4} more" if len(self._parts) > 4 else ""
        return f"<{type(self).__name__} {shown}{more}>"


class Response(Message):
    """A reply to one of our actions (`Response: Success|Error|Goodbye|Follows`)."""

    __slots__ = ()

    @property
    def status(self) -> str:
        return self._parts[0][2]

    @property
    def ok(self) -> bool:
        return self._parts[0][2] in ("Success", "Goodbye", "Follows")

    @property
    def message(self) -> str:
        return self.get("Message")


class Event(Message):
    """An event; list items carry the ActionID of the action that asked for them."""

    __slots__ = ()

    @property
    def name(self) -> str:
        return self._parts[0][2]


Frame = Banner | Response | Event | AmiProtocolError
_separator = itemgetter(1)


def parse_message(block: bytes) -> tuple[Event | Response | None, AmiProtocolError | None]:
    """One message from the bytes between two empty lines (without the terminator).

    Returns the message (None if the block is not one) and an error describing what was
    skipped (None if nothing was). Values are decoded as UTF-8; undecodable bytes (a GBK caller
    name from a trunk) become U+FFFD rather than costing the event.
    """
    lines = block.decode("utf-8", "replace").split("\r\n")
    error: AmiProtocolError | None = None
    first = lines[0]
    if not first.startswith(("Event: ", "Response: ")):
        # Garbage glued in front of a message: resynchronise on the first line that opens one.
        for index, line in enumerate(lines):
            if line.startswith(("Event: ", "Response: ")):
                error = AmiProtocolError("not_a_message", f"{index} line(s) of garbage before a message", block[:80])
                lines = lines[index:]
                first = line
                break
        else:
            return None, AmiProtocolError("not_a_message", "block without an Event or Response line", block)
    parts = [line.partition(": ") for line in lines]
    if not all(map(_separator, parts)):
        parts, bad = _repair(parts)
        if bad and error is None:
            error = AmiProtocolError("bad_header", f"{bad} header line(s) without ': ' dropped", block[:80])
    return (Event if first[0] == "E" else Response)(parts), error


def _repair(parts: list[tuple[str, str, str]]) -> tuple[list[tuple[str, str, str]], int]:
    """Keep `Key:` (an empty value without its space), drop lines that are no header."""
    kept, bad = [], 0
    for key, sep, value in parts:
        if sep:
            kept.append((key, sep, value))
        elif len(key) > 1 and key.endswith(":"):
            kept.append((key[:-1], ": ", ""))
        elif key:
            bad += 1
    return kept, bad


class AmiDecoder:
    """Incremental decoder: feed it whatever a read returned, get complete frames back.

    Frames split anywhere (one byte at a time included) are reassembled; `pending` is the
    leftover of an unfinished message.
    """

    def __init__(self, *, max_line: int = DEFAULT_MAX_LINE, max_message: int = DEFAULT_MAX_MESSAGE, expect_banner: bool = True) -> None:
        self.max_line = max_line
        self.max_message = max_message
        self.banner: Banner | None = None
        self._want_banner = expect_banner
        self._buffer = b""
        self._skipping = False
        #: Protocol errors seen so far (each one is also returned as a frame).
        self.errors = 0
        #: Messages decoded so far.
        self.messages = 0

    @property
    def pending(self) -> bytes:
        """Bytes of an unfinished message (empty while skipping an oversized one)."""
        return b"" if self._skipping else self._buffer

    def feed(self, data: bytes) -> list[Frame]:
        buffer = self._buffer + data if self._buffer else data
        out: list[Frame] = []
        position = 0
        if self._skipping:
            end = buffer.find(END_OF_MESSAGE)
            if end < 0:
                self._buffer = buffer[-3:]
                return out
            position = end + 4
            self._skipping = False
        if self._want_banner:
            position = self._read_banner(buffer, position, out)
            if self._want_banner:
                self._buffer = buffer[position:]
                self._check_limits(out)
                return self._count(out)
        find = buffer.find
        max_message = self.max_message
        while True:
            end = find(END_OF_MESSAGE, position)
            if end < 0:
                break
            start = position
            position = end + 4
            # Stray empty lines between messages are harmless; skip them.
            while start < end and buffer.startswith(EOL, start):
                start += 2
            if start >= end:
                continue
            size = end - start
            if size > max_message:
                out.append(AmiProtocolError("message_too_long", f"{size} bytes (limit {max_message})", buffer[start : start + 80]))
                continue
            block = buffer[start:end]
            if size > self.max_line and self._has_long_line(block):
                out.append(AmiProtocolError("line_too_long", f"a header line over {self.max_line} bytes", block[:80]))
                continue
            message, error = parse_message(block)
            if error is not None:
                out.append(error)
            if message is not None:
                out.append(message)
        self._buffer = buffer[position:] if position < len(buffer) else b""
        if len(self._buffer) > self.max_line:
            self._check_limits(out)
        return self._count(out)

    def close(self) -> AmiProtocolError | None:
        """The connection ended: what was left unfinished, as an error (None if nothing)."""
        rest, self._buffer = self._buffer, b""
        skipping, self._skipping = self._skipping, False
        if skipping or rest.strip(b"\r\n"):
            self.errors += 1
            return AmiProtocolError("truncated", f"connection closed inside a message ({len(rest)} bytes pending)", rest[:80])
        return None

    # -- internals

    def _count(self, out: list[Frame]) -> list[Frame]:
        for frame in out:
            if isinstance(frame, AmiProtocolError):
                self.errors += 1
            elif not isinstance(frame, Banner):
                self.messages += 1
        return out

    def _read_banner(self, buffer: bytes, position: int, out: list[Frame]) -> int:
        end = buffer.find(EOL, position)
        if end < 0:
            head = buffer[position:]
            if BANNER_PREFIX.startswith(head) or head.startswith(BANNER_PREFIX):
                return position  # wait for the rest of the line
            line = head
        else:
            line = buffer[position:end]
            if line.startswith(BANNER_PREFIX):
                self._want_banner = False
                self.banner = Banner(line[len(BANNER_PREFIX) :].decode("utf-8", "replace").strip())
                out.append(self.banner)
                return end + 2
        # No banner: report it, and let the message parser judge the bytes (a proxy may
        # start straight with messages; garbage is dropped there).
        self._want_banner = False
        out.append(AmiProtocolError("banner", "the peer did not greet with an AMI banner", line))
        return position

    def _has_long_line(self, block: bytes) -> bool:
        limit = self.max_line
        return any(len(line) > limit for line in block.split(EOL))

    def _check_limits(self, out: list[Frame]) -> None:
        """Bound an unfinished message: past the limits, drop it up to its end."""
        rest = self._buffer
        if len(rest) > self.max_message:
            out.append(AmiProtocolError("message_too_long", f"over {self.max_message} bytes without an end", rest[:80]))
        else:
            last = rest.rfind(EOL)
            if len(rest) - (last + 2 if last >= 0 else 0) <= self.max_line:
                return
            out.append(AmiProtocolError("line_too_long", f"a line over {self.max_line} bytes", rest[:80]))
        self._skipping = True
        self._want_banner = False
        self._buffer = rest[-3:]


def encode_action(name: str, fields: Iterable[tuple[str, str]] | Mapping[str, str], action_id: str) -> bytes:
    """`Action: name`, the fields in order (repeated keys allowed), `ActionID` last.

    Refuses anything that could smuggle a second header or action into the stream: CR, LF or
    NUL in a value, or a key that is not a plain header name.
    """
    items = fields.items() if isinstance(fields, Mapping) else fields
    parts = [_header("Action", name)]
    for key, value in items:
        if key.lower() in ("action", "actionid"):
            raise ActionEncodingError(f"{key!r} is set by the client, not by the caller")
        parts.append(_header(key, value))
    parts.append(_header("ActionID", action_id))
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


def _header(key: str, value: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise ActionEncodingError(f"invalid header name {key!r}")
    if not isinstance(value, str):
        raise ActionEncodingError(f"header {key}: expected a string, got {type(value).__name__}")
    if _FORBIDDEN.search(value):
        raise ActionEncodingError(f"header {key}: CR, LF and NUL are not allowed in a value")
    return f"{key}: {value}\r\n"
