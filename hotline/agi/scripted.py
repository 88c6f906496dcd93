"""The tests' channel: a caller played from a script, on a virtual clock.

`ScriptedChannel` implements `Channel` the way Asterisk behaves (see
tests/fixtures/asterisk/README.md): prompts take their catalogue duration, GET DATA waits
its timeout after the prompt, a key interrupts a prompt only if it is an escape digit, a
hangup surfaces as `Hangup` and then only variable commands work. Time is a
`twisted.internet.task.Clock` advanced by each command, so a test can measure "in the queue
within 10 s of answer" exactly, and timers the code under test arms (the call log's retry)
fire at the right virtual moment. No sleeps, no sockets.

The caller's script is a list of actions, each used by the next command it fits:

``press("1", after=0.5)``  a key (or several, for GET DATA) `after` seconds into the next
                           command that reads keys; if that command ends first, the press
                           stays pending, at the same moment, for the following one
``silence()``              the next key-reading command runs to its end
``speak(12, end="#")``     RECORD FILE: talk 12 s, then '#' (or "silence", or "hangup")
``in_queue("TIMEOUT")``    the next EXEC Queue: "ANSWERED" (an agent talks, hangs up:
                           result -1), "CALLER_HANGUP" (result -1, the caller is gone),
                           "EXIT" (the callback key; sets QUEUEPOSITION) or a QUEUESTATUS
                           value such as TIMEOUT or FULL; QUEUEWAIT, ANSWEREDTIME and
                           MEMBERINTERFACE are set as app_queue sets them
``hang_up(after=2)``       the caller hangs up `after` seconds into the next blocking command

With nothing left the caller is silent and an agent answers the queue. `hangup_at_step=N`
hangs up at command N (during it if it blocks, just before it otherwise) and `hangup_at=T`
at T seconds after the channel was created, whatever runs then.

It fails loudly (`ScriptError`) when the flow does something a real call would not allow or
the script did not foresee: media before ANSWER, any media after the flow hung up or after
it was told the caller hung up, a key-reading command while the script waits for a queue or
a recording, a queue while the script holds a key press. `assert_script_done()` fails if
actions were left unused.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from twisted.internet.task import Clock

from hotline.agi.channel import CallInfo, Hangup, RecordResult
from hotline.prompts import Prompt, parse_sound_name

R = TypeVar("R")

DTMF = "0123456789*#"
#: Commands Asterisk still answers on a dead channel.
_DEAD_OK = {"get_variable", "set_variable", "verbose"}


class ScriptError(AssertionError):
    """The flow and the caller's script disagree: a bug in the flow or in the test.

    The channel keeps every one it raised in `errors`, because the runner's top-level guard
    catches exceptions from flows; `ScriptedLine.call` re-raises the first after the call."""


@dataclass(frozen=True)
class Press:
    digits: str
    after: float = 0.0
    #: Seconds between the keys of a multi-key press.
    gap: float = 0.3


@dataclass(frozen=True)
class Silence:
    pass


@dataclass(frozen=True)
class Speak:
    seconds: float
    end: str = "#"


@dataclass(frozen=True)
class InQueue:
    status: str = "ANSWERED"
    wait: float = 5.0
    talk: float = 60.0
    position: int | None = None
    agent: str = "PJSIP/8001"


@dataclass(frozen=True)
class HangUp:
    after: float = 0.0


Action = Press | Silence | Speak | InQueue | HangUp


def press(digits: str, after: float = 0.0, gap: float = 0.3) -> Press:
    if not digits or any(d not in DTMF for d in digits):
        raise ValueError(f"not phone keys: {digits!r}")
    return Press(digits, after, gap)


def silence() -> Silence:
    return Silence()


def speak(seconds: float, end: str = "#") -> Speak:
    if end not in ("#", "silence", "hangup"):
        raise ValueError("end is '#', 'silence' or 'hangup'")
    return Speak(seconds, end)


def in_queue(status: str = "ANSWERED", wait: float = 5.0, talk: float = 60.0, position: int | None = None) -> InQueue:
    return InQueue(status.upper(), wait, talk, position)


def hang_up(after: float = 0.0) -> HangUp:
    return HangUp(after)


@dataclass
class Command:
    """One command as the flow sent it, when (seconds since the channel was created) and
    what came back ("HANGUP" when the caller hung up during it)."""

    step: int
    verb: str
    args: tuple[object, ...]
    at: float
    ended: float = 0.0
    result: object = None


def catalogue_durations(sounds_dir: str, catalogue: Mapping[str, Prompt]) -> Callable[[str], float]:
    """Playing time of a sound name made by hotline.prompts.sound_name, from the catalogue."""

    def seconds(sound: str) -> float:
        try:
            lang, name = parse_sound_name(sound, sounds_dir)
        except ValueError as exc:
            raise ScriptError(f"STREAM FILE of a sound that is not one of our prompts: {exc}") from None
        if name not in catalogue:
            raise ScriptError(f"STREAM FILE {sound!r}: no prompt {name!r} in the catalogue")
        return catalogue[name].seconds(lang)

    return seconds


@dataclass
class _Event:
    kind: str  # "key", "hangup", "end"
    at: float
    key: str = ""


class ScriptedChannel:
    """A `Channel` driven by a caller script on a virtual clock (see the module docstring)."""

    def __init__(
        self,
        info: CallInfo,
        script: Iterable[Action] = (),
        *,
        clock: Clock,
        durations: Callable[[str], float],
        answered: bool = False,
        answer_seconds: float = 0.5,
        digit_seconds: float = 0.5,
        beep_seconds: float = 0.5,
        variables: Mapping[str, str] | None = None,
        hangup_at_step: int | None = None,
        hangup_at: float | None = None,
    ) -> None:
        self.info = info
        self.actions: list[Action] = list(script)
        self.clock = clock
        self.durations = durations
        self.answered = answered
        self.answer_seconds, self.digit_seconds, self.beep_seconds = answer_seconds, digit_seconds, beep_seconds
        self.variables: dict[str, str] = dict(variables or {})
        self.hangup_at_step, self.hangup_at = hangup_at_step, hangup_at
        self.origin = clock.seconds()
        self.commands: list[Command] = []
        self.answered_at: float | None = 0.0 if answered else None
        self.caller_gone_at: float | None = None
        self.flow_hung_up = False
        self._told_hangup = False
        self._armed: float | None = None  # due time of the head action, once armed
        self.recordings: list[tuple[str, str, int]] = []
        self.errors: list[ScriptError] = []

    def _duration(self, sound: str) -> float:
        try:
            return self.durations(sound)
        except ScriptError as exc:
            raise self._error(str(exc)) from None

    def _error(self, message: str) -> ScriptError:
        error = ScriptError(message)
        self.errors.append(error)
        return error

    # -- time and bookkeeping

    @property
    def now(self) -> float:
        return self.clock.seconds() - self.origin

    def _advance_to(self, t: float) -> None:
        if t > self.now:
            self.clock.advance(t - self.now)

    def _begin(self, verb: str, *args: object, media: bool = True) -> Command:
        command = Command(step=len(self.commands) + 1, verb=verb, args=args, at=self.now)
        self.commands.append(command)
        if self.hangup_at is not None and self.now >= self.hangup_at and self.caller_gone_at is None:
            self.caller_gone_at = self.hangup_at
        if self.hangup_at_step == command.step and self.caller_gone_at is None:
            self.caller_gone_at = self.now
        if not media or verb in _DEAD_OK:
            return command
        if self.flow_hung_up:
            raise self._error(f"{verb} {args!r} after the flow hung up (command {command.step})")
        if self._told_hangup:
            raise self._error(f"{verb} {args!r} after the channel reported the caller's hangup: flows must let Hangup propagate (command {command.step})")
        if self.caller_gone_at is not None:
            self._hangup(command)
        if verb not in ("answer", "hangup") and not self.answered:
            raise self._error(f"{verb} {args!r} before ANSWER (command {command.step})")
        return command

    def _hangup(self, command: Command, endpos: int | None = None) -> None:
        self._told_hangup = True
        command.ended, command.result = self.now, "HANGUP"
        raise Hangup(f"caller hung up (command {command.step} {command.verb})", endpos=endpos)

    def _end(self, command: Command, result: R) -> R:
        command.ended, command.result = self.now, result
        return result

    def _head(self) -> Action | None:
        return self.actions[0] if self.actions else None

    def _consume(self) -> Action:
        self._armed = None
        return self.actions.pop(0)

    def _window(self, command: Command, end: float, keys: bool, escape: str = DTMF) -> _Event:
        """What happens first between now and `end`: a key the command takes, the caller
        hanging up, or nothing (the command runs to its end). Keys the command does not take
        are pressed and lost, as on a real line."""
        while True:
            start = self.now
            candidates: list[_Event] = []
            if self.hangup_at is not None and start <= self.hangup_at < end:
                candidates.append(_Event("hangup", self.hangup_at))
            head = self._head()
            if isinstance(head, HangUp):
                if self._armed is None:
                    self._armed = start + head.after
                if self._armed < end:
                    candidates.append(_Event("hangup", self._armed, "action"))
            elif isinstance(head, Press):
                if self._armed is None and keys:
                    self._armed = start + head.after
                if self._armed is not None and self._armed < end:
                    candidates.append(_Event("key", self._armed, head.digits))
            elif isinstance(head, Silence) and keys:
                self._consume()
            # Speak and InQueue wait for their own command; until then the caller is silent.
            if not candidates:
                self._advance_to(end)
                return _Event("end", end)
            first = min(candidates, key=lambda e: e.at)
            self._advance_to(first.at)
            if first.kind == "hangup":
                if first.key == "action":
                    self._consume()
                self.caller_gone_at = first.at
                self._hangup(command)
            pressed = self._consume()
            assert isinstance(pressed, Press)
            if keys and first.key[0] in escape:
                if len(first.key) > 1:
                    raise self._error(f"press({first.key!r}) reached {command.verb}, which takes one key (command {command.step})")
                return first
            # Not an escape digit: Asterisk ignores it and the command goes on.

    # -- the Channel interface

    async def answer(self) -> None:
        command = self._begin("answer")
        if not self.answered:
            self._window(command, self.now + self.answer_seconds, keys=False)
            self.answered, self.answered_at = True, self.now
        self._end(command, 0)

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        command = self._begin("stream_file", name, escape_digits)
        event = self._window(command, self.now + self._duration(name), keys=bool(escape_digits), escape=escape_digits)
        return self._end(command, event.key if event.kind == "key" else None)

    async def get_data(self, name: str, timeout_ms: int = 5000, max_digits: int = 20) -> tuple[str, bool]:
        command = self._begin("get_data", name, timeout_ms, max_digits)
        timeout = timeout_ms / 1000
        prompt_end = self.now + self._duration(name)
        head = self._head()
        if isinstance(head, Silence):
            self._consume()
            head = None
        if isinstance(head, Press) and self._armed is None:
            self._armed = self.now + head.after
        # Typing: keys from the press's moment, `gap` apart; '#' ends, max_digits ends.
        if isinstance(head, Press) and self._armed is not None and self._armed < prompt_end + timeout:
            self._guard_hangup(command, self._armed)
            digits, t = "", self._armed
            pressed = self._consume()
            assert isinstance(pressed, Press)
            for index, key in enumerate(pressed.digits):
                t = self._armed_time(pressed, index, t)
                self._guard_hangup(command, t)
                self._advance_to(t)
                if key == "#":
                    return self._end(command, (digits, False))
                digits += key
                if len(digits) >= max_digits:
                    return self._end(command, (digits, False))
            self._guard_hangup(command, t + timeout)
            self._advance_to(t + timeout)
            return self._end(command, (digits, True))
        self._window(command, prompt_end + timeout, keys=False)
        return self._end(command, ("", True))

    def _armed_time(self, pressed: Press, index: int, previous: float) -> float:
        return previous if index == 0 else previous + pressed.gap

    def _guard_hangup(self, command: Command, until: float) -> None:
        """A hangup (scheduled or scripted after the press) before `until` wins."""
        if self.hangup_at is not None and self.now <= self.hangup_at < until:
            self._advance_to(self.hangup_at)
            self.caller_gone_at = self.hangup_at
            self._hangup(command)

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        command = self._begin("wait_for_digit", timeout_ms)
        event = self._window(command, self.now + timeout_ms / 1000, keys=True)
        return self._end(command, event.key if event.kind == "key" else None)

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        command = self._begin("say_digits", digits, escape_digits)
        event = self._window(command, self.now + self.digit_seconds * len(digits), keys=bool(escape_digits), escape=escape_digits)
        return self._end(command, event.key if event.kind == "key" else None)

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        command = self._begin("say_number", number, escape_digits)
        event = self._window(command, self.now + self.digit_seconds * len(str(number)), keys=bool(escape_digits), escape=escape_digits)
        return self._end(command, event.key if event.kind == "key" else None)

    async def record_file(self, name: str, fmt: str = "wav", escape_digits: str = "#", timeout_ms: int = 120_000, beep: bool = True, silence_seconds: int | None = 5) -> RecordResult:
        command = self._begin("record_file", name, fmt, escape_digits, timeout_ms, beep, silence_seconds)
        start = self.now + (self.beep_seconds if beep else 0.0)
        limit = start + timeout_ms / 1000
        head = self._head()
        if isinstance(head, InQueue):
            raise self._error(f"record_file, but the caller's next action is {head!r} (command {command.step})")
        if isinstance(head, Speak):
            self._consume()
            talk_end = start + head.seconds
            if head.end == "hangup" and talk_end < limit:
                self._window(command, talk_end, keys=False)
                self.caller_gone_at = self.now
                self.recordings.append((name, fmt, int(head.seconds * 8000)))
                self._hangup(command, endpos=int(head.seconds * 8000))
            if talk_end >= limit:
                self._window(command, limit, keys=False)
                return self._recorded(command, name, fmt, RecordResult(None, True, int((limit - start) * 8000)))
            if head.end == "#" and "#" in escape_digits:
                self._window(command, talk_end, keys=False)
                return self._recorded(command, name, fmt, RecordResult("#", False, int(head.seconds * 8000)))
            end = min(talk_end + (silence_seconds or timeout_ms / 1000), limit)
            self._window(command, end, keys=False)
            return self._recorded(command, name, fmt, RecordResult(None, True, int(head.seconds * 8000)))
        if isinstance(head, Silence):
            self._consume()
        end = min(start + (silence_seconds or timeout_ms / 1000), limit)
        event = self._window(command, end, keys=True, escape=escape_digits)
        if event.kind == "key":
            return self._recorded(command, name, fmt, RecordResult(event.key, False, int(max(0.0, self.now - start) * 8000)))
        return self._recorded(command, name, fmt, RecordResult(None, True, 0))

    def _recorded(self, command: Command, name: str, fmt: str, result: RecordResult) -> RecordResult:
        self.recordings.append((name, fmt, result.endpos))
        return self._end(command, result)

    async def get_variable(self, name: str) -> str | None:
        command = self._begin("get_variable", name, media=False)
        value = self.variables.get(name)
        if value is None and name.startswith("QUEUE_WAITING_COUNT("):
            value = "0"
        return self._end(command, value)

    async def set_variable(self, name: str, value: str) -> None:
        command = self._begin("set_variable", name, value, media=False)
        self.variables[name] = value
        self._end(command, None)

    async def exec(self, application: str, data: str = "") -> int:
        if application.lower() != "queue":
            command = self._begin("exec", application, data, media=False)
            return self._end(command, 0)
        command = self._begin("exec", application, data)
        head = self._head()
        if isinstance(head, Press | Speak):
            raise self._error(f"EXEC Queue({data}), but the caller's next action is {head!r}: the flow queued a caller who was about to press a key or speak (command {command.step})")
        outcome = self._consume() if isinstance(head, InQueue) else InQueue()
        assert isinstance(outcome, InQueue)
        # What app_queue leaves on the channel (reference/asterisk/ami_channels.txt): the
        # times are cleared when Queue() starts and set when the caller leaves; a refused
        # caller (FULL, JOINEMPTY, JOINUNAVAIL) never joined and gets no QUEUEWAIT.
        self.variables.update(ANSWEREDTIME="", DIALEDTIME="", QUEUEWAIT="")
        wait = str(int(outcome.wait))
        try:
            self._window(command, self.now + outcome.wait + (outcome.talk if outcome.status == "ANSWERED" else 0), keys=False)
        except Hangup:
            # The caller hung up in the queue (waiting, or talking to the agent): Asterisk
            # answers EXEC with -1, then the HANGUP line; what Queue() set is still readable.
            waited = self.now - command.at
            if outcome.status == "ANSWERED" and waited > outcome.wait:
                self.variables.update(QUEUEWAIT=wait, ANSWEREDTIME=str(int(waited - outcome.wait)), MEMBERINTERFACE=outcome.agent)
            else:
                self.variables.update(QUEUEWAIT=str(int(waited)), ANSWEREDTIME="0", ABANDONED="TRUE")
            return self._end(command, -1)
        if outcome.status == "ANSWERED":
            self.variables.update(QUEUEWAIT=wait, ANSWEREDTIME=str(int(outcome.talk)), MEMBERINTERFACE=outcome.agent)
            return self._end(command, -1)
        if outcome.status == "CALLER_HANGUP":
            # Asterisk answers EXEC with -1 (the HANGUP line follows): QUEUESTATUS unset.
            self.caller_gone_at = self.now
            self.variables.update(QUEUEWAIT=wait, ANSWEREDTIME="0", ABANDONED="TRUE")
            return self._end(command, -1)
        if outcome.status == "EXIT":
            self.variables.update(QUEUEWAIT=wait)
            if outcome.position is not None:
                self.variables["QUEUEPOSITION"] = str(outcome.position)
            return self._end(command, 0)
        if outcome.status not in ("FULL", "JOINEMPTY", "JOINUNAVAIL"):
            self.variables.update(QUEUEWAIT="0" if outcome.status in ("LEAVEEMPTY", "LEAVEUNAVAIL") else wait, ANSWEREDTIME="0", ABANDONED="TRUE")
        self.variables["QUEUESTATUS"] = outcome.status
        return self._end(command, 0)

    async def verbose(self, message: str, level: int = 1) -> None:
        command = self._begin("verbose", message, level, media=False)
        self._end(command, None)

    async def hangup(self) -> None:
        command = self._begin("hangup")
        self.flow_hung_up = True
        self._end(command, 0)

    # -- for assertions

    def verbs(self) -> list[str]:
        return [c.verb for c in self.commands]

    def queue_entries(self) -> list[Command]:
        return [c for c in self.commands if c.verb == "exec" and str(c.args[0]).lower() == "queue"]

    def seconds_to_queue(self) -> float:
        """From answer to the first EXEC Queue, on the virtual clock."""
        entries = self.queue_entries()
        if not entries or self.answered_at is None:
            raise AssertionError(f"the call never reached a queue: {self.verbs()}")
        return entries[0].at - self.answered_at

    def assert_script_done(self) -> None:
        if self.errors:
            raise self.errors[0]
        left = [a for a in self.actions if not isinstance(a, Silence)]
        if left:
            raise AssertionError(f"the flow ended with caller actions unused: {left!r}; commands: {self.verbs()}")


@dataclass
class CallerScript:
    """A reusable description of a test call: who calls, what they do."""

    actions: list[Action] = field(default_factory=list)
    callerid: str = "13812345678"


def drive(coroutine: Coroutine[Any, Any, R]) -> R:
    """Run a flow (or the runner) to completion on the virtual clock and return its result.

    Everything a scripted call awaits is already done (the channel answers at once, the
    tests' store and call log are synchronous) unless a test leaves a Deferred pending on
    purpose; then the clock must move it along, and `drive` says so instead of hanging."""
    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure

    results: list[R | Failure] = []
    Deferred.fromCoroutine(coroutine).addBoth(results.append)
    if not results:
        raise AssertionError("the flow is still waiting for something the test never completed")
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


class ScriptedLine:
    """Places scripted calls through one runner (`await runner(channel)`) on one clock.

    Each call gets a fresh uniqueid and a channel name, as Asterisk would give it; the call's
    flow defaults to the IVR, whose channel starts unanswered (a queue-callback leg starts
    answered, like the real second AGI session of a call)."""

    def __init__(self, runner: Callable[[ScriptedChannel], Coroutine[Any, Any, object]], clock: Clock, durations: Callable[[str], float]) -> None:
        self.runner, self.clock, self.durations = runner, clock, durations
        self._count = 0

    def call(
        self,
        *actions: Action,
        callerid: str = "13812345678",
        flow: str = "ivr",
        uniqueid: str | None = None,
        dnid: str = "12319",
        params: Mapping[str, str] | None = None,
        answered: bool | None = None,
        language: str = "",
        **options: Any,
    ) -> ScriptedChannel:
        self._count += 1
        uniqueid = uniqueid or f"{int(self.clock.seconds())}.{self._count}"
        info = CallInfo(
            uniqueid=uniqueid,
            channel=f"PJSIP/trunk-{self._count:08x}",
            callerid=callerid,
            dnid=dnid,
            extension="12319",
            context="hotline-inbound",
            language=language,
            flow=flow,
            params=dict(params or {}),
        )
        channel = ScriptedChannel(info, actions, clock=self.clock, durations=self.durations, answered=(flow != "ivr") if answered is None else answered, **options)
        drive(self.runner(channel))
        if channel.errors:
            raise channel.errors[0]
        return channel
