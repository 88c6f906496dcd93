"""Reports over a period: what a browser may ask for (validated), the figures for it (all from
`hotline.tickets.kpi`), and the same tables as CSV and XLSX.

A report is one period (a day, an ISO week, a calendar month or a custom range of whole days
in the centre's time zone) and one grouping of the case figures (department, minor or major
category, intake operator); the call-centre figures come per queue and per operator. The trend is the same
figures per day of the period (per month for a range longer than `TREND_DAYS` days).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Literal, cast

from sqlalchemy import text
from sqlalchemy.orm import Session

from hotline.tickets import kpi
from hotline.tickets.kpi import CallKpis, CallReport, GroupBy, OperatorCallKpis, Period, Ratio, TicketReport

PERIOD_KINDS = ("day", "week", "month", "custom")
GROUPINGS: tuple[GroupBy, ...] = kpi.GROUPINGS
#: What a grouping's rows are called: (zh, en) for a column header.
GROUP_TITLES: Mapping[str, tuple[str, str]] = {
    "department": ("部门", "department"),
    "category": ("小类", "minor category"),
    "major_category": ("大类", "major category"),
    "operator": ("受理话务员", "intake operator"),
}
TABLES = ("tickets", "calls", "operators", "trend")
#: The longest custom range a report covers; a longer one is several reports.
MAX_DAYS = 366
#: Up to this many days the trend is per day; beyond, per calendar month.
TREND_DAYS = 62
#: A single day's trend shows the days up to it, so the day is seen against its neighbours.
DAY_TREND_DAYS = 14
MAX_THRESHOLD_SECONDS = 600
Language = Literal["zh", "en"]
Cell = int | str | Decimal | None


class InvalidFilters(ValueError):
    """What was wrong with a report's query string: one (field, message, params) per problem.
    Messages are message ids with %(name)s placeholders, so the desk can translate them."""

    def __init__(self, errors: Sequence[tuple[str, str, Mapping[str, str]]]) -> None:
        super().__init__("; ".join(message % dict(params) for _, message, params in errors))
        self.errors = tuple(errors)


@dataclass(frozen=True)
class ReportFilters:
    """A report's choices, validated. `first` and `last` are the whole days covered."""

    period: str
    day: date
    first: date
    last: date
    by: GroupBy = "department"
    #: The ticket KPI the department ranking is drawn for (a rate of `kpi.TICKET_KPIS`).
    rank: str = "closure_rate"
    threshold_seconds: int = kpi.CALL_SERVICE_LEVEL_SECONDS

    def period_of(self, tz: tzinfo) -> Period:
        label = {"day": self.first.isoformat(), "month": self.first.strftime("%Y-%m")}.get(self.period, "")
        if self.period == "week":
            year, week, _ = self.first.isocalendar()
            label = f"{year}-W{week:02d}"
        return kpi.date_range_period(self.first, self.last, tz, label)

    def query(self, **changes: str) -> dict[str, str]:
        """The query string that asks for this report again (with `changes`)."""
        values = {"period": self.period, "date": self.day.isoformat(), "by": self.by, "rank": self.rank, "sl": str(self.threshold_seconds)}
        if self.period == "custom":
            values |= {"start": self.first.isoformat(), "end": self.last.isoformat()}
        return values | changes


RANKABLE = tuple(name for name, d in kpi.TICKET_KPIS.items() if not d.is_count)


def _date(args: Mapping[str, str], name: str, errors: list[tuple[str, str, Mapping[str, str]]]) -> date | None:
    text = args.get(name, "").strip()
    if not text:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        errors.append((name, "%(field)s: “%(value)s” is not a date; write it as YYYY-MM-DD, e.g. 2026-11-03", {"field": name, "value": text[:40]}))
        return None
    if not 2000 <= value.year <= 2099:
        errors.append((name, "%(field)s: %(value)s is outside the years 2000 to 2099", {"field": name, "value": text}))
        return None
    return value


