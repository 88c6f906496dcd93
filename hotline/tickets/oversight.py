"""Oversight of dispatched cases: the overdue and due-soon board, 督办 (urging the department
that holds a case), departments' extension requests (申请延期) that a supervisor approves or
refuses, the list of reworked cases (返工) and the supervisor's daily summary.

Time left and time over are measured on the working calendar (`hotline.worktime`), in the unit
the case's time limit runs in: office time for working hours and working days, clock time for
a limit in clock hours (an urgent case that runs round the clock would otherwise show no time
over all night). Like `hotline.tickets.desk`, every function runs in the caller's transaction,
returns plain views, checks the user's role and department, and audits what it changes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline import audit
from hotline.storage.models import Assignment, ExtensionRequest, Role, Ticket, TicketStatus, Urge, Urgency, utcnow
from hotline.tickets import services
from hotline.tickets.desk import REQUEST_EXTENSION, Filters, Forbidden, Names, may, scope, visible_ticket
from hotline.tickets.services import Actor, TicketPolicy
from hotline.tickets.workflow import Action, InvalidValue
from hotline.users import SignedIn
from hotline.worktime import TimeLimit, TimeUnit, WorkingCalendar

#: Who may urge a department (督办).
URGERS = frozenset({Role.SUPERVISOR})
#: Units a department may ask for: the extra time runs on the working calendar.
REQUEST_UNITS = (TimeUnit.WORKING_HOURS, TimeUnit.WORKING_DAYS)
#: The most a department may ask for at once, in working days (a longer need is a new dispatch).
MAX_REQUEST_DAYS = 30
NOTE_LIMIT = 1000
SORTS = ("time", "urgency", "category", "number", "urges")
PENDING, APPROVED, REFUSED, LAPSED = "pending", "approved", "refused", "lapsed"


# -- time left / over


@dataclass(frozen=True)
class Remaining:
    """Time left before a deadline (negative: time over), in seconds of the limit's own kind."""

    seconds: float
    #: True when counted in clock time (a limit in clock hours), else office time.
    clock: bool
    #: Office seconds in one working day, to show long spans in working days too.
    day_seconds: int
    #: The deadline has passed (the desk's and the KPIs' test: deadline <= now), even when no
    #: office time has run since (a deadline at 17:30 read at 19:00).
    overdue: bool

    @property
    def hours(self) -> float:
        return abs(self.seconds) / 3600

    @property
    def days(self) -> float:
        return abs(self.seconds) / (86400 if self.clock else self.day_seconds)


def remaining(calendar: WorkingCalendar, now: datetime, deadline: datetime, time_limit: str | None) -> Remaining:
    """Time left (or over) from `now` to `deadline` for a case whose limit is `time_limit`."""
    clock = bool(time_limit) and TimeLimit.parse(time_limit or "").unit is TimeUnit.HOURS
    if clock:
        seconds = (deadline - now).total_seconds()
    else:
        seconds = calendar.working_seconds_between(now, deadline)
    return Remaining(seconds, clock, calendar.office_hours.seconds_per_day, deadline <= now)


# -- the board


@dataclass(frozen=True)
class BoardFilters:
    department_id: int | None = None
    category_id: int | None = None
    urgency: Urgency | None = None
    sort: str = "time"
    #: The due-soon window in working hours; None: one working day.
    within_hours: int | None = None

    @classmethod
    def parse(cls, args: dict[str, str]) -> BoardFilters:
        """From query-string values; raises ValueError naming the bad one. Department,
        category and urgency read as the ticket list reads them (`desk.Filters`)."""
        common = Filters.parse({k: args[k] for k in ("department", "category", "urgency") if k in args})
        sort = args.get("sort", "").strip() or "time"
        if sort not in SORTS:
            raise ValueError(f"sort: {sort[:40]!r} is not one of {', '.join(SORTS)}")
        text = args.get("within", "").strip()
        within = int(text) if re.fullmatch(r"[0-9]{1,3}", text) else None
        if text and (within is None or not 1 <= within <= 400):
            raise ValueError(f"within: {text[:40]!r} is not a number of working hours from 1 to 400")
        return cls(department_id=common.department_id, category_id=common.category_id, urgency=common.urgency, sort=sort, within_hours=within)


