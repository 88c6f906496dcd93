"""An operator's seat in the Asterisk queues: the actions that move it and the state Asterisk
reports for it.

A seat is a PJSIP endpoint (the account's extension); its queue member interface is
`PJSIP/<extension>`, a member of the Asterisk queue of each of its skills
(`hotline.dialplan.asterisk_queue`). The desk's console, the wallboard's seat control and
`hotline queue …` all build their QueueAdd / QueuePause / QueueRemove here (the desk's two
through `plan` and `send_steps`); the state shown is read back from the live model, never
assumed from what was sent. A supervisor's listen-in (`listen_action`) is an Originate into
ChanSpy on the seat's channels.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hotline.ami import actions
from hotline.ami.codec import Event, Response
from hotline.ami.live import LiveSnapshot, MemberView
from hotline.dialplan import asterisk_queue

#: Pause reasons an operator picks (sent to Asterisk as PausedReason, ASCII codes so every
#: reader of QueueStatus shows them the same); labels are the desk's.
PAUSE_REASONS = ("break", "meal", "training", "acw")
#: What a supervisor may pause someone else's seat for: the operators' reasons, or simply
#: "paused by a supervisor".
SUPERVISOR_REASONS = (*PAUSE_REASONS, "supervisor")
#: The reason of the automatic pause after a call (the desk unpauses it when wrap-up ends).
WRAPUP = "wrapup"
#: The reason of the pause that holds a seat whose operator signed out (or whose session
#: expired) during a call: Asterisk offers it no further call, and the desk takes it out of
#: the queues when the call ends. Also how a static member (queues.conf) stays signed out.
SIGNED_OUT = "signedout"
#: Seat states, as the console shows them.
STATES = ("logged_off", "ready", "paused", "wrapup", "ringing", "on_call", "unknown")
COMMANDS = ("add", "remove", "pause", "unpause")


def interface(extension: str) -> str:
    return f"PJSIP/{extension}"


def extension_of(member_interface: str) -> str | None:
    """The seat behind a queue member interface (PJSIP/1001 → 1001); None for other kinds."""
    kind, _, rest = member_interface.partition("/")
    return rest if kind.upper() == "PJSIP" and rest else None


def seat_action(command: str, skill: str, extension: str, reason: str | None = None) -> actions.Action[Response]:
    """The AMI action that does `command` (add, remove, pause, unpause) for the seat in one
    skill's queue. Raises ActionValueError for a reason Asterisk would misread."""
    queue, member = asterisk_queue(skill), interface(extension)
    if command == "add":
        return actions.queue_add(queue, member, member_name=extension, state_interface=member)
    if command == "remove":
        return actions.queue_remove(queue, member)
    if command in ("pause", "unpause"):
        paused = command == "pause"
        return actions.queue_pause(member, paused, queue=queue, reason=reason if paused else None)
    raise ValueError(f"unknown seat command {command!r}")


def plan(wanted: str, joined: Sequence[str], skills: Sequence[str]) -> list[tuple[str, str]]:
    """The (command, skill) steps that take a seat to `wanted`: "ready" joins the `skills`'
    queues it is not in and unpauses it where it is; "pause" joins them too and pauses it in
    all of them; "logoff" leaves every queue it `joined`. A supervisor acting on someone
    else's seat passes `skills=joined`: nothing is joined on their behalf."""
    adds = [("add", s) for s in skills if s not in joined]
    if wanted == "ready":
        return adds + [("unpause", s) for s in joined]
    if wanted == "pause":
        return adds + [("pause", s) for s in skills]
    if wanted == "logoff":
        return [("remove", s) for s in joined]
    raise ValueError(f"unknown seat state {wanted!r}")


async def send_steps(client: Any, extension: str, steps: Sequence[tuple[str, str]], reason: str | None, timeout: float) -> list[str]:
    """Send each (command, skill) of `plan` for the seat in turn, on an `AmiClient`; returns
    Asterisk's refusals (and lost or timed-out actions) as one line per queue, [] when all went
    through. Raises ActionValueError for a reason Asterisk would misread, before sending."""
    from hotline.ami.client import AmiActionError, AmiError

    built = [(skill, seat_action(command, skill, extension, reason)) for command, skill in steps]
    errors: list[str] = []
    for skill, action in built:
        try:
            await client.send(action, timeout=timeout)
        except AmiActionError as exc:
            errors.append(f"{asterisk_queue(skill)}: {exc.message}")
        except AmiError as exc:
            errors.append(f"{asterisk_queue(skill)}: {type(exc).__name__}: {exc}")
    return errors


#: ChanSpy's options for listening in (Asterisk's app_chanspy): b only a bridged call (a
#: call in progress, not the seat's idle channel), q quiet (no beep, no channel name read
#: out to the listener), E end when the spied-on call hangs up. No w/B: the listener is
#: never heard by the operator or the caller.
LISTEN_OPTIONS = "bqE"
#: How long the listener's own phone rings before the Originate gives up.
LISTEN_RING_MS = 30_000


def _accepted(response: Response) -> Response:
    return response


def listen_action(listener: str, extension: str) -> actions.Action[Response]:
    """Originate (Async) that rings the listener's seat and, once answered, runs ChanSpy on
    the operator's seat: channels named ``PJSIP/<extension>-…`` (the dash keeps 1001 from
    matching 10010). Completes at Asterisk's `Response` ("Originate successfully queued",
    or its refusal); the outcome (answered, busy, no answer) arrives later as the
    OriginateResponse event with the same ActionID (`OriginateWatch`)."""
    built = actions.originate(interface(listener), application="ChanSpy", data=f"{interface(extension)}-,{LISTEN_OPTIONS}", caller_id=f'"Listen {extension}" <{extension}>', timeout_ms=LISTEN_RING_MS)
    return actions.Action(built.name, built.fields, parse=_accepted)


