"""Reports and the wallboard on SQLite and PostgreSQL: per-day and per-operator figures by hand
and against `kpi.ticket_kpis` / `kpi.call_kpis` (the same definitions), filters and their
messages, the pages and exports over real HTTP (CSV with its BOM, XLSX read back with
openpyxl), and the wallboard's pure function on a hand-made live snapshot."""

from __future__ import annotations

import csv
import html
import http.client
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, insert, select

from hotline.ami.live import CallerView, LiveSnapshot, MemberView, QueueView
from hotline.reports import report as reports
from hotline.reports import wallboard as board
from hotline.storage.db import Database
from hotline.storage.models import INTAKE_WHERE, Call, CallDisposition, Ticket, TicketEvent, TicketStatus, User
from hotline.tickets import kpi
from tests.desk_server import Client, running_desk, seed
from tests.test_kpi import CST, FEB, NOW, OVERALL, at, call, calls, case, february, figures, insert_tickets, ref, ticket  # noqa: F401 - fixtures

TODAY = date(2026, 3, 10)


# -- periods and filters


def test_day_week_month_and_custom_periods_in_the_centres_time_zone() -> None:
    day = kpi.day_period(date(2026, 2, 3), CST)
    assert (day.start, day.end, day.label) == (datetime(2026, 2, 3, tzinfo=CST), datetime(2026, 2, 4, tzinfo=CST), "2026-02-03")
    assert day.start.astimezone(UTC) == datetime(2026, 2, 2, 16, tzinfo=UTC)
    assert [p.label for p in kpi.day_series(date(2026, 2, 27), date(2026, 3, 1), CST)] == ["2026-02-27", "2026-02-28", "2026-03-01"]
    week = reports.parse_filters({"period": "week", "date": "2026-02-04"}, TODAY)
    assert (week.first, week.last, week.period_of(CST).label) == (date(2026, 2, 2), date(2026, 2, 8), "2026-W06")
    month = reports.parse_filters({}, date(2026, 2, 14))
    assert (month.period, month.first, month.last, month.by, month.rank, month.threshold_seconds) == ("month", date(2026, 2, 1), date(2026, 2, 28), "department", "closure_rate", 15)
    assert month.period_of(CST) == FEB
    custom = reports.parse_filters({"period": "custom", "start": "2026-01-15", "end": "2026-03-20", "by": "major_category", "sl": "20", "rank": "satisfaction_rate"}, TODAY)
    assert (custom.first, custom.last, custom.by, custom.threshold_seconds, custom.rank) == (date(2026, 1, 15), date(2026, 3, 20), "major_category", 20, "satisfaction_rate")
    assert custom.query()["start"] == "2026-01-15" and reports.parse_filters(custom.query(), TODAY) == custom


def test_trend_buckets_days_or_months() -> None:
    day = reports.parse_filters({"period": "day", "date": "2026-02-10"}, TODAY)
    buckets = reports.trend_periods(day, CST)
    assert len(buckets) == reports.DAY_TREND_DAYS and buckets[-1].label == "2026-02-10" and buckets[0].label == "2026-01-28"
    assert len(reports.trend_periods(reports.parse_filters({"period": "month", "date": "2026-02-10"}, TODAY), CST)) == 28
    long = reports.parse_filters({"period": "custom", "start": "2025-11-20", "end": "2026-02-10"}, TODAY)
    months = reports.trend_periods(long, CST)
    assert [m.label for m in months] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert months[0].start == datetime(2025, 11, 20, tzinfo=CST) and months[-1].end == datetime(2026, 2, 11, tzinfo=CST)