@dataclass(frozen=True)
class BoardRow:
    number: str
    department_id: int
    department: tuple[str, str]
    category: tuple[str, str]
    urgency: str
    location: str
    description: str
    dispatched_at: datetime | None
    deadline_at: datetime
    time_limit: str
    left: Remaining
    #: 督办 in the current dispatch round, and the latest one.
    urges: int
    last_urged_at: datetime | None
    extension_pending: bool
    extensions: int


@dataclass(frozen=True)
class DepartmentBoard:
    department_id: int
    department: tuple[str, str]
    overdue: list[BoardRow]
    due_soon: list[BoardRow]
    urged: int
    pending: int


@dataclass(frozen=True)
class Board:
    departments: list[DepartmentBoard]
    pending: list[RequestView]
    within_hours: float
    now: datetime

    @property
    def overdue(self) -> int:
        return sum(len(d.overdue) for d in self.departments)

    @property
    def due_soon(self) -> int:
        return sum(len(d.due_soon) for d in self.departments)

    @property
    def urged(self) -> int:
        return sum(d.urged for d in self.departments)


_URGENCY_ORDER = {Urgency.URGENT.value: 0, Urgency.NORMAL.value: 1}


def _sort_key(sort: str) -> Any:
    if sort == "urgency":
        return lambda r: (_URGENCY_ORDER.get(r.urgency, 9), r.deadline_at)
    if sort == "category":
        return lambda r: (r.category[0], r.deadline_at)
    if sort == "number":
        return lambda r: r.number
    if sort == "urges":
        return lambda r: (-r.urges, r.deadline_at)
    return lambda r: r.deadline_at


def board(session: Session, who: SignedIn, filters: BoardFilters, *, policy: TicketPolicy, now: datetime | None = None) -> Board:
    """Every dispatched case that is overdue or due within the window, by department; a
    department's staff see their own department's only."""
    if not who.has(Role.SUPERVISOR, Role.DEPARTMENT):
        raise Forbidden("your role may not see the oversight board")
    now = now or utcnow()
    calendar = policy.calendar
    within = filters.within_hours * 3600 if filters.within_hours is not None else calendar.office_hours.seconds_per_day
    # The window in working time may span nights and holidays: find where it ends on the clock.
    horizon = max(calendar.add_working_time(now, within), now + timedelta(seconds=within))
    conditions: list[ColumnElement[bool]] = [Ticket.status == TicketStatus.DISPATCHED, Ticket.deadline_at.is_not(None), Ticket.deadline_at <= horizon]
    visible = scope(who)
    if visible is not None:
        conditions.append(Ticket.department_id == visible)
    if filters.department_id is not None:
        conditions.append(Ticket.department_id == filters.department_id)
    if filters.category_id is not None:
        conditions.append(Ticket.category_id == filters.category_id)
    if filters.urgency is not None:
        conditions.append(Ticket.urgency == filters.urgency)
    tickets = list(session.scalars(select(Ticket).where(*conditions).order_by(Ticket.deadline_at)))
    names = Names(session)
    ids = [t.id for t in tickets]
    urges = _current_urges(session, ids)
    pending = requests(session, who, status=PENDING, department_id=filters.department_id)
    pending_numbers = {p.number for p in pending}
    groups: dict[int, tuple[list[BoardRow], list[BoardRow]]] = defaultdict(lambda: ([], []))
    for t in tickets:
        assert t.deadline_at is not None and t.department_id is not None
        left = remaining(calendar, now, t.deadline_at, t.time_limit)
        if not left.overdue and left.seconds > within:
            continue
        count, last = urges.get(t.id, (0, None))
        row = BoardRow(
            t.number, t.department_id, names.departments.get(t.department_id, ("", "")), names.categories.get(t.category_id or 0, ("", "")), t.urgency.value,
            t.location, t.description[:80], t.dispatched_at, t.deadline_at, t.time_limit or "", left, count, last, t.number in pending_numbers, t.extension_count,
        )  # fmt: skip
        groups[t.department_id][0 if left.overdue else 1].append(row)
    pending_by_department: dict[int, int] = defaultdict(int)
    for p in pending:
        pending_by_department[p.department_id] += 1
    key = _sort_key(filters.sort)
    departments = [
        DepartmentBoard(d, names.departments.get(d, ("", "")), sorted(over, key=key), sorted(soon, key=key), sum(1 for r in over + soon if r.urges), pending_by_department.get(d, 0))
        for d, (over, soon) in groups.items()
    ]
    # The department with the most overdue cases first.
    departments.sort(key=lambda d: (-len(d.overdue), -len(d.due_soon), d.department[0]))
    return Board(departments, pending, within / 3600, now)


