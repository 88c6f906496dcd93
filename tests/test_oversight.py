"""Oversight in the core, on SQLite and PostgreSQL: time left and over in working hours across
weekends, holidays and 调休 days; the board by department with the department scope; 督办
recorded, counted and audited; extension requests through to the workflow's extend move;
reworked cases; the daily summary."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from hotline.storage.db import Database
from hotline.storage.models import AuditEntry, Category, CategoryKind, Department, Extension, ExtensionRequest, Role, Ticket, TicketEvent, TicketSource, Urge, Urgency
from hotline.tickets import oversight
from hotline.tickets import services as tickets
from hotline.tickets.desk import Forbidden
from hotline.tickets.oversight import BoardFilters, parse_extra
from hotline.tickets.services import Actor, TicketNotFound, TicketPolicy
from hotline.tickets.workflow import Action, InvalidValue
from hotline.users import SignedIn, create_user
from hotline.worktime import TimeLimit, WorkingCalendar

CST = ZoneInfo("Asia/Shanghai")
POLICY = TicketPolicy(calendar=WorkingCalendar(tz=CST))
HOUR = 3600.0


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


def signed(user_id: int, username: str, roles: set[Role], department_id: int | None = None) -> SignedIn:
    return SignedIn(user_id, username, username, frozenset(roles), department_id, None, "csrf", "zh_Hans", "")


@pytest.fixture
def world(database: Database) -> dict[str, Any]:
    """Two departments, a normal category (5 working days; urgent: 4 clock hours), and a
    supervisor, an operator and one department user for each department."""

    def work(s: Any) -> dict[str, Any]:
        roads = Department(code="roads", name_zh="市政道路处", name_en="Roads")
        parks = Department(code="parks", name_zh="园林绿化处", name_en="Parks")
        s.add_all([roads, parks])
        s.flush()
        cover = Category(code="0101", kind=CategoryKind.COMPONENT, name_zh="井盖破损", default_department_id=roads.id, time_limit="5 working_days", urgent_time_limit="4 hours")
        tree = Category(code="0201", kind=CategoryKind.COMPONENT, name_zh="树木倒伏", default_department_id=parks.id, time_limit="2 working_hours")
        s.add_all([cover, tree])
        s.flush()
        users = {
            "sup": create_user(s, "sup", "secret-pass-1", [Role.SUPERVISOR]).id,
            "op": create_user(s, "op", "secret-pass-1", [Role.OPERATOR]).id,
            "dept": create_user(s, "dept", "secret-pass-1", [Role.DEPARTMENT], department_id=roads.id).id,
            "dept2": create_user(s, "dept2", "secret-pass-1", [Role.DEPARTMENT], department_id=parks.id).id,
        }
        return {"roads": roads.id, "parks": parks.id, "cover": cover.id, "tree": tree.id, **users}

    ids = database.run(work)
    ids["sup_who"] = signed(ids["sup"], "sup", {Role.SUPERVISOR})
    ids["op_who"] = signed(ids["op"], "op", {Role.OPERATOR})
    ids["dept_who"] = signed(ids["dept"], "dept", {Role.DEPARTMENT}, ids["roads"])
    ids["dept2_who"] = signed(ids["dept2"], "dept2", {Role.DEPARTMENT}, ids["parks"])
    return ids


def dispatched(database: Database, category_id: int, when: datetime, *, urgency: Urgency = Urgency.NORMAL, limit: str | None = None) -> str:
    """A case received, registered and dispatched at `when` to the category's department."""

    def work(s: Any) -> str:
        actor = Actor("op")
        t = tickets.open_ticket(s, POLICY, source=TicketSource.HOTLINE, actor=actor, description="井盖松动", location="香港中路 1 号", category_id=category_id, urgency=urgency, at=when)
        tickets.apply(s, POLICY, t, Action.REGISTER, actor=actor, at=when)
        tickets.apply(s, POLICY, t, Action.DISPATCH, actor=actor, at=when, time_limit=limit)
        return t.number

    return database.run(work)


def deadline(database: Database, number: str) -> datetime:
    found = database.read(lambda s: tickets.get(s, number).deadline_at)
    assert found is not None
    return found


# -- time left and over, on the working calendar