@pytest.mark.parametrize(
    ("args", "field", "text"),
    [
        ({"period": "year"}, "period", "“year” is not one of day, week, month, custom"),
        ({"date": "2026-13-01"}, "date", "“2026-13-01” is not a date"),
        ({"date": "1999-01-01"}, "date", "outside the years 2000 to 2099"),
        ({"by": "street"}, "by", "“street” is not one of department"),
        ({"rank": "overdue_open"}, "rank", "not a rate this report ranks by"),
        ({"sl": "ten"}, "sl", "from 0 to 600, not “ten”"),
        ({"sl": "601"}, "sl", "from 0 to 600"),
        ({"period": "custom", "start": "2026-01-01"}, "end", "a custom period needs a first and a last day"),
        ({"period": "custom", "start": "2026-02-01", "end": "2026-01-01"}, "end", "the last day 2026-01-01 is before the first day 2026-02-01"),
        ({"period": "custom", "start": "2025-01-01", "end": "2026-02-01"}, "end", "at most 366 days, this one 397"),
    ],
)
def test_bad_filters_are_named_with_what_is_wrong(args: dict[str, str], field: str, text: str) -> None:
    with pytest.raises(reports.InvalidFilters) as raised:
        reports.parse_filters(args, TODAY)
    assert [e[0] for e in raised.value.errors] == [field]
    assert text in str(raised.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(reports.InvalidFilters) as raised:
        reports.parse_filters({"period": "x", "by": "y", "sl": "-1", "date": "z"}, TODAY)
    assert {e[0] for e in raised.value.errors} == {"period", "by", "sl", "date"}


# -- figures: the same definitions per day and per operator


@pytest.mark.usefixtures("february")
def test_per_day_figures_are_ticket_kpis_of_each_day(database: Database) -> None:
    """The trend's days are `ticket_kpis` of each day: the days' received counts add up to
    the month's (a cohort count), and the build-once statement gives what a fresh one would."""
    days = kpi.day_series(date(2026, 1, 30), date(2026, 3, 3), CST)
    with database.transaction() as s:
        trend = kpi.ticket_kpi_series(s, days, now=NOW)
        month = kpi.ticket_kpis(s, FEB, now=NOW)
        fresh = s.execute(select(*kpi._ticket_columns(kpi.Window.of(FEB, NOW))).where(kpi._touches(kpi.Window.of(FEB, NOW)))).one()._mapping
    assert figures(month.overall) == figures(kpi._kpis(kpi.OVERALL, fresh))
    feb_days = [t for t in trend if FEB.start <= t.period.start < FEB.end]
    assert sum(t.overall.received for t in feb_days) == month.overall.received
    assert any(t.overall.closed for t in trend)


def test_per_day_figures_by_hand(database: Database) -> None:
    """Three cases over two days: received, closed, due (closed plus overdue open) per day."""
    rows = [
        case("D1", at(3, 2, 9), at(3, 2, 15), status=TicketStatus.CLOSED, closed_at=at(3, 2, 14), closed_on_time=True),
        case("D2", at(3, 2, 10), at(3, 3, 12)),  # open: overdue on the 3rd
        case("D3", at(3, 3, 9), at(3, 5, 12), status=TicketStatus.CLOSED, closed_at=at(3, 3, 11), closed_on_time=True),
        ticket("D4", at(3, 3, 10), status=TicketStatus.REJECTED),
    ]
    with database.transaction() as s:
        s.execute(insert(Ticket), rows)
    with database.transaction() as s:
        d2, d3, d4 = kpi.ticket_kpi_series(s, kpi.day_series(date(2026, 3, 2), date(2026, 3, 4), CST), now=NOW)
    assert (d2.overall.received, d2.overall.registered, d2.overall.closed, d2.overall.due) == (2, 2, 1, 1)
    assert (d3.overall.received, d3.overall.registered, d3.overall.closed, d3.overall.due, d3.overall.overdue_open) == (2, 1, 1, 2, 1)
    assert d3.overall.closure_rate.percent == Decimal("50.00") and d3.overall.registration_rate.percent == Decimal("50.00")
    assert (d4.overall.received, d4.overall.due, d4.overall.closure_rate.percent) == (0, 0, None)


def test_the_desk_builds_every_report_statement_at_start_up(database: Database) -> None:
    """`kpi.build_statements` (the desk role's start-up, before its start-up freeze) builds
    every statement the report pages run: after it, no summary, export or trend of any length
    (whole, or in the desk's two halves) and no wallboard builds another, so none is left for
    the garbage collector to scan again at run time."""
    cached = (kpi._ticket_statement, kpi._series_statement, kpi._call_period_statement, kpi._call_statement, kpi._operator_statement, kpi._call_detail_statement)
    for statement in cached:
        statement.cache_clear()
    kpi.build_statements(reports.TREND_DAYS)
    built = [statement.cache_info().currsize for statement in cached]
    assert all(built)
    variants: list[dict[str, str]] = [{"period": "day"}, {"period": "week"}, {"period": "month"}]
    variants += [{"period": "custom", "start": "2026-01-01", "end": (date(2026, 1, 1) + timedelta(days=n - 1)).isoformat()} for n in (1, 7, 16, 17, 31, 32, 33, 62, 63, 92, 366)]
    with database.transaction() as s:
        for args in variants:
            for by in kpi.GROUPINGS:
                reports.build_report(s, reports.parse_filters(args | {"by": by}, TODAY), CST, NOW)
            filters = reports.parse_filters(args, TODAY)
            buckets = reports.trend_periods(filters, CST)
            reports.build_trend(s, filters, CST, NOW)
            half = (len(buckets) + 1) // 2
            reports.trend_case_figures(s, buckets[:half], NOW)
            reports.trend_case_figures(s, buckets[half:], NOW)
        kpi.call_kpis(s, FEB)
        kpi.call_kpis_by_operator(s, FEB)
    assert [statement.cache_info().currsize for statement in cached] == built


@pytest.mark.usefixtures("calls")
def test_call_figures_per_day_are_call_kpis_of_each_day(database: Database) -> None:
    days = kpi.day_series(date(2026, 2, 1), date(2026, 3, 1), CST)
    with database.transaction() as s:
        trend = kpi.call_kpis_per_period(s, days, threshold_seconds=15)
        single = [kpi.call_kpis(s, d).overall for d in days]
    assert trend == tuple(single)
    # By hand: Feb 2 has c1 (answered after 5 s, talk 100 s); Feb 27 only calls still going.
    feb2, feb27 = trend[1], trend[26]
    assert (feb2.offered, feb2.answered, feb2.answered_within_threshold, feb2.average_handle_time.value) == (1, 1, 1, Decimal("100.0"))
    assert (feb27.offered, feb27.in_progress, feb27.answer_rate.percent) == (0, 2, None)


def test_call_figures_per_operator_by_hand(database: Database) -> None:
    D = CallDisposition
    rows = [
        call("o1", at(2, 2), D.ANSWERED, "general", wait=5, talk=100) | {"agent_interface": "PJSIP/1001", "agent_user_id": None},
        call("o2", at(2, 3), D.ANSWERED, "general", wait=20, talk=200) | {"agent_interface": "PJSIP/1001", "agent_user_id": None},
        call("o3", at(2, 4), D.ANSWERED, "emergency", wait=10, talk=60) | {"agent_interface": "PJSIP/1002", "agent_user_id": None},
        call("o4", at(2, 5), D.ABANDONED, "general", wait=30) | {"agent_interface": "", "agent_user_id": None},
        call("o5", at(3, 5), D.ANSWERED, "general", wait=1, talk=10) | {"agent_interface": "PJSIP/1002", "agent_user_id": None},
    ]
    with database.transaction() as s:
        s.execute(insert(Call), rows)
    with database.transaction() as s:
        ops = kpi.call_kpis_by_operator(s, FEB)
    assert [(o.name, o.interface, o.kpis.answered, o.kpis.answered_within_threshold) for o in ops] == [("PJSIP/1001", "PJSIP/1001", 2, 1), ("PJSIP/1002", "PJSIP/1002", 1, 1)]
    assert (ops[0].kpis.average_answer_wait.value, ops[0].kpis.average_handle_time.value, ops[0].kpis.average_handle_time.total) == (Decimal("12.5"), Decimal("150.0"), 300)


@pytest.mark.usefixtures("february", "calls")
def test_report_tables_carry_numerators_and_denominators(database: Database) -> None:
    filters = reports.parse_filters({"period": "month", "date": "2026-02-10"}, TODAY)
    with database.transaction() as s:
        report = reports.build_report(s, filters, CST, NOW)
        trend = reports.build_trend(s, filters, CST, NOW)
        direct = kpi.ticket_kpis(s, FEB, by="department", now=NOW)
    assert report.tickets == direct
    tickets, calls_table, operators, trend_table = reports.tables(report, trend, "zh")
    header = tickets.header("zh")
    assert header[:2] == ["编码", "部门"] and "结案率 分子" in header and "结案率 分母" in header and "结案率 %" in header
    total = tickets.rows[-1]
    assert total[1] == "合计"
    closure = header.index("结案率 分子")
    assert total[closure : closure + 3] == (direct.overall.closure_rate.numerator, direct.overall.closure_rate.denominator, direct.overall.closure_rate.percent)
    assert [r[0] for r in calls_table.rows] == ["12319", "consult", "合计"]
    assert len(trend_table.rows) == 28 and trend_table.rows[1][0] == "2026-02-02"
    # The fixture's answered calls recorded no seat: one row says so.
    assert operators.rows == (("未记录坐席", "", 5, Decimal("9.8"), Decimal("165.0"), 660),)


# -- case figures per intake operator


def _event(ticket_id: int, seq: int, action: str, to: TicketStatus, user_id: int | None, actor: str) -> dict[str, Any]:
    return {"ticket_id": ticket_id, "seq": seq, "at": at(2, 1), "action": action, "from_status": None, "to_status": to, "actor_user_id": user_id, "actor": actor, "note": "", "data": {}}


@pytest.fixture
def intake(database: Database, request: pytest.FixtureRequest) -> dict[str, int]:
    """February's tickets with their intake history: who took each in (受理) or, for those that
    arrived without an operator, who first decided them; a note by someone else never counts."""
    request.getfixturevalue("february")
    R, D = TicketStatus.RECEIVED, TicketStatus.REGISTERED
    with database.transaction() as s:
        op1, op2 = User(username="op1", display_name="话务员甲", password_hash="x"), User(username="op2", display_name="", password_hash="x")
        s.add_all([op1, op2])
        s.flush()
        ids = dict(s.execute(select(Ticket.number, Ticket.id)).all())
        history = [
            _event(ids["T1"], 1, "receive", R, op1.id, "op1"),
            _event(ids["T2"], 1, "receive", R, op2.id, "op2"),
            _event(ids["T2"], 2, "register", D, op1.id, "op1"),  # taken in by op2: op2's
            _event(ids["T3"], 1, "receive", R, op1.id, "op1"),
            _event(ids["T4"], 1, "receive", R, None, "inspector"),
            _event(ids["T4"], 2, "register", D, op2.id, "op2"),  # arrived without an operator: who registered it
            _event(ids["T5"], 1, "receive", R, op1.id, "op1"),
            _event(ids["T6"], 1, "receive", R, None, "ivr"),
            _event(ids["T6"], 2, "note", R, op2.id, "op2"),  # a note is not an intake move
            _event(ids["T6"], 3, "register", D, op1.id, "op1"),
            _event(ids["T8"], 1, "receive", R, None, "ivr"),
            _event(ids["T8"], 2, "reject", TicketStatus.REJECTED, op1.id, "op1"),
            _event(ids["T9"], 1, "receive", R, op2.id, "op2"),
            _event(ids["T9"], 2, "answer", TicketStatus.ANSWERED, op2.id, "op2"),
            _event(ids["T10"], 1, "receive", R, None, "open311"),  # nobody has decided it yet
            _event(ids["T12"], 1, "receive", R, op2.id, "op2"),
            # T7 has no history at all: the row of tickets no operator took in.
        ]
        s.execute(insert(TicketEvent), history)
        return {"op1": op1.id, "op2": op2.id}


def test_case_figures_per_intake_operator_by_hand(database: Database, intake: dict[str, int]) -> None:
    """The one grouped query, keyed by the intake operator: op1 took in T1, T3, T5 and decided
    T6 and T8; op2 took in T2, T9, T12 and registered T4; T7 and T10 are nobody's yet."""
    with database.transaction() as s:
        report = kpi.ticket_kpis(s, FEB, by="operator", now=NOW)
    assert [(g.group.kind, g.group.id, g.group.code, g.group.name_zh) for g in report.rows] == [
        ("operator", intake["op1"], "op1", "话务员甲"),
        ("operator", intake["op2"], "op2", "op2"),
        ("operator", None, "", "未经话务员受理"),
    ]
    op1, op2, nobody = report.rows
    # Received in February: op1 T1 T6 T8, op2 T2 T4 T9, nobody T7 T10; registered of those: T1 T6 | T2 T4 | T7.
    assert [(r.registered, r.received) for r in report.rows] == [(2, 3), (2, 3), (1, 2)]
    # Closed in February: T1 (op1), T2 and T4 (op2); due also T3 (op1), T7 (nobody), T12 (op2), overdue and open.
    assert [(r.closed, r.due, r.overdue_open) for r in report.rows] == [(1, 2, 1), (2, 3, 1), (0, 1, 1)]
    assert (op1.closure_rate.percent, op2.on_time_closure_rate.percent, nobody.closure_rate.percent) == (Decimal("50.00"), Decimal("33.33"), Decimal("0.00"))
    assert figures(report.overall) == OVERALL


@pytest.mark.parametrize("by", kpi.GROUPINGS)
def test_every_grouping_adds_up_to_the_ungrouped_figures(database: Database, intake: dict[str, int], by: kpi.GroupBy) -> None:
    """Every ticket is in exactly one row: each numerator and denominator of the rows sums to
    the ungrouped query's (computed apart, not as the rows' sum)."""
    with database.transaction() as s:
        grouped = kpi.ticket_kpis(s, FEB, by=by, now=NOW)
        alone = kpi.ticket_kpis(s, FEB, now=NOW)
    summed = {name: tuple(map(sum, zip(*(_pair(figures(r)[name]) for r in grouped.rows), strict=True))) for name in kpi.TICKET_KPIS}
    assert summed == {name: _pair(value) for name, value in figures(alone.overall).items()}
    assert figures(grouped.overall) == figures(alone.overall)


def test_the_intake_lookup_reads_its_partial_index(database: Database, intake: dict[str, int]) -> None:
    """The index's WHERE names exactly the intake moves, and each planner sees that it applies
    to the intake lookup (`kpi._intake_user`, which migration 0015's trigger runs after each
    intake move; PostgreSQL's generic plan too: the condition is literal SQL). The report per
    operator itself reads the ticket's `intake_user_id`, not the history. PostgreSQL is told to
    avoid sequential scans, which on a dozen rows would win on cost."""
    assert re.findall(r"'(\w+)'", INTAKE_WHERE) == [a.value for a in kpi.INTAKE_ACTIONS]
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "ticket_events" in statement:
            seen.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        with database.transaction() as s:
            kpi.ticket_kpis(s, FEB, by="operator", now=NOW)
            assert seen == [], "the report per operator reads no history"
            s.execute(select(Ticket.id, kpi._intake_user()).where(Ticket.id == 1)).all()
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    (statement, parameters), *_ = seen
    with database.engine.connect() as conn:
        if database.engine.dialect.name == "postgresql":
            names = list(parameters)
            for i, name in enumerate(names, start=1):
                statement = statement.replace(f"%({name})s", f"${i}")
            conn.exec_driver_sql("SET enable_seqscan = off")
            conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            conn.exec_driver_sql(f"PREPARE intake AS {statement}")
            values = ", ".join(str(v) if isinstance(v, int) else "'{}'".format(str(v.isoformat() if isinstance(v, datetime) else v).replace("'", "''")) for v in parameters.values())
            plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN EXECUTE intake({values})"))
            assert re.search(r"\$\d", plan), "a generic plan: the parameters are not in it"
        else:
            plan = "\n".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
        conn.rollback()
    assert "ix_ticket_events_intake" in plan, plan


def _pair(value: Any) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, tuple) else (value,)


