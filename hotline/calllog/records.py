"""The call log: one record per call, keyed by Asterisk's uniqueid, with a timeline of events.

The IVR (what the caller did) and the AMI live model (what the queue did) both write here.
Every operation is idempotent or additive and takes only JSON-friendly arguments, so an
operation that could not reach the database can be journalled to disk and replayed later
(see `hotline.calllog.journal`) without losing or doubling anything: `OPERATIONS` is that contract.

The IVR writes a call's steps several at a time, in one transaction (`hotline.calllog.journal`'s
batches), so the operations are cheap to repeat within one session: the call row and the
op_ids already on its timeline are looked up once per session and remembered in
`session.info`, and timeline rows are inserted together at the next flush.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from hotline.timestamps import utc
from hotline import phone
from hotline.storage.models import Call, CallDisposition, CallEvent

#: Outcomes that a later, less final report must not overwrite (a late IVR hangup after
#: the queue said "answered" stays answered).
_FINAL = {CallDisposition.ANSWERED, CallDisposition.ABANDONED, CallDisposition.VOICEMAIL, CallDisposition.SELF_SERVICE, CallDisposition.CALLBACK_REQUESTED, CallDisposition.FAILED}


def _clip(text: str | None, size: int) -> str:
    return (text or "")[:size]


#: Built once: composing a statement costs more than running it on SQLite.
_CALL_BY_UNIQUEID = select(Call).where(Call.uniqueid == bindparam("uniqueid"))
_OP_IDS_OF_CALL = select(CallEvent.op_id).where(CallEvent.call_id == bindparam("call_id"), CallEvent.op_id.is_not(None))

#: session.info keys: uniqueid → Call, and call id → op_ids on its timeline, for this session.
_CALLS_SEEN = "hotline.calllog.records.seen"
_OP_IDS_SEEN = "hotline.calllog.records.op_ids"


def get(session: Session, uniqueid: str) -> Call | None:
    seen: dict[str, Call] = session.info.setdefault(_CALLS_SEEN, {})
    call = seen.get(uniqueid)
    if call is None:
        call = session.scalars(_CALL_BY_UNIQUEID, {"uniqueid": _clip(uniqueid, 64)}).one_or_none()
        if call is not None:
            seen[uniqueid] = call
    return call


def _created(session: Session, uniqueid: str, call: Call) -> None:
    """A row this session inserted: remember it, and that its timeline holds no op_ids yet."""
    session.flush()
    session.info.setdefault(_CALLS_SEEN, {})[uniqueid] = call
    session.info.setdefault(_OP_IDS_SEEN, {})[call.id] = set()


def _ensure(session: Session, uniqueid: str, at: datetime) -> Call:
    """The call's record, created bare if the first we hear of it is a queue event."""
    call = get(session, uniqueid)
    if call is None:
        # linkedid stays empty so a later start_call fills in the real one.
        call = Call(uniqueid=_clip(uniqueid, 64), linkedid="", started_at=at)
        session.add(call)
        _created(session, uniqueid, call)
    return call


def start_call(
    session: Session,
    *,
    uniqueid: str,
    at: datetime | str | None = None,
    op_id: str | None = None,
    linkedid: str = "",
    channel: str = "",
    caller_number: str = "",
    caller_name: str = "",
    dnid: str = "",
    direction: str = "in",
) -> Call:
    """Open the record. Repeating it (a replayed journal, a second AGI leg) fills gaps only."""
    when = utc(at)
    call = get(session, uniqueid)
    created = call is None
    if call is None:
        call = Call(uniqueid=_clip(uniqueid, 64), started_at=when)
        session.add(call)
    call.linkedid = call.linkedid or _clip(linkedid or uniqueid, 64)
    call.channel = call.channel or _clip(channel, 128)
    call.caller_number = call.caller_number or _clip(phone.normalise_or_raw(caller_number), 32)
    call.caller_name = call.caller_name or _clip(caller_name, 100)
    call.dnid = call.dnid or _clip(dnid, 32)
    call.direction = direction if direction in ("in", "out") else "in"
    if when < call.started_at:
        call.started_at = when
    if created:
        _created(session, uniqueid, call)
        _event(session, call, "start", {"channel": call.channel, "dnid": call.dnid}, when, op_id)
    return call


def add_event(session: Session, *, uniqueid: str, kind: str, detail: dict[str, Any] | None = None, at: datetime | str | None = None, op_id: str | None = None) -> CallEvent:
    """One step on the call's timeline (menu choice, prompt, key, queue event …)."""
    when = utc(at)
    return _event(session, _ensure(session, uniqueid, when), kind, detail or {}, when, op_id)


def _event(session: Session, call: Call, kind: str, detail: dict[str, Any], at: datetime, op_id: str | None = None) -> CallEvent:
    """Append to the timeline; an operation replayed from the journal (same op_id) adds nothing.

    The row is inserted at the session's next flush (at the latest, its commit)."""
    event = CallEvent(call_id=call.id, kind=_clip(kind, 32), detail=detail, at=at, op_id=op_id)
    if op_id:
        known: dict[int, set[str]] = session.info.setdefault(_OP_IDS_SEEN, {})
        op_ids = known.get(call.id)
        if op_ids is None:
            op_ids = known[call.id] = set(session.scalars(_OP_IDS_OF_CALL, {"call_id": call.id}))
        if op_id in op_ids:
            return event  # not added: the replayed operation's event is already there
        op_ids.add(op_id)
    session.add(event)
    return event