def _current_urges(session: Session, ticket_ids: list[int]) -> dict[int, tuple[int, datetime | None]]:
    """Per ticket: 督办 in its current dispatch round, and when last."""
    if not ticket_ids:
        return {}
    latest_round = select(Assignment.ticket_id, func.max(Assignment.id).label("assignment_id")).where(Assignment.ticket_id.in_(ticket_ids)).group_by(Assignment.ticket_id).subquery()
    rows = session.execute(
        select(Urge.ticket_id, func.count(), func.max(Urge.at))
        .join(latest_round, (latest_round.c.ticket_id == Urge.ticket_id) & (latest_round.c.assignment_id == Urge.assignment_id))
        .group_by(Urge.ticket_id)
    )
    return {ticket_id: (int(count), last) for ticket_id, count, last in rows}


# -- 督办


@dataclass(frozen=True)
class UrgeView:
    at: datetime
    by: str
    note: str
    department: tuple[str, str]
    deadline_at: datetime | None
    overdue: bool
    #: In the case's current dispatch round (what the department must still answer).
    current: bool


def urge(session: Session, policy: TicketPolicy, who: SignedIn, number: str, *, note: str, address: str, now: datetime | None = None) -> Urge:
    """督办: record that a supervisor urged the department holding the case; audited."""
    if not who.roles & URGERS:
        raise Forbidden("your role may not urge a department")
    now = now or utcnow()
    t = visible_ticket(session, who, number)
    note = note.strip()
    if t.status is not TicketStatus.DISPATCHED or t.department_id is None:
        raise InvalidValue(f"ticket {t.number}: only a case a department holds (dispatched) can be urged")
    if not note:
        raise InvalidValue(f"ticket {t.number}: say what the department should do (督办意见)")
    if len(note) > NOTE_LIMIT:
        raise InvalidValue(f"ticket {t.number}: the note is longer than {NOTE_LIMIT} characters")
    current = services._current_assignment(session, t)
    overdue = t.deadline_at is not None and remaining(policy.calendar, now, t.deadline_at, t.time_limit).overdue
    row = Urge(ticket_id=t.id, department_id=t.department_id, assignment_id=current.id, at=now, by_user_id=who.user_id, note=note, deadline_at=t.deadline_at, overdue=overdue)
    session.add(row)
    session.flush()
    audit.record(
        session, "ticket_urged", user_id=who.user_id, username=who.username, target=f"ticket:{t.number}", address=address,
        detail={"department_id": t.department_id, "overdue": overdue, "urge_id": row.id},
    )  # fmt: skip
    return row


def urges(session: Session, who: SignedIn, number: str) -> list[UrgeView]:
    t = visible_ticket(session, who, number)
    return _urge_views(session, t, Names(session))


def _urge_views(session: Session, t: Ticket, names: Names) -> list[UrgeView]:
    current = session.scalar(select(func.max(Assignment.id)).where(Assignment.ticket_id == t.id))
    live = t.status is TicketStatus.DISPATCHED
    return [
        UrgeView(u.at, names.users.get(u.by_user_id or 0, ""), u.note, names.departments.get(u.department_id, ("", "")), u.deadline_at, u.overdue, live and u.assignment_id == current)
        for u in session.scalars(select(Urge).where(Urge.ticket_id == t.id).order_by(Urge.at, Urge.id))
    ]


def urge_counts(session: Session, start: datetime, end: datetime, *, department_id: int | None = None) -> dict[int, int]:
    """督办 per department in [start, end): the count the reports show beside each
    department's KPIs (the department urged is the one that held the case then)."""
    stmt = select(Urge.department_id, func.count()).where(Urge.at >= start, Urge.at < end).group_by(Urge.department_id)
    if department_id is not None:
        stmt = stmt.where(Urge.department_id == department_id)
    return {d: int(n) for d, n in session.execute(stmt)}