def parse_filters(args: Mapping[str, str], today: date, *, threshold_seconds: int = kpi.CALL_SERVICE_LEVEL_SECONDS) -> ReportFilters:
    """The filters a query string asks for; absent ones take their defaults (this month,
    per department, ranked by 结案率, the configured service-level threshold).

    Raises:
        InvalidFilters: every problem found, each with the field it is about.
    """
    errors: list[tuple[str, str, Mapping[str, str]]] = []
    period = args.get("period", "").strip() or "month"
    if period not in PERIOD_KINDS:
        errors.append(("period", "period: “%(value)s” is not one of day, week, month, custom", {"value": period[:40]}))
    by = args.get("by", "").strip() or "department"
    if by not in GROUPINGS:
        errors.append(("by", "by: “%(value)s” is not one of department, category, major_category, operator", {"value": by[:40]}))
    rank = args.get("rank", "").strip() or "closure_rate"
    if rank not in RANKABLE:
        errors.append(("rank", "rank: “%(value)s” is not a rate this report ranks by", {"value": rank[:40]}))
    threshold = threshold_seconds
    sl = args.get("sl", "").strip()
    if sl:
        if not sl.isdigit() or not 0 <= int(sl) <= MAX_THRESHOLD_SECONDS:
            errors.append(("sl", "sl: the service-level threshold must be a whole number of seconds from 0 to %(max)s, not “%(value)s”", {"max": str(MAX_THRESHOLD_SECONDS), "value": sl[:40]}))
        else:
            threshold = int(sl)
    day = _date(args, "date", errors) or today
    first = last = day
    if period == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=6)
    elif period == "month":
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    elif period == "custom":
        start, end = _date(args, "start", errors), _date(args, "end", errors)
        for name, value in (("start", start), ("end", end)):
            if value is None and not any(e[0] == name for e in errors):
                errors.append((name, "%(field)s: a custom period needs a first and a last day", {"field": name}))
        if start is not None and end is not None:
            if end < start:
                errors.append(("end", "end: the last day %(end)s is before the first day %(start)s", {"start": start.isoformat(), "end": end.isoformat()}))
            elif (end - start).days + 1 > MAX_DAYS:
                errors.append(("end", "end: a custom period covers at most %(max)s days, this one %(days)s", {"max": str(MAX_DAYS), "days": str((end - start).days + 1)}))
            else:
                first, last = start, end
    if errors:
        raise InvalidFilters(errors)
    return ReportFilters(period, day, first, last, cast(GroupBy, by), rank, threshold)


