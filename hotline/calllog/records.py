"""The call log: one record per call, keyed by Asterisk's uniqueid, with a timeline of events.

This module owns the record. The IVR (what the caller did, and what Queue() returned) and the
AMI side (`hotline.calllog.queue_events`: what the queue did) both report here, and so does
the reconciliation after a restart. Each report is a *fact* merged into `Call.facts` in a
way that does not depend on order (earliest join, latest end, the strongest queue result and
IVR outcome …); the record's columns and its one disposition are then derived from the facts
(`decide`). So one join, one end and one final disposition per call hold by construction,
whatever order the two sources' reports arrive in, and a report repeated adds nothing.

Every operation takes only JSON-friendly arguments, so one that could not reach the database
can be journalled to disk and replayed later (`hotline.calllog.journal`) without losing or
doubling anything: `OPERATIONS` is that contract.

The operations run many at a time (the writer batches every call's reports that arrive
within a moment into one transaction), so they are written with SQLAlchemy Core, not the ORM:
each call's row is read once per transaction into a plain `Record` (kept in `session.info`),
the operations change it in memory, and `write` sends the batch's new rows, changed rows and
timeline events as one executemany each before the session commits (bench/calllog_cpu.py:
about a tenth of the ORM's CPU per call). A replayed operation adds no second event: the
database skips an event whose (call, op_id) it already has.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, event, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import ORMExecuteState, Session

from hotline import phone
from hotline.storage.models import Call, CallDisposition, CallEvent
from hotline.timestamps import utc

#: QUEUESTATUS values (lower case) of a Queue() that would not keep the caller.
REFUSALS = frozenset({"full", "joinempty", "leaveempty", "joinunavail", "leaveunavail"})
#: How the queue let the caller go, weakest first: a later, stronger report wins whatever
#: the order. AMI's abandon is the weakest (it is also sent on a timeout and on leavewhenempty).
_RESULT_RANK = {"abandoned": 1, "timeout": 2, **dict.fromkeys(REFUSALS, 3)}
#: What the IVR did with the caller, weakest first.
_OUTCOME_RANK = {"failed": 1, "self_service": 2, "callback_requested": 3, "voicemail": 4}


def _last_queue(facts: dict[str, Any]) -> tuple[str, dict[str, Any] | None, dict[str, Any]]:
    """The queue the caller asked last (a closed or full skill queue may send them on to
    another), its join and how it let the caller go."""
    queue = (facts.get("queue") or ["", ""])[1]
    return queue, (facts.get("join") or {}).get(queue), (facts.get("left") or {}).get(queue) or {}


def decide(facts: dict[str, Any]) -> CallDisposition:
    """The call's one disposition from everything every source said (see docs/ivr.md,
    "Dispositions"). A pure function of merged facts, so the order reports arrive in cannot
    change it."""
    _, join, left = _last_queue(facts)
    outcome, result = facts.get("outcome"), left.get("result")
    if outcome == "voicemail":
        return CallDisposition.VOICEMAIL
    if outcome == "callback_requested":
        return CallDisposition.CALLBACK_REQUESTED
    if "answer" in facts:
        return CallDisposition.ANSWERED
    if result in REFUSALS:
        return CallDisposition.REFUSED
    if result == "timeout":
        return CallDisposition.TIMED_OUT
    if result == "abandoned":
        return CallDisposition.ABANDONED
    if outcome == "self_service":
        return CallDisposition.SELF_SERVICE
    if outcome == "failed":
        return CallDisposition.FAILED
    ended = "end" in facts
    if not ended and "lost" in facts:
        return CallDisposition.SERVICE_DOWN
    if join is not None:
        return CallDisposition.ABANDONED if ended else CallDisposition.QUEUED
    return CallDisposition.IVR_ABANDONED if ended else CallDisposition.IN_PROGRESS


def _derive(call: Record) -> None:
    """The record's columns from its facts."""
    facts = call.facts
    queue, join, left = _last_queue(facts)
    answer, end = facts.get("answer"), facts.get("end")
    result = left.get("result") or ""
    call.disposition = decide(facts)
    call.queue = queue or call.queue
    call.queued_at = utc(join["at"]) if join and result not in REFUSALS else None
    call.queue_result = "answered" if answer else result
    if answer:
        call.answered_at = utc(answer["at"])
        call.agent_interface = answer.get("agent") or ""
        call.agent_user_id = answer.get("user") or call.agent_user_id
        wait = answer.get("wait", answer.get("wait_ivr"))
        if wait is None and call.queued_at is not None:
            wait = max(0, int((call.answered_at - call.queued_at).total_seconds()))
        call.wait_seconds = wait
    elif result and result not in REFUSALS:
        call.wait_seconds = left.get("ami", left.get("ivr"))
    else:
        call.wait_seconds = None
    if end:
        call.ended_at = utc(end["at"])
        call.talk_seconds = end.get("talk")
        call.recording_path = end.get("recording") or call.recording_path
    elif "lost" in facts:
        call.ended_at = utc(facts["lost"])


