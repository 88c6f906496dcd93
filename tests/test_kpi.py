"""KPIs on SQLite and PostgreSQL: hand-computed figures for every ticket KPI and grouping, the
published Fuzhou and Tianmen figures reproduced at their real sizes, overdue open cases in the
denominator, half-open periods, and the call-centre figures per queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Integer, String, cast, insert, literal, null, select
from sqlalchemy import case as sql_case

from hotline.storage.models import Call, CallDisposition, Category, CategoryKind, Department, Ticket, TicketSource, TicketStatus
from hotline.tickets import kpi
from hotline.tickets.kpi import Mean, Period, Ratio, TicketKpis, month_period, month_series

CST = ZoneInfo("Asia/Shanghai")
FEB = month_period(2026, 2)
#: Well after February: every February deadline has fallen.
NOW = datetime(2026, 3, 10, 12, tzinfo=CST)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "kpi.md"


def at(month: int, day: int, hour: int = 10, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=CST)


_TICKET_DEFAULTS: dict[str, Any] = {
    "source": TicketSource.HOTLINE,
    "status": TicketStatus.RECEIVED,
    "caller_number": "",
    "department_id": None,
    "category_id": None,
    "registered_at": None,
    "first_dispatched_at": None,
    "dispatched_at": None,
    "deadline_at": None,
    "handled_at": None,
    "handled_on_time": None,
    "closed_at": None,
    "closed_on_time": None,
    "dispatch_count": 0,
    "rework_count": 0,
    "extension_count": 0,
    "reopen_count": 0,
    "satisfaction": None,
    "satisfied": None,
    "callback_at": None,
}


def ticket(number: str, created: datetime, **columns: Any) -> dict[str, Any]:
    """One row for a bulk insert; every row has the same keys so it goes in one batch."""
    unknown = set(columns) - set(_TICKET_DEFAULTS)
    assert not unknown, unknown
    return {**_TICKET_DEFAULTS, "number": number, "created_at": created, **columns}


def case(number: str, created: datetime, deadline: datetime, **columns: Any) -> dict[str, Any]:
    """A registered case dispatched when it was received, with its deadline in force."""
    base = {"status": TicketStatus.DISPATCHED, "registered_at": created, "first_dispatched_at": created, "dispatched_at": created, "deadline_at": deadline, "dispatch_count": 1}
    return ticket(number, created, **{**base, **columns})


def insert_tickets(database: Any, rows: list[dict[str, Any]]) -> None:
    with database.transaction() as s:
        s.execute(insert(Ticket), rows)


def insert_generated(database: Any, count: int, columns: Callable[[Any], dict[str, Any]]) -> None:
    """Insert `count` tickets in one INSERT … SELECT over a recursive CTE counting i = 0 … count-1,
    on both backends: the database makes the rows, so tens of thousands take well under a second.
    `columns(i)` maps column names to SQL expressions of i."""
    n = select(literal(0, Integer).label("i")).cte("n", recursive=True)
    n = n.union_all(select(n.c.i + 1).where(n.c.i < count - 1))
    values = columns(n.c.i)
    with database.transaction() as s:
        s.execute(insert(Ticket.__table__).from_select(list(values), select(*values.values())))


def typed(column: Any, value: Any) -> Any:
    """A Python value as an SQL literal of the column's type (UTC conversion, enum values)."""
    return literal(value, column.type)


def figures(k: TicketKpis) -> dict[str, Any]:
    """Every KPI of a row as (numerator, denominator), or the bare count."""
    out: dict[str, Any] = {}
    for name in kpi.TICKET_KPIS:
        value = getattr(k, name)
        out[name] = (value.numerator, value.denominator) if isinstance(value, Ratio) else value
    return out


def expect(reg: Any, clo: Any, otc: Any, ovo: Any, rwk: Any, ext: Any, hnd: Any, oth: Any, ovu: Any, cmp: Any, fbk: Any, cbk: Any, sat: Any) -> dict[str, Any]:
    """Expected figures in `TICKET_KPIS` order: 立案, 结案, 按期结案, 逾期未结, 返工, 延期, 处置,
    按期处置, 逾期未处置, 办结, 反馈, 回访, 满意."""
    return dict(zip(kpi.TICKET_KPIS, (reg, clo, otc, ovo, rwk, ext, hnd, oth, ovu, cmp, fbk, cbk, sat), strict=True))