# -- the wallboard's pure function


def member(interface: str, name: str, **state: Any) -> MemberView:
    values: dict[str, Any] = {
        "interface": interface,
        "name": name,
        "state": "not_inuse",
        "availability": "available",
        "paused": False,
        "pause_reason": "",
        "paused_since": None,
        "calls_taken": 0,
        "in_call": False,
        "last_call": None,
        "membership": "dynamic",
        "penalty": 0,
        "talking_to": None,
        "agent_uniqueid": None,
    }
    return MemberView(**(values | state))


def test_wallboard_from_a_live_snapshot_and_the_call_records(database: Database) -> None:
    """Waiting and longest wait from the live model; today's and the last hour's figures from
    the call records (`call_kpis`); agents once each, in their state, with time in it."""
    now = datetime(2026, 3, 10, 10, 30, tzinfo=CST)
    D = CallDisposition
    rows = [
        call("w1", now - timedelta(hours=3), D.ANSWERED, "general", wait=5, talk=100),
        call("w2", now - timedelta(minutes=30), D.ANSWERED, "general", wait=20, talk=200),
        call("w3", now - timedelta(minutes=20), D.ABANDONED, "general", wait=40),
        call("w4", now - timedelta(minutes=5), D.ANSWERED, "general", wait=3) | {"answered_at": now - timedelta(minutes=4), "agent_interface": "PJSIP/1002"},
        call("w5", now - timedelta(days=1), D.ANSWERED, "general", wait=1, talk=10),
    ]
    with database.transaction() as s:
        s.execute(insert(Call), [r | {"answered_at": r.get("answered_at"), "agent_interface": r.get("agent_interface", "")} for r in rows])
    with database.transaction() as s:
        figures_ = board.database_figures(s, now, CST, {15})
    assert figures_.on_call_since == {"PJSIP/1002": now - timedelta(minutes=4)}
    joined = now - timedelta(seconds=75)
    general = QueueView(
        "hotline-general",
        "rrmemory",
        (CallerView("c9", "c9", "PJSIP/trunk-9", "13800000000", "", 1, joined, 75),),
        (
            member("PJSIP/1001", "张三", last_call=now - timedelta(seconds=4), calls_taken=3),
            member("PJSIP/1002", "李四", availability="busy", state="inuse", in_call=True, calls_taken=5),
            member("PJSIP/1003", "王五", paused=True, availability="paused", pause_reason="午休", paused_since=now - timedelta(minutes=12)),
            member("PJSIP/1004", "赵六", last_call=now - timedelta(minutes=9)),
        ),
        0,
        0,
        75,
        0,
        0,
    )
    emergency = QueueView("hotline-emergency", "ringall", (), (member("PJSIP/1001", "张三", last_call=now - timedelta(seconds=4), calls_taken=3),), 0, 0, 0, 0, 0)
    snapshot = LiveSnapshot(now, True, now, (general, emergency), ())
    settings = [board.QueueSetting("general", "人工服务", "Operators", 15, 10), board.QueueSetting("emergency", "抢险抢修", "Emergency", 15, 0)]
    result = board.wallboard(snapshot, figures_, now, settings)
    g, e = result.queues
    assert (g.skill, g.waiting, g.longest_wait_seconds, e.waiting) == ("general", 1, 75, 0)
    # Today: w1, w2, w4 answered, w3 abandoned (w5 was yesterday); last hour: w2, w3, w4.
    assert (g.today.offered, g.today.answered, g.today.abandoned, g.today.answered_within_threshold) == (4, 3, 1, 2)
    assert (g.last_hour.offered, g.last_hour.answered, g.last_hour.abandoned) == (3, 2, 1)
    assert g.today.answer_rate.percent == Decimal("75.00") and g.answer_rate_met is False
    assert e.today.offered == 0 and e.answer_rate_met is None
    states = {a.name: (a.state, a.seconds_in_state, a.queues, a.pause_reason) for a in result.agents}
    assert states == {
        "张三": ("wrapup", 4, ("general", "emergency"), ""),
        "李四": ("on_call", 240, ("general",), ""),
        "王五": ("paused", 720, ("general",), "午休"),
        "赵六": ("ready", 540, ("general",), ""),
    }
    assert [a.name for a in result.agents] == ["赵六", "李四", "张三", "王五"]
    assert result.agent_counts == {"ready": 1, "ringing": 0, "on_call": 1, "wrapup": 1, "paused": 1, "unavailable": 0, "unknown": 0}
    assert g.agents["paused"] == 1 and e.agents["wrapup"] == 1
    payload = json.loads(json.dumps(result.as_json()))
    assert payload["queues"][0]["today"]["answer_rate"] == {"numerator": 3, "denominator": 4, "percent": "75.00"}
    assert payload["live"] is True and payload["agents"][0]["since"] is not None