def _merge(call: Record, **facts: Any) -> None:
    """Set facts (a new dict, so the JSON column is seen as changed) and re-derive the columns."""
    call.facts = {**(call.facts or _legacy_facts(call)), **facts}
    _derive(call)


def _legacy_facts(call: Record) -> dict[str, Any]:
    """Facts for a record written before there were any (schema 0001, a call in progress
    during the upgrade): read back from its columns, so a late report does not undo them."""
    if call.disposition in (None, CallDisposition.IN_PROGRESS) and not call.queue and call.ended_at is None:
        return {}
    facts: dict[str, Any] = {}
    queue, joined = call.queue, call.queued_at or call.started_at
    if queue:
        facts["queue"] = [joined.isoformat(), queue]
        if call.queued_at is not None:
            facts["join"] = {queue: {"at": call.queued_at.isoformat(), "position": None}}
    disposition = call.disposition
    if disposition is CallDisposition.ANSWERED:
        facts["answer"] = {"at": (call.answered_at or joined).isoformat(), "agent": call.agent_interface, **({"wait": call.wait_seconds} if call.wait_seconds is not None else {})}
    elif disposition is CallDisposition.ABANDONED and queue:
        facts["left"] = {queue: {"result": "abandoned", **({"ami": call.wait_seconds} if call.wait_seconds is not None else {})}}
    elif disposition is not None and disposition.value in _OUTCOME_RANK:
        facts["outcome"] = disposition.value
    if call.ended_at is not None:
        facts["end"] = {"at": call.ended_at.isoformat(), "cause": "", "talk": call.talk_seconds, "recording": call.recording_path}
    return facts


def _once(session: Session, call: Record, kind: str, detail: dict[str, Any], at: datetime, op_id: str | None, source: str, later: bool = False) -> None:
    """A timeline event that exists once per call (join, answer, abandon, end …): the first
    report adds it; a later one, from another source, moves it to the earliest (`later`:
    the latest) moment."""
    if source:
        detail = {**detail, "source": source}
    written = call.facts.get("once") or []
    if kind not in written:
        call.facts = {**call.facts, "once": sorted({*written, kind})}
        _event(session, call, kind, detail, at, op_id)
        return
    _pending(session).moves.append((call, kind, at, detail, later))


def _ranked(old: str | None, new: str, rank: dict[str, int]) -> str:
    if old is None:
        return new
    return max(old, new, key=lambda value: (rank.get(value, 0), value))


def _earliest(old: str | None, new: datetime) -> str:
    return new.isoformat() if old is None or new < utc(old) else old


def _least(old: int | None, new: int | None) -> int | None:
    return new if old is None else old if new is None else min(old, new)


def _larger(old: str | None, new: str) -> str:
    return max(old or "", new)


def _latest_queue(old: list[str] | None, queue: str, when: datetime) -> list[str]:
    """[time, queue] of the queue the caller asked last (ties: the larger name)."""
    if not queue:
        return old or ["", ""]
    if old is None or not old[1]:
        return [when.isoformat(), queue]
    return max(old, [when.isoformat(), queue], key=lambda item: (utc(item[0]) if item[0] else when, item[1]))