@pytest.fixture
def ref(database):
    """Two departments; two major classes, with minors 01001 and 01002 under 01 and 02001 under 02."""
    with database.transaction() as s:
        d1 = Department(code="D1", name_zh="环境卫生", name_en="Sanitation")
        d2 = Department(code="D2", name_zh="城管执法", name_en="Enforcement")
        m1 = Category(code="01", kind=CategoryKind.EVENT, name_zh="市容环境")
        m2 = Category(code="02", kind=CategoryKind.EVENT, name_zh="街面秩序")
        s.add_all([d1, d2, m1, m2])
        s.flush()
        c11 = Category(code="01001", kind=CategoryKind.EVENT, name_zh="暴露垃圾", parent_id=m1.id)
        c12 = Category(code="01002", kind=CategoryKind.EVENT, name_zh="道路不洁", parent_id=m1.id)
        c21 = Category(code="02001", kind=CategoryKind.EVENT, name_zh="无照经营", parent_id=m2.id)
        s.add_all([c11, c12, c21])
        s.flush()
        return {"d1": d1.id, "d2": d2.id, "m1": m1.id, "m2": m2.id, "c11": c11.id, "c12": c12.id, "c21": c21.id}


@pytest.fixture
def february(database, ref):
    """Twelve tickets around February 2026 (Shanghai), each exercising one rule; the expected
    figures below are counted by hand from this list."""
    r = ref
    rows = [
        # T1: closed on time in Feb, caller called back and satisfied.
        case(
            "T1",
            at(2, 2),
            at(2, 5),
            department_id=r["d1"],
            category_id=r["c11"],
            caller_number="13800000001",
            status=TicketStatus.CLOSED,
            handled_at=at(2, 4),
            handled_on_time=True,
            closed_at=at(2, 4, 15),
            closed_on_time=True,
            satisfaction="满意",
            satisfied=True,
            callback_at=at(2, 6),
        ),
        # T2: reworked once, handled and closed late in Feb, not called back yet.
        case(
            "T2",
            at(2, 3),
            at(2, 6),
            department_id=r["d1"],
            category_id=r["c11"],
            caller_number="13800000002",
            status=TicketStatus.CLOSED,
            handled_at=at(2, 8),
            handled_on_time=False,
            closed_at=at(2, 9),
            closed_on_time=False,
            rework_count=1,
            dispatch_count=2,
        ),
        # T3: received in Jan, extended to 10 Feb, still open: overdue, unhandled.
        case("T3", at(1, 20), at(2, 10), department_id=r["d1"], category_id=r["c12"], extension_count=1),
        # T4: inspector's case (no caller), closed on time in Feb with a March deadline.
        case(
            "T4",
            at(2, 10),
            at(3, 5),
            source=TicketSource.INSPECTOR,
            department_id=r["d2"],
            category_id=r["c21"],
            status=TicketStatus.CLOSED,
            handled_at=at(2, 20),
            handled_on_time=True,
            closed_at=at(2, 25),
            closed_on_time=True,
        ),
        # T5: all of it in January: in no February figure.
        case("T5", at(1, 5), at(1, 20), department_id=r["d2"], category_id=r["c21"], status=TicketStatus.CLOSED, handled_at=at(1, 15), handled_on_time=True, closed_at=at(1, 18), closed_on_time=True),
        # T6: dispatched late Feb, deadline in March, nothing reported yet: not due in Feb.
        case("T6", at(2, 26), at(3, 3), department_id=r["d2"], category_id=r["c21"]),
        # T7: handled on time in Feb, closed late on 2 March: overdue and open at Feb's end.
        case("T7", at(2, 20), at(2, 25), department_id=r["d2"], category_id=r["c12"], status=TicketStatus.CLOSED, handled_at=at(2, 24), handled_on_time=True, closed_at=at(3, 2), closed_on_time=False),
        # T8: not registered (不予立案).
        ticket("T8", at(2, 5), status=TicketStatus.REJECTED),
        # T9: a consultation answered directly, called back and basically satisfied.
        ticket("T9", at(2, 6), category_id=r["c11"], caller_number="13800000009", status=TicketStatus.ANSWERED, satisfaction="基本满意", satisfied=True, callback_at=at(2, 7)),
        # T10: received, not yet decided.
        ticket("T10", at(2, 27), category_id=r["c11"]),
        # T12: closed in Jan; unsatisfied callback on 2 Feb reopened and redispatched it (the
        # workflow clears closed_at and handled_at); the new deadline passed in Feb.
        case(
            "T12",
            at(1, 10),
            at(2, 12),
            department_id=r["d2"],
            category_id=r["c21"],
            caller_number="13800000012",
            dispatched_at=at(2, 2),
            dispatch_count=2,
            reopen_count=1,
            satisfaction="不满意",
            satisfied=False,
            callback_at=at(2, 2),
        ),
    ]
    insert_tickets(database, rows)
    return r