def test_time_left_runs_only_in_office_hours_across_national_day() -> None:
    cal = POLICY.calendar
    # Dispatched Wed 2026-09-30 15:00 with 1 working day: due Thu 10-08 15:00, after the holiday.
    due = cal.deadline(at(2026, 9, 30, 15, 0), TimeLimit.parse("1 working_day"))
    assert due == at(2026, 10, 8, 15, 0)
    left = oversight.remaining(cal, at(2026, 10, 5, 12, 0), due, "1 working_days")
    assert (left.seconds, left.overdue, left.clock) == (5 * HOUR, False, False)  # 08:30-12:00 and 13:30-15:00 on 10-08
    assert left.days == pytest.approx(5 / 7.5)


def test_time_over_counts_the_adjusted_saturday_but_not_the_sunday() -> None:
    cal = POLICY.calendar
    due = at(2026, 10, 10, 15, 0)  # Sat 10-10 is a worked day (调休)
    over = oversight.remaining(cal, at(2026, 10, 12, 9, 30), due, "3 working_days")
    # 15:00-17:30 on the worked Saturday, nothing on Sunday 10-11, 08:30-09:30 on Monday.
    assert over.overdue and over.seconds == -3.5 * HOUR and over.hours == 3.5


def test_a_deadline_passed_after_closing_is_overdue_with_no_office_time_over() -> None:
    over = oversight.remaining(POLICY.calendar, at(2026, 12, 1, 19, 0), at(2026, 12, 1, 17, 30), "2 working_hours")
    assert over.overdue and over.seconds == 0


def test_a_limit_in_clock_hours_is_measured_on_the_clock() -> None:
    # An urgent case dispatched on National Day at 22:00 with 4 hours is due at 02:00.
    over = oversight.remaining(POLICY.calendar, at(2026, 10, 2, 3, 0), at(2026, 10, 2, 2, 0), "4 hours")
    assert over.clock and over.overdue and over.seconds == -HOUR


