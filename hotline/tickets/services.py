"""Ticket services: open a ticket, move it along the workflow, query what is due.

Every move goes through `apply`, which checks it against `workflow.RULES`, stamps it, records
who did it and appends it to the history in the caller's transaction. An illegal move raises
before anything is changed. Functions take a `Session` and never commit: the caller owns the
unit of work (see `hotline.storage.db.Database.transaction`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from hotline import phone
from hotline.storage.models import (
    Assignment,
    Category,
    Department,
    Extension,
    Ticket,
    TicketEvent,
    TicketSequence,
    TicketSource,
    TicketStatus,
    Urgency,
)
from hotline.storage.prepared import PreparedRead
from hotline.tickets.taxonomy import category_defaults
from hotline.tickets.workflow import (
    FINISHED,
    Action,
    InvalidValue,
    StaleTicket,
    WorkflowError,
    check,
)
from hotline.timestamps import utc
from hotline.worktime import TimeLimit, WorkingCalendar

M = TypeVar("M")


class _TicketSettings(Protocol):
    @property
    def default_time_limit(self) -> str: ...
    @property
    def urgent_time_limit(self) -> str: ...
    @property
    def sequence_digits(self) -> int: ...


class _SatisfactionSettings(Protocol):
    @property
    def levels(self) -> tuple[str, ...]: ...
    @property
    def satisfied(self) -> tuple[str, ...]: ...


class PolicySettings(Protocol):
    """What `TicketPolicy.from_config` reads of `hotline.config.Config`, named here so that
    the tickets package does not import the configuration (which imports it)."""

    @property
    def tickets(self) -> _TicketSettings: ...
    @property
    def satisfaction(self) -> _SatisfactionSettings: ...
    def working_calendar(self) -> WorkingCalendar: ...


@dataclass(frozen=True)
class TicketPolicy:
    """What the workflow needs from configuration."""

    calendar: WorkingCalendar
    default_time_limit: TimeLimit = TimeLimit.parse("5 working_days")  # noqa: RUF009 - a frozen value, safe to share
    urgent_time_limit: TimeLimit = TimeLimit.parse("4 hours")  # noqa: RUF009 - a frozen value, safe to share
    sequence_digits: int = 4
    satisfaction_levels: tuple[str, ...] = ("满意", "基本满意", "不满意")
    satisfied_levels: tuple[str, ...] = ("满意", "基本满意")

    @property
    def tz(self) -> ZoneInfo:
        return self.calendar.tz

    @classmethod
    def from_config(cls, config: PolicySettings) -> TicketPolicy:
        return cls(
            calendar=config.working_calendar(),
            default_time_limit=TimeLimit.parse(config.tickets.default_time_limit),
            urgent_time_limit=TimeLimit.parse(config.tickets.urgent_time_limit),
            sequence_digits=config.tickets.sequence_digits,
            satisfaction_levels=config.satisfaction.levels,
            satisfied_levels=config.satisfaction.satisfied,
        )


@dataclass(frozen=True)
class Actor:
    """Who made a move: a desk user, or a named part of the system ('ivr', 'callback')."""

    label: str
    user_id: int | None = None

    @classmethod
    def user(cls, user_id: int, username: str) -> Actor:
        return cls(label=username, user_id=user_id)


SYSTEM = Actor("system")


class TicketNotFound(WorkflowError):
    pass


# -- numbers


def allocate_number(session: Session, day: date, digits: int = 4) -> str:
    """The next readable number for `day`: yymmdd + sequence, e.g. 2611210042.

    One atomic upsert per ticket, so concurrent creators (threads or several `hotline serve`
    nodes) never get the same number; a rolled-back ticket gives its number back.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(TicketSequence).values(day=day, last=1).on_conflict_do_update(index_elements=[TicketSequence.day], set_={"last": TicketSequence.last + 1}).returning(TicketSequence.last)
    sequence = session.execute(stmt).scalar_one()
    return f"{day:%y%m%d}{sequence:0{digits}d}"


# -- creation