# -- extension requests


@dataclass(frozen=True)
class RequestView:
    id: int
    number: str
    department_id: int
    department: tuple[str, str]
    requested_at: datetime
    requested_by: str
    added: str
    added_label: tuple[str, str]
    reason: str
    deadline_at: datetime
    proposed_deadline_at: datetime
    status: str
    decided_at: datetime | None
    decided_by: str
    decision_note: str
    new_deadline_at: datetime | None


def parse_extra(amount: str, unit: str) -> TimeLimit:
    """The form's amount and unit as a limit; ValueError says what is wrong."""
    try:
        count = int(amount.strip())
    except ValueError:
        raise ValueError(f"amount: {amount[:20]!r} is not a whole number") from None
    if unit not in {u.value for u in REQUEST_UNITS}:
        raise ValueError(f"unit: {unit[:20]!r} is not working_hours or working_days")
    if count < 1:
        raise ValueError("amount: ask for at least 1")
    limit = TimeLimit(count, TimeUnit(unit))
    most = MAX_REQUEST_DAYS * (8 if limit.unit is TimeUnit.WORKING_HOURS else 1)
    if limit.amount > most:
        raise ValueError(f"amount: at most {most} {limit.unit.value} at once")
    return limit


def request_extension(session: Session, policy: TicketPolicy, who: SignedIn, number: str, *, extra: TimeLimit, reason: str, address: str, now: datetime | None = None) -> ExtensionRequest:
    """申请延期: the department holding a case asks for more time; one pending request per case."""
    if not may(who, REQUEST_EXTENSION):
        raise Forbidden("your role may not request an extension")
    now = now or utcnow()
    t = visible_ticket(session, who, number)
    reason = reason.strip()
    if t.status is not TicketStatus.DISPATCHED or t.deadline_at is None or t.department_id is None:
        raise InvalidValue(f"ticket {t.number}: an extension can only be requested while your department holds the case")
    if not reason:
        raise InvalidValue(f"ticket {t.number}: say why more time is needed")
    if len(reason) > NOTE_LIMIT:
        raise InvalidValue(f"ticket {t.number}: the reason is longer than {NOTE_LIMIT} characters")
    if extra.unit not in REQUEST_UNITS:
        raise InvalidValue(f"ticket {t.number}: ask in working hours or working days")
    current = services._current_assignment(session, t)
    _lapse_stale(session, t, current.id, now)
    if session.scalar(select(ExtensionRequest.id).where(ExtensionRequest.ticket_id == t.id, ExtensionRequest.status == PENDING)) is not None:
        raise InvalidValue(f"ticket {t.number}: an extension request is already waiting for a decision")
    row = ExtensionRequest(
        ticket_id=t.id, assignment_id=current.id, department_id=t.department_id, requested_at=now, requested_by_user_id=who.user_id, added=str(extra), reason=reason,
        deadline_at=t.deadline_at, proposed_deadline_at=policy.calendar.deadline(t.deadline_at, extra), status=PENDING,
    )  # fmt: skip
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Another request for the same case won the race (the partial unique index).
        raise InvalidValue(f"ticket {t.number}: an extension request is already waiting for a decision") from None
    audit.record(
        session, "extension_requested", user_id=who.user_id, username=who.username, target=f"ticket:{t.number}", address=address,
        detail={"request_id": row.id, "added": row.added, "proposed_deadline_at": row.proposed_deadline_at.isoformat()},
    )  # fmt: skip
    return row


def _lapse_stale(session: Session, t: Ticket, current_assignment_id: int, now: datetime) -> None:
    """A pending request from an earlier round (the case was handled, returned or reworked
    since) can no longer be decided: mark it lapsed so a new one can be made."""
    session.execute(
        update(ExtensionRequest)
        .where(ExtensionRequest.ticket_id == t.id, ExtensionRequest.status == PENDING, ExtensionRequest.assignment_id != current_assignment_id)
        .values(status=LAPSED, decided_at=now, decision_note="")
    )