OVERALL = expect(reg=(5, 8), clo=(3, 6), otc=(2, 6), ovo=3, rwk=(1, 3), ext=(1, 6), hnd=(4, 6), oth=(3, 6), ovu=2, cmp=(6, 8), fbk=(4, 5), cbk=(1, 2), sat=(2, 3))


# -- values and periods


def test_ratio_rounds_half_up_and_is_none_when_empty():
    """A ratio keeps its counts, rounds half up to 2 places in percent and 6 in rate, and has no rate over 0."""
    r = Ratio(911, 972)
    assert (r.numerator, r.denominator, r.percent, r.rate) == (911, 972, Decimal("93.72"), Decimal("0.937243"))
    assert Ratio(1, 8).percent == Decimal("12.50") and Ratio(1, 3).percent == Decimal("33.33") and Ratio(2, 3).percent == Decimal("66.67")
    assert Ratio(0, 0).rate is None and Ratio(0, 0).percent is None and str(Ratio(0, 0)) == "0/0 = —"
    assert str(r) == "911/972 = 93.72 %"
    with pytest.raises(ValueError):
        Ratio(3, 2)
    assert Mean(39, 4).value == Decimal("9.8") and Mean(0, 0).value is None


def test_month_periods_follow_the_time_zone():
    """A Shanghai month starts at 16:00 UTC the day before; December rolls into January; series run across years."""
    assert FEB.start == datetime(2026, 1, 31, 16, tzinfo=UTC) and FEB.end == datetime(2026, 2, 28, 16, tzinfo=UTC)
    dec = month_period(2025, 12, "UTC")
    assert (dec.start, dec.end, dec.label) == (datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "2025-12")
    assert [p.label for p in month_series(2025, 11, 4)] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert month_series(2025, 11, 4)[3] == FEB
    with pytest.raises(ValueError):
        month_period(2026, 13)
    with pytest.raises(ValueError):
        month_series(2026, 1, 0)
    with pytest.raises(ValueError):
        Period(datetime(2026, 2, 1), datetime(2026, 3, 1))
    with pytest.raises(ValueError):
        Period(FEB.end, FEB.start)


def test_every_kpi_is_defined_once_and_documented():
    """The registry, the report dataclass and docs/kpi.md name the same KPIs, each with its formula."""
    assert [f.name for f in fields(TicketKpis)][1:] == list(kpi.TICKET_KPIS)
    docs = DOCS.read_text(encoding="utf-8")
    for name, definition in kpi.TICKET_KPIS.items():
        assert definition.name_zh in definition.doc and definition.name_zh in docs and f"`{name}`" in docs
        if not definition.is_count:
            assert "Numerator" in definition.doc and "Denominator" in definition.doc
    official = {n for n, d in kpi.TICKET_KPIS.items() if d.official}
    assert official == {"registration_rate", "closure_rate", "on_time_closure_rate"}


# -- ticket KPIs on the hand-counted February


