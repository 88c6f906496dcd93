"""The reports' fast paths give the formulas' own figures, on SQLite and PostgreSQL.

`kpi.ticket_kpis` does not evaluate the formulas as written: it evaluates each of their tests
once per ticket (`kpi._flag_statement`), groups by operator through `Ticket.intake_user_id`
(kept by a trigger, migration 0015), and the trend counts all its days in one statement. Here
those paths are compared with the direct evaluation — every formula whole on every ticket,
`kpi._ticket_columns` with no WHERE, the operator by the history lookup `kpi._intake_user` —
over a few hundred generated tickets with every status and every timestamp set or not, placed
on, just before and just after period boundaries, for many random periods, groupings and
`now`s.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

from hotline.reports import report as reports
from hotline.storage.db import Database
from hotline.storage.models import Call, CallDisposition, Category, CategoryKind, Department, Ticket, TicketEvent, TicketSource, TicketStatus, User
from hotline.tickets import kpi, services
from hotline.tickets.kpi import Period, Ratio, TicketKpis
from hotline.tickets.workflow import Action
from hotline.worktime import WorkingCalendar

CST = ZoneInfo("Asia/Shanghai")
FIRST_DAY = date(2026, 3, 1)
DAYS = 20
TICKETS = 400
ACTIONS = ["receive", "register", "reject", "answer", "note", "dispatch", "close"]


def _midnight(day: int) -> datetime:
    return datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time(), CST)


def _instant(rnd: random.Random) -> datetime:
    """A moment on a day boundary, a second either side of one, or anywhere in a day; a few
    before and after the days the periods cover."""
    boundary = _midnight(rnd.randrange(-2, DAYS + 3))
    return rnd.choice([boundary, boundary - timedelta(seconds=1), boundary + timedelta(seconds=1), boundary + timedelta(seconds=rnd.randrange(86400))])


def _maybe(rnd: random.Random, value: Any, chance: float = 0.6) -> Any:
    return value if rnd.random() < chance else None


@pytest.fixture
def generated(database: Database) -> dict[str, Any]:
    """`TICKETS` tickets with random states (every status, each timestamp set or not, flags
    true, false or unset), departments and categories (minor, major, none), and intake
    histories by three operators, inserted in a shuffled order (later moves before earlier
    ones), so the trigger has to find the first intake move by its `seq`."""
    rnd = random.Random(12319)
    with database.transaction() as s:
        departments = [Department(code=f"D{i}", name_zh=f"部门{i}", name_en=f"dept {i}") for i in range(3)]
        majors = [Category(code=f"0{i}", kind=CategoryKind.EVENT, name_zh=f"大类{i}") for i in range(1, 3)]
        users = [User(username=f"op{i}", display_name=f"话务员{i}", password_hash="x") for i in range(3)]
        s.add_all([*departments, *majors, *users])
        s.flush()
        minors = [Category(code=f"{m.code}00{i}", kind=CategoryKind.EVENT, name_zh=f"小类{m.code}{i}", parent_id=m.id) for m in majors for i in range(2)]
        s.add_all(minors)
        s.flush()
        categories = [None, *(c.id for c in majors), *(c.id for c in minors)]
        rows = []
        for i in range(TICKETS):
            rows.append(
                {
                    "number": f"G{i:05d}",
                    "source": rnd.choice(list(TicketSource)),
                    "status": rnd.choice(list(TicketStatus)),
                    "caller_number": rnd.choice(["", "+8613800138000"]),
                    "department_id": rnd.choice([None, *(d.id for d in departments)]),
                    "category_id": rnd.choice(categories),
                    "created_at": _instant(rnd),
                    "registered_at": _maybe(rnd, _instant(rnd)),
                    "first_dispatched_at": _maybe(rnd, _instant(rnd)),
                    "dispatched_at": None,
                    "deadline_at": _maybe(rnd, _instant(rnd)),
                    "handled_at": _maybe(rnd, _instant(rnd)),
                    "handled_on_time": rnd.choice([None, True, False]),
                    "closed_at": _maybe(rnd, _instant(rnd)),
                    "closed_on_time": rnd.choice([None, True, False]),
                    "dispatch_count": 0,
                    "rework_count": rnd.choice([0, 0, 1, 2]),
                    "extension_count": rnd.choice([0, 0, 1]),
                    "reopen_count": 0,
                    "satisfaction": None,
                    "satisfied": rnd.choice([None, True, False]),
                    "callback_at": _maybe(rnd, _instant(rnd), 0.4),
                }
            )
        s.execute(insert(Ticket), rows)
        ids = list(s.scalars(select(Ticket.id).order_by(Ticket.id)))
        actors = [None, *(u.id for u in users)]
        events = [
            {
                "ticket_id": ticket_id,
                "seq": seq,
                "at": _midnight(0),
                "action": rnd.choice(ACTIONS),
                "from_status": None,
                "to_status": TicketStatus.RECEIVED,
                "actor_user_id": rnd.choice(actors),
                "actor": "",
                "note": "",
                "data": {},
            }
            for ticket_id in ids
            for seq in range(1, rnd.randrange(0, 5) + 1)
        ]
    rnd.shuffle(events)
    # In several transactions and one row at a time, as the workflow inserts them.
    for start in range(0, len(events), 200):
        with database.transaction() as s:
            for e in events[start : start + 200]:
                s.execute(insert(TicketEvent), [e])
    return {"events": len(events), "users": [u.id for u in users]}


def _counts(k: TicketKpis) -> dict[str, int]:
    out: dict[str, int] = {}
    for name in kpi.TICKET_KPIS:
        value = getattr(k, name)
        if isinstance(value, Ratio):
            out[f"{name}__n"], out[f"{name}__d"] = value.numerator, value.denominator
        else:
            out[f"{name}__n"] = value
    return out


def _direct(s: Any, period: Period, by: kpi.GroupBy | None, now: datetime) -> dict[Any, dict[str, int]]:
    """Every formula whole, on every ticket (no WHERE), grouped by the definition of each
    grouping; groups with nothing counted left out."""
    columns = kpi._ticket_columns(kpi.Window.of(period, now))
    if by is None:
        row = s.execute(select(*columns)).one()._mapping
        return {None: {key: int(value) for key, value in row.items()}}
    keys = {
        "department": Ticket.department_id,
        "category": Ticket.category_id,
        "major_category": func.coalesce(Category.parent_id, Category.id),
        "operator": kpi._intake_user(),
    }
    key = keys[by].label("group_id")
    stmt = select(key, *columns).select_from(Ticket).outerjoin(Category, Category.id == Ticket.category_id).group_by(key)
    out = {}
    for row in s.execute(stmt):
        counts = {k: int(v) for k, v in row._mapping.items() if k != "group_id"}
        if any(counts.values()):
            out[row.group_id] = counts
    return out


def _fast(report: kpi.TicketReport) -> dict[Any, dict[str, int]]:
    if report.by is None:
        return {None: _counts(report.overall)}
    return {r.group.id: counts for r in report.rows if any((counts := _counts(r)).values())}


def _random_period(rnd: random.Random) -> Period:
    if rnd.random() < 0.7:
        first = FIRST_DAY + timedelta(days=rnd.randrange(-1, DAYS))
        return kpi.date_range_period(first, first + timedelta(days=rnd.choice([0, 0, 1, 3, 6, 13])))
    start = _instant(rnd)
    return Period(start, start + timedelta(seconds=rnd.randrange(1, 9 * 86400)))


def test_the_intake_operator_on_the_ticket_is_the_history_lookup(database: Database, generated: dict[str, Any]) -> None:
    """After every insert of the shuffled histories, each ticket's `intake_user_id` is what
    `kpi._intake_user` finds in its history, NULL included."""
    with database.transaction() as s:
        pairs = s.execute(select(Ticket.intake_user_id, kpi._intake_user())).all()
    assert len(pairs) == TICKETS and generated["events"] > TICKETS
    assert sum(1 for kept, _ in pairs if kept is not None) > TICKETS // 2
    assert [kept for kept, _ in pairs] == [looked_up for _, looked_up in pairs]


def test_the_workflow_sets_the_intake_operator(database: Database) -> None:
    """Through the real workflow: an IVR voicemail ticket is nobody's until an operator
    registers it, and stays theirs when another operator dispatches it."""
    policy = services.TicketPolicy(calendar=WorkingCalendar(tz=CST))
    with database.transaction() as s:
        a, b = User(username="a", password_hash="x"), User(username="b", password_hash="x")
        d = Department(code="D", name_zh="部门", name_en="dept")
        c = Category(code="01", kind=CategoryKind.EVENT, name_zh="大类")
        s.add_all([a, b, d, c])
        s.flush()
        t = services.open_ticket(s, policy, source=TicketSource.VOICEMAIL, actor=services.Actor("ivr"), description="x", category_id=c.id)
        ids = (t.id, a.id, b.id, d.id)
    ticket_id, a_id, b_id, d_id = ids
    with database.transaction() as s:
        assert s.scalar(select(Ticket.intake_user_id).where(Ticket.id == ticket_id)) is None
        services.apply(s, policy, ticket_id, Action.REGISTER, actor=services.Actor.user(a_id, "a"))
    with database.transaction() as s:
        services.apply(s, policy, ticket_id, Action.DISPATCH, actor=services.Actor.user(b_id, "b"), department_id=d_id)
    with database.transaction() as s:
        assert s.execute(select(Ticket.intake_user_id, kpi._intake_user()).where(Ticket.id == ticket_id)).one() == (a_id, a_id)


def test_every_report_path_gives_the_formulas_figures(database: Database, generated: dict[str, Any]) -> None:
    """60 random periods and `now`s (before, inside and after the period), each grouping and
    none: `ticket_kpis` equals the formulas evaluated whole on every ticket."""
    rnd = random.Random(20261203)
    checked = 0
    with database.transaction() as s:
        for _ in range(60):
            period = _random_period(rnd)
            now = rnd.choice([_instant(rnd), period.start, period.end, period.start + (period.end - period.start) / 2])
            for by in (None, *kpi.GROUPINGS):
                fast = _fast(kpi.ticket_kpis(s, period, by=by, now=now))
                assert fast == _direct(s, period, by, now), (period, now, by)
                checked += sum(sum(c.values()) for c in fast.values())
    assert checked > 10_000, "the periods counted something"


def test_the_trend_gives_each_days_figures(database: Database, generated: dict[str, Any]) -> None:
    """The trend's case figures for day, week, month and custom ranges (per day, and per month
    beyond 62 days) equal the formulas evaluated whole for each bucket, for `now`s before,
    inside and after the range."""
    rnd = random.Random(7)
    cases = [
        {"period": "day", "date": "2026-03-12"},
        {"period": "week", "date": "2026-03-04"},
        {"period": "month", "date": "2026-03-20"},
        {"period": "custom", "start": "2026-02-27", "end": "2026-03-23"},
        {"period": "custom", "start": "2026-01-15", "end": "2026-04-20"},
    ]
    with database.transaction() as s:
        for args in cases:
            filters = reports.parse_filters(args, date(2026, 3, 31))
            buckets = reports.trend_periods(filters, CST)
            for now in (_midnight(5), _instant(rnd), _midnight(DAYS + 5) + timedelta(seconds=1)):
                series = reports.trend_case_figures(s, buckets, now)
                assert [r.period for r in series] == list(buckets)
                assert [_fast(r) for r in series] == [_direct(s, b, None, now) for b in buckets], (args, now)


def test_the_call_figures_in_one_pass_are_the_two_functions(database: Database, generated: dict[str, Any]) -> None:
    """A report's call half (`kpi.call_kpis_with_operators`, one pass grouped by queue,
    disposition and seat) equals `call_kpis` and `call_kpis_by_operator` run apart, for 300
    random calls (every disposition, in and out, queued or not, seats with and without an
    account, waits and talk times recorded or not), random periods and thresholds."""
    rnd = random.Random(4)
    users = generated["users"]
    rows = [
        {
            "uniqueid": f"u{i}",
            "direction": rnd.choice(["in", "in", "in", "out"]),
            "started_at": _instant(rnd),
            "disposition": rnd.choice(list(CallDisposition)),
            "queue": rnd.choice(["", "12319", "consult"]),
            "agent_user_id": rnd.choice([None, *users]),
            "agent_interface": rnd.choice(["", "PJSIP/1001", "PJSIP/1002"]),
            "wait_seconds": rnd.choice([None, rnd.randrange(40)]),
            "talk_seconds": rnd.choice([None, rnd.randrange(600)]),
        }
        for i in range(300)
    ]
    with database.transaction() as s:
        s.execute(insert(Call), rows)
    seen = 0
    with database.transaction() as s:
        for _ in range(30):
            period, threshold = _random_period(rnd), rnd.choice([0, 10, 15, 30])
            queues, operators = kpi.call_kpis_with_operators(s, period, threshold_seconds=threshold)
            assert queues == kpi.call_kpis(s, period, threshold_seconds=threshold)
            assert operators == kpi.call_kpis_by_operator(s, period, threshold_seconds=threshold)
            seen += queues.overall.offered + queues.not_queued + sum(o.kpis.answered for o in operators)
    assert seen > 300, "the periods counted calls"