def test_wallboard_without_asterisk_still_shows_the_recorded_figures() -> None:
    now = datetime(2026, 3, 10, 0, 0, tzinfo=CST)
    today, hour = board.today_and_last_hour(now, CST)
    assert today.start == now and today.end > today.start and hour.start == now - timedelta(hours=1)
    empty = kpi.CallReport(today, 15, board._empty("", 15), (), 0)
    result = board.wallboard(None, board.DatabaseFigures({15: empty}, {15: empty}), now, [board.QueueSetting("general")])
    assert result.live is False and result.agents == ()
    assert (result.queues[0].waiting, result.queues[0].today.offered) == (None, 0)


# -- over HTTP


@pytest.fixture
def desk(database: Database, request: pytest.FixtureRequest) -> Iterator[int]:
    """A desk over February's tickets and calls, seen from `NOW`."""
    request.getfixturevalue("february")
    request.getfixturevalue("calls")
    seed(database)
    with running_desk(database, now=lambda: NOW) as port:
        yield port


def signed_in(port: int, username: str) -> Client:
    client = Client(port)
    assert client.login(username).status == 303
    return client


def raw_get(client: Client, path: str) -> tuple[int, dict[str, str], bytes]:
    """A GET whose body stays bytes (an XLSX is not text)."""
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
    try:
        conn.request("GET", path, headers={"cookie": "; ".join(f"{k}={v}" for k, v in client.jar.items())})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    finally:
        conn.close()