def test_overall_figures_by_hand(database, february):
    """Every ticket KPI over February matches the count done by hand."""
    with database.transaction() as s:
        report = kpi.ticket_kpis(s, FEB, now=NOW)
    assert report.rows == () and report.by is None
    assert figures(report.overall) == OVERALL
    o = report.overall
    assert (o.received, o.registered, o.due, o.closed, o.closed_on_time) == (8, 5, 6, 3, 2)
    assert o.registration_rate.percent == Decimal("62.50") and o.on_time_closure_rate.percent == Decimal("33.33")
    assert o.due == o.closed + o.overdue_open
    assert o.handling_rate.denominator == o.handling_rate.numerator + o.overdue_unhandled


def test_per_department_by_hand(database, february):
    """Per-department rows, the unassigned row, and the overall as their sum."""
    r = february
    with database.transaction() as s:
        report = kpi.ticket_kpis(s, FEB, by="department", now=NOW)
    assert [(g.group.kind, g.group.code) for g in report.rows] == [("department", "D1"), ("department", "D2"), ("department", "")]
    d1, d2, none = report.rows
    assert (d1.group.id, d1.group.name_zh, d1.group.name_en) == (r["d1"], "环境卫生", "Sanitation")
    assert none.group.id is None and none.group.name_en == "unassigned"
    assert figures(d1) == expect(reg=(2, 2), clo=(2, 3), otc=(1, 3), ovo=1, rwk=(1, 2), ext=(1, 3), hnd=(2, 3), oth=(1, 3), ovu=1, cmp=(2, 2), fbk=(2, 2), cbk=(1, 2), sat=(1, 1))
    assert figures(d2) == expect(reg=(3, 3), clo=(1, 3), otc=(1, 3), ovo=2, rwk=(0, 1), ext=(0, 3), hnd=(2, 3), oth=(2, 3), ovu=1, cmp=(2, 3), fbk=(2, 3), cbk=(0, 0), sat=(0, 1))
    assert figures(none) == expect(reg=(0, 3), clo=(0, 0), otc=(0, 0), ovo=0, rwk=(0, 0), ext=(0, 0), hnd=(0, 0), oth=(0, 0), ovu=0, cmp=(2, 3), fbk=(0, 0), cbk=(0, 0), sat=(1, 1))
    assert d2.callback_rate.percent is None and d2.satisfaction_rate.percent == Decimal("0.00")
    assert figures(report.overall) == OVERALL
    assert report.row(r["d2"]) is d2


def test_per_minor_category_by_hand(database, february):
    """Per minor category, with the uncategorised row last."""
    r = february
    with database.transaction() as s:
        report = kpi.ticket_kpis(s, FEB, by="category", now=NOW)
    assert [g.group.code for g in report.rows] == ["01001", "01002", "02001", ""]
    by_id = {row.group.id: figures(row) for row in report.rows}
    assert by_id[r["c11"]] == expect(reg=(2, 4), clo=(2, 2), otc=(1, 2), ovo=0, rwk=(1, 2), ext=(0, 2), hnd=(2, 2), oth=(1, 2), ovu=0, cmp=(3, 4), fbk=(2, 2), cbk=(1, 2), sat=(2, 2))
    assert by_id[r["c12"]] == expect(reg=(1, 1), clo=(0, 2), otc=(0, 2), ovo=2, rwk=(0, 0), ext=(1, 2), hnd=(1, 2), oth=(1, 2), ovu=1, cmp=(1, 1), fbk=(1, 1), cbk=(0, 0), sat=(0, 0))
    assert by_id[r["c21"]] == expect(reg=(2, 2), clo=(1, 2), otc=(1, 2), ovo=1, rwk=(0, 1), ext=(0, 2), hnd=(1, 2), oth=(1, 2), ovu=1, cmp=(1, 2), fbk=(1, 2), cbk=(0, 0), sat=(0, 1))
    assert by_id[None] == expect(reg=(0, 1), clo=(0, 0), otc=(0, 0), ovo=0, rwk=(0, 0), ext=(0, 0), hnd=(0, 0), oth=(0, 0), ovu=0, cmp=(1, 1), fbk=(0, 0), cbk=(0, 0), sat=(0, 0))
    assert figures(report.overall) == OVERALL


