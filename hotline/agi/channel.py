"""The Channel seam: what an IVR flow may ask of a call, whatever carries it.

FastAGI (`hotline.agi.fastagi`), classic AGI over stdin/stdout (`hotline.agi.classic`, with pyst2) and the
tests' scripted channel (`hotline.agi.scripted`) all implement `Channel`. Flows are `async def`
functions of one `Channel`; they never see the transport. A caller hanging up surfaces as
`Hangup`, on every transport, from whichever call noticed it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class ChannelError(Exception):
    """Base of everything a channel raises."""


class Hangup(ChannelError):
    """The caller hung up (HANGUP line, result=-1, SIGHUP, EOF, or 511 on a dead channel).
    Normal control flow, not an error: flows let it propagate; the runner logs the call.

    `endpos`: where the interrupted command stood, when Asterisk said so (RECORD FILE answers
    a hangup with ``200 result=-1 (hangup) endpos=<samples>``: the length of the message)."""

    def __init__(self, *args: object, endpos: int | None = None) -> None:
        super().__init__(*args)
        self.endpos = endpos


class CommandRejected(ChannelError):
    """Asterisk refused a command (510 unknown, 520 usage): a bug on our side, never the caller's."""

    def __init__(self, code: int, command: str, text: str) -> None:
        super().__init__(f"{code} for {command!r}: {text}")
        self.code, self.command, self.text = code, command, text


class UnsafeArgument(ChannelError, ValueError):
    """A value would break out of its place in an AGI command (newline, quote, NUL …)."""


@dataclass(frozen=True)
class CallInfo:
    """The agi_* header block, as Asterisk sent it, plus the parsed request."""

    uniqueid: str
    channel: str = ""
    callerid: str = ""
    calleridname: str = ""
    dnid: str = ""
    extension: str = ""
    context: str = ""
    language: str = ""
    #: The flow name from agi://host:port/<flow>?<args> (FastAGI) or the script (classic).
    flow: str = ""
    #: Query arguments of the FastAGI URL, e.g. {"lang": "en"}.
    params: dict[str, str] = field(default_factory=dict)
    #: agi_arg_1 … in order.
    args: tuple[str, ...] = ()
    #: Every header, verbatim (agi_ prefix stripped).
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def linkedid(self) -> str:
        """Asterisk does not send linkedid in the AGI header; the dialplan may pass it as
        agi_arg or URL parameter `linkedid`; otherwise the call is its own root."""
        return self.params.get("linkedid") or self.uniqueid


@dataclass(frozen=True)
class RecordResult:
    """How RECORD FILE ended: a key (usually '#'), silence/timeout, and the length recorded."""

    digit: str | None
    timed_out: bool
    endpos: int


class Channel(Protocol):
    info: CallInfo

    async def answer(self) -> None: ...

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        """Play `name` (no extension); the key that interrupted it, or None."""

    async def get_data(self, name: str, timeout_ms: int = 5000, max_digits: int = 20) -> tuple[str, bool]:
        """Play `name` and collect digits: (digits, timed_out). '#' ends entry early."""

    async def wait_for_digit(self, timeout_ms: int) -> str | None: ...

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None: ...

    async def say_number(self, number: int, escape_digits: str = "") -> str | None: ...

    async def record_file(self, name: str, fmt: str = "wav", escape_digits: str = "#", timeout_ms: int = 120_000, beep: bool = True, silence_seconds: int | None = 5) -> RecordResult: ...

    async def get_variable(self, name: str) -> str | None:
        """None when unset."""

    async def set_variable(self, name: str, value: str) -> None: ...

    async def exec(self, application: str, data: str = "") -> int:
        """Run a dialplan application (Queue, Playback …); its numeric result."""

    async def verbose(self, message: str, level: int = 1) -> None: ...

    async def hangup(self) -> None: ...
