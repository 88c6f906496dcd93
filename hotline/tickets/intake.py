"""Intake (受理) on the phone: the operator's form checked field by field, a ticket opened from
the call it came in on (or answered directly, 直接答复, in the same step), likely duplicates
(重复件) offered before a second case is opened, a caller added to an existing case instead,
and a case found by its number or the caller's phone with a sentence to read out.

Each function runs in the caller's transaction (the desk hands it to the database pool),
writes its audit entry in that same transaction, and returns plain views with numbers masked
for roles that need it (`desk.shown_number`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hotline import audit, phone
from hotline.storage.models import Call, CallEvent, Category, Ticket, TicketEvent, TicketReporter, TicketSource, TicketStatus, Urgency, utcnow
from hotline.tickets import services
from hotline.tickets.addresses import THRESHOLD, Place, similarity
from hotline.tickets.desk import CREATORS, Forbidden, Names, Row, scope, shown_number, ticket_row, visible_ticket
from hotline.tickets.services import Actor, TicketPolicy
from hotline.tickets.workflow import FINISHED, Action, InvalidValue
from hotline.users import SignedIn

#: How far back an open case counts as a likely duplicate, unless configured (`tickets.duplicate_days`).
DUPLICATE_DAYS = 7
MAX_DUPLICATES = 5
MAX_FOUND = 10
#: Field lengths: the column sizes, and what an operator can reasonably type on a call.
LIMITS = {"caller_name": 100, "location": 300, "description": 4000, "answer": 4000, "duplicate_reason": 500, "note": 1000}
#: What `link_call(session, uniqueid=…, ticket_id=…)` does: the call log's `link_ticket`, passed in
#: by the desk because the call log is not the tickets package's to import.
LinkCall = Callable[..., Any]


class IntakeInvalid(InvalidValue):
    """Fields the operator must correct: field name → message id (English; the desk translates)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


class DuplicatesFound(InvalidValue):
    """Likely duplicates the operator has not been shown yet: nothing was saved."""

    def __init__(self, duplicates: list[Duplicate]) -> None:
        super().__init__(f"{len(duplicates)} likely duplicate(s): " + ", ".join(d.row.number for d in duplicates))
        self.duplicates = duplicates


# -- the form


@dataclass(frozen=True)
class IntakeForm:
    """What the operator typed, as typed: the desk re-shows it when a field is wrong."""

    caller: str = ""
    caller_name: str = ""
    category: str = ""
    location: str = ""
    description: str = ""
    urgency: str = "normal"
    #: The call's uniqueid when the form was opened from a call (`?call=`).
    call: str = ""
    #: "ticket" (受理; also when empty) or "answer" (直接答复: a consultation answered on the phone).
    outcome: str = "ticket"
    answer: str = ""
    duplicate_reason: str = ""
    #: Ticket numbers of the duplicates already shown to the operator, comma-separated.
    offered: str = ""

    FIELDS = ("caller", "caller_name", "category", "location", "description", "urgency", "call", "outcome", "answer", "duplicate_reason", "offered")

    @classmethod
    def from_fields(cls, get: Callable[[str], str]) -> IntakeForm:
        return cls(**{name: get(name) for name in cls.FIELDS})

    @property
    def offered_numbers(self) -> frozenset[str]:
        return frozenset(n.strip() for n in self.offered.split(",") if n.strip())


@dataclass(frozen=True)
class Cleaned:
    caller_number: str
    caller_name: str
    category_id: int | None
    location: str
    description: str
    urgency: Urgency
    call: Call | None
    answer: str | None
    duplicate_reason: str


def clean(session: Session, form: IntakeForm) -> Cleaned:
    """The form's values in their types, or IntakeInvalid naming every wrong field at once."""
    errors: dict[str, str] = {}
    caller, call = _caller_and_call(session, form, errors)
    category_id: int | None = None
    if form.category.strip():
        try:
            category_id = int(form.category)
        except ValueError:
            category_id = None
        found = session.get(Category, category_id) if category_id is not None else None
        if found is None or not found.active:
            errors["category"] = "Choose a category from the list."
    answer = form.outcome == "answer"
    if form.outcome not in ("", "ticket", "answer"):
        errors["outcome"] = "Choose whether to open a ticket or answer directly."
    try:
        urgency = Urgency(form.urgency or "normal")
    except ValueError:
        urgency = Urgency.NORMAL
        errors["urgency"] = "Choose an urgency from the list."
    if not form.description.strip():
        errors["description"] = "Describe the problem or the question in the caller's words."
    if not answer and not form.location.strip():
        errors["location"] = "Say where the problem is: road and number, or a landmark."
    if answer and not form.answer.strip():
        errors["answer"] = "Write the answer given to the caller."
    _too_long(form, errors, ("caller_name", "location", "description", "answer", "duplicate_reason"))
    if errors:
        raise IntakeInvalid(errors)
    return Cleaned(
        caller, form.caller_name.strip(), category_id, form.location.strip(), form.description.strip(), urgency, call, form.answer.strip() if answer else None, form.duplicate_reason.strip()
    )