def test_report_pages_show_the_figures_with_their_counts(desk: int) -> None:
    client = signed_in(desk, "supervisor")
    page = client.get("/desk/reports?period=month&date=2026-02-10")
    assert page.status == 200
    assert "结案率" in page.body and "<svg" in page.body and "部门排名" in page.body
    assert re.search(r'title="\d+/\d+ = [\d.]+ %', page.body), "every rate shows its counts on hover"
    assert "接通率" in page.body and "12319" in page.body
    trend = client.get("/desk/reports/trend?period=month&date=2026-02-10")
    assert trend.status == 200 and trend.body.count("<svg") == 3 and "2026-02-28" in trend.body
    admin = signed_in(desk, "admin")
    assert admin.get("/desk/reports?period=week&date=2026-02-10&by=category").status == 200


def test_bad_filters_get_a_400_page_naming_each_problem(desk: int) -> None:
    client = signed_in(desk, "supervisor")
    page = client.get("/desk/reports?period=custom&start=2026-02-10&end=2026-02-01&sl=x&by=street")
    assert page.status == 400
    assert "报表未生成" in page.body
    assert 'data-field="end"' in page.body and 'data-field="sl"' in page.body and 'data-field="by"' in page.body
    assert client.get("/desk/reports/trend?date=yesterday").status == 400
    assert client.get("/desk/reports/export?format=pdf").status == 400
    assert client.get("/desk/reports/export?table=secrets").status == 400
    # The server keeps serving.
    assert client.get("/desk/reports").status == 200