def open_ticket(
    session: Session,
    policy: TicketPolicy,
    *,
    source: TicketSource,
    actor: Actor,
    caller_number: str = "",
    caller_name: str = "",
    description: str = "",
    location: str = "",
    category_id: int | None = None,
    urgency: Urgency = Urgency.NORMAL,
    call_id: int | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    at: datetime | None = None,
) -> Ticket:
    """受理: create a ticket in status received, with its first history entry."""
    at = utc(at)
    number_e164 = phone.normalise(caller_number) if caller_number else ""
    if category_id is not None:
        _require(session, Category, category_id, "category")
    ticket = Ticket(
        number=allocate_number(session, at.astimezone(policy.tz).date(), policy.sequence_digits),
        source=TicketSource(source),
        status=TicketStatus.RECEIVED,
        caller_number=number_e164,
        caller_name=caller_name.strip(),
        description=description.strip(),
        location=location.strip(),
        category_id=category_id,
        urgency=Urgency(urgency),
        call_id=call_id,
        latitude=latitude,
        longitude=longitude,
        created_at=at,
    )
    session.add(ticket)
    session.flush()
    _record(session, ticket, Action.RECEIVE, None, actor, at, "", {"source": ticket.source.value})
    return ticket


# -- moves


def apply(
    session: Session,
    policy: TicketPolicy,
    ticket: Ticket | int | str,
    action: Action | str,
    *,
    actor: Actor,
    at: datetime | None = None,
    expected_version: int | None = None,
    reason: str | None = None,
    category_id: int | None = None,
    department_id: int | None = None,
    urgency: Urgency | None = None,
    time_limit: TimeLimit | str | None = None,
    extra: TimeLimit | str | None = None,
    satisfaction: str | None = None,
) -> Ticket:
    """Make one workflow move, or raise a `WorkflowError` and change nothing.

    `expected_version` is the version the desk showed the user; a mismatch means somebody else
    moved the ticket meanwhile and raises `StaleTicket`.
    """
    ticket = _load(session, ticket)
    action = _action(ticket.number, action)
    at = utc(at)
    if expected_version is not None and expected_version != ticket.version:
        raise StaleTicket(f"ticket {ticket.number} changed (version {ticket.version}, you saw {expected_version}); reload it", number=ticket.number)
    if action is Action.REGISTER and category_id is None:
        category_id = ticket.category_id
    if action is Action.REWORK:
        department_id = department_id or ticket.department_id
    elif action is Action.DISPATCH:
        department_id = department_id or _default_department(session, ticket, category_id)
    supplied: dict[str, object] = {
        "reason": reason,
        "category_id": category_id,
        "department_id": department_id,
        "extra": extra,
        "satisfaction": satisfaction,
    }
    number, before = ticket.number, ticket.status
    after = check(number, before, action, supplied)
    data: dict[str, Any] = {}
    handler = _HANDLERS.get(action)
    if handler is not None:
        data = handler(session, policy, ticket, at, supplied, urgency=urgency, time_limit=time_limit, actor=actor)
    ticket.status = after
    try:
        # Flush the ticket first: its version check is what serialises concurrent moves.
        session.flush()
        _record(session, ticket, action, before, actor, at, reason or "", data)
        session.flush()
    except StaleDataError:
        raise StaleTicket(f"ticket {number} was changed by someone else; reload it", number=number) from None
    return ticket


def reopen_and_redispatch(
    session: Session,
    policy: TicketPolicy,
    ticket: Ticket | int | str,
    *,
    actor: Actor,
    reason: str,
    department_id: int | None = None,
    at: datetime | None = None,
) -> Ticket:
    """An unsatisfied callback sends the ticket out again (to the same department unless told)."""
    ticket = _load(session, ticket)
    department_id = department_id or ticket.department_id
    apply(session, policy, ticket, Action.REOPEN, actor=actor, at=at, reason=reason)
    return apply(session, policy, ticket, Action.DISPATCH, actor=actor, at=at, reason=reason, department_id=department_id)


def record_callback(
    session: Session,
    policy: TicketPolicy,
    ticket: Ticket | int | str,
    *,
    actor: Actor,
    satisfaction: str,
    note: str = "",
    redispatch: bool = True,
    at: datetime | None = None,
) -> Ticket:
    """回访: keep the answer; an unsatisfied one reopens and redispatches the ticket."""
    ticket = _load(session, ticket)
    at = utc(at)
    apply(session, policy, ticket, Action.CALLBACK, actor=actor, at=at, satisfaction=satisfaction, reason=note or None)
    if redispatch and not ticket.satisfied and ticket.status is TicketStatus.CLOSED:
        reopen_and_redispatch(session, policy, ticket, actor=actor, at=at, reason=f"回访不满意: {note}".strip(": "))
    return ticket


# -- action handlers: each mutates the ticket's current-state columns and returns the details
#    worth keeping in the history entry.


def _register(session: Session, policy: TicketPolicy, t: Ticket, at: datetime, s: dict[str, Any], **kw: Any) -> dict[str, Any]:
    _require(session, Category, s["category_id"], "category")
    t.category_id = s["category_id"]
    if kw.get("urgency") is not None:
        t.urgency = Urgency(kw["urgency"])
    t.registered_at = at
    return {"category_id": t.category_id, "urgency": t.urgency.value}