def _caller_and_call(session: Session, form: IntakeForm, errors: dict[str, str]) -> tuple[str, Call | None]:
    """The caller's number in its stored form and the call record, for a new case and for a
    caller joining one; what is wrong goes into `errors`."""
    caller = ""
    try:
        caller = phone.normalise(form.caller) if form.caller.strip() else ""
    except phone.InvalidPhoneNumber:
        errors["caller"] = "Not a phone number: digits only, e.g. 13812345678 or 0532 12345678."
    call = None
    if form.call.strip():
        call = session.scalars(select(Call).where(Call.uniqueid == form.call.strip()[:64])).first()
        if call is None:
            errors["call"] = "There is no record of this call; the ticket can be opened without it."
    return caller, call


def _too_long(form: IntakeForm, errors: dict[str, str], names: tuple[str, ...]) -> None:
    for name in names:
        if len(getattr(form, name)) > LIMITS[name] and name not in errors:
            errors[name] = "Too long: shorten this field."


# -- the call the form was opened from


@dataclass(frozen=True)
class CallInfo:
    uniqueid: str
    #: The caller's number as this user may see it, and in full for the form (operators only).
    caller: str
    caller_name: str
    #: The language the caller chose in the IVR ("zh", "en"), or "" when it is not known.
    language: str
    started_at: datetime
    queue: str
    wait_seconds: int | None


def call_info(session: Session, who: SignedIn, uniqueid: str) -> CallInfo | None:
    call = session.scalars(select(Call).where(Call.uniqueid == uniqueid.strip()[:64])).first()
    if call is None:
        return None
    return CallInfo(call.uniqueid, shown_number(who, call.caller_number), call.caller_name, call_language(session, call), call.started_at, call.queue, call.wait_seconds)


def call_language(session: Session, call: Call) -> str:
    """The language the IVR last spoke to the caller in (its menu, language and summary events)."""
    stmt = select(CallEvent.detail).where(CallEvent.call_id == call.id, CallEvent.kind.in_(("language", "menu", "ivr_summary"))).order_by(CallEvent.at.desc(), CallEvent.id.desc())
    for detail in session.scalars(stmt.limit(20)):
        lang = (detail or {}).get("lang")
        if isinstance(lang, str) and lang:
            return lang[:8]
    return ""


# -- duplicates (重复件)


@dataclass(frozen=True)
class Duplicate:
    #: The case as the ticket list shows it (number masked for roles that need it).
    row: Row
    #: Citizens who reported it so far (the first caller and everyone linked since).
    citizens: int
    #: 0..1: how close the addresses are.
    closeness: float


def find_duplicates(
    session: Session, who: SignedIn, *, category_id: int | None, location: str, days: int = DUPLICATE_DAYS, now: datetime | None = None, limit: int = MAX_DUPLICATES
) -> list[Duplicate]:
    """Open cases of the same category, opened in the last `days`, at the same or a nearby
    address: closest first, then newest."""
    if category_id is None or not location.strip():
        return []
    now = now or utcnow()
    place = Place.parse(location)
    conditions = [Ticket.category_id == category_id, Ticket.status.not_in(FINISHED), Ticket.created_at >= now - timedelta(days=days)]
    visible = scope(who)
    if visible is not None:
        conditions.append(Ticket.department_id == visible)
    candidates = session.scalars(select(Ticket).where(*conditions).order_by(Ticket.created_at.desc()).limit(500)).all()
    scored = [(similarity(place, Place.parse(t.location)), t) for t in candidates]
    close = sorted(((s, t) for s, t in scored if s >= THRESHOLD), key=lambda p: (-p[0], -p[1].created_at.timestamp()))[:limit]
    if not close:
        return []
    names = Names(session)
    counts = citizen_counts(session, [t for _, t in close])
    return [Duplicate(ticket_row(who, t, names, now), counts[t.id], round(score, 2)) for score, t in close]