def _clip(text: str | None, size: int) -> str:
    return (text or "")[:size]


_CALLS = cast(Table, Call.__table__)
_EVENTS = cast(Table, CallEvent.__table__)
#: Every column of a call row but its id, in table order: what a Record holds and writes.
_COLUMNS: tuple[str, ...] = tuple(c.name for c in _CALLS.columns if c.name != "id")


class Record:
    """A call's row as the call log holds it within one transaction: a plain object (no ORM
    unit of work), the same attributes as `Call`. `id` is None until it is first written."""

    __slots__ = ("changed", "id", *_COLUMNS)

    id: int | None
    changed: bool
    uniqueid: str
    linkedid: str
    direction: str
    channel: str
    caller_number: str
    caller_name: str
    dnid: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    disposition: CallDisposition
    queue: str
    agent_user_id: int | None
    agent_interface: str
    queued_at: datetime | None
    wait_seconds: int | None
    talk_seconds: int | None
    recording_path: str
    ticket_id: int | None
    queue_result: str
    facts: dict[str, Any]

    def __init__(self, id: int | None = None, **columns: Any) -> None:
        for name in _COLUMNS:
            object.__setattr__(self, name, columns.get(name, _DEFAULTS.get(name)))
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "changed", id is None)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name != "changed":
            object.__setattr__(self, "changed", True)

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _COLUMNS}

    def __repr__(self) -> str:
        return f"<Record {self.id} {self.uniqueid} {self.disposition}>"


_DEFAULTS: dict[str, Any] = {
    "linkedid": "",
    "direction": "in",
    "channel": "",
    "caller_number": "",
    "caller_name": "",
    "dnid": "",
    "disposition": CallDisposition.IN_PROGRESS,
    "queue": "",
    "agent_interface": "",
    "recording_path": "",
    "queue_result": "",
}


class _Pending:
    """What one session's call-log operations changed, written at its next flush or commit
    as a few statements for the whole batch (`write`): rows by uniqueid, new timeline
    events, and moves of once-per-call events."""

    __slots__ = ("absent", "events", "moves", "records")

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}
        #: uniqueids `preload` found no row for (so `get` need not ask again).
        self.absent: set[str] = set()
        self.events: list[tuple[Record, dict[str, Any]]] = []
        self.moves: list[tuple[Record, str, datetime, dict[str, Any], bool]] = []


_PENDING = "hotline.calllog.records.pending"


def _pending(session: Session) -> _Pending:
    pending: _Pending | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = _Pending()
    return pending


#: Built once: composing a statement costs more than running it on SQLite. FOR UPDATE (a
#: no-op on SQLite, where the writer holds the database's lock) keeps two nodes writing the
#: same call on PostgreSQL — the IVR's and the AMI writer's — from losing each other's facts.
_CALL_BY_UNIQUEID = select(_CALLS).where(_CALLS.c.uniqueid == bindparam("uniqueid")).with_for_update()
_INSERT_CALLS = insert(_CALLS).returning(_CALLS.c.id, sort_by_parameter_order=True)
_UPDATE_CALLS = update(_CALLS).where(_CALLS.c.id == bindparam("_id"))
_FIRST_OF_KIND = select(func.min(_EVENTS.c.id)).where(_EVENTS.c.call_id == bindparam("_call_id"), _EVENTS.c.kind == bindparam("_kind")).scalar_subquery()
#: Move a once-per-call event to an earlier / a later moment (`_once`).
_MOVE_EARLIER = update(_EVENTS).where(_EVENTS.c.id == _FIRST_OF_KIND, _EVENTS.c.at > bindparam("_at")).values(at=bindparam("_at"), detail=bindparam("_detail"))
_MOVE_LATER = update(_EVENTS).where(_EVENTS.c.id == _FIRST_OF_KIND, _EVENTS.c.at < bindparam("_at")).values(at=bindparam("_at"), detail=bindparam("_detail"))
#: A replayed operation's event (same call, same op_id) is already there: the unique
#: (call_id, op_id) constraint lets the database skip it, with no read before the write.
_INSERT_EVENTS = {
    "sqlite": sqlite_insert(_EVENTS).on_conflict_do_nothing(index_elements=["call_id", "op_id"]),
    "postgresql": postgresql_insert(_EVENTS).on_conflict_do_nothing(index_elements=["call_id", "op_id"]),
}