def _finish_without_dispatch(session: Session, policy: TicketPolicy, t: Ticket, at: datetime, s: dict[str, Any], **kw: Any) -> dict[str, Any]:
    t.resolution = s["reason"]
    return {}


def _dispatch(session: Session, policy: TicketPolicy, t: Ticket, at: datetime, s: dict[str, Any], **kw: Any) -> dict[str, Any]:
    department = _require(session, Department, s["department_id"], "department")
    if not department.active:
        raise InvalidValue(
            f"ticket {t.number}: department {department.code} ({department.name_zh}) is inactive",
            code="department_inactive",
            number=t.number,
            department=department.name_zh,
            department_en=department.name_en or department.name_zh,
        )
    if kw.get("urgency") is not None:
        t.urgency = Urgency(kw["urgency"])
    limit = _time_limit(session, policy, t, kw.get("time_limit"))
    last = _last_move(session, t) if t.dispatch_count else None
    kind = kw.get("round_reason") or (_ROUND_AFTER.get(last, "dispatch") if last is not None else "dispatch")
    deadline = policy.calendar.deadline(at, limit)
    assignment = Assignment(
        ticket_id=t.id,
        round=t.dispatch_count + 1,
        department_id=department.id,
        reason=kind,
        dispatched_at=at,
        time_limit=str(limit),
        deadline_at=deadline,
        extended_deadline_at=deadline,
    )
    session.add(assignment)
    t.department_id = department.id
    t.dispatch_count += 1
    t.first_dispatched_at = t.first_dispatched_at or at
    t.dispatched_at = at
    t.time_limit = str(limit)
    t.deadline_at = deadline
    t.handled_at = t.verified_at = None
    t.handled_on_time = None
    return {"department_id": department.id, "round": assignment.round, "time_limit": str(limit), "deadline_at": deadline.isoformat(), "kind": kind}


def _return(session: Session, policy: TicketPolicy, t: Ticket, at: datetime, s: dict[str, Any], **kw: Any) -> dict[str, Any]:
    current = _current_assignment(session, t)
    current.ended_at, current.outcome = at, "returned"
    data = {"department_id": t.department_id, "round": current.round}
    t.department_id = None
    t.deadline_at = None
    return data


def _extend(session: Session, policy: TicketPolicy, t: Ticket, at: datetime, s: dict[str, Any], actor: Actor, **kw: Any) -> dict[str, Any]:
    extra = _parse_limit(t, s["extra"])
    current = _current_assignment(session, t)
    old = current.extended_deadline_at
    new = policy.calendar.deadline(old, extra)
    session.add(Extension(assignment_id=current.id, at=at, old_deadline_at=old, new_deadline_at=new, added=str(extra), reason=s["reason"], actor_user_id=actor.user_id))
    current.extended_deadline_at = new
    t.deadline_at = new
    t.extension_count += 1
    return {"round": current.round, "added": str(extra), "old_deadline_at": old.isoformat(), "new_deadline_at": new.isoformat()}


def _handle(session: Session, policy: TicketPolicy, t: Ticket, at: datetime, s: dict[str, Any], **kw: Any) -> dict[str, Any]:
    current = _current_assignment(session, t)
    current.ended_at, current.outcome = at, "handled"
    t.handled_at = at
    t.handled_on_time = t.deadline_at is not None and at <= t.deadline_at
    t.resolution = s["reason"]
    return {"round": current.round, "on_time": t.handled_on_time}


def _rework(session: Session, policy: TicketPolicy, t: Ticket, at: datetime, s: dict[str, Any], **kw: Any) -> dict[str, Any]:
    t.rework_count += 1
    return _dispatch(session, policy, t, at, s, round_reason="rework", **kw)


def _verify(session: Session, policy: TicketPolicy, t: Ticket, at: datetime, s: dict[str, Any], **kw: Any) -> dict[str, Any]:
    t.verified_at = at
    return {}


def _close(session: Session, policy: TicketPolicy, t: Ticket, at: datetime, s: dict[str, Any], **kw: Any) -> dict[str, Any]:
    t.closed_at = at
    t.closed_on_time = t.deadline_at is not None and at <= t.deadline_at
    return {"on_time": t.closed_on_time, "deadline_at": t.deadline_at.isoformat() if t.deadline_at else None}