def citizen_counts(session: Session, tickets: Collection[Ticket]) -> dict[int, int]:
    """Distinct citizens per ticket: the first caller plus linked reporters with another number
    (a reporter without a number counts once each: nobody can tell them apart)."""
    ids = [t.id for t in tickets]
    counts = {t.id: {t.caller_number or f"first:{t.id}"} for t in tickets}
    for ticket_id, reporter_id, number in session.execute(select(TicketReporter.ticket_id, TicketReporter.id, TicketReporter.caller_number).where(TicketReporter.ticket_id.in_(ids))):
        counts[ticket_id].add(number or f"reporter:{reporter_id}")
    return {k: len(v) for k, v in counts.items()}


# -- opening a case


def open_case(
    session: Session,
    policy: TicketPolicy,
    who: SignedIn,
    form: IntakeForm,
    *,
    address: str,
    link_call: LinkCall,
    duplicate_days: int = DUPLICATE_DAYS,
    now: datetime | None = None,
) -> Ticket:
    """受理: the ticket, linked to its call; answered directly (直接答复) in the same step for a
    consultation. Raises IntakeInvalid for wrong fields and DuplicatesFound when there are likely
    duplicates the operator has not seen yet; a case opened despite duplicates needs a reason,
    which goes into its timeline."""
    if not who.roles & CREATORS:
        raise Forbidden("your role may not open a ticket")
    c = clean(session, form)
    now = now or utcnow()
    duplicates: list[Duplicate] = []
    if c.answer is None:
        duplicates = find_duplicates(session, who, category_id=c.category_id, location=c.location, days=duplicate_days, now=now)
        unseen = [d for d in duplicates if d.row.number not in form.offered_numbers]
        if unseen:
            raise DuplicatesFound(duplicates)
        if duplicates and not c.duplicate_reason:
            raise IntakeInvalid({"duplicate_reason": "Say why this is not the same problem as the cases offered, or add the caller to one of them."})
    actor = Actor.user(who.user_id, who.username)
    t = services.open_ticket(
        session, policy, source=TicketSource.HOTLINE, actor=actor, caller_number=c.caller_number, caller_name=c.caller_name,
        description=c.description, location=c.location, category_id=c.category_id, urgency=c.urgency, call_id=c.call.id if c.call else None, at=now,
    )  # fmt: skip
    if c.call is not None and c.call.ticket_id is None:
        link_call(session, uniqueid=c.call.uniqueid, ticket_id=t.id, at=now)
    detail: dict[str, Any] = {"call": c.call.uniqueid if c.call else None}
    if duplicates:
        offered = ", ".join(d.row.number for d in duplicates)
        services.apply(session, policy, t, Action.NOTE, actor=actor, at=now, reason=f"非重复件（已比对 {offered}）/ not a duplicate of {offered}: {c.duplicate_reason}")
        detail |= {"duplicates_offered": [d.row.number for d in duplicates], "reason": c.duplicate_reason[:200]}
    audit.record(session, "ticket_created", user_id=who.user_id, username=who.username, target=f"ticket:{t.number}", address=address, detail=detail)
    if c.answer is not None:
        services.apply(session, policy, t, Action.ANSWER, actor=actor, at=now, reason=c.answer)
        audit.record(session, "ticket_answer", user_id=who.user_id, username=who.username, target=f"ticket:{t.number}", address=address, detail={"status": t.status.value, "at_intake": True})
    return t


# -- adding a caller to an existing case