def test_per_major_category_rolls_minors_up(database, february):
    """Minor classes roll up to their major class through Category.parent_id."""
    r = february
    with database.transaction() as s:
        report = kpi.ticket_kpis(s, FEB, by="major_category", now=NOW)
    assert [(g.group.kind, g.group.code, g.group.name_zh) for g in report.rows] == [("major_category", "01", "市容环境"), ("major_category", "02", "街面秩序"), ("major_category", "", "未分类")]
    by_id = {row.group.id: figures(row) for row in report.rows}
    assert by_id[r["m1"]] == expect(reg=(3, 5), clo=(2, 4), otc=(1, 4), ovo=2, rwk=(1, 2), ext=(1, 4), hnd=(3, 4), oth=(2, 4), ovu=1, cmp=(4, 5), fbk=(3, 3), cbk=(1, 2), sat=(2, 2))
    assert by_id[r["m2"]] == expect(reg=(2, 2), clo=(1, 2), otc=(1, 2), ovo=1, rwk=(0, 1), ext=(0, 2), hnd=(1, 2), oth=(1, 2), ovu=1, cmp=(1, 2), fbk=(1, 2), cbk=(0, 0), sat=(0, 1))
    assert figures(report.overall) == OVERALL


def test_ticket_filed_under_a_major_class_stays_there(database, ref):
    """A ticket whose category is itself a major class is counted in that major class's row."""
    insert_tickets(database, [ticket("A", at(2, 3), category_id=ref["c21"]), ticket("B", at(2, 4), category_id=ref["m2"]), ticket("C", at(2, 5), category_id=ref["c11"])])
    with database.transaction() as s:
        report = kpi.ticket_kpis(s, FEB, by="major_category", now=NOW)
    assert [(row.group.code, row.received) for row in report.rows] == [("01", 1), ("02", 2)]


def test_monthly_report_is_the_per_department_report(database, february):
    """monthly_report gives the month's overall and per-department figures."""
    with database.transaction() as s:
        report = kpi.monthly_report(s, 2026, 2, CST, now=NOW)
        same = kpi.ticket_kpis(s, FEB, by="department", now=NOW)
    assert report == same and report.period.label == "2026-02" and figures(report.overall) == OVERALL


def test_series_of_months(database, february):
    """A series reports each month on its own: January has T3, T5, T12 received and only T5 still closed."""
    with database.transaction() as s:
        jan, feb, mar = kpi.ticket_kpi_series(s, month_series(2026, 1, 3), now=NOW)
    assert jan.period.label == "2026-01" and (jan.overall.registration_rate.numerator, jan.overall.registration_rate.denominator) == (3, 3)
    # T12 was reopened, so its January closure no longer counts.
    assert (jan.overall.closed, jan.overall.due) == (1, 1)
    assert figures(feb.overall) == OVERALL
    # March so far (now is 10 March): T7 closed late; T6's deadline (3 March) passed unhandled; T4's was met early.
    assert (mar.overall.closed, mar.overall.closed_on_time, mar.overall.overdue_open, mar.overall.overdue_unhandled) == (1, 0, 1, 1)


def test_prefilter_admits_every_counted_ticket(database, february):
    """The WHERE that lets indexes prune drops no ticket any formula counts."""
    w = kpi.Window.of(FEB, NOW)
    with database.transaction() as s:
        unfiltered = s.execute(select(*kpi._ticket_columns(w))).one()._mapping
        report = kpi.ticket_kpis(s, FEB, now=NOW)
    assert figures(kpi._kpis(kpi.OVERALL, unfiltered)) == figures(report.overall)


def test_drill_down_lists_the_tickets_behind_a_figure(database, february):
    """kpi_condition selects the very tickets a numerator or denominator counts."""
    with database.transaction() as s:
        overdue = s.scalars(select(Ticket.number).where(kpi.kpi_condition("overdue_open", FEB, now=NOW)).order_by(Ticket.number)).all()
        due = s.scalars(select(Ticket.number).where(kpi.kpi_condition("closure_rate", FEB, part="denominator", now=NOW)).order_by(Ticket.number)).all()
    assert overdue == ["T12", "T3", "T7"]
    assert due == ["T1", "T12", "T2", "T3", "T4", "T7"]
    with pytest.raises(ValueError):
        kpi.kpi_condition("overdue_open", FEB, part="denominator")
    with pytest.raises(ValueError):
        kpi.kpi_condition("happiness", FEB)