def test_csv_export_reads_back_in_excel_form(desk: int) -> None:
    client = signed_in(desk, "supervisor")
    status, headers, body = raw_get(client, "/desk/reports/export?period=month&date=2026-02-10&table=tickets&format=csv")
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert "attachment" in headers["content-disposition"] and ".csv" in headers["content-disposition"]
    assert body.startswith(b"\xef\xbb\xbf"), "a UTF-8 byte-order mark, so Excel reads the Chinese"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:2] == ["编码", "部门"] and "按期结案率 %" in rows[0]
    assert rows[-1][1] == "合计"
    with_counts = dict(zip(rows[0], rows[-1], strict=True))
    assert int(with_counts["结案率 分子"]) <= int(with_counts["结案率 分母"])
    _, _, calls_csv = raw_get(client, "/desk/reports/export?period=month&date=2026-02-10&table=calls&format=csv")
    queue_rows = list(csv.reader(io.StringIO(calls_csv.decode("utf-8-sig"))))
    overall = dict(zip(queue_rows[0], queue_rows[-1], strict=True))
    assert (overall["进线量"], overall["接通量"], overall["接通率"]) == ("8", "5", "62.50")


def test_xlsx_export_has_a_sheet_per_table_with_numbers(desk: int) -> None:
    client = signed_in(desk, "admin")
    status, headers, body = raw_get(client, "/desk/reports/export?period=month&date=2026-02-10&format=xlsx")
    assert status == 200 and headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["报表", "案件指标", "话务指标(按队列)", "话务指标(按坐席)", "趋势"]
    queues = book["话务指标(按队列)"]
    header = [c.value for c in queues[1]]
    last = [c.value for c in queues[queues.max_row]]
    overall = dict(zip(header, last, strict=True))
    assert overall["队列"] == "合计" and overall["进线量"] == 8 and overall["接通率"] == pytest.approx(62.5)
    assert queues.cell(row=queues.max_row, column=header.index("接通率") + 1).number_format == "0.00"
    assert book["趋势"].max_row == 29
    assert book["报表"]["B2"].value == "2026-02-01 – 2026-02-28"