def decide_extension(session: Session, policy: TicketPolicy, who: SignedIn, number: str, request_id: int, *, approve: bool, note: str, address: str, now: datetime | None = None) -> ExtensionRequest:
    """A supervisor approves (the workflow's extend move moves the deadline) or refuses (with a
    reason) a pending request; audited."""
    if not may(who, Action.EXTEND):
        raise Forbidden("your role may not decide an extension request")
    now = now or utcnow()
    t = visible_ticket(session, who, number)
    note = note.strip()
    row = session.get(ExtensionRequest, request_id)
    if row is None or row.ticket_id != t.id:
        raise InvalidValue(f"ticket {t.number}: no extension request {request_id}")
    if row.status != PENDING:
        raise InvalidValue(f"ticket {t.number}: this extension request was already decided ({row.status})")
    if len(note) > NOTE_LIMIT:
        raise InvalidValue(f"ticket {t.number}: the note is longer than {NOTE_LIMIT} characters")
    new_deadline = None
    round_ = session.get(Assignment, row.assignment_id)
    if t.status is not TicketStatus.DISPATCHED or round_ is None or round_.ended_at is not None:
        raise InvalidValue(f"ticket {t.number}: the case has moved on since the request (it is {t.status.value}); the request has lapsed")
    if approve:
        reason = f"{row.reason}" + (f" — {note}" if note else "")
        services.apply(session, policy, t, Action.EXTEND, actor=Actor.user(who.user_id, who.username), at=now, extra=row.added, reason=reason)
        new_deadline = t.deadline_at
    elif not note:
        raise InvalidValue(f"ticket {t.number}: say why the extension is refused")
    status = APPROVED if approve else REFUSED
    # Conditional on still pending: of two supervisors deciding at once, one wins.
    done = session.execute(
        update(ExtensionRequest)
        .where(ExtensionRequest.id == row.id, ExtensionRequest.status == PENDING)
        .values(status=status, decided_at=now, decided_by_user_id=who.user_id, decision_note=note, new_deadline_at=new_deadline)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 1) != 1:
        raise InvalidValue(f"ticket {t.number}: this extension request was decided meanwhile; reload")
    session.refresh(row)
    audit.record(
        session, f"extension_{status}", user_id=who.user_id, username=who.username, target=f"ticket:{t.number}", address=address,
        detail={"request_id": row.id, "added": row.added, "new_deadline_at": new_deadline.isoformat() if new_deadline else None},
    )  # fmt: skip
    return row


def requests(session: Session, who: SignedIn, *, status: str | None = None, ticket_id: int | None = None, department_id: int | None = None, limit: int = 500) -> list[RequestView]:
    """Extension requests the user may see, newest first (pending: oldest first, as a queue)."""
    conditions: list[ColumnElement[bool]] = []
    visible = scope(who)
    if visible is not None:
        conditions.append(ExtensionRequest.department_id == visible)
    if department_id is not None:
        conditions.append(ExtensionRequest.department_id == department_id)
    if status is not None:
        conditions.append(ExtensionRequest.status == status)
    if status == PENDING:
        # Only those still decidable: the round they were asked in is still running.
        conditions.append(Assignment.ended_at.is_(None))
    if ticket_id is not None:
        conditions.append(ExtensionRequest.ticket_id == ticket_id)
    order = (ExtensionRequest.requested_at.asc(), ExtensionRequest.id.asc()) if status == PENDING else (ExtensionRequest.requested_at.desc(), ExtensionRequest.id.desc())
    stmt = (
        select(ExtensionRequest, Ticket.number, Assignment.ended_at)
        .join(Ticket, Ticket.id == ExtensionRequest.ticket_id)
        .join(Assignment, Assignment.id == ExtensionRequest.assignment_id)
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
    )
    names = Names(session)
    return [_request_view(r, number, names, ended_at is None) for r, number, ended_at in session.execute(stmt)]


def _request_view(r: ExtensionRequest, number: str, names: Names, live: bool) -> RequestView:
    """A request as shown; a pending one whose round has ended (handled, returned) reads as
    lapsed: nobody can decide it any more, and the next request marks it so in the table."""
    added = TimeLimit.parse(r.added)
    status = LAPSED if r.status == PENDING and not live else r.status
    return RequestView(
        r.id, number, r.department_id, names.departments.get(r.department_id, ("", "")), r.requested_at, names.users.get(r.requested_by_user_id or 0, ""), r.added,
        (added.label("zh"), added.label("en")), r.reason, r.deadline_at, r.proposed_deadline_at, status, r.decided_at, names.users.get(r.decided_by_user_id or 0, ""),
        r.decision_note, r.new_deadline_at,
    )  # fmt: skip