def test_csv_row_carries_the_counts_behind_each_rate(database, february):
    """A flat export row has numerator, denominator and percent for every rate."""
    with database.transaction() as s:
        row = kpi.ticket_kpis(s, FEB, now=NOW).overall.as_row()
    assert row["group"] == "overall"
    assert (row["closure_rate_numerator"], row["closure_rate_denominator"], row["closure_rate_percent"]) == (3, 6, Decimal("50.00"))
    assert row["overdue_open"] == 3 and "overdue_open_percent" not in row


# -- the rules that keep figures honest


def test_open_overdue_case_is_in_the_on_time_denominator(database, ref):
    """An open case past its deadline counts against 按期结案率; one not yet due at `now` does not."""
    d = ref["d1"]
    insert_tickets(
        database,
        [
            case("ONTIME", at(2, 2), at(2, 8), department_id=d, status=TicketStatus.CLOSED, handled_at=at(2, 4), handled_on_time=True, closed_at=at(2, 5), closed_on_time=True),
            case("OVERDUE", at(2, 3), at(2, 10), department_id=d),
            case("NOTYET", at(2, 4), at(2, 20), department_id=d),
        ],
    )
    with database.transaction() as s:
        mid = kpi.ticket_kpis(s, FEB, now=at(2, 15)).overall
        later = kpi.ticket_kpis(s, FEB, now=NOW).overall
        open_overdue = s.scalars(select(Ticket.number).where(kpi.kpi_condition("overdue_open", FEB, now=at(2, 15)))).all()
    # "on time / closed" would say 1/1 = 100 %.
    assert (mid.on_time_closure_rate.numerator, mid.on_time_closure_rate.denominator, mid.on_time_closure_rate.percent) == (1, 2, Decimal("50.00"))
    assert mid.overdue_open == 1 and open_overdue == ["OVERDUE"]
    assert (later.on_time_closure_rate.numerator, later.on_time_closure_rate.denominator, later.overdue_open) == (1, 3, 2)


def test_closed_exactly_at_end_belongs_to_next_period(database, ref):
    """Periods are half-open: a case closed (or a ticket received) exactly at the end is in the next month."""
    end = FEB.end.astimezone(UTC)  # 2026-02-28 16:00 UTC = 1 March 00:00 in Shanghai
    insert_tickets(
        database,
        [
            case("EDGE", at(2, 20), at(3, 5), department_id=ref["d1"], status=TicketStatus.CLOSED, handled_at=at(2, 27), handled_on_time=True, closed_at=end, closed_on_time=True),
            ticket("LATE", end),
            ticket("JUST", end - timedelta(microseconds=1)),
        ],
    )
    with database.transaction() as s:
        feb = kpi.ticket_kpis(s, FEB, now=NOW).overall
        mar = kpi.ticket_kpis(s, month_period(2026, 3), now=NOW).overall
    assert (feb.closed, feb.due, feb.received) == (0, 0, 2)
    assert (mar.closed, mar.closed_on_time, mar.due, mar.received) == (1, 1, 1, 1)


def test_empty_period_has_no_rates(database, february):
    """A period with no tickets gives zero counts and None rates, not 0 % or 100 %, and no rows."""
    empty = month_period(2025, 6)
    with database.transaction() as s:
        overall = kpi.ticket_kpis(s, empty, now=NOW)
        grouped = kpi.ticket_kpis(s, empty, by="department", now=NOW)
        calls = kpi.call_kpis(s, empty)
    for report in (overall, grouped):
        for name, definition in kpi.TICKET_KPIS.items():
            value = getattr(report.overall, name)
            if definition.is_count:
                assert value == 0
            else:
                assert (value.numerator, value.denominator, value.rate, value.percent) == (0, 0, None, None)
    assert grouped.rows == ()
    assert calls.overall.offered == 0 and calls.overall.service_level.percent is None and calls.overall.average_wait.value is None
    assert calls.queues == () and calls.not_queued == 0


# -- the published figures, at their real sizes


