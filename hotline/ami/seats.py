"""An operator's seat in the Asterisk queues: the actions that move it and the state Asterisk
reports for it.

A seat is a PJSIP endpoint (the account's extension); its queue member interface is
`PJSIP/<extension>`, a member of the Asterisk queue of each of its skills
(`hotline.dialplan.asterisk_queue`). The desk's console and `hotline queue …` both build their
QueueAdd / QueuePause / QueueRemove here; the state shown is read back from the live model,
never assumed from what was sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from hotline.ami import actions
from hotline.ami.codec import Response
from hotline.ami.live import LiveSnapshot, MemberView
from hotline.dialplan import asterisk_queue

#: Pause reasons an operator picks (sent to Asterisk as PausedReason, ASCII codes so every
#: reader of QueueStatus shows them the same); labels are the desk's.
PAUSE_REASONS = ("break", "meal", "training", "acw")
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


__all__ = ["COMMANDS", "PAUSE_REASONS", "SIGNED_OUT", "STATES", "WRAPUP", "SeatState", "after_call_steps", "interface", "leaving", "seat_action", "seat_state", "sign_out_steps"]