def write(session: Session) -> None:
    """Write what the session's call-log operations changed: new rows in one INSERT, changed
    rows in one executemany UPDATE, new events in one INSERT. Runs by itself before the
    session commits, flushes or runs an ORM statement (`_write_before`), so ORM work in the
    same transaction (a message's ticket) sees the rows."""
    pending: _Pending | None = session.info.get(_PENDING)
    if pending is None or not (pending.events or pending.moves or any(r.changed for r in pending.records.values())):
        return
    connection = session.connection()
    new = [record for record in pending.records.values() if record.id is None]
    changed = [{"_id": record.id, **record.row()} for record in pending.records.values() if record.changed and record.id is not None]
    if new:
        for record, (call_id,) in zip(new, connection.execute(_INSERT_CALLS, [record.row() for record in new]), strict=True):
            object.__setattr__(record, "id", call_id)
    if changed:
        connection.execute(_UPDATE_CALLS, changed)
    for record in pending.records.values():
        object.__setattr__(record, "changed", False)
    if pending.events:
        rows = [{"call_id": record.id, **event} for record, event in pending.events]
        pending.events = []
        connection.execute(_INSERT_EVENTS.get(connection.dialect.name, insert(_EVENTS)), rows)
    if pending.moves:
        moves, pending.moves = pending.moves, []
        for record, kind, at, detail, later in moves:
            connection.execute(_MOVE_LATER if later else _MOVE_EARLIER, {"_call_id": record.id, "_kind": kind, "_at": at, "_detail": detail})


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    write(session)


@event.listens_for(Session, "before_flush")
def _write_before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    write(session)


@event.listens_for(Session, "do_orm_execute")
def _write_before_orm_statement(state: ORMExecuteState) -> None:
    if _PENDING in state.session.info:
        write(state.session)


_CALLS_BY_UNIQUEIDS = select(_CALLS).where(_CALLS.c.uniqueid.in_(bindparam("uniqueids", expanding=True))).order_by(_CALLS.c.uniqueid).with_for_update()


def preload(session: Session, uniqueids: list[str]) -> None:
    """Read the rows of many calls in one statement before a batch's operations run (the
    pool's `Keyed` writes). On PostgreSQL they are locked in uniqueid order, so two nodes
    writing overlapping batches take their locks in the same order."""
    pending = _pending(session)
    wanted = sorted({_clip(u, 64) for u in uniqueids} - pending.records.keys() - pending.absent)
    if not wanted:
        return
    for row in session.connection().execute(_CALLS_BY_UNIQUEIDS, {"uniqueids": wanted}).mappings():
        pending.records[row["uniqueid"]] = Record(**row)
    pending.absent.update(u for u in wanted if u not in pending.records)


def get(session: Session, uniqueid: str) -> Record | None:
    """The call's record: this transaction's, or read (and, on PostgreSQL, locked) once."""
    uniqueid = _clip(uniqueid, 64)
    pending = _pending(session)
    call = pending.records.get(uniqueid)
    if call is None and uniqueid not in pending.absent:
        row = session.connection().execute(_CALL_BY_UNIQUEID, {"uniqueid": _clip(uniqueid, 64)}).mappings().one_or_none()
        if row is not None:
            call = pending.records[uniqueid] = Record(**row)
    return call


def saved(session: Session, call: Record) -> int:
    """The record's id, writing it first if it is new (for rows that refer to it)."""
    if call.id is None:
        write(session)
    assert call.id is not None
    return call.id