def test_fuzhou_registration_rate(database):
    """福州 May 2015: 36314 received, 33928 registered → 立案率 93.43 %."""

    def columns(i: Any) -> dict[str, Any]:
        registered = i < 33928
        return {
            "number": literal("F") + cast(i, String),
            "source": typed(Ticket.source, TicketSource.HOTLINE),
            "created_at": typed(Ticket.created_at, datetime(2015, 5, 10, 9, tzinfo=CST)),
            "status": sql_case((registered, typed(Ticket.status, TicketStatus.REGISTERED)), else_=typed(Ticket.status, TicketStatus.REJECTED)),
            "registered_at": sql_case((registered, typed(Ticket.registered_at, datetime(2015, 5, 10, 11, tzinfo=CST))), else_=null()),
        }

    insert_generated(database, 36314, columns)
    with database.transaction() as s:
        report = kpi.ticket_kpis(s, month_period(2015, 5), now=NOW)
    rate = report.overall.registration_rate
    assert (rate.numerator, rate.denominator, rate.percent) == (33928, 36314, Decimal("93.43"))


def test_tianmen_closure_rates(database, ref):
    """天门: 972 due, 911 closed, 737 on time → 结案率 93.72 %, 按期结案率 75.82 %, 61 open and overdue."""
    d = ref["d1"]
    month = month_period(2026, 4)
    rows = []
    for i in range(737):  # closed on time
        rows.append(case(f"O{i:04d}", at(4, 1), at(4, 20), department_id=d, status=TicketStatus.CLOSED, handled_at=at(4, 10), handled_on_time=True, closed_at=at(4, 12), closed_on_time=True))
    for i in range(174):  # closed late, in the month
        rows.append(case(f"L{i:04d}", at(4, 1), at(4, 8), department_id=d, status=TicketStatus.CLOSED, handled_at=at(4, 14), handled_on_time=False, closed_at=at(4, 15), closed_on_time=False))
    for i in range(61):  # deadline passed in the month, still open
        rows.append(case(f"V{i:04d}", at(4, 1), at(4, 9), department_id=d))
    insert_tickets(database, rows)
    with database.transaction() as s:
        o = kpi.ticket_kpis(s, month, now=datetime(2026, 5, 5, tzinfo=CST)).overall
    assert (o.closure_rate.numerator, o.closure_rate.denominator, o.closure_rate.percent) == (911, 972, Decimal("93.72"))
    assert (o.on_time_closure_rate.numerator, o.on_time_closure_rate.denominator, o.on_time_closure_rate.percent) == (737, 972, Decimal("75.82"))
    assert o.overdue_open == 61
    # The ratio the 应结案 denominator guards against would have claimed 80.90 %.
    assert Ratio(737, 911).percent == Decimal("80.90")


# -- call-centre figures


def call(uniqueid: str, started: datetime, disposition: CallDisposition, queue: str = "", wait: int | None = None, talk: int | None = None, direction: str = "in") -> dict[str, Any]:
    return {"uniqueid": uniqueid, "started_at": started, "disposition": disposition, "queue": queue, "wait_seconds": wait, "talk_seconds": talk, "direction": direction}


@pytest.fixture
def calls(database):
    """Two queues, IVR-only calls, two calls still going (in the IVR, waiting in the queue), an
    outbound call and one just after February."""
    A, B, D = "12319", "consult", CallDisposition
    rows = [
        call("c1", at(2, 2), D.ANSWERED, A, wait=5, talk=100),
        call("c2", at(2, 3), D.ANSWERED, A, wait=15, talk=200),
        call("c3", at(2, 4), D.ANSWERED, A, wait=16, talk=300),
        call("c4", at(2, 5), D.ABANDONED, A, wait=30),
        call("c5", at(2, 6), D.VOICEMAIL, A, wait=60),
        call("c6", at(2, 27, 23), D.IN_PROGRESS, A),
        call("c7", at(2, 7), D.ANSWERED, B, wait=3, talk=60),
        call("c8", at(2, 8), D.CALLBACK_REQUESTED, B, wait=40),
        call("c9", at(2, 9), D.ANSWERED, B),
        call("c10", at(2, 10), D.SELF_SERVICE),
        call("c11", at(2, 11), D.FAILED),
        call("c12", at(2, 12), D.ANSWERED, A, wait=1, talk=50, direction="out"),
        call("c13", FEB.end, D.ANSWERED, A, wait=1, talk=50),
        call("c14", at(2, 27, 23), D.QUEUED, A),
    ]
    with database.transaction() as s:
        s.execute(insert(Call), rows)