def test_extra_time_is_parsed_in_working_units_only() -> None:
    assert parse_extra("2", "working_days") == TimeLimit.parse("2 working_days")
    assert parse_extra(" 6 ", "working_hours") == TimeLimit.parse("6 working_hours")
    for amount, unit, message in (
        ("x", "working_days", "amount"),
        ("0", "working_days", "at least 1"),
        ("2", "hours", "unit"),
        ("31", "working_days", "at most 30"),
        ("241", "working_hours", "at most 240"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_extra(amount, unit)


# -- the board


def test_board_groups_overdue_and_due_soon_by_department(database: Database, world: dict[str, Any]) -> None:
    friday = at(2026, 11, 27, 16, 30)  # a Friday afternoon
    late = dispatched(database, world["cover"], at(2026, 11, 13, 10, 0))  # 5 working days: due Fri 11-20 10:00
    soon = dispatched(database, world["cover"], at(2026, 11, 20, 9, 0))  # due Fri 11-27 09:00 → overdue too
    monday = dispatched(database, world["cover"], at(2026, 11, 23, 9, 30))  # due Mon 11-30 09:30: 2 working hours away
    later = dispatched(database, world["cover"], at(2026, 11, 27, 10, 0))  # due Fri 12-04: not on the board
    tree = dispatched(database, world["tree"], at(2026, 11, 27, 15, 0))  # 2 working hours: due Fri 17:00
    board = database.read(lambda s: oversight.board(s, world["sup_who"], BoardFilters(), policy=POLICY, now=friday))
    by_department = {d.department_id: d for d in board.departments}
    roads, parks = by_department[world["roads"]], by_department[world["parks"]]
    assert [r.number for r in roads.overdue] == [late, soon]
    assert [r.number for r in roads.due_soon] == [monday]
    assert later not in {r.number for d in board.departments for r in d.overdue + d.due_soon}
    assert [r.number for r in parks.due_soon] == [tree]
    assert roads.due_soon[0].left.seconds == 2 * HOUR  # 16:30-17:30 Friday, 08:30-09:30 Monday: the weekend does not count
    # 16:30 Fri 11-20 … 16:30 Fri 11-27 is five working days over, plus 10:00-16:30 less lunch (5 h).
    assert roads.overdue[0].left.overdue and roads.overdue[0].left.seconds == -(5 * 7.5 + 5) * HOUR
    assert (board.overdue, board.due_soon) == (2, 2)
    assert board.departments[0].department_id == world["roads"]  # most overdue first
    # A narrower window leaves Monday's case out; the overdue stay.
    narrow = database.read(lambda s: oversight.board(s, world["sup_who"], BoardFilters(within_hours=1), policy=POLICY, now=friday))
    assert [r.number for d in narrow.departments for r in d.due_soon] == [tree] and narrow.overdue == 2


def test_board_filters_sorts_and_scopes_to_the_department(database: Database, world: dict[str, Any]) -> None:
    now = at(2026, 12, 1, 10, 0)
    normal = dispatched(database, world["cover"], at(2026, 11, 20, 9, 0))
    urgent = dispatched(database, world["cover"], at(2026, 12, 1, 5, 0), urgency=Urgency.URGENT)  # 4 clock hours: due 09:00, 1 h over
    tree = dispatched(database, world["tree"], at(2026, 11, 30, 9, 0))

    def numbers(who: SignedIn, filters: BoardFilters) -> list[str]:
        board = database.read(lambda s: oversight.board(s, who, filters, policy=POLICY, now=now))
        return [r.number for d in board.departments for r in d.overdue + d.due_soon]

    assert numbers(world["sup_who"], BoardFilters(sort="urgency")) == [urgent, normal, tree]
    assert numbers(world["sup_who"], BoardFilters(sort="time")) == [normal, urgent, tree]
    assert numbers(world["sup_who"], BoardFilters(urgency=Urgency.URGENT)) == [urgent]
    assert numbers(world["sup_who"], BoardFilters(category_id=world["tree"])) == [tree]
    assert numbers(world["sup_who"], BoardFilters(department_id=world["parks"])) == [tree]
    assert numbers(world["dept_who"], BoardFilters()) == [normal, urgent]  # own department's only
    assert numbers(world["dept_who"], BoardFilters(department_id=world["parks"])) == []  # cannot look into another
    assert numbers(world["dept2_who"], BoardFilters()) == [tree]
    urgent_row = database.read(lambda s: oversight.board(s, world["sup_who"], BoardFilters(urgency=Urgency.URGENT), policy=POLICY, now=now)).departments[0].overdue[0]
    assert urgent_row.left.clock and urgent_row.left.seconds == -HOUR
    with pytest.raises(Forbidden):
        database.read(lambda s: oversight.board(s, world["op_who"], BoardFilters(), policy=POLICY, now=now))


def test_board_filters_refuse_bad_values() -> None:
    assert BoardFilters.parse({"department": "2", "urgency": "urgent", "sort": "urges", "within": "16"}) == BoardFilters(2, None, Urgency.URGENT, "urges", 16)
    for name, value in (("department", "x"), ("category", "1 OR 1=1"), ("urgency", "soon"), ("sort", "deadline; drop"), ("within", "0"), ("within", "abc")):
        with pytest.raises(ValueError, match=name):
            BoardFilters.parse({name: value})


# -- 督办


def test_urging_is_recorded_counted_and_audited(database: Database, world: dict[str, Any]) -> None:
    number = dispatched(database, world["cover"], at(2026, 11, 20, 9, 0))
    other = dispatched(database, world["tree"], at(2026, 11, 30, 9, 0))
    now = at(2026, 12, 1, 10, 0)
    sup = world["sup_who"]
    database.run(lambda s: oversight.urge(s, POLICY, sup, number, note="今天必须处理", address="10.0.0.9", now=now))
    database.run(lambda s: oversight.urge(s, POLICY, sup, number, note="再次督办", address="10.0.0.9", now=now + timedelta(hours=1)))
    database.run(lambda s: oversight.urge(s, POLICY, sup, other, note="请尽快", address="10.0.0.9", now=now))
    views = database.read(lambda s: oversight.urges(s, world["dept_who"], number))
    assert [(u.note, u.overdue, u.current, u.by) for u in views] == [("今天必须处理", True, True, "sup"), ("再次督办", True, True, "sup")]
    board = database.read(lambda s: oversight.board(s, world["dept_who"], BoardFilters(), policy=POLICY, now=now + timedelta(hours=2)))
    row = board.departments[0].overdue[0]
    assert (row.number, row.urges, row.last_urged_at) == (number, 2, now + timedelta(hours=1))
    assert board.urged == 1
    day = (at(2026, 12, 1, 0, 0), at(2026, 12, 2, 0, 0))
    assert database.read(lambda s: oversight.urge_counts(s, *day)) == {world["roads"]: 2, world["parks"]: 1}
    assert database.read(lambda s: oversight.urge_counts(s, *day, department_id=world["parks"])) == {world["parks"]: 1}
    assert database.read(lambda s: oversight.urge_counts(s, at(2026, 12, 2, 0, 0), at(2026, 12, 3, 0, 0))) == {}
    audit = database.read(lambda s: [(e.action, e.username, e.target, e.address) for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket_urged").order_by(AuditEntry.id))])
    assert audit[0] == ("ticket_urged", "sup", f"ticket:{number}", "10.0.0.9") and len(audit) == 3
    # A rework starts a new round: the department's count starts again, the history stays.
    actor = Actor.user(world["sup"], "sup")
    database.run(lambda s: tickets.apply(s, POLICY, number, Action.HANDLE, actor=actor, at=now, reason="done"))
    database.run(lambda s: tickets.apply(s, POLICY, number, Action.REWORK, actor=actor, at=now, reason="not done"))
    views = database.read(lambda s: oversight.urges(s, world["sup_who"], number))
    assert len(views) == 2 and not any(u.current for u in views)
    board = database.read(lambda s: oversight.board(s, sup, BoardFilters(within_hours=400), policy=POLICY, now=now))
    assert [r.urges for d in board.departments for r in d.overdue + d.due_soon if r.number == number] == [0]


def test_urging_refuses_the_wrong_role_case_or_note(database: Database, world: dict[str, Any]) -> None:
    number = dispatched(database, world["cover"], at(2026, 11, 20, 9, 0))
    fresh = database.run(lambda s: tickets.open_ticket(s, POLICY, source=TicketSource.HOTLINE, actor=Actor("op"), description="x").number)
    sup = world["sup_who"]
    with pytest.raises(Forbidden):
        database.run(lambda s: oversight.urge(s, POLICY, world["dept_who"], number, note="x", address=""))
    with pytest.raises(InvalidValue, match="督办意见"):
        database.run(lambda s: oversight.urge(s, POLICY, sup, number, note="   ", address=""))
    with pytest.raises(InvalidValue, match="1000"):
        database.run(lambda s: oversight.urge(s, POLICY, sup, number, note="x" * 1001, address=""))
    with pytest.raises(InvalidValue, match="dispatched"):
        database.run(lambda s: oversight.urge(s, POLICY, sup, fresh, note="x", address=""))
    with pytest.raises(TicketNotFound):
        database.run(lambda s: oversight.urge(s, POLICY, sup, "999", note="x", address=""))
    assert database.read(lambda s: s.scalar(select(Urge.id))) is None


def test_urges_are_append_only_in_the_database(database: Database, world: dict[str, Any]) -> None:
    number = dispatched(database, world["cover"], at(2026, 11, 20, 9, 0))
    database.run(lambda s: oversight.urge(s, POLICY, world["sup_who"], number, note="x", address=""))
    for statement in ("UPDATE urges SET note = 'y'", "DELETE FROM urges"):
        with pytest.raises(DBAPIError), database.transaction() as session:
            session.execute(text(statement))


# -- extension requests


def test_an_approved_request_moves_the_deadline_through_the_extend_move(database: Database, world: dict[str, Any]) -> None:
    # Dispatched Wed 2026-09-30 15:00 with 1 working day: due Thu 10-08 15:00.
    number = dispatched(database, world["cover"], at(2026, 9, 30, 15, 0), limit="1 working_day")
    dept, sup = world["dept_who"], world["sup_who"]
    now = at(2026, 10, 8, 9, 0)
    request = database.run(lambda s: oversight.request_extension(s, POLICY, dept, number, extra=parse_extra("2", "working_days"), reason="需要更换井座", address="10.0.0.5", now=now).id)
    panel = database.read(lambda s: oversight.panel(s, dept, number, policy=POLICY, now=now))
    assert panel.pending is not None and panel.pending.status == "pending" and not panel.can_request and not panel.can_decide
    # 2 working days from Thu 10-08 15:00: Fri 10-09, then the worked Saturday 10-10 (调休).
    assert panel.pending.proposed_deadline_at == at(2026, 10, 10, 15, 0)
    with pytest.raises(InvalidValue, match="already waiting"):
        database.run(lambda s: oversight.request_extension(s, POLICY, dept, number, extra=parse_extra("1", "working_days"), reason="again", address="", now=now))
    seen = database.read(lambda s: oversight.panel(s, sup, number, policy=POLICY, now=now))
    assert seen.can_decide and seen.pending is not None and seen.pending.id == request
    board = database.read(lambda s: oversight.board(s, sup, BoardFilters(), policy=POLICY, now=now))
    assert [p.number for p in board.pending] == [number] and board.departments[0].due_soon[0].extension_pending
    database.run(lambda s: oversight.decide_extension(s, POLICY, sup, number, request, approve=True, note="同意", address="10.0.0.9", now=now + timedelta(minutes=5)))
    assert deadline(database, number) == at(2026, 10, 10, 15, 0)
    row = database.read(lambda s: s.get(ExtensionRequest, request))
    assert (row.status, row.new_deadline_at, row.decided_by_user_id, row.decision_note) == ("approved", at(2026, 10, 10, 15, 0), world["sup"], "同意")
    extension = database.read(lambda s: s.scalars(select(Extension)).one())
    assert (extension.added, extension.old_deadline_at, extension.new_deadline_at) == ("2 working_days", at(2026, 10, 8, 15, 0), at(2026, 10, 10, 15, 0))
    events = database.read(lambda s: [e.action for e in s.scalars(select(TicketEvent).join(Ticket).where(Ticket.number == number).order_by(TicketEvent.seq))])
    assert events[-1] == "extend"
    mine = database.read(lambda s: oversight.panel(s, dept, number, policy=POLICY, now=now))
    assert mine.pending is None and mine.can_request and [(q.status, q.new_deadline_at) for q in mine.requests] == [("approved", at(2026, 10, 10, 15, 0))]
    with pytest.raises(InvalidValue, match="already decided"):
        database.run(lambda s: oversight.decide_extension(s, POLICY, sup, number, request, approve=False, note="no", address=""))
    audit = database.read(lambda s: [(e.action, e.username) for e in s.scalars(select(AuditEntry).where(AuditEntry.target == f"ticket:{number}").order_by(AuditEntry.id))])
    assert audit == [("extension_requested", "dept"), ("extension_approved", "sup")]


def test_a_refusal_needs_a_reason_and_the_department_sees_it(database: Database, world: dict[str, Any]) -> None:
    number = dispatched(database, world["cover"], at(2026, 11, 20, 9, 0))
    dept, sup = world["dept_who"], world["sup_who"]
    before = deadline(database, number)
    request = database.run(lambda s: oversight.request_extension(s, POLICY, dept, number, extra=parse_extra("4", "working_hours"), reason="材料未到", address="").id)
    with pytest.raises(InvalidValue, match="why the extension is refused"):
        database.run(lambda s: oversight.decide_extension(s, POLICY, sup, number, request, approve=False, note=" ", address=""))
    with pytest.raises(Forbidden):
        database.run(lambda s: oversight.decide_extension(s, POLICY, dept, number, request, approve=True, note="", address=""))
    with pytest.raises(InvalidValue, match="no extension request"):
        database.run(lambda s: oversight.decide_extension(s, POLICY, sup, number, request + 99, approve=True, note="", address=""))
    database.run(lambda s: oversight.decide_extension(s, POLICY, sup, number, request, approve=False, note="时限内可完成", address=""))
    assert deadline(database, number) == before
    views = database.read(lambda s: oversight.requests(s, dept))
    assert [(v.status, v.decision_note, v.decided_by, v.added_label) for v in views] == [("refused", "时限内可完成", "sup", ("4工作时", "4 working hours"))]
    # Refused, so the department may ask again.
    database.run(lambda s: oversight.request_extension(s, POLICY, dept, number, extra=parse_extra("1", "working_days"), reason="材料确实未到", address=""))


def test_requests_are_for_the_department_holding_the_case(database: Database, world: dict[str, Any]) -> None:
    number = dispatched(database, world["cover"], at(2026, 11, 20, 9, 0))
    registered = database.run(
        lambda s: (
            tickets.apply(
                s, POLICY, tickets.open_ticket(s, POLICY, source=TicketSource.HOTLINE, actor=Actor("op"), description="x"), Action.REGISTER, actor=Actor("op"), category_id=world["cover"]
            ).number
        )
    )
    extra = parse_extra("1", "working_days")
    with pytest.raises(TicketNotFound):
        database.run(lambda s: oversight.request_extension(s, POLICY, world["dept2_who"], number, extra=extra, reason="x", address=""))
    with pytest.raises(Forbidden):
        database.run(lambda s: oversight.request_extension(s, POLICY, world["sup_who"], number, extra=extra, reason="x", address=""))
    with pytest.raises(InvalidValue, match="why"):
        database.run(lambda s: oversight.request_extension(s, POLICY, world["dept_who"], number, extra=extra, reason="  ", address=""))
    with pytest.raises(InvalidValue, match="working hours or working days"):
        database.run(lambda s: oversight.request_extension(s, POLICY, world["dept_who"], number, extra=TimeLimit.parse("8 hours"), reason="x", address=""))
    with pytest.raises(TicketNotFound):  # not dispatched to anyone: not the department's case
        database.run(lambda s: oversight.request_extension(s, POLICY, world["dept_who"], registered, extra=extra, reason="x", address=""))
    assert database.read(lambda s: s.scalar(select(ExtensionRequest.id))) is None


def test_a_request_lapses_when_the_round_ends_and_a_new_round_may_ask_again(database: Database, world: dict[str, Any]) -> None:
    number = dispatched(database, world["cover"], at(2026, 11, 20, 9, 0))
    dept, sup = world["dept_who"], world["sup_who"]
    extra = parse_extra("1", "working_days")
    first = database.run(lambda s: oversight.request_extension(s, POLICY, dept, number, extra=extra, reason="first", address="").id)
    actor = Actor.user(world["dept"], "dept")
    database.run(lambda s: tickets.apply(s, POLICY, number, Action.HANDLE, actor=actor, reason="done"))
    panel = database.read(lambda s: oversight.panel(s, sup, number, policy=POLICY))
    assert panel.pending is None and not panel.can_decide and [q.status for q in panel.requests] == ["lapsed"]
    assert database.read(lambda s: oversight.requests(s, sup, status="pending")) == []
    with pytest.raises(InvalidValue, match="lapsed"):
        database.run(lambda s: oversight.decide_extension(s, POLICY, sup, number, first, approve=True, note="", address=""))
    database.run(lambda s: tickets.apply(s, POLICY, number, Action.REWORK, actor=Actor.user(world["sup"], "sup"), reason="redo"))
    second = database.run(lambda s: oversight.request_extension(s, POLICY, dept, number, extra=extra, reason="second", address="").id)
    statuses = database.read(lambda s: {r.id: r.status for r in s.scalars(select(ExtensionRequest))})
    assert statuses == {first: "lapsed", second: "pending"}


def test_one_pending_request_per_case_is_enforced_by_the_database(database: Database, world: dict[str, Any]) -> None:
    number = dispatched(database, world["cover"], at(2026, 11, 20, 9, 0))
    database.run(lambda s: oversight.request_extension(s, POLICY, world["dept_who"], number, extra=parse_extra("1", "working_days"), reason="x", address=""))
    with pytest.raises(DBAPIError), database.transaction() as s:
        row = s.scalars(select(ExtensionRequest)).one()
        s.add(
            ExtensionRequest(
                ticket_id=row.ticket_id,
                assignment_id=row.assignment_id,
                department_id=row.department_id,
                added="1 working_days",
                reason="y",
                deadline_at=row.deadline_at,
                proposed_deadline_at=row.proposed_deadline_at,
            )
        )
        s.flush()


# -- reworked cases and the daily summary


def test_reworked_cases_count_reworks_and_unsatisfied_callbacks(database: Database, world: dict[str, Any]) -> None:
    sup = Actor.user(world["sup"], "sup")
    twice = dispatched(database, world["cover"], at(2026, 11, 20, 9, 0))
    once = dispatched(database, world["tree"], at(2026, 11, 20, 9, 0))
    dispatched(database, world["cover"], at(2026, 11, 20, 9, 0))  # never sent back

    def loop(s: Any) -> None:
        for when in (at(2026, 11, 23, 10, 0), at(2026, 11, 24, 10, 0)):
            tickets.apply(s, POLICY, twice, Action.HANDLE, actor=sup, at=when, reason="done")
            tickets.apply(s, POLICY, twice, Action.REWORK, actor=sup, at=when + timedelta(hours=1), reason="not done")
        tickets.apply(s, POLICY, once, Action.HANDLE, actor=sup, at=at(2026, 11, 23, 10, 0), reason="done")
        tickets.apply(s, POLICY, once, Action.VERIFY, actor=sup, at=at(2026, 11, 23, 11, 0))
        tickets.apply(s, POLICY, once, Action.CLOSE, actor=sup, at=at(2026, 11, 23, 11, 0))
        tickets.record_callback(s, POLICY, once, actor=Actor("callback"), satisfaction="不满意", note="树还倒着", at=at(2026, 11, 25, 9, 0))

    database.run(loop)
    rows = database.read(lambda s: oversight.reworked(s, world["sup_who"], tz=CST))
    assert [(r.number, r.reworks, r.reopens, r.times) for r in rows] == [(twice, 2, 0, 2), (once, 0, 1, 1)]
    assert rows[0].last_sent_back_at == at(2026, 11, 24, 11, 0)
    assert [r.number for r in database.read(lambda s: oversight.reworked(s, world["dept_who"], tz=CST))] == [twice]
    assert [r.number for r in database.read(lambda s: oversight.reworked(s, world["sup_who"], tz=CST, since=date(2026, 11, 25)))] == [once]
    assert [r.number for r in database.read(lambda s: oversight.reworked(s, world["sup_who"], tz=CST, until=date(2026, 11, 24), category_id=world["cover"]))] == [twice]
    with pytest.raises(Forbidden):
        database.read(lambda s: oversight.reworked(s, world["op_who"], tz=CST))


def test_daily_summary_by_department_for_a_day_in_shanghai(database: Database, world: dict[str, Any]) -> None:
    sup_who = world["sup_who"]
    sup = Actor.user(world["sup"], "sup")
    # 2026-11-20 in Shanghai runs from 11-19 16:00 UTC: a case at 00:30 local belongs to the 20th.
    early = dispatched(database, world["cover"], at(2026, 11, 20, 0, 30))
    due_today = dispatched(database, world["tree"], at(2026, 11, 19, 16, 0))  # 2 working hours: due Fri 11-20 09:00, never handled
    dispatched(database, world["cover"], at(2026, 11, 19, 23, 59))  # the day before
    database.run(lambda s: tickets.apply(s, POLICY, early, Action.HANDLE, actor=sup, at=at(2026, 11, 20, 11, 0), reason="done"))
    database.run(lambda s: tickets.apply(s, POLICY, early, Action.VERIFY, actor=sup, at=at(2026, 11, 20, 12, 0)))
    database.run(lambda s: tickets.apply(s, POLICY, early, Action.CLOSE, actor=sup, at=at(2026, 11, 20, 13, 0)))
    database.run(lambda s: oversight.urge(s, POLICY, sup_who, due_today, note="快", address="", now=at(2026, 11, 20, 10, 30)))
    request = database.run(
        lambda s: oversight.request_extension(s, POLICY, world["dept2_who"], due_today, extra=parse_extra("1", "working_days"), reason="x", address="", now=at(2026, 11, 20, 10, 40)).id
    )
    database.run(lambda s: oversight.decide_extension(s, POLICY, sup_who, due_today, request, approve=False, note="不批", address="", now=at(2026, 11, 20, 11, 0)))
    summary = database.read(lambda s: oversight.daily_summary(s, sup_who, date(2026, 11, 20), tz=CST, now=at(2026, 12, 1, 9, 0)))
    assert summary.start == at(2026, 11, 20, 0, 0) and summary.end == at(2026, 11, 21, 0, 0)
    rows = {r.department_id: r.figures for r in summary.rows}
    assert {k: v for k, v in rows[world["roads"]].items() if v} == {"received": 1, "dispatched": 1, "handled": 1, "closed": 1, "closed_on_time": 1}
    assert {k: v for k, v in rows[world["parks"]].items() if v} == {"overdue": 1, "urged": 1, "extensions_requested": 1, "extensions_refused": 1}
    assert summary.total["received"] == 1 and summary.total["urged"] == 1
    # The day before: two received and dispatched (one roads, one parks), nothing else.
    before = database.read(lambda s: oversight.daily_summary(s, sup_who, date(2026, 11, 19), tz=CST, now=at(2026, 12, 1, 9, 0)))
    assert (before.total["received"], before.total["dispatched"], before.total["overdue"]) == (2, 2, 0)
    # A day still running counts deadlines up to now only.
    running = database.read(lambda s: oversight.daily_summary(s, sup_who, date(2026, 11, 20), tz=CST, now=at(2026, 11, 20, 9, 0)))
    assert running.total["overdue"] == 0 and running.as_of == at(2026, 11, 20, 9, 0)
    with pytest.raises(Forbidden):
        database.read(lambda s: oversight.daily_summary(s, world["dept_who"], date(2026, 11, 20), tz=CST))