def link_reporter(session: Session, policy: TicketPolicy, who: SignedIn, number: str, form: IntakeForm, *, address: str, link_call: LinkCall, now: datetime | None = None) -> Ticket:
    """The caller reports a case that is already open: they join it (a reporter, a timeline
    entry, the call linked to the case) instead of a second case being opened."""
    if not who.roles & CREATORS:
        raise Forbidden("your role may not add a caller to a ticket")
    now = now or utcnow()
    t = visible_ticket(session, who, number.strip())
    errors: dict[str, str] = {}
    if t.status in FINISHED:
        errors["ticket"] = "This case is already finished; open a new ticket instead."
    caller, call = _caller_and_call(session, form, errors)
    _too_long(form, errors, ("caller_name", "description"))
    if errors:
        raise IntakeInvalid(errors)
    repeat = caller and (caller == t.caller_number or session.scalar(select(func.count()).where(TicketReporter.ticket_id == t.id, TicketReporter.caller_number == caller)))
    note = form.description.strip()[: LIMITS["note"]]
    session.add(TicketReporter(ticket_id=t.id, caller_number=caller, caller_name=form.caller_name.strip(), call_id=call.id if call else None, note=note, user_id=who.user_id, at=now))
    who_called = " ".join(p for p in (phone.mask(caller) if caller else "", form.caller_name.strip()) if p) or "来电人 / a caller"
    kind = "再次来电 / called again" if repeat else "重复件：又一位市民反映 / duplicate report by another citizen"
    services.apply(session, policy, t, Action.NOTE, actor=Actor.user(who.user_id, who.username), at=now, reason=f"{kind}: {who_called}" + (f" — {note}" if note else ""))
    if call is not None and call.ticket_id is None:
        link_call(session, uniqueid=call.uniqueid, ticket_id=t.id, at=now)
    citizens = citizen_counts(session, [t])[t.id]
    audit.record(
        session, "ticket_duplicate_linked", user_id=who.user_id, username=who.username, target=f"ticket:{t.number}", address=address,
        detail={"call": call.uniqueid if call else None, "citizens": citizens, "repeat": bool(repeat)},
    )  # fmt: skip
    return t


@dataclass(frozen=True)
class Reporter:
    caller: str
    name: str
    at: datetime
    #: The operator who took the report ("" for the first report when no user opened it).
    taken_by: str
    note: str
    call: str
    first: bool = False
    #: The same number reported this case before.
    again: bool = False


@dataclass(frozen=True)
class Reporters:
    citizens: int
    rows: list[Reporter] = field(default_factory=list)


def reporters(session: Session, who: SignedIn, number: str) -> Reporters:
    """Who reported the case: the first caller, then everyone added at intake since."""
    t = visible_ticket(session, who, number.strip())
    names = Names(session)
    first_event = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.seq).limit(1)).first()
    first_call = session.get(Call, t.call_id) if t.call_id is not None else None
    rows = [
        Reporter(
            shown_number(who, t.caller_number),
            t.caller_name,
            t.created_at,
            names.users.get(first_event.actor_user_id or 0, first_event.actor) if first_event else "",
            "",
            first_call.uniqueid if first_call else "",
            first=True,
        )
    ]
    seen = {t.caller_number} if t.caller_number else set()
    calls = {row[0]: row[1] for row in session.execute(select(Call.id, Call.uniqueid).join(TicketReporter, TicketReporter.call_id == Call.id).where(TicketReporter.ticket_id == t.id))}
    for r in session.scalars(select(TicketReporter).where(TicketReporter.ticket_id == t.id).order_by(TicketReporter.at, TicketReporter.id)):
        again = bool(r.caller_number) and r.caller_number in seen
        if r.caller_number:
            seen.add(r.caller_number)
        rows.append(Reporter(shown_number(who, r.caller_number), r.caller_name, r.at, names.users.get(r.user_id or 0, ""), r.note, calls.get(r.call_id or 0, ""), again=again))
    return Reporters(citizen_counts(session, [t])[t.id], rows)


# -- finding a case on the phone


@dataclass(frozen=True)
class Found:
    #: The case as the ticket list shows it (number masked for roles that need it).
    row: Row
    #: How it was found: "number", "caller" (the first caller) or "reporter" (added later).
    by: str
    #: What the operator reads to the caller: (Chinese, English).
    read_out: tuple[str, str]


def find_cases(session: Session, who: SignedIn, query: str, *, tz: ZoneInfo, now: datetime | None = None, limit: int = MAX_FOUND) -> list[Found]:
    """A case by its number, or the cases of a caller's phone (as first caller or added
    since): open ones first, then newest. InvalidValue when the query is neither."""
    text = query.strip()
    now = now or utcnow()
    digits = "".join(c for c in text if c.isdigit())
    if not digits or len(text) > 40:
        raise InvalidValue("Type a ticket number or the caller's phone number.")
    visible = scope(who)
    found: list[tuple[Ticket, str]] = []
    by_number = session.scalars(select(Ticket).where(Ticket.number == digits)).first() if digits == text.replace(" ", "") else None
    if by_number is not None:
        found.append((by_number, "number"))
    else:
        try:
            caller = phone.normalise(text)
        except phone.InvalidPhoneNumber:
            raise InvalidValue("Type a ticket number or the caller's phone number.") from None
        if not caller:
            raise InvalidValue("Type a ticket number or the caller's phone number.")
        reported = select(TicketReporter.ticket_id).where(TicketReporter.caller_number == caller)
        stmt = select(Ticket).where(or_(Ticket.caller_number == caller, Ticket.id.in_(reported))).order_by(Ticket.created_at.desc()).limit(100)
        found = [(t, "caller" if t.caller_number == caller else "reporter") for t in session.scalars(stmt)]
    if visible is not None:
        found = [(t, by) for t, by in found if t.department_id == visible]
    found.sort(key=lambda p: (p[0].status in FINISHED, -p[0].created_at.timestamp()))
    names = Names(session)
    return [_found(session, who, t, by, names, tz, now) for t, by in found[:limit]]