def test_call_figures_per_queue_and_overall(database, calls):
    """Offered, answered, abandoned, service level at 15 s, abandon rate, waits and handle time, by hand."""
    with database.transaction() as s:
        report = kpi.call_kpis(s, FEB)
    assert report.threshold_seconds == 15 and report.not_queued == 2
    assert [q.queue for q in report.queues] == ["12319", "consult"]
    a, b, o = report.queue("12319"), report.queue("consult"), report.overall
    assert (a.offered, a.answered, a.abandoned, a.voicemail, a.callback_requested, a.in_progress, a.answered_within_threshold) == (5, 3, 1, 1, 0, 2, 2)
    assert (a.service_level.percent, a.answer_rate.percent, a.abandon_rate.percent) == (Decimal("40.00"), Decimal("60.00"), Decimal("20.00"))
    assert (a.average_wait.value, a.average_answer_wait.value, a.average_handle_time.value) == (Decimal("25.2"), Decimal("12.0"), Decimal("200.0"))
    assert (b.offered, b.answered, b.abandoned, b.callback_requested, b.answered_within_threshold) == (3, 2, 0, 1, 1)
    assert (b.service_level.percent, b.answer_rate.percent, b.abandon_rate.percent) == (Decimal("33.33"), Decimal("66.67"), Decimal("0.00"))
    # c9 was answered with no wait or talk recorded: it counts as answered, not as within 15 s, and not in the means.
    assert (b.average_wait.total, b.average_wait.count, b.average_answer_wait.value, b.average_handle_time.value) == (43, 2, Decimal("3.0"), Decimal("60.0"))
    assert o.queue is None
    assert (o.offered, o.answered, o.abandoned, o.voicemail, o.callback_requested, o.in_progress, o.answered_within_threshold) == (8, 5, 1, 1, 1, 2, 3)
    assert (o.service_level.percent, o.answer_rate.percent, o.abandon_rate.percent) == (Decimal("37.50"), Decimal("62.50"), Decimal("12.50"))
    assert (o.average_wait.total, o.average_wait.count, o.average_wait.value) == (169, 7, Decimal("24.1"))
    assert (o.average_answer_wait.value, o.average_handle_time.value) == (Decimal("9.8"), Decimal("165.0"))


def test_refused_timed_out_and_lost_calls_are_offered_but_neither_answered_nor_abandoned(database):
    """A caller the queue refused (full, no operators), one it timed out and one that ended
    while the service was down asked for an operator and got none: offered, lowering the
    answer rate, but not abandoned (they did not hang up on the queue)."""
    D = CallDisposition
    rows = [
        call("r1", at(2, 2), D.REFUSED, "12319"),
        call("r2", at(2, 3), D.TIMED_OUT, "12319", wait=300),
        call("r3", at(2, 4), D.SERVICE_DOWN, "12319"),
        call("r4", at(2, 5), D.ANSWERED, "12319", wait=5),
    ]
    with database.transaction() as s:
        s.execute(insert(Call), rows)
    with database.transaction() as s:
        q = kpi.call_kpis(s, FEB).queue("12319")
    assert q is not None and (q.offered, q.answered, q.abandoned, q.in_progress) == (4, 1, 0, 0) and q.answer_rate.percent == Decimal("25.00")


def test_service_level_threshold_is_an_argument(database, calls):
    """A 20 s threshold counts the call answered after 16 s as within it."""
    with database.transaction() as s:
        report = kpi.call_kpis(s, FEB, threshold_seconds=20)
    assert report.queue("12319").answered_within_threshold == 3 and report.queue("12319").service_level.percent == Decimal("60.00")
    with pytest.raises(ValueError), database.transaction() as s:
        kpi.call_kpis(s, FEB, threshold_seconds=-1)