# -- the case page's panel


@dataclass(frozen=True)
class Panel:
    """What the ticket page shows of oversight: time left, 督办 and extension requests."""

    left: Remaining | None
    urges: list[UrgeView]
    requests: list[RequestView]
    pending: RequestView | None
    can_urge: bool
    can_request: bool
    can_decide: bool
    units: tuple[str, ...] = field(default=tuple(u.value for u in REQUEST_UNITS))

    @property
    def current_urges(self) -> int:
        return sum(1 for u in self.urges if u.current)


def panel(session: Session, who: SignedIn, number: str, *, policy: TicketPolicy, now: datetime | None = None) -> Panel:
    now = now or utcnow()
    t = visible_ticket(session, who, number)
    names = Names(session)
    dispatched = t.status is TicketStatus.DISPATCHED and t.deadline_at is not None
    left = remaining(policy.calendar, now, t.deadline_at, t.time_limit) if dispatched and t.deadline_at is not None else None
    views = requests(session, who, ticket_id=t.id)
    pending = next((v for v in views if v.status == PENDING), None)
    return Panel(
        left, _urge_views(session, t, names), views, pending,
        can_urge=dispatched and bool(who.roles & URGERS), can_request=dispatched and pending is None and may(who, REQUEST_EXTENSION), can_decide=pending is not None and may(who, Action.EXTEND),
    )  # fmt: skip


# -- reworked cases


@dataclass(frozen=True)
class ReworkedRow:
    number: str
    status: str
    department: tuple[str, str]
    category: tuple[str, str]
    #: Rounds started by a failed verification (返工) and by an unsatisfied callback or reopen.
    reworks: int
    reopens: int
    last_sent_back_at: datetime
    deadline_at: datetime | None

    @property
    def times(self) -> int:
        return self.reworks + self.reopens


def reworked(
    session: Session, who: SignedIn, *, tz: Any, department_id: int | None = None, category_id: int | None = None, since: date | None = None, until: date | None = None, limit: int = 500
) -> list[ReworkedRow]:
    """Cases sent back after verification (返工) or after an unsatisfied callback (重新派遣),
    with how many times, most often first; dates select by the latest send-back."""
    if not who.has(Role.SUPERVISOR, Role.DEPARTMENT):
        raise Forbidden("your role may not see the reworked cases")
    rounds = (
        select(
            Assignment.ticket_id,
            func.sum(case((Assignment.reason == "rework", 1), else_=0)).label("reworks"),
            func.sum(case((Assignment.reason == "reopen", 1), else_=0)).label("reopens"),
            func.max(Assignment.dispatched_at).label("last_at"),
        )
        .where(Assignment.reason.in_(("rework", "reopen")))
        .group_by(Assignment.ticket_id)
        .subquery()
    )
    stmt = select(Ticket, rounds.c.reworks, rounds.c.reopens, rounds.c.last_at).join(rounds, rounds.c.ticket_id == Ticket.id)
    visible = scope(who)
    if visible is not None:
        stmt = stmt.where(Ticket.department_id == visible)
    if department_id is not None:
        stmt = stmt.where(Ticket.department_id == department_id)
    if category_id is not None:
        stmt = stmt.where(Ticket.category_id == category_id)
    if since is not None:
        stmt = stmt.where(rounds.c.last_at >= datetime.combine(since, time(), tz))
    if until is not None:
        stmt = stmt.where(rounds.c.last_at < datetime.combine(until + timedelta(days=1), time(), tz))
    stmt = stmt.order_by((rounds.c.reworks + rounds.c.reopens).desc(), rounds.c.last_at.desc(), Ticket.id).limit(limit)
    names = Names(session)
    return [
        ReworkedRow(
            t.number,
            t.status.value,
            names.departments.get(t.department_id or 0, ("", "")),
            names.categories.get(t.category_id or 0, ("", "")),
            int(reworks or 0),
            int(reopens or 0),
            last_at,
            t.deadline_at,
        )
        for t, reworks, reopens, last_at in session.execute(stmt)
    ]