def _found(session: Session, who: SignedIn, t: Ticket, by: str, names: Names, tz: ZoneInfo, now: datetime) -> Found:
    return Found(ticket_row(who, t, names, now), by, read_out(session, t, names, tz, now))


def spoken_time(moment: datetime | None, tz: ZoneInfo, language: str, now: datetime) -> str:
    """A time as one says it on the phone: 12月3日 15:30 / 3 December 15:30 (with the year
    when it is not this year's)."""
    if moment is None:
        return ""
    local, today = moment.astimezone(tz), now.astimezone(tz)
    if language == "zh":
        return (f"{local.year}年" if local.year != today.year else "") + f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local.day} {local:%B}" + (f" {local.year}" if local.year != today.year else "") + f" {local:%H:%M}"


def read_out(session: Session, t: Ticket, names: Names, tz: ZoneInfo, now: datetime) -> tuple[str, str]:
    """The case's status as a sentence for the caller, from the workflow's status, times and
    deadline: (Chinese, English)."""
    dept_zh, dept_en = names.departments.get(t.department_id or 0, ("处置单位", "the responsible department"))

    def at(moment: datetime | None) -> tuple[str, str]:
        return spoken_time(moment, tz, "zh", now), spoken_time(moment, tz, "en", now)

    created, changed = at(t.created_at), at(_entered(session, t))
    s = t.status
    if s is TicketStatus.RECEIVED:
        return (f"您反映的问题已于{created[0]}受理，工单号{t.number}，正在审核立案。", f"Your report was received on {created[1]}, case number {t.number}; it is being reviewed.")
    if s is TicketStatus.REGISTERED:
        return (f"您反映的问题已于{created[0]}受理并已立案，正在安排派遣至处置单位。", f"Your report of {created[1]} has been registered and is being assigned to the department that will handle it.")
    if s is TicketStatus.DISPATCHED:
        dispatched, deadline = at(t.dispatched_at), at(t.deadline_at)
        zh, en = f"您反映的问题已于{dispatched[0]}派遣至{dept_zh}，处理时限至{deadline[0]}。", f"Your report was sent to {dept_en} on {dispatched[1]}, to be handled by {deadline[1]}."
        if t.deadline_at is not None and t.deadline_at <= now:
            zh, en = zh + f"目前已超过处理时限，我们会督促{dept_zh}尽快处理。", en + f" That time has passed; we are pressing {dept_en} to finish it."
        return zh, en
    if s is TicketStatus.HANDLED:
        return (f"{dept_zh}已于{changed[0]}反馈处理完毕，我们正在核查处理结果。", f"{dept_en} reported it handled on {changed[1]}; we are checking the result.")
    if s is TicketStatus.VERIFIED:
        return (f"处理结果已于{changed[0]}核查通过，即将结案。", f"The result was checked on {changed[1]}; the case will be closed shortly.")
    result = f"：{t.resolution}" if t.resolution else ""
    result_en = f": {t.resolution}" if t.resolution else "."
    if s is TicketStatus.CLOSED:
        return (f"您反映的问题已于{changed[0]}办结{('，处理结果' + result) if result else ''}。", f"Your report was closed on {changed[1]}{result_en}")
    if s is TicketStatus.ANSWERED:
        return (f"您的咨询已于{changed[0]}答复{result}。", f"Your question was answered on {changed[1]}{result_en}")
    return (f"您反映的问题经审核不予立案（{changed[0]}）{('，原因' + result) if result else ''}。", f"Your report was not taken up ({changed[1]}){result_en}")


def _entered(session: Session, t: Ticket) -> datetime | None:
    """When the ticket entered its present status."""
    stmt = select(TicketEvent.at).where(TicketEvent.ticket_id == t.id, TicketEvent.to_status == t.status, TicketEvent.action != Action.NOTE.value).order_by(TicketEvent.seq.desc()).limit(1)
    return session.scalars(stmt).first() or t.created_at