def _callback(session: Session, policy: TicketPolicy, t: Ticket, at: datetime, s: dict[str, Any], **kw: Any) -> dict[str, Any]:
    level = s["satisfaction"]
    if level not in policy.satisfaction_levels:
        raise InvalidValue(
            f"ticket {t.number}: satisfaction {level!r} is not one of {', '.join(policy.satisfaction_levels)}", code="bad_satisfaction", number=t.number, levels="、".join(policy.satisfaction_levels)
        )
    t.satisfaction = level
    t.satisfied = level in policy.satisfied_levels
    t.callback_at = at
    return {"satisfaction": level, "satisfied": t.satisfied}


def _reopen(session: Session, policy: TicketPolicy, t: Ticket, at: datetime, s: dict[str, Any], **kw: Any) -> dict[str, Any]:
    data = {"closed_at": t.closed_at.isoformat() if t.closed_at else None, "satisfaction": t.satisfaction}
    t.reopen_count += 1
    t.registered_at = t.registered_at or at
    t.closed_at = t.verified_at = t.handled_at = t.deadline_at = None
    t.closed_on_time = t.handled_on_time = None
    return data


Handler = Callable[..., dict[str, Any]]
_HANDLERS: dict[Action, Handler] = {
    Action.REGISTER: _register,
    Action.REJECT: _finish_without_dispatch,
    Action.ANSWER: _finish_without_dispatch,
    Action.DISPATCH: _dispatch,
    Action.RETURN: _return,
    Action.EXTEND: _extend,
    Action.HANDLE: _handle,
    Action.REWORK: _rework,
    Action.VERIFY: _verify,
    Action.CLOSE: _close,
    Action.CALLBACK: _callback,
    Action.REOPEN: _reopen,
}


# -- queries


def get(session: Session, number_or_id: int | str) -> Ticket:
    return _load(session, number_or_id)


def due_soon(session: Session, now: datetime, within: timedelta, limit: int = 200) -> list[Ticket]:
    """Dispatched tickets whose deadline falls in (now, now + within], soonest first."""
    now = utc(now)
    stmt = select(Ticket).where(Ticket.status == TicketStatus.DISPATCHED, Ticket.deadline_at > now, Ticket.deadline_at <= now + within).order_by(Ticket.deadline_at).limit(limit)
    return list(session.scalars(stmt))


def overdue(session: Session, now: datetime, limit: int = 200) -> list[Ticket]:
    """Dispatched tickets past their deadline, most overdue first."""
    stmt = select(Ticket).where(Ticket.status == TicketStatus.DISPATCHED, Ticket.deadline_at <= utc(now)).order_by(Ticket.deadline_at).limit(limit)
    return list(session.scalars(stmt))


def recent(session: Session, *, statuses: Collection[TicketStatus] = (), limit: int = 50) -> list[Ticket]:
    """The newest tickets, optionally only in these statuses: the desk's and the CLI's list."""
    stmt = select(Ticket)
    if statuses:
        stmt = stmt.where(Ticket.status.in_(list(statuses)))
    return list(session.scalars(stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)))


def for_caller(session: Session, caller_number: str, *, open_only: bool = False, limit: int = 20) -> list[Ticket]:
    """A caller's tickets, newest first: for the IVR's 'your case' shortcut and the desk."""
    number = phone.normalise(caller_number)
    if not number:
        return []
    stmt = select(Ticket).where(Ticket.caller_number == number)
    if open_only:
        stmt = stmt.where(Ticket.status.not_in(FINISHED))
    return list(session.scalars(stmt.order_by(Ticket.created_at.desc()).limit(limit)))


# The IVR's two lookups read two columns, not whole tickets: a caller waits on each. They are
# `PreparedRead`s, run on a reader thread's kept DB-API connection (hotline.storage.prepared).
#: (number, status) of a ticket, for the IVR's status line.
STATUS_BY_NUMBER = PreparedRead(select(Ticket.number, Ticket.status).where(Ticket.number == bindparam("number")))
#: (number, status) of the caller's newest open ticket, for the repeat-caller offer (the same
#: tickets as `for_caller(..., open_only=True)`).
OPEN_STATUS_BY_CALLER = PreparedRead(
    select(Ticket.number, Ticket.status).where(Ticket.caller_number == bindparam("caller"), Ticket.status.not_in(FINISHED)).order_by(Ticket.created_at.desc()).limit(1)
)


def ticket_status_query(number: str) -> tuple[PreparedRead, dict[str, str]]:
    """The read and its parameters for a keyed ticket number."""
    return STATUS_BY_NUMBER, {"number": number.strip()}