def _ensure(session: Session, uniqueid: str, at: datetime) -> Record:
    """The call's record, created bare if the first we hear of it is a queue event."""
    uniqueid = _clip(uniqueid, 64)
    call = get(session, uniqueid)
    if call is None:
        # linkedid stays empty so a later start_call fills in the real one.
        call = _pending(session).records[uniqueid] = Record(uniqueid=uniqueid, started_at=at, facts={})
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
) -> Record:
    """Open the record. Repeating it (a replayed journal, a second AGI leg) fills gaps only."""
    when, uniqueid = utc(at), _clip(uniqueid, 64)
    call = get(session, uniqueid)
    created = call is None
    if call is None:
        call = _pending(session).records[uniqueid] = Record(uniqueid=uniqueid, started_at=when, facts={})
    call.linkedid = call.linkedid or _clip(linkedid or uniqueid, 64)
    call.channel = call.channel or _clip(channel, 128)
    call.caller_number = call.caller_number or _clip(phone.normalise_or_raw(caller_number), 32)
    call.caller_name = call.caller_name or _clip(caller_name, 100)
    call.dnid = call.dnid or _clip(dnid, 32)
    call.direction = direction if direction in ("in", "out") else "in"
    call.started_at = min(call.started_at, when)
    if created:
        _event(session, call, "start", {"channel": call.channel, "dnid": call.dnid}, when, op_id)
    return call


def add_event(session: Session, *, uniqueid: str, kind: str, detail: dict[str, Any] | None = None, at: datetime | str | None = None, op_id: str | None = None) -> None:
    """One step on the call's timeline (menu choice, prompt, key, queue event …)."""
    when = utc(at)
    _event(session, _ensure(session, uniqueid, when), kind, detail or {}, when, op_id)


def _event(session: Session, call: Record, kind: str, detail: dict[str, Any], at: datetime, op_id: str | None = None) -> None:
    """Append to the timeline at the next write; an operation replayed from the journal (same
    op_id) adds nothing (the insert skips a (call_id, op_id) that is already there)."""
    _pending(session).events.append((call, {"kind": _clip(kind, 32), "detail": detail, "at": at, "op_id": op_id}))


def mark_answered(session: Session, *, uniqueid: str, at: datetime | str | None = None, op_id: str | None = None) -> Record:
    """The IVR answered the channel (not an agent: see `queue_answered`)."""
    when = utc(at)
    call = _ensure(session, uniqueid, when)
    _event(session, call, "answer", {}, when, op_id)
    return call


def set_outcome(session: Session, *, uniqueid: str, outcome: str, at: datetime | str | None = None, detail: dict[str, Any] | None = None, op_id: str | None = None) -> Record:
    """Where the IVR left the caller: voicemail, self_service, callback_requested, failed.

    ("queued" and "ivr_abandoned", which older journals may hold, are not outcomes the IVR
    decides any more: they only add the timeline event.)"""
    when = utc(at)
    disposition = CallDisposition(outcome)
    call = _ensure(session, uniqueid, when)
    if disposition.value in _OUTCOME_RANK:
        _merge(call, outcome=_ranked(call.facts.get("outcome"), disposition.value, _OUTCOME_RANK))
    _event(session, call, "outcome", {"outcome": disposition.value, **(detail or {})}, when, op_id)
    return call


def queue_joined(session: Session, *, uniqueid: str, queue: str, position: int | None = None, at: datetime | str | None = None, op_id: str | None = None, source: str = "") -> Record:
    """Asterisk confirmed the caller is in the queue (QueueCallerJoin, or Queue()'s result
    seen by the IVR). Both sources may say so: one `queue_join` on the timeline, at the earliest."""
    when, queue = utc(at), _clip(queue, 64)
    call = _ensure(session, uniqueid, when)
    joins = dict(call.facts.get("join") or {})
    old = joins.get(queue)
    joins[queue] = {"at": _earliest(old and old["at"], when), "position": _least(old and old.get("position"), position)}
    _merge(call, join=joins, queue=_latest_queue(call.facts.get("queue"), queue, when))
    _once(session, call, "queue_join", {"queue": queue, "position": joins[queue]["position"]}, utc(joins[queue]["at"]), op_id, source)
    return call