# -- the daily summary


#: The figures of the daily summary, in the order printed: (key, 中文, English).
DAILY_FIGURES = (
    ("received", "受理", "received"),
    ("dispatched", "派遣", "dispatched"),
    ("handled", "处置反馈", "handled"),
    ("closed", "结案", "closed"),
    ("closed_on_time", "按期结案", "closed on time"),
    ("overdue", "逾期", "overdue"),
    ("urged", "督办", "urged"),
    ("extensions_requested", "申请延期", "extensions requested"),
    ("extensions_approved", "批准延期", "extensions approved"),
    ("extensions_refused", "驳回延期", "extensions refused"),
    ("reworked", "返工/重派", "sent back"),
)


@dataclass(frozen=True)
class SummaryRow:
    department_id: int | None
    department: tuple[str, str]
    figures: dict[str, int]


@dataclass(frozen=True)
class Summary:
    day: date
    start: datetime
    end: datetime
    #: Figures read against this moment (a day still running counts deadlines up to now).
    as_of: datetime
    rows: list[SummaryRow]
    total: dict[str, int]


def daily_summary(session: Session, who: SignedIn, day: date, *, tz: Any, now: datetime | None = None) -> Summary:
    """One day's figures, by department, in the service's time zone (Asia/Shanghai):
    received (受理, by the department the ticket is with now), dispatched (dispatch rounds
    started), handled, closed and closed on time, overdue (dispatch rounds whose deadline in
    force fell that day without a handling report by then), urged (督办), extension requests
    made, approved and refused, and rounds sent back (返工 / 重新派遣)."""
    if not who.has(Role.SUPERVISOR):
        raise Forbidden("your role may not print the daily summary")
    now = now or utcnow()
    start = datetime.combine(day, time(), tz)
    end = datetime.combine(day + timedelta(days=1), time(), tz)
    cut = min(end, max(start, now))
    counts: dict[str, dict[int | None, int]] = {}

    def tally(key: str, group: Any, *conditions: ColumnElement[bool]) -> None:
        counts[key] = {g: int(n) for g, n in session.execute(select(group, func.count()).where(*conditions).group_by(group))}

    tally("received", Ticket.department_id, Ticket.created_at >= start, Ticket.created_at < end)
    tally("dispatched", Assignment.department_id, Assignment.dispatched_at >= start, Assignment.dispatched_at < end)
    tally("handled", Assignment.department_id, Assignment.outcome == "handled", Assignment.ended_at >= start, Assignment.ended_at < end)
    tally("closed", Ticket.department_id, Ticket.closed_at >= start, Ticket.closed_at < end)
    tally("closed_on_time", Ticket.department_id, Ticket.closed_at >= start, Ticket.closed_at < end, Ticket.closed_on_time.is_(True))
    tally(
        "overdue", Assignment.department_id, Assignment.extended_deadline_at >= start, Assignment.extended_deadline_at < cut,
        (Assignment.ended_at.is_(None)) | (Assignment.ended_at > Assignment.extended_deadline_at),
    )  # fmt: skip
    tally("urged", Urge.department_id, Urge.at >= start, Urge.at < end)
    tally("extensions_requested", ExtensionRequest.department_id, ExtensionRequest.requested_at >= start, ExtensionRequest.requested_at < end)
    for status in (APPROVED, REFUSED):
        tally(f"extensions_{status}", ExtensionRequest.department_id, ExtensionRequest.status == status, ExtensionRequest.decided_at >= start, ExtensionRequest.decided_at < end)
    tally("reworked", Assignment.department_id, Assignment.reason.in_(("rework", "reopen")), Assignment.dispatched_at >= start, Assignment.dispatched_at < end)
    names = Names(session)
    groups = sorted({g for c in counts.values() for g in c}, key=lambda g: (g is None, names.departments.get(g or 0, ("", ""))[0], g or 0))
    keys = [k for k, _, _ in DAILY_FIGURES]
    rows = [SummaryRow(g, names.departments.get(g, ("", "")) if g is not None else ("未派遣", "not dispatched"), {k: counts[k].get(g, 0) for k in keys}) for g in groups]
    total = {k: sum(counts[k].values()) for k in keys}
    return Summary(day, start, end, cut, rows, total)
