"""What the desk reads and does with tickets: filtered, paginated lists; a case's whole file;
and workflow moves checked against the user's role and department, attributed and audited.

Each function runs in the caller's transaction (the desk hands it to the database pool) and
returns plain views, never ORM objects, so templates cannot lazy-load after the session ends.
Phone numbers are masked here for roles that do not need them, so no page can forget to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from hotline import audit, phone
from hotline.storage.models import Call, Category, Department, Role, Ticket, TicketEvent, TicketSource, TicketStatus, Urgency, User, utcnow
from hotline.tickets import services
from hotline.tickets.services import Actor, TicketNotFound, TicketPolicy
from hotline.tickets.workflow import RULES, STATUS_LABELS, Action, WorkflowError, allowed_actions
from hotline.users import SignedIn
from hotline.worktime import TimeLimit

#: The department's request for more time: a structured request (`hotline.tickets.oversight`)
#: that a supervisor approves with EXTEND or refuses; not a workflow move of its own.
REQUEST_EXTENSION = "request_extension"

#: Which workflow moves each role may make. A user with several roles may make the union.
ROLE_ACTIONS: dict[Role, frozenset[str]] = {
    Role.OPERATOR: frozenset({Action.REGISTER, Action.REJECT, Action.ANSWER, Action.DISPATCH, Action.NOTE}),
    Role.SUPERVISOR: frozenset({Action.REGISTER, Action.REJECT, Action.ANSWER, Action.DISPATCH, Action.RETURN, Action.EXTEND, Action.REWORK, Action.VERIFY, Action.CLOSE, Action.REOPEN, Action.NOTE}),
    Role.CALLBACK: frozenset({Action.CALLBACK, Action.REOPEN, Action.NOTE}),
    Role.DEPARTMENT: frozenset({Action.HANDLE, Action.RETURN, Action.NOTE, REQUEST_EXTENSION}),
    Role.ADMIN: frozenset(),
}
#: Roles that may open a ticket from the desk.
CREATORS = frozenset({Role.OPERATOR, Role.SUPERVISOR})
#: Roles that see callers' numbers in full; everyone else sees 138****5678.
FULL_NUMBERS = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.CALLBACK})
DUE_SOON = timedelta(hours=24)
PER_PAGE = 25


class Forbidden(WorkflowError):
    """The user's role may not do this."""


def may(who: SignedIn, action: str) -> bool:
    return any(action in ROLE_ACTIONS[r] for r in who.roles)


def scope(who: SignedIn) -> int | None:
    """The one department whose cases this user may see, or None for all."""
    if who.roles <= {Role.DEPARTMENT}:
        return who.department_id if who.department_id is not None else -1
    return None


def shown_number(who: SignedIn, number: str) -> str:
    if not number or who.roles & FULL_NUMBERS:
        return phone.national(number) if number.startswith("+") else number
    return phone.mask(number)


@dataclass(frozen=True)
class Filters:
    status: TicketStatus | None = None
    department_id: int | None = None
    category_id: int | None = None
    source: TicketSource | None = None
    urgency: Urgency | None = None
    overdue: bool = False
    due_soon: bool = False
    #: Creation dates, inclusive, in the service's time zone.
    since: date | None = None
    until: date | None = None
    text: str = ""
    page: int = 1
    #: A named period of creation (PERIODS) in the service's time zone; `since`/`until` narrow it.
    period: str = ""

    @classmethod
    def parse(cls, args: dict[str, str]) -> Filters:
        """From query-string values; raises ValueError naming the bad one."""

        def pick(name: str, kind: Any) -> Any:
            value = args.get(name, "").strip()
            if not value:
                return None
            try:
                return kind(value)
            except ValueError:
                raise ValueError(f"{name}: {value[:40]!r} is not valid") from None

        page = pick("page", int) or 1
        return cls(
            status=pick("status", TicketStatus),
            department_id=pick("department", int),
            category_id=pick("category", int),
            source=pick("source", TicketSource),
            urgency=pick("urgency", Urgency),
            overdue=args.get("overdue") == "1",
            due_soon=args.get("due_soon") == "1",
            since=pick("since", date.fromisoformat),
            until=pick("until", date.fromisoformat),
            text=args.get("q", "").strip()[:100],
            page=max(1, min(page, 10_000)),
            period=pick("period", _period) or "",
        )


#: Named periods of the list's filter: today, the last 7 and 30 days (today included), this month.
PERIODS = ("today", "7d", "30d", "month")


def _period(value: str) -> str:
    if value not in PERIODS:
        raise ValueError(value)
    return value


def period_start(period: str, now: datetime, tz: ZoneInfo) -> datetime:
    """The first instant of a named period, in the service's time zone."""
    today = now.astimezone(tz).date()
    first = {"today": today, "7d": today - timedelta(days=6), "30d": today - timedelta(days=29), "month": today.replace(day=1)}[period]
    return datetime.combine(first, time(), tz)