def queue_answered(
    session: Session,
    *,
    uniqueid: str,
    queue: str,
    agent: str,
    wait_seconds: int | None = None,
    agent_user_id: int | None = None,
    at: datetime | str | None = None,
    op_id: str | None = None,
    source: str = "",
) -> Record:
    """An agent took the call (AgentConnect, or Queue()'s ANSWEREDTIME seen by the IVR)."""
    when = utc(at)
    call = _ensure(session, uniqueid, when)
    old = call.facts.get("answer")
    answer = dict(old or {})
    answer["at"] = _earliest(old and old["at"], when)
    answer["agent"] = _larger(answer.get("agent"), _clip(agent, 128))
    if wait_seconds is not None:
        key = "wait_ivr" if source == "ivr" else "wait"
        answer[key] = _least(answer.get(key), wait_seconds)
    if agent_user_id:
        answer["user"] = _least(answer.get("user"), agent_user_id)
    _merge(call, answer=answer, queue=_latest_queue(call.facts.get("queue"), _clip(queue, 64), when))
    _once(session, call, "queue_answer", {"queue": queue, "agent": answer["agent"], "wait_seconds": call.wait_seconds}, utc(answer["at"]), op_id, source)
    return call


def queue_abandoned(
    session: Session, *, uniqueid: str, queue: str, position: int | None = None, wait_seconds: int | None = None, at: datetime | str | None = None, op_id: str | None = None, source: str = ""
) -> Record:
    """The caller left the queue unanswered. From AMI (QueueCallerAbandon) this is ambiguous:
    Asterisk sends it on a timeout and on leavewhenempty too, so the IVR's QUEUESTATUS
    (`queue_timed_out`, `queue_refused`) outranks it in `decide`."""
    return _left(session, uniqueid, "abandoned", queue, wait_seconds, at, op_id, source, {"position": position})


def queue_timed_out(session: Session, *, uniqueid: str, queue: str, wait_seconds: int | None = None, at: datetime | str | None = None, op_id: str | None = None, source: str = "ivr") -> Record:
    """Queue() gave up on the caller (QUEUESTATUS=TIMEOUT): waited the queue's maximum."""
    return _left(session, uniqueid, "timeout", queue, wait_seconds, at, op_id, source, {})


def queue_refused(session: Session, *, uniqueid: str, queue: str, reason: str, at: datetime | str | None = None, op_id: str | None = None, source: str = "ivr") -> Record:
    """The queue would not keep the caller: QUEUESTATUS FULL, JOINEMPTY, LEAVEEMPTY,
    JOINUNAVAIL, LEAVEUNAVAIL, or the IVR's own check that the queue is full. No queued time."""
    reason = reason.lower()
    if reason not in REFUSALS:
        raise ValueError(f"unknown queue refusal {reason!r} (known: {', '.join(sorted(REFUSALS))})")
    return _left(session, uniqueid, reason, queue, None, at, op_id, source, {})


def _left(session: Session, uniqueid: str, result: str, queue: str, wait_seconds: int | None, at: datetime | str | None, op_id: str | None, source: str, detail: dict[str, Any]) -> Record:
    when, queue = utc(at), _clip(queue, 64)
    call = _ensure(session, uniqueid, when)
    lefts = dict(call.facts.get("left") or {})
    left = dict(lefts.get(queue) or {})
    left["result"] = _ranked(left.get("result"), result, _RESULT_RANK)
    if wait_seconds is not None:
        key = "ivr" if source == "ivr" else "ami"
        left[key] = _least(left.get(key), wait_seconds)
    lefts[queue] = left
    _merge(call, left=lefts, queue=_latest_queue(call.facts.get("queue"), queue, when))
    kind = "queue_refused" if result in REFUSALS else "queue_" + {"abandoned": "abandon", "timeout": "timeout"}[result]
    _once(session, call, kind, {"queue": queue, "wait_seconds": wait_seconds, **detail}, when, op_id, source)
    return call