class OriginateWatch:
    """Outcomes of Originates sent to complete at their `Response` (`listen_action`): the
    OriginateResponse event carries the same ActionID and may even overtake the response, so
    recent ones are kept until someone asks. Subscribes to an `AmiClient`'s events."""

    def __init__(self, client: Any, keep: int = 200) -> None:
        self.keep = keep
        self._seen: OrderedDict[str, Event] = OrderedDict()
        self._waiting: OrderedDict[str, tuple[Response, Callable[[actions.OriginateResult], None]]] = OrderedDict()
        client.subscribe(self._event)

    def expect(self, response: Response, outcome: Callable[[actions.OriginateResult], None]) -> None:
        """Call `outcome` with the result once the OriginateResponse of `response` arrives."""
        event = self._seen.pop(response.action_id, None)
        if event is not None:
            outcome(actions.originate_result(response, event))
            return
        self._waiting[response.action_id] = (response, outcome)
        while len(self._waiting) > self.keep:
            self._waiting.popitem(last=False)

    def _event(self, event: Event) -> None:
        if event.name != "OriginateResponse" or not event.action_id:
            return
        waiting = self._waiting.pop(event.action_id, None)
        if waiting is not None:
            waiting[1](actions.originate_result(waiting[0], event))
            return
        self._seen[event.action_id] = event
        while len(self._seen) > self.keep:
            self._seen.popitem(last=False)


@dataclass(frozen=True)
class SeatState:
    """What Asterisk last reported for the seat, across its queues."""

    extension: str
    state: str
    reason: str
    #: Skills whose queue has the seat as a member / the seat's skills.
    joined: tuple[str, ...]
    skills: tuple[str, ...]
    since: datetime | None
    #: The caller's uniqueid while on a queue call.
    talking_to: str | None
    connected: bool

    @property
    def logged_in(self) -> bool:
        return bool(self.joined)


def seat_state(snapshot: LiveSnapshot, extension: str, skills: Iterable[str]) -> SeatState:
    """The seat's state from the live model. Several queues: on a call or ringing wins, then
    paused (ready only if ready in every queue it joined)."""
    wanted = tuple(skills)
    found = _members(snapshot, extension, wanted)
    joined = tuple(skill for skill, _ in found)
    members = [m for _, m in found]
    talking = next((m.talking_to for m in members if m.talking_to), None)
    paused = next((m for m in members if m.paused), None)
    since = paused.paused_since if paused is not None else None
    if not members:
        state, reason = "logged_off", ""
    elif talking or any(m.in_call or m.availability == "busy" for m in members):
        state, reason = "on_call", ""
    elif any(m.availability == "ringing" for m in members):
        state, reason = "ringing", ""
    elif paused is not None:
        reason = paused.pause_reason
        state = "wrapup" if reason == WRAPUP else "paused"
    elif all(m.availability == "available" for m in members):
        state, reason = "ready", ""
    else:
        state, reason = "unknown", members[0].availability
    return SeatState(extension, state, reason, joined, wanted, since, talking, snapshot.connected)


def _members(snapshot: LiveSnapshot, extension: str, skills: Iterable[str]) -> list[tuple[str, MemberView]]:
    """(skill, member) for each of `skills` whose queue has the seat as a member."""
    member_interface, found = interface(extension), []
    for skill in skills:
        queue = snapshot.queue(asterisk_queue(skill))
        member = next((m for m in queue.members if m.interface == member_interface), None) if queue is not None else None
        if member is not None:
            found.append((skill, member))
    return found


def sign_out_steps(snapshot: LiveSnapshot, extension: str, skills: Iterable[str]) -> tuple[list[tuple[str, str]], bool]:
    """What takes the seat out of its queues when its operator signs out, as (command, skill)
    steps (pauses with reason SIGNED_OUT), and whether the removal waits for a call to end.

    Off a call: QueueRemove from each queue it joined; a static member (queues.conf), which
    QueueRemove cannot remove, is paused instead. On a call: nothing is cut; the seat is
    paused in every queue so no further call is offered, and `after_call_steps` removes it
    once the call ends (a person who signs out mid-call is finishing it before going)."""
    state = seat_state(snapshot, extension, skills)
    found = _members(snapshot, extension, state.joined)
    if state.state == "on_call":
        return [("pause", skill) for skill, _ in found], True
    return [("pause" if member.membership == "static" else "remove", skill) for skill, member in found], False


def leaving(snapshot: LiveSnapshot, extension: str, skills: Iterable[str]) -> bool:
    """Whether the seat is held (paused SIGNED_OUT) for an operator who signed out on a call."""
    return any(member.paused and member.pause_reason == SIGNED_OUT for _, member in _members(snapshot, extension, skills))


def after_call_steps(snapshot: LiveSnapshot, extension: str, skills: Iterable[str]) -> list[tuple[str, str]]:
    """The removals owed to a seat `leaving` once its call is over (static members stay paused)."""
    return [("remove", skill) for skill, member in _members(snapshot, extension, skills) if member.membership != "static"]


__all__ = [
    "COMMANDS",
    "LISTEN_OPTIONS",
    "PAUSE_REASONS",
    "SIGNED_OUT",
    "STATES",
    "SUPERVISOR_REASONS",
    "WRAPUP",
    "OriginateWatch",
    "SeatState",
    "after_call_steps",
    "extension_of",
    "interface",
    "leaving",
    "listen_action",
    "plan",
    "seat_action",
    "seat_state",
    "send_steps",
    "sign_out_steps",
]