def mark_answered(session: Session, *, uniqueid: str, at: datetime | str | None = None, op_id: str | None = None) -> Call:
    """The IVR answered the channel (not an agent: see `queue_answered`)."""
    when = utc(at)
    call = _ensure(session, uniqueid, when)
    _event(session, call, "answer", {}, when, op_id)
    return call


def set_outcome(session: Session, *, uniqueid: str, outcome: str, at: datetime | str | None = None, detail: dict[str, Any] | None = None, op_id: str | None = None) -> Call:
    """Where the IVR left the caller: queued, voicemail, self_service, callback_requested, failed …"""
    when = utc(at)
    disposition = CallDisposition(outcome)
    call = _ensure(session, uniqueid, when)
    if call.disposition not in _FINAL:
        call.disposition = disposition
    _event(session, call, "outcome", {"outcome": disposition.value, **(detail or {})}, when, op_id)
    return call


def queue_joined(session: Session, *, uniqueid: str, queue: str, position: int | None = None, at: datetime | str | None = None, op_id: str | None = None) -> Call:
    when = utc(at)
    call = _ensure(session, uniqueid, when)
    call.queue = _clip(queue, 64)
    call.queued_at = call.queued_at or when
    if call.disposition in (CallDisposition.IN_PROGRESS, CallDisposition.IVR_ABANDONED):
        call.disposition = CallDisposition.QUEUED
    _event(session, call, "queue_join", {"queue": queue, "position": position}, when, op_id)
    return call


def queue_answered(session: Session, *, uniqueid: str, queue: str, agent: str, wait_seconds: int | None = None, agent_user_id: int | None = None, at: datetime | str | None = None, op_id: str | None = None) -> Call:
    when = utc(at)
    call = _ensure(session, uniqueid, when)
    call.queue = call.queue or _clip(queue, 64)
    call.agent_interface = _clip(agent, 128)
    call.agent_user_id = agent_user_id or call.agent_user_id
    call.answered_at = call.answered_at or when
    if wait_seconds is None and call.queued_at is not None:
        wait_seconds = int((when - call.queued_at).total_seconds())
    call.wait_seconds = wait_seconds
    call.disposition = CallDisposition.ANSWERED
    _event(session, call, "queue_answer", {"queue": queue, "agent": agent, "wait_seconds": wait_seconds}, when, op_id)
    return call


def queue_abandoned(session: Session, *, uniqueid: str, queue: str, position: int | None = None, wait_seconds: int | None = None, at: datetime | str | None = None, op_id: str | None = None) -> Call:
    when = utc(at)
    call = _ensure(session, uniqueid, when)
    call.queue = call.queue or _clip(queue, 64)
    if wait_seconds is None and call.queued_at is not None:
        wait_seconds = int((when - call.queued_at).total_seconds())
    call.wait_seconds = wait_seconds
    if call.disposition in (CallDisposition.IN_PROGRESS, CallDisposition.QUEUED, CallDisposition.IVR_ABANDONED):
        call.disposition = CallDisposition.ABANDONED
    _event(session, call, "queue_abandon", {"queue": queue, "position": position, "wait_seconds": wait_seconds}, when, op_id)
    return call


def call_ended(session: Session, *, uniqueid: str, at: datetime | str | None = None, talk_seconds: int | None = None, recording_path: str | None = None, cause: str = "", op_id: str | None = None) -> Call:
    """Close the record. A call that never left the menu is 'ivr_abandoned'."""
    when = utc(at)
    call = _ensure(session, uniqueid, when)
    call.ended_at = max(call.ended_at or when, when)
    if talk_seconds is not None:
        call.talk_seconds = talk_seconds
    if recording_path:
        call.recording_path = _clip(recording_path, 255)
    if call.disposition is CallDisposition.IN_PROGRESS:
        call.disposition = CallDisposition.IVR_ABANDONED
    _event(session, call, "end", {"cause": cause, "talk_seconds": talk_seconds}, when, op_id)
    return call


def link_ticket(session: Session, *, uniqueid: str, ticket_id: int, at: datetime | str | None = None, op_id: str | None = None) -> Call:
    when = utc(at)
    call = _ensure(session, uniqueid, when)
    call.ticket_id = ticket_id
    _event(session, call, "ticket", {"ticket_id": ticket_id}, when, op_id)
    return call


def timeline(session: Session, uniqueid: str) -> list[CallEvent]:
    call = get(session, uniqueid)
    if call is None:
        return []
    return list(session.scalars(select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.at, CallEvent.id)))


#: The journal-able operations: name → function(session, **json_kwargs).
OPERATIONS: dict[str, Callable[..., Any]] = {
    "start_call": start_call,
    "add_event": add_event,
    "mark_answered": mark_answered,
    "set_outcome": set_outcome,
    "queue_joined": queue_joined,
    "queue_answered": queue_answered,
    "queue_abandoned": queue_abandoned,
    "call_ended": call_ended,
    "link_ticket": link_ticket,
}


def apply(session: Session, operation: str, arguments: dict[str, Any], op_id: str | None = None) -> Any:
    """Run one named operation; the journal replays through here with the entry's id, so a
    replay after a crash between the write and the journal's bookkeeping adds no event twice."""
    try:
        fn = OPERATIONS[operation]
    except KeyError:
        raise ValueError(f"unknown call-log operation {operation!r}") from None
    if op_id is not None:
        return fn(session, **arguments, op_id=op_id)
    return fn(session, **arguments)
