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


def _derive(call: Call) -> None:
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


def _merge(call: Call, **facts: Any) -> None:
    """Set facts (a new dict, so the JSON column is seen as changed) and re-derive the columns."""
    call.facts = {**(call.facts or _legacy_facts(call)), **facts}
    _derive(call)


def _legacy_facts(call: Call) -> dict[str, Any]:
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


def _once(session: Session, call: Call, kind: str, detail: dict[str, Any], at: datetime, op_id: str | None, source: str, later: bool = False) -> None:
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
    event = session.scalars(select(CallEvent).where(CallEvent.call_id == call.id, CallEvent.kind == kind).order_by(CallEvent.id).limit(1)).first()
    if event is not None and (at > event.at if later else at < event.at):
        event.at, event.detail = at, detail


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
        call = Call(uniqueid=_clip(uniqueid, 64), linkedid="", started_at=at, facts={})
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
        call = Call(uniqueid=_clip(uniqueid, 64), started_at=when, facts={})
        session.add(call)
    call.linkedid = call.linkedid or _clip(linkedid or uniqueid, 64)
    call.channel = call.channel or _clip(channel, 128)
    call.caller_number = call.caller_number or _clip(phone.normalise_or_raw(caller_number), 32)
    call.caller_name = call.caller_name or _clip(caller_name, 100)
    call.dnid = call.dnid or _clip(dnid, 32)
    call.direction = direction if direction in ("in", "out") else "in"
    call.started_at = min(call.started_at, when)
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


def queue_joined(session: Session, *, uniqueid: str, queue: str, position: int | None = None, at: datetime | str | None = None, op_id: str | None = None, source: str = "") -> Call:
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
) -> Call:
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
) -> Call:
    """The caller left the queue unanswered. From AMI (QueueCallerAbandon) this is ambiguous:
    Asterisk sends it on a timeout and on leavewhenempty too, so the IVR's QUEUESTATUS
    (`queue_timed_out`, `queue_refused`) outranks it in `decide`."""
    return _left(session, uniqueid, "abandoned", queue, wait_seconds, at, op_id, source, {"position": position})


def queue_timed_out(session: Session, *, uniqueid: str, queue: str, wait_seconds: int | None = None, at: datetime | str | None = None, op_id: str | None = None, source: str = "ivr") -> Call:
    """Queue() gave up on the caller (QUEUESTATUS=TIMEOUT): waited the queue's maximum."""
    return _left(session, uniqueid, "timeout", queue, wait_seconds, at, op_id, source, {})


def queue_refused(session: Session, *, uniqueid: str, queue: str, reason: str, at: datetime | str | None = None, op_id: str | None = None, source: str = "ivr") -> Call:
    """The queue would not keep the caller: QUEUESTATUS FULL, JOINEMPTY, LEAVEEMPTY,
    JOINUNAVAIL, LEAVEUNAVAIL, or the IVR's own check that the queue is full. No queued time."""
    reason = reason.lower()
    if reason not in REFUSALS:
        raise ValueError(f"unknown queue refusal {reason!r} (known: {', '.join(sorted(REFUSALS))})")
    return _left(session, uniqueid, reason, queue, None, at, op_id, source, {})


def _left(session: Session, uniqueid: str, result: str, queue: str, wait_seconds: int | None, at: datetime | str | None, op_id: str | None, source: str, detail: dict[str, Any]) -> Call:
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
) -> Call | None:
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


def call_lost(session: Session, *, uniqueid: str, at: datetime | str | None = None, op_id: str | None = None) -> Call:
    """The call ended while the service was down (found gone on start or after an AMI
    reconnect): `at` is no later than the restart. An end any source really saw wins."""
    when = utc(at)
    call = _ensure(session, uniqueid, when)
    old = call.facts.get("lost")
    _merge(call, lost=_earliest(old, when))
    _once(session, call, "service_down", {"note": "ended while the service was down"}, when, op_id, "", later=False)
    return call


#: Open records this old or older, not among Asterisk's channels, ended while we were away.
_OPEN_CALLS = select(Call).where(Call.ended_at.is_(None), Call.started_at < bindparam("since"))


def reconcile_open_calls(session: Session, *, live: list[str], since: datetime | str, at: datetime | str | None = None, op_id: str | None = None) -> list[str]:
    """Calls on record as still going whose channel Asterisk no longer has (`live`: every
    channel uniqueid CoreShowChannels listed) are marked lost at `since`, the moment the
    service stopped seeing them (its start, or the AMI connection's loss). Only calls that
    started before `since` are judged: a newer one is being followed. Returns their uniqueids."""
    moment = utc(since)
    alive = set(live)
    lost = []
    for call in session.scalars(_OPEN_CALLS, {"since": moment}):
        if call.uniqueid in alive or "lost" in (call.facts or {}) or "end" in (call.facts or {}):
            continue
        session.info.setdefault(_CALLS_SEEN, {})[call.uniqueid] = call
        call_lost(session, uniqueid=call.uniqueid, at=moment)
        lost.append(call.uniqueid)
    return lost


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