def caller_open_ticket_query(caller_number: str) -> tuple[PreparedRead, dict[str, str]] | None:
    """The read and its parameters for a caller's open case; None when the number cannot
    have tickets."""
    try:
        caller = phone.normalise(caller_number)
    except phone.InvalidPhoneNumber:
        return None
    return (OPEN_STATUS_BY_CALLER, {"caller": caller}) if caller else None


def status_pair(row: Sequence[str] | None) -> tuple[str, str] | None:
    """(number, status) from a row of either read; None for no row. The ORM gives
    TicketStatus, a DB-API cursor the stored string: TicketStatus() accepts both and refuses
    a value no ticket may have."""
    return (str(row[0]), TicketStatus(row[1]).value) if row is not None else None


def history(session: Session, ticket: Ticket | int | str) -> list[TicketEvent]:
    t = _load(session, ticket)
    return list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.seq)))


# -- helpers


def _action(number: str, action: Action | str) -> Action:
    try:
        return Action(action)
    except ValueError:
        raise WorkflowError(f"ticket {number}: unknown action {action!r}", code="unknown_action", number=number, action=str(action)[:32]) from None


def _load(session: Session, ticket: Ticket | int | str) -> Ticket:
    if isinstance(ticket, Ticket):
        return ticket
    if isinstance(ticket, int):
        found = session.get(Ticket, ticket)
    else:
        found = session.scalars(select(Ticket).where(Ticket.number == ticket.strip())).one_or_none()
    if found is None:
        raise TicketNotFound(f"no ticket {ticket!r}")
    return found


def _require(session: Session, model: type[M], ident: object, what: str) -> M:
    if not isinstance(ident, int) or isinstance(ident, bool):
        raise InvalidValue(f"{what} id must be an integer, found {ident!r}", code="bad_id", what=what)
    found = session.get(model, ident)
    if found is None:
        raise InvalidValue(f"no {what} with id {ident}", code="no_such", what=what)
    return found


def _default_department(session: Session, t: Ticket, category_id: int | None) -> int | None:
    category_id = category_id or t.category_id
    if category_id is None:
        return t.department_id
    return category_defaults(session, category_id).department_id or t.department_id


def _parse_limit(t: Ticket, value: TimeLimit | str) -> TimeLimit:
    if isinstance(value, TimeLimit):
        return value
    try:
        return TimeLimit.parse(value)
    except ValueError as exc:
        raise InvalidValue(f"ticket {t.number}: {exc}", code="bad_time_limit", number=t.number, value=str(value)[:40]) from None


def _time_limit(session: Session, policy: TicketPolicy, t: Ticket, explicit: TimeLimit | str | None) -> TimeLimit:
    """Explicit limit, else the category's (urgent or normal), else the configured default."""
    if explicit is not None:
        return _parse_limit(t, explicit)
    urgent = t.urgency is Urgency.URGENT
    if t.category_id is not None:
        defaults = category_defaults(session, t.category_id)
        text = defaults.urgent_time_limit if urgent else defaults.time_limit
        if text:
            return TimeLimit.parse(text)
    return policy.urgent_time_limit if urgent else policy.default_time_limit


def _current_assignment(session: Session, t: Ticket) -> Assignment:
    found = session.scalars(select(Assignment).where(Assignment.ticket_id == t.id).order_by(Assignment.round.desc()).limit(1)).one_or_none()
    if found is None or found.ended_at is not None:
        raise WorkflowError(f"ticket {t.number}: no open dispatch round", code="no_open_round", number=t.number)
    return found


#: What a dispatch round is called, by the move that brought the ticket back to registered.
_ROUND_AFTER = {Action.REOPEN: "reopen", Action.RETURN: "redispatch"}


def _last_move(session: Session, t: Ticket) -> Action | None:
    """The latest history action other than a note."""
    stmt = select(TicketEvent.action).where(TicketEvent.ticket_id == t.id, TicketEvent.action != Action.NOTE.value).order_by(TicketEvent.seq.desc()).limit(1)
    found = session.scalars(stmt).one_or_none()
    return Action(found) if found else None


def _record(session: Session, t: Ticket, action: Action, before: TicketStatus | None, actor: Actor, at: datetime, note: str, data: dict[str, Any]) -> None:
    seq = session.scalar(select(func.coalesce(func.max(TicketEvent.seq), 0)).where(TicketEvent.ticket_id == t.id)) or 0
    session.add(
        TicketEvent(
            ticket_id=t.id,
            seq=seq + 1,
            at=at,
            action=action.value,
            from_status=before,
            to_status=t.status,
            actor_user_id=actor.user_id,
            actor=actor.label,
            note=note,
            data=data,
        )
    )