def call_ended(
    session: Session,
    *,
    uniqueid: str,
    at: datetime | str | None = None,
    talk_seconds: int | None = None,
    recording_path: str | None = None,
    cause: str = "",
    op_id: str | None = None,
    source: str = "",
    if_exists: bool = False,
) -> Record | None:
    """The call (or one AGI session of it) ended. Every source may say so: one `end` on the
    timeline, at the latest. `if_exists`: only for a call already on record (a channel the
    AMI side follows again after a restart may be anybody's)."""
    when = utc(at)
    if if_exists and get(session, uniqueid) is None:
        return None
    call = _ensure(session, uniqueid, when)
    old = call.facts.get("end")
    end = dict(old or {})
    last = utc(old["at"]) if old else None
    if last is None or when > last:
        end["at"], end["cause"] = when.isoformat(), _clip(cause, 64)
    elif when == last:
        end["cause"] = _larger(end.get("cause"), _clip(cause, 64))
    if talk_seconds is not None:
        end["talk"] = max(end.get("talk") or 0, talk_seconds)
    if recording_path:
        end["recording"] = _larger(end.get("recording"), _clip(recording_path, 255))
    _merge(call, end=end)
    _once(session, call, "end", {"cause": end["cause"], "talk_seconds": end.get("talk")}, utc(end["at"]), op_id, source, later=True)
    return call


def call_lost(session: Session, *, uniqueid: str, at: datetime | str | None = None, op_id: str | None = None) -> Record:
    """The call ended while the service was down (found gone on start or after an AMI
    reconnect): `at` is no later than the restart. An end any source really saw wins."""
    when = utc(at)
    call = _ensure(session, uniqueid, when)
    old = call.facts.get("lost")
    _merge(call, lost=_earliest(old, when))
    _once(session, call, "service_down", {"note": "ended while the service was down"}, when, op_id, "", later=False)
    return call


#: Open records this old or older, not among Asterisk's channels, ended while we were away.
_OPEN_CALLS = select(_CALLS).where(_CALLS.c.ended_at.is_(None), _CALLS.c.started_at < bindparam("since")).with_for_update()


def reconcile_open_calls(session: Session, *, live: list[str], since: datetime | str, at: datetime | str | None = None, op_id: str | None = None) -> list[str]:
    """Calls on record as still going whose channel Asterisk no longer has (`live`: every
    channel uniqueid CoreShowChannels listed) are marked lost at `since`, the moment the
    service stopped seeing them (its start, or the AMI connection's loss). Only calls that
    started before `since` are judged: a newer one is being followed. Returns their uniqueids."""
    moment = utc(since)
    alive = set(live)
    write(session)
    pending = _pending(session)
    lost = []
    for row in session.connection().execute(_OPEN_CALLS, {"since": moment}).mappings().all():
        facts = row["facts"] or {}
        if row["uniqueid"] in alive or "lost" in facts or "end" in facts:
            continue
        pending.records.setdefault(row["uniqueid"], Record(**row))
        call_lost(session, uniqueid=row["uniqueid"], at=moment)
        lost.append(row["uniqueid"])
    return lost


def link_ticket(session: Session, *, uniqueid: str, ticket_id: int, at: datetime | str | None = None, op_id: str | None = None) -> Record:
    when = utc(at)
    call = _ensure(session, uniqueid, when)
    call.ticket_id = ticket_id
    _event(session, call, "ticket", {"ticket_id": ticket_id}, when, op_id)
    return call


def timeline(session: Session, uniqueid: str) -> list[CallEvent]:
    call = get(session, uniqueid)
    if call is None:
        return []
    write(session)
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
    "queue_timed_out": queue_timed_out,
    "queue_refused": queue_refused,
    "call_ended": call_ended,
    "call_lost": call_lost,
    "reconcile_open_calls": reconcile_open_calls,
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