def trend_periods(filters: ReportFilters, tz: tzinfo) -> tuple[Period, ...]:
    """The buckets of the trend: the period's days; for a single day the `DAY_TREND_DAYS`
    days up to it; for a range longer than `TREND_DAYS` days its months (the first and last
    cut to the range)."""
    first, last = filters.first, filters.last
    if filters.period == "day":
        first = last - timedelta(days=DAY_TREND_DAYS - 1)
    if (last - first).days + 1 <= TREND_DAYS:
        return kpi.day_series(first, last, tz)
    months = []
    start = first
    while start <= last:
        month_end = (start.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        end = min(month_end, last)
        months.append(kpi.date_range_period(start, end, tz, start.strftime("%Y-%m")))
        start = end + timedelta(days=1)
    return tuple(months)


@dataclass(frozen=True)
class Report:
    filters: ReportFilters
    period: Period
    tickets: TicketReport
    calls: CallReport
    operators: tuple[OperatorCallKpis, ...]


@dataclass(frozen=True)
class Trend:
    filters: ReportFilters
    period: Period
    buckets: tuple[Period, ...]
    tickets: tuple[TicketReport, ...]
    calls: tuple[CallKpis, ...]


def without_jit(session: Session) -> None:
    """On PostgreSQL, no JIT compilation for this transaction's report queries: their cost
    estimates cross `jit_above_cost`, and compiling the ~25 CASE expressions takes several
    times longer (measured 0.9 s) than running them on the few thousand rows a period touches
    (0.2 s). SET LOCAL ends with the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def report_settings(session: Session, *, hash_groups: bool = False) -> None:
    """PostgreSQL settings for this transaction's report queries (SET LOCAL: they end with it).

    - `without_jit`.
    - No parallel workers: the desk already runs a report's halves on two reader threads, and
      PostgreSQL's workers on top of them made six processes share the cores. Measured at 1 M
      tickets, a month's trend as the desk runs it (two halves at once, another bench beside):
      86–181 ms without workers against 119–465 ms with them.
    - With `hash_groups`, no sorting, where the planner misjudges the groups: the trend's
      statement (`kpi.ticket_kpi_series`) groups a month's ~60,000 (ticket, day) pairs into at
      most 62 days, and `kpi.call_kpis_with_operators` a quarter's 63,000 calls into ~100
      (queue, disposition, seat) groups, which the planner took for 46,000. It sorted them on
      disk (past work_mem); hashing took a quarter (trend) and half (calls: 137 → 74 ms) less.
    """
    without_jit(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        if hash_groups:
            session.execute(text("SET LOCAL enable_sort = off"))


def case_figures(session: Session, filters: ReportFilters, tz: tzinfo, now: datetime) -> TicketReport:
    """The case figures per group: one aggregate query (plus the group names)."""
    report_settings(session)
    return kpi.ticket_kpis(session, filters.period_of(tz), by=filters.by, now=now)


def call_figures(session: Session, filters: ReportFilters, tz: tzinfo) -> tuple[CallReport, tuple[OperatorCallKpis, ...]]:
    """The call figures per queue and per operator: one aggregate query."""
    report_settings(session, hash_groups=True)
    return kpi.call_kpis_with_operators(session, filters.period_of(tz), threshold_seconds=filters.threshold_seconds)


def build_report(session: Session, filters: ReportFilters, tz: tzinfo, now: datetime) -> Report:
    """The whole report in one transaction. (The desk runs `case_figures` and `call_figures`
    side by side on two reader threads instead: they touch different tables.)"""
    return Report(filters, filters.period_of(tz), case_figures(session, filters, tz, now), *call_figures(session, filters, tz))


def trend_case_figures(session: Session, buckets: Sequence[Period], now: datetime) -> tuple[TicketReport, ...]:
    """The overall case figures per bucket (`kpi.ticket_kpi_series`: days in one statement,
    months one statement each)."""
    report_settings(session, hash_groups=True)
    return kpi.ticket_kpi_series(session, buckets, now=now)


def trend_call_figures(session: Session, buckets: Sequence[Period], threshold_seconds: int) -> tuple[CallKpis, ...]:
    """The overall call figures per bucket: one query grouped by bucket."""
    report_settings(session)
    return kpi.call_kpis_per_period(session, buckets, threshold_seconds=threshold_seconds)


def build_trend(session: Session, filters: ReportFilters, tz: tzinfo, now: datetime) -> Trend:
    """The whole trend in one transaction (the desk spreads its parts over two reader threads)."""
    buckets = trend_periods(filters, tz)
    return Trend(filters, filters.period_of(tz), buckets, trend_case_figures(session, buckets, now), trend_call_figures(session, buckets, filters.threshold_seconds))


# -- tables (the page's and the exports' columns)


@dataclass(frozen=True)
class Column:
    zh: str
    en: str
    #: "int", "percent", "seconds" or "text": how an export formats it.
    kind: str = "int"
    #: The formula shown on hover and as the export's header note: a KPI's docstring
    #: (`kpi.TICKET_KPIS`) or the call figure's text below, never a second wording. The desk
    #: translates it through its catalogues (the English text is the message id).
    doc: str = ""

    def title(self, language: Language) -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True)
class Table:
    name: str
    title_zh: str
    title_en: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...] = field(default_factory=tuple)

    def header(self, language: Language) -> list[str]:
        return [c.title(language) for c in self.columns]


#: The call-centre figures in report order: (attribute of `CallKpis`, column).
CALL_FIGURES: tuple[tuple[str, Column], ...] = (
    ("offered", Column("进线量", "offered", doc="finished calls that asked a queue for an operator")),
    ("answered", Column("接通量", "answered", doc="offered calls an operator answered")),
    ("abandoned", Column("放弃量", "abandoned", doc="offered calls the caller hung up on while waiting")),
    ("voicemail", Column("留言", "voicemail", doc="offered calls that left a message instead of waiting")),
    ("callback_requested", Column("预约回呼", "callback requested", doc="offered calls that asked to be called back")),
    ("in_progress", Column("进行中", "in progress", doc="calls still in the IVR or waiting: not in offered")),
    ("service_level", Column("服务水平", "service level", "percent", "answered within the threshold / offered")),
    ("answer_rate", Column("接通率", "answer rate", "percent", "answered / offered (target ≥ 95 %)")),
    ("abandon_rate", Column("放弃率", "abandon rate", "percent", "abandoned / offered")),
    ("average_wait", Column("平均等待时长(秒)", "average wait (s)", "seconds", "mean wait of offered calls with a recorded wait")),
    ("average_answer_wait", Column("平均应答速度(秒)", "average speed of answer (s)", "seconds", "mean wait of answered calls")),
    ("average_handle_time", Column("平均处理时长(秒)", "average handle time (s)", "seconds", "mean talk time of answered calls")),
)
OPERATOR_FIGURES = ("answered", "average_answer_wait", "average_handle_time")
#: An operator's total talk time: the sum behind `average_handle_time`.
#: The service-level threshold the row was counted with (the report's `sl`).
THRESHOLD = Column("服务水平阈值(秒)", "service level threshold (s)", doc="the wait in seconds within which an answered call counts for the service level")
TALK_TIME = Column("通话总时长(秒)", "total talk time (s)", doc="sum of the talk time of answered calls with a recorded talk time")
#: The case figures the trend follows, and the call figures beside them.
TREND_TICKET_FIGURES = ("registration_rate", "closure_rate", "on_time_closure_rate", "handling_rate", "completion_rate", "satisfaction_rate")
TREND_CALL_FIGURES = ("offered", "answer_rate", "abandon_rate", "service_level")


def _value(value: object) -> Cell:
    if isinstance(value, Ratio):
        return value.percent
    if isinstance(value, kpi.Mean):
        return value.value
    if isinstance(value, int | str | Decimal) or value is None:
        return value
    raise TypeError(f"no cell for {value!r}")


def _ticket_columns(language: Language) -> list[Column]:
    columns = []
    for d in kpi.TICKET_KPIS.values():
        label = d.name_zh if language == "zh" else d.name_en
        if d.is_count:
            columns.append(Column(d.name_zh, d.name_en, "int", d.doc))
            continue
        num, den = ("分子", "分母") if language == "zh" else ("numerator", "denominator")
        columns += [
            Column(f"{d.name_zh} {num}", f"{d.name_en} {num}", "int", d.doc),
            Column(f"{d.name_zh} {den}", f"{d.name_en} {den}", "int", d.doc),
            Column(f"{label} %", f"{label} %", "percent", d.doc),
        ]
    return columns


def _ticket_cells(k: kpi.TicketKpis) -> list[Cell]:
    cells: list[Cell] = []
    for name in kpi.TICKET_KPIS:
        value = getattr(k, name)
        cells += [value.numerator, value.denominator, value.percent] if isinstance(value, Ratio) else [value]
    return cells


def tables(report: Report, trend: Trend | None, language: Language) -> list[Table]:
    """The report as tables: case figures per group, calls per queue, per operator, and the
    trend when given. Each rate comes with its numerator and denominator."""
    zh = language == "zh"
    group_title = GROUP_TITLES[report.filters.by]
    ticket_rows = [(g.group.code, g.group.name_zh if zh else (g.group.name_en or g.group.name_zh), *_ticket_cells(g)) for g in (*report.tickets.rows, report.tickets.overall)]
    out = [
        Table("tickets", "案件指标", "case figures", (Column("编码", "code", "text"), Column(*group_title, "text"), *_ticket_columns(language)), tuple(ticket_rows)),
    ]
    call_columns = (Column("队列", "queue", "text"), *(c for _, c in CALL_FIGURES), THRESHOLD)
    queue_rows = [(q.queue or ("合计" if zh else "overall"), *(_value(getattr(q, a)) for a, _ in CALL_FIGURES), q.threshold_seconds) for q in (*report.calls.queues, report.calls.overall)]
    out.append(Table("calls", "话务指标(按队列)", "call figures per queue", call_columns, tuple(queue_rows)))
    operator_columns = (Column("坐席", "operator", "text"), Column("分机", "seat", "text"), *(c for a, c in CALL_FIGURES if a in OPERATOR_FIGURES), TALK_TIME)
    unknown = "未记录坐席" if zh else "seat not recorded"
    operator_rows = [(o.name or unknown, o.interface, *(_value(getattr(o.kpis, a)) for a in OPERATOR_FIGURES), o.kpis.average_handle_time.total) for o in report.operators]
    out.append(Table("operators", "话务指标(按坐席)", "call figures per operator", operator_columns, tuple(operator_rows)))
    if trend is not None:
        out.append(trend_table(trend, language))
    return out


def trend_table(trend: Trend, language: Language) -> Table:
    """The trend as a table: per bucket the volumes, the case rates and the call figures."""
    figures = dict(CALL_FIGURES)
    # The counts are the terms of 立案率 (受理数) and 结案率 (结案数, 应结案数): their formulas say what they count.
    defined_by = {name: kpi.TICKET_KPIS[name].doc for name in ("registration_rate", "closure_rate")}
    columns: list[Column] = [
        Column("日期", "date", "text"),
        Column("受理数", "received", doc=defined_by["registration_rate"]),
        Column("结案数", "closed", doc=defined_by["closure_rate"]),
        Column("应结案数", "cases due", doc=defined_by["closure_rate"]),
    ]
    for name in TREND_TICKET_FIGURES:
        d = kpi.TICKET_KPIS[name]
        columns.append(Column(f"{d.name_zh} %", f"{d.name_en} %", "percent", d.doc))
    columns += [figures[a] for a in TREND_CALL_FIGURES]
    rows = []
    for bucket, t, c in zip(trend.buckets, trend.tickets, trend.calls, strict=True):
        k = t.overall
        rows.append((bucket.label, k.received, k.closed, k.due, *(getattr(k, n).percent for n in TREND_TICKET_FIGURES), *(_value(getattr(c, a)) for a in TREND_CALL_FIGURES)))
    return Table("trend", "趋势", "trend", tuple(columns), tuple(rows))


def to_csv(table: Table, language: Language) -> bytes:
    """One table as CSV in UTF-8 with a byte-order mark, so Excel opens the Chinese right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.header(language))
    for row in table.rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def explained() -> tuple[str, ...]:
    """Every formula text a report shows on hover (each once): what the desk's catalogues
    must translate."""
    texts = [d.doc for d in kpi.TICKET_KPIS.values()] + [c.doc for _, c in CALL_FIGURES] + [THRESHOLD.doc, TALK_TIME.doc]
    return tuple(dict.fromkeys(texts))


def to_xlsx(report_tables: Sequence[Table], language: Language, heading: Sequence[tuple[str, str]], explain: Callable[[str], str] = str) -> bytes:
    """The tables as one workbook, a sheet each, numbers as numbers (percentages to two
    places), and a first sheet saying what the report is (`heading`: label, value pairs).
    Each figure's header cell carries its formula as a note (`explain` translates it)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font

    book = Workbook()
    about = book.active
    about.title = "报表" if language == "zh" else "report"
    for label, value in heading:
        about.append([label, value])
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 48
    for table in report_tables:
        sheet = book.create_sheet(table.title_zh if language == "zh" else table.title_en)
        sheet.append(table.header(language))
        for cell, column in zip(sheet[1], table.columns, strict=True):
            cell.font = Font(bold=True)
            if column.doc:
                cell.comment = Comment(explain(column.doc), "12319", width=360, height=160)
        for row in table.rows:
            sheet.append([float(v) if isinstance(v, Decimal) else v for v in row])
        for index, column in enumerate(table.columns, start=1):
            if column.kind in ("percent", "seconds"):
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = "0.00" if column.kind == "percent" else "0.0"
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