def test_wallboard_page_and_its_json(desk: int) -> None:
    client = signed_in(desk, "supervisor")
    page = client.get("/desk/wallboard")
    assert page.status == 200 and 'id="wallboard"' in page.body and "wallboard.js" in page.body
    data = client.get("/desk/wallboard/data")
    assert data.status == 200 and data.headers["content-type"].startswith("application/json")
    payload = json.loads(data.body)
    assert [q["skill"] for q in payload["queues"]] == [] and payload["live"] is False
    assert payload["state_labels"]["paused"] == "暂停" and payload["refresh_seconds"] == 5
    assert signed_in(desk, "operator").get("/desk/wallboard/data").status == 403


def _figure_tables(body: str) -> list[tuple[list[str | None], list[list[tuple[str, str | None]]]]]:
    """Each `table.figures` of a page: its header cells' titles, and per body row its cells
    as (class, title)."""
    from html.parser import HTMLParser

    tables: list[tuple[list[str | None], list[list[tuple[str, str | None]]]]] = []

    class Reader(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.depth = 0
            self.part = ""

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag == "table" and "figures" in (a.get("class") or ""):
                tables.append(([], []))
                self.depth = 1
            elif self.depth and tag in ("thead", "tbody"):
                self.part = tag
            elif self.depth and tag == "tr" and self.part == "tbody":
                tables[-1][1].append([])
            elif self.depth and tag == "th" and self.part == "thead":
                tables[-1][0].append(a.get("title"))
            elif self.depth and tag in ("td", "th") and self.part == "tbody":
                tables[-1][1][-1].append((a.get("class") or "", a.get("title")))

        def handle_endtag(self, tag: str) -> None:
            if tag == "table":
                self.depth = 0

    Reader().feed(body)
    return tables


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
def test_every_figure_and_its_header_carry_the_formula(desk: int, language: str) -> None:
    """On the summary (each grouping) and the trend, in each language: every numeric cell and
    its column's header has a title holding the one definition's text, translated."""
    from agent_desk import i18n
    from agent_desk.reports import headline

    client = signed_in(desk, "supervisor")
    if language == "en":
        assert client.post("/desk/language", {"csrf": client.csrf(), "language": "en", "next": "/desk/reports"}).status == 303
    catalogue = i18n.catalogue(language)
    formulas = {catalogue.gettext(text) for text in reports.explained()}
    assert language == "en" or not formulas & set(reports.explained()), "every formula has its Chinese text"
    pages = [f"/desk/reports?period=month&date=2026-02-10&by={by}" for by in reports.GROUPINGS] + ["/desk/reports/trend?period=month&date=2026-02-10"]
    for path in pages:
        page = client.get(path)
        assert page.status == 200, path
        tables = _figure_tables(page.body)
        assert len(tables) == (3 if "trend" not in path else 1), path
        for headers, rows in tables:
            assert rows, path
            for row in rows:
                assert len(row) == len(headers), path
                for (cls, title), header in zip(row, headers, strict=True):
                    if "num" not in cls.split():
                        continue
                    assert header in formulas, (path, header)
                    assert title and headline(header) in title, (path, title, header)


def test_case_figures_per_operator_on_the_page_and_in_the_exports(database: Database, intake: dict[str, int]) -> None:
    """by=operator: the rows of the page, the CSV and the XLSX are the operators, and their
    counts add up to the total row; the ranking draws the operators."""
    seed(database)
    with running_desk(database, now=lambda: NOW) as port:
        client = signed_in(port, "supervisor")
        page = client.get("/desk/reports?period=month&date=2026-02-10&by=operator&rank=closure_rate")
        assert page.status == 200
        assert "受理话务员" in page.body and "结案率：受理话务员排名" in page.body and "未经话务员受理" in page.body
        assert f'data-group="{intake["op1"]}"' in page.body and "话务员甲" in page.body
        assert "<title>话务员甲: 1/2 = 50.00 % · 结案率 = 结案数 / 应结案数。" in page.body, "each bar's hover: its counts and the formula"
        _, _, body = raw_get(client, "/desk/reports/export?period=month&date=2026-02-10&by=operator&table=tickets&format=csv")
        header, *rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert header[:2] == ["编码", "受理话务员"]
        assert [r[:2] for r in rows] == [["op1", "话务员甲"], ["op2", "op2"], ["", "未经话务员受理"], ["", "合计"]]
        *groups, total = rows
        for i, name in enumerate(header):
            if name.endswith(("分子", "分母")) or ("%" not in name and i >= 2):
                assert sum(int(r[i]) for r in groups) == int(total[i]), name
        status, _, xlsx = raw_get(client, "/desk/reports/export?period=month&date=2026-02-10&by=operator&format=xlsx")
        assert status == 200
        sheet = load_workbook(io.BytesIO(xlsx))["案件指标"]
        assert [c.value for c in sheet[1]][:2] == ["编码", "受理话务员"] and sheet.cell(row=2, column=2).value == "话务员甲"
        assert load_workbook(io.BytesIO(xlsx))["报表"]["B3"].value == "受理话务员"
        closure = sheet.cell(row=1, column=header.index("结案率 %") + 1)
        assert closure.comment is not None and closure.comment.text.startswith("结案率 = 结案数 / 应结案数。")


# -- periods from the page: day, week, month, custom


def test_the_form_offers_each_period_and_each_works(desk: int) -> None:
    """The form's period choices, each sent as the browser sends the whole form."""
    client = signed_in(desk, "supervisor")
    form = client.get("/desk/reports").body
    choices = re.findall(r'<option value="(\w+)"', form.split('name="period"')[1].split("</select>")[0])
    assert choices == ["day", "week", "month", "custom"]
    expected = {"day": "2026-02-10", "week": "2026-W07", "month": "2026-02", "custom": "2026-02-03 – 2026-02-12"}
    for period in choices:
        sent = {"period": period, "date": "2026-02-10", "start": "2026-02-03", "end": "2026-02-12", "by": "operator", "rank": "closure_rate", "sl": "15"}
        for path in ("/desk/reports", "/desk/reports/trend"):
            page = client.get(f"{path}?{urlencode(sent)}")
            assert page.status == 200, (period, path)
            assert f"<small>{expected[period]}" in page.body, (period, path)


def test_a_week_is_monday_to_sunday_in_shanghai(database: Database) -> None:
    """Sunday 23:30 in Shanghai is 15:30 UTC and Monday 00:10 is 16:10 UTC the same Sunday:
    the first is the week of 2–8 February, the second the next week."""
    insert_tickets(database, [ticket("W1", datetime(2026, 2, 8, 23, 30, tzinfo=CST)), ticket("W2", datetime(2026, 2, 9, 0, 10, tzinfo=CST)), ticket("W3", datetime(2026, 2, 2, 0, 0, tzinfo=CST))])
    seed(database)
    with running_desk(database, now=lambda: NOW) as port:
        client = signed_in(port, "supervisor")
        w06, w07 = "2026-W06 · 2026-02-02 – 2026-02-08", "2026-W07 · 2026-02-09 – 2026-02-15"
        for day, label, received in (("2026-02-08", w06, 2), ("2026-02-02", w06, 2), ("2026-02-09", w07, 1), ("2026-02-15", w07, 1)):
            _, _, body = raw_get(client, f"/desk/reports/export?period=week&date={day}&table=tickets&format=csv")
            header, *rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
            assert int(dict(zip(header, rows[-1], strict=True))["立案率 分母"]) == received, day
            assert f"<small>{label}" in client.get(f"/desk/reports?period=week&date={day}").body
        trend = client.get("/desk/reports/trend?period=week&date=2026-02-08").body
        assert "2026-02-02" in trend and "2026-02-08" in trend and "2026-02-09" not in trend


@pytest.mark.parametrize(
    ("query", "field", "text"),
    [
        ({"start": "2026-02-12", "end": "2026-02-03"}, "end", "结束日（end）2026-02-03 早于起始日 2026-02-12"),
        ({"start": "2026-02-30", "end": "2026-03-01"}, "start", "不是日期"),
        ({"start": "12/02/2026", "end": "2026-03-01"}, "start", "不是日期"),
        ({"start": "2026-02-01", "end": ""}, "end", "自定义期间"),
        ({"start": "2026-02-01\x00", "end": "2026-02-02"}, "start", "不是日期"),
    ],
)
def test_a_reversed_or_malformed_custom_range_is_a_clear_400(desk: int, query: dict[str, str], field: str, text: str) -> None:
    client = signed_in(desk, "supervisor")
    for path in ("/desk/reports", "/desk/reports/trend", "/desk/reports/export"):
        page = client.get(f"{path}?{urlencode({'period': 'custom', 'date': '2026-02-10', **query})}")
        assert page.status == 400, path
        assert f'data-field="{field}"' in page.body and text in html.unescape(page.body), (path, page.body[-2000:])
        assert "Traceback" not in page.body
    assert client.get("/desk/reports?period=custom&start=2026-02-03&end=2026-02-03").status == 200


# -- the charts


def test_charts_are_plain_svg_with_escaped_labels_and_hover_titles() -> None:
    from agent_desk import charts

    svg = str(charts.ranking("结案率：部门排名", [("<script>alert(1)</script>", 93.72, "911/972 = 93.72 %"), ("园林", None, "0/0 = —"), ("市政", 50.0, "1/2 = 50.00 %")]))
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.index("93.72 %") < svg.index("50.00 %") < svg.index("—"), "best first, no figure last"
    assert "<title>市政: 1/2 = 50.00 %</title>" in svg
    line = str(charts.trend("趋势", ["2026-02-01", "2026-02-02", "2026-02-03"], [("接通率", [90.0, None, 95.5])]))
    assert "<polyline" not in line, "a gap leaves no line between single points"
    assert line.count("<circle") == 2 and "<title>2026-02-03 接通率: 95.50 %</title>" in line
    counts = str(charts.trend("量", ["a", "b"], [("受理数", [3.0, 7.0])], unit="", maximum=None))
    assert ">10<" in counts, "the axis ends on a round number above the largest value"