@dataclass(frozen=True)
class Row:
    number: str
    status: str
    status_label: tuple[str, str]
    urgency: str
    source: str
    category: tuple[str, str]
    department: tuple[str, str]
    caller: str
    location: str
    description: str
    created_at: datetime
    deadline_at: datetime | None
    overdue: bool


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int
    page: int
    pages: int


def search(session: Session, who: SignedIn, filters: Filters, *, tz: ZoneInfo, now: datetime | None = None, per_page: int = PER_PAGE) -> Page:
    now = now or utcnow()
    conditions: list[ColumnElement[bool]] = []
    visible = scope(who)
    if visible is not None:
        conditions.append(Ticket.department_id == visible)
    if filters.status is not None:
        conditions.append(Ticket.status == filters.status)
    if filters.department_id is not None:
        conditions.append(Ticket.department_id == filters.department_id)
    if filters.category_id is not None:
        conditions.append(Ticket.category_id == filters.category_id)
    if filters.source is not None:
        conditions.append(Ticket.source == filters.source)
    if filters.urgency is not None:
        conditions.append(Ticket.urgency == filters.urgency)
    if filters.overdue:
        conditions += [Ticket.status == TicketStatus.DISPATCHED, Ticket.deadline_at <= now]
    if filters.due_soon:
        conditions += [Ticket.status == TicketStatus.DISPATCHED, Ticket.deadline_at > now, Ticket.deadline_at <= now + DUE_SOON]
    if filters.period:
        conditions.append(Ticket.created_at >= period_start(filters.period, now, tz))
    if filters.since is not None:
        conditions.append(Ticket.created_at >= datetime.combine(filters.since, time(), tz))
    if filters.until is not None:
        conditions.append(Ticket.created_at < datetime.combine(filters.until + timedelta(days=1), time(), tz))
    if filters.text:
        like = "%" + filters.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        options = [Ticket.number.like(like, escape="\\"), Ticket.description.like(like, escape="\\"), Ticket.location.like(like, escape="\\"), Ticket.caller_name.like(like, escape="\\")]
        digits = "".join(c for c in filters.text if c.isdigit())
        if len(digits) >= 4 and who.roles & FULL_NUMBERS:
            options.append(Ticket.caller_number.like(f"%{digits}%"))
        conditions.append(or_(*options))
    total = session.scalar(select(func.count()).select_from(Ticket).where(*conditions)) or 0
    pages = max(1, -(-total // per_page))
    page = min(filters.page, pages)
    tickets = session.scalars(select(Ticket).where(*conditions).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(per_page).offset((page - 1) * per_page)).all()
    names = Names(session)
    return Page([ticket_row(who, t, names, now) for t in tickets], total, page, pages)


class Names:
    """Display names by id, read when first asked for and as plain columns: most pages need
    one or two of the three maps, and every desk page builds one (ORM entities of every
    user and category per request were most of a ticket page's cost)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @cached_property
    def categories(self) -> dict[int, tuple[str, str]]:
        table = Category.__table__
        return {i: (zh, en or zh) for i, zh, en in self._session.execute(select(table.c.id, table.c.name_zh, table.c.name_en))}

    @cached_property
    def departments(self) -> dict[int, tuple[str, str]]:
        table = Department.__table__
        return {i: (zh, en or zh) for i, zh, en in self._session.execute(select(table.c.id, table.c.name_zh, table.c.name_en))}

    @cached_property
    def users(self) -> dict[int, str]:
        table = User.__table__
        return {i: shown or username for i, shown, username in self._session.execute(select(table.c.id, table.c.display_name, table.c.username))}


def ticket_row(who: SignedIn, t: Ticket, names: Names, now: datetime) -> Row:
    return Row(
        number=t.number,
        status=t.status.value,
        status_label=STATUS_LABELS[t.status],
        urgency=t.urgency.value,
        source=t.source.value,
        category=names.categories.get(t.category_id or 0, ("", "")),
        department=names.departments.get(t.department_id or 0, ("", "")),
        caller=shown_number(who, t.caller_number),
        location=t.location,
        description=t.description,
        created_at=t.created_at,
        deadline_at=t.deadline_at,
        overdue=t.status is TicketStatus.DISPATCHED and t.deadline_at is not None and t.deadline_at <= now,
    )


@dataclass(frozen=True)
class Step:
    at: datetime
    action: str
    label: tuple[str, str]
    from_status: str
    to_status: str
    actor: str
    note: str
    #: The deadline this step set (a dispatch, an approved extension), if any.
    deadline_at: datetime | None


@dataclass(frozen=True)
class CallView:
    uniqueid: str
    caller: str
    started_at: datetime
    disposition: str
    queue: str
    wait_seconds: int | None
    talk_seconds: int | None
    agent: str


@dataclass(frozen=True)
class Case:
    row: Row
    version: int
    caller_name: str
    resolution: str
    #: The limit of the latest dispatch, in words (zh, en): '5个工作日', '5 working days'.
    time_limit: tuple[str, str]
    steps: list[Step]
    calls: list[CallView]
    actions: list[str]
    #: The deadline a dispatch now would set, shown beside the dispatch button.
    dispatch_deadline: datetime | None
    default_department_id: int | None
    #: The case's category (the register form's picker selects it).
    category_id: int | None = None


def case(session: Session, who: SignedIn, number: str, *, policy: TicketPolicy, now: datetime | None = None) -> Case:
    now = now or utcnow()
    t = visible_ticket(session, who, number)
    names = Names(session)
    steps = [
        Step(
            e.at,
            e.action,
            _ACTION_LABELS.get(e.action, (e.action, e.action)),
            e.from_status.value if e.from_status else "",
            e.to_status.value,
            names.users.get(e.actor_user_id or 0, e.actor),
            e.note,
            _set_deadline(e),
        )
        for e in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.seq))
    ]
    call_filter = Call.ticket_id == t.id if t.call_id is None else or_(Call.ticket_id == t.id, Call.id == t.call_id)
    calls = [
        CallView(c.uniqueid, shown_number(who, c.caller_number), c.started_at, c.disposition.value, c.queue, c.wait_seconds, c.talk_seconds, names.users.get(c.agent_user_id or 0, c.agent_interface))
        for c in session.scalars(select(Call).where(call_filter).order_by(Call.started_at))
    ]
    actions = [a.value for a in allowed_actions(t.status) if may(who, a)]
    deadline = None
    default_department = None
    if Action.DISPATCH.value in actions:
        # The same rule the dispatch will apply (services._time_limit), so the preview cannot drift.
        deadline = policy.calendar.deadline(now, services._time_limit(session, policy, t, None))
        default_department = services._default_department(session, t, None)
    limit = TimeLimit.parse(t.time_limit) if t.time_limit else None
    limit_label = (limit.label("zh"), limit.label("en")) if limit is not None else ("", "")
    return Case(ticket_row(who, t, names, now), t.version, t.caller_name, t.resolution, limit_label, steps, calls, actions, deadline, default_department, t.category_id)


def _set_deadline(e: TicketEvent) -> datetime | None:
    text = e.data.get("new_deadline_at") or (e.data.get("deadline_at") if e.action == Action.DISPATCH else None)
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def move(
    session: Session,
    policy: TicketPolicy,
    who: SignedIn,
    number: str,
    action: str,
    *,
    address: str,
    reason: str = "",
    department_id: int | None = None,
    category_id: int | None = None,
    extra: str | None = None,
    satisfaction: str | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """One workflow move by a desk user; Forbidden if the role may not, TicketNotFound if the
    user may not see the case, or the workflow's own error. Audited in the same transaction."""
    if not may(who, action) or action == REQUEST_EXTENSION:
        raise Forbidden(f"your role may not {action} a ticket", code="forbidden_action", action=action[:32])
    t = visible_ticket(session, who, number)
    actor = Actor.user(who.user_id, who.username)
    t = services.apply(
        session, policy, t, action, actor=actor, expected_version=expected_version, reason=reason or None,
        department_id=department_id, category_id=category_id, extra=extra or None, satisfaction=satisfaction or None,
    )  # fmt: skip
    audit.record(session, f"ticket_{action}", user_id=who.user_id, username=who.username, target=f"ticket:{t.number}", address=address, detail={"status": t.status.value})
    return t


@dataclass(frozen=True, slots=True)
class Choice:
    """A category or department as a picker shows it."""

    id: int
    code: str
    name_zh: str
    name_en: str


def choices(session: Session) -> tuple[list[Choice], list[Choice]]:
    """Categories and departments for the filter and form pickers (plain columns: every list,
    case and form page asks for them)."""
    found = []
    for model in (Category, Department):
        table = model.__table__
        rows = session.execute(select(table.c.id, table.c.code, table.c.name_zh, table.c.name_en).where(table.c.active.is_(True)).order_by(table.c.code))
        found.append([Choice(*row) for row in rows])
    return found[0], found[1]


def visible_ticket(session: Session, who: SignedIn, number: str) -> Ticket:
    """The ticket numbered `number` if `who` may see it (department staff: their own
    department's); TicketNotFound otherwise, the same for both, so a number outside the
    scope reveals nothing."""
    t = session.scalars(select(Ticket).where(Ticket.number == number)).first()
    visible = scope(who)
    if t is None or (visible is not None and t.department_id != visible):
        raise TicketNotFound(f"no ticket {number[:32]}")
    return t


_ACTION_LABELS: dict[str, tuple[str, str]] = {"receive": ("受理", "Received")} | {a.value: (r.label_zh, r.label_en) for a, r in RULES.items()}
