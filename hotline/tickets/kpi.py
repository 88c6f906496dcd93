"""The hotline's KPIs, each defined once: ticket indicators (立案率, 结案率, 按期结案率 …) per
department, category, intake operator and overall, and call-centre figures per queue.

Every ticket KPI is a function below, registered in `TICKET_KPIS`, whose docstring gives its
Chinese and English names, numerator, denominator and which timestamps put a ticket in the
period. It returns SQL conditions; `ticket_kpis` turns each into ``count(*) FILTER (WHERE
…)`` in one grouped query, so no ticket row is ever loaded into Python and SQLite and
PostgreSQL compute the same integers. Rates are then formed in Python with `Decimal`.

Periods are half-open, ``[start, end)``: a ticket closed exactly at ``end`` belongs to the next
period. Figures are computed from each ticket's current state (the columns the workflow in
`hotline.tickets.services` maintains), so a past period's figures still move when one of its cases is
reopened, extended or closed late; export them to freeze them.

A *case* (案件) below is a ticket that was registered (立案) and is neither rejected nor
answered directly: only cases are dispatched, get deadlines and are closed. See docs/kpi.md
for the table of formulas and which of them are official.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Column, ColumnElement, Integer, Select, and_, bindparam, case, func, literal, literal_column, null, or_, select, text, union_all
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, BooleanClauseList, Grouping, UnaryExpression

from hotline.storage.models import INTAKE_WHERE, Call, CallDisposition, Category, Department, Ticket, TicketEvent, TicketStatus, User, UTCDateTime
from hotline.tickets.workflow import FINISHED, Action

__all__ = [
    "CALL_SERVICE_LEVEL_SECONDS",
    "GROUPINGS",
    "INTAKE_ACTIONS",
    "SHANGHAI",
    "TICKET_KPIS",
    "CallKpis",
    "CallReport",
    "Group",
    "GroupBy",
    "KpiDefinition",
    "Mean",
    "OperatorCallKpis",
    "Period",
    "Ratio",
    "TicketKpis",
    "TicketReport",
    "Window",
    "call_kpis",
    "call_kpis_by_operator",
    "call_kpis_per_period",
    "call_kpis_with_operators",
    "date_range_period",
    "day_period",
    "day_series",
    "kpi_condition",
    "month_period",
    "month_series",
    "monthly_report",
    "ticket_kpi_series",
    "ticket_kpis",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: GB/T 33358-2016: a government hotline answers within 15 seconds.
CALL_SERVICE_LEVEL_SECONDS = 15

GroupBy = Literal["department", "category", "major_category", "operator"]
#: Every grouping `ticket_kpis` knows, in the order the report offers them.
GROUPINGS: tuple[GroupBy, ...] = ("department", "category", "major_category", "operator")
#: The intake moves: 受理 and the first decision on what was taken in (立案, 不予立案, 直接答复).
#: A ticket counts for the desk user of the first of these in its history (see `_intake_user`).
INTAKE_ACTIONS = (Action.RECEIVE, Action.REGISTER, Action.REJECT, Action.ANSWER)

_PERCENT = Decimal("0.01")
_RATE = Decimal("0.000001")
_SECONDS = Decimal("0.1")


# -- values


@dataclass(frozen=True)
class Ratio:
    """One rate with the counts behind it; `rate` and `percent` are None when nothing is in the
    denominator (an empty period is "no figure", not 0 % or 100 %).

    `rate` is the fraction to 6 places, `percent` the percentage to 2 places, both rounded half
    up from the exact counts (911/972 → rate 0.937243, percent 93.72).
    """

    numerator: int
    denominator: int
    rate: Decimal | None = field(init=False)
    percent: Decimal | None = field(init=False)

    def __post_init__(self) -> None:
        if not 0 <= self.numerator <= self.denominator:
            raise ValueError(f"a ratio needs 0 <= numerator <= denominator, got {self.numerator}/{self.denominator}")
        if self.denominator == 0:
            rate = percent = None
        else:
            exact = Decimal(self.numerator) / Decimal(self.denominator)
            rate = exact.quantize(_RATE, ROUND_HALF_UP)
            percent = (exact * 100).quantize(_PERCENT, ROUND_HALF_UP)
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "percent", percent)

    def __str__(self) -> str:
        shown = "—" if self.percent is None else f"{self.percent} %"
        return f"{self.numerator}/{self.denominator} = {shown}"


@dataclass(frozen=True)
class Mean:
    """An average with its sum and count; `value` (to 0.1) is None when `count` is 0."""

    total: int
    count: int
    value: Decimal | None = field(init=False)

    def __post_init__(self) -> None:
        value = None if self.count == 0 else (Decimal(self.total) / Decimal(self.count)).quantize(_SECONDS, ROUND_HALF_UP)
        object.__setattr__(self, "value", value)


@dataclass(frozen=True)
class Period:
    """A reporting period ``[start, end)`` of aware datetimes."""

    start: datetime
    end: datetime
    label: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period needs aware datetimes (with a time zone)")
        if not self.start < self.end:
            raise ValueError(f"a period must start before it ends: {self.start.isoformat()} .. {self.end.isoformat()}")


def month_period(year: int, month: int, tz: tzinfo | str = SHANGHAI) -> Period:
    """The calendar month ``[1st 00:00, next 1st 00:00)`` in `tz`, labelled ``YYYY-MM``."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, got {month}")
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    return Period(datetime(year, month, 1, tzinfo=zone), datetime(next_year, next_month, 1, tzinfo=zone), f"{year:04d}-{month:02d}")


def month_series(year: int, month: int, count: int, tz: tzinfo | str = SHANGHAI) -> tuple[Period, ...]:
    """`count` consecutive calendar months in `tz`, the first being `year`-`month`."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    index = year * 12 + month - 1
    return tuple(month_period((index + i) // 12, (index + i) % 12 + 1, tz) for i in range(count))


@dataclass(frozen=True)
class Window:
    """A period as the formulas see it. `due_end` is ``min(end, now)``: a deadline at or after
    it has not fallen yet, so an unfinished period never counts tomorrow's deadlines as due."""

    start: datetime
    end: datetime
    due_end: datetime

    @classmethod
    def of(cls, period: Period, now: datetime | None = None) -> Window:
        now = datetime.now(UTC) if now is None else now
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        return cls(period.start, period.end, min(period.end, now))


# -- ticket KPI definitions

Condition = ColumnElement[bool]
#: A formula's (numerator, denominator) conditions; the denominator is None for a count.
Terms = tuple[Condition, Condition | None]
Formula = Callable[[Window], Terms]


@dataclass(frozen=True)
class KpiDefinition:
    """A ticket KPI: its names, where its formula comes from, and its SQL conditions.

    `formula(window)` returns ``(numerator, denominator)``; the denominator is None for a KPI
    that is a plain count (逾期未结案数). A numerator always implies its denominator.
    """

    name: str
    name_zh: str
    name_en: str
    #: The published figure the formula reproduces, or None when the definition is ours.
    official: str | None
    #: The formula in words: the function's docstring.
    doc: str
    formula: Formula
    is_count: bool


_REGISTRY: dict[str, KpiDefinition] = {}
#: Every ticket KPI by attribute name (as in `TicketKpis`), in report order.
TICKET_KPIS: Mapping[str, KpiDefinition] = MappingProxyType(_REGISTRY)
_PROBE = Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 2, 1, tzinfo=UTC), datetime(2000, 2, 1, tzinfo=UTC))


def _kpi(name_zh: str, name_en: str, *, official: str | None = None) -> Callable[[Formula], Formula]:
    def register(formula: Formula) -> Formula:
        doc = " ".join((formula.__doc__ or "").split())
        _REGISTRY[formula.__name__] = KpiDefinition(formula.__name__, name_zh, name_en, official, doc, formula, formula(_PROBE)[1] is None)
        return formula

    return register


def _in(column: QueryableAttribute[datetime] | QueryableAttribute[datetime | None], w: Window | Period) -> Condition:
    return and_(column >= w.start, column < w.end)


#: A case (案件): registered, and not taken out of the process by rejection or a direct answer.
_IS_CASE: Condition = and_(Ticket.registered_at.is_not(None), Ticket.status.not_in([TicketStatus.REJECTED, TicketStatus.ANSWERED]))


def _received(w: Window) -> Condition:
    return _in(Ticket.created_at, w)


def _closed(w: Window) -> Condition:
    return and_(_IS_CASE, _in(Ticket.closed_at, w))


def _deadline_fell(w: Window) -> Condition:
    return and_(_IS_CASE, Ticket.deadline_at >= w.start, Ticket.deadline_at < w.due_end)


def _overdue_open(w: Window) -> Condition:
    return and_(_deadline_fell(w), or_(Ticket.closed_at.is_(None), Ticket.closed_at >= w.end))


def _due(w: Window) -> Condition:
    return or_(_closed(w), _overdue_open(w))


def _handled(w: Window) -> Condition:
    return and_(_IS_CASE, _in(Ticket.handled_at, w))


def _overdue_unhandled(w: Window) -> Condition:
    return and_(_deadline_fell(w), or_(Ticket.handled_at.is_(None), Ticket.handled_at >= w.end))


def _handle_due(w: Window) -> Condition:
    return or_(_handled(w), _overdue_unhandled(w))


def _dispatched(w: Window) -> Condition:
    return and_(_IS_CASE, _in(Ticket.first_dispatched_at, w))


@_kpi("立案率", "registration rate", official="福州 2015-05: 33928 / 36314 = 93.43 %")
def registration_rate(w: Window) -> Terms:
    """立案率 = 立案数 / 受理数. Denominator 受理数: tickets received (created_at) in the
    period, whatever became of them. Numerator 立案数: those of them registered (registered_at
    set), whenever that happened; the period's figure settles once its last pending ticket is
    registered, rejected or answered."""
    return and_(_received(w), Ticket.registered_at.is_not(None)), _received(w)


@_kpi("结案率", "closure rate", official="天门: 911 / 972 = 93.72 %")
def closure_rate(w: Window) -> Terms:
    """结案率 = 结案数 / 应结案数. Numerator 结案数: cases closed (closed_at) in the period.
    Denominator 应结案数: cases closed in the period plus cases whose deadline in force
    (deadline_at) fell in the period, before now, and that were not closed by the period's end
    (逾期未结案数), so an overdue open case is never left out; 应结案数 = 结案数 + 逾期未结案数."""
    return _closed(w), _due(w)


@_kpi("按期结案率", "on-time closure rate", official="天门: 737 / 972 = 75.82 %")
def on_time_closure_rate(w: Window) -> Terms:
    """按期结案率 (按时结案率) = 按期结案数 / 应结案数. Numerator 按期结案数: cases closed in
    the period at or before their deadline in force (closed_on_time). Denominator 应结案数, as
    for 结案率: closed in the period, or due in the period and still open at its end; never
    "on time / closed", which hides the cases that are open and overdue."""
    return and_(_closed(w), Ticket.closed_on_time.is_(True)), _due(w)


@_kpi("逾期未结案数", "overdue open cases")
def overdue_open(w: Window) -> Terms:
    """逾期未结案数: cases whose deadline in force (deadline_at) fell in the period, before now,
    and that were not closed by the end of the period (still open, or closed later). A count;
    it is the part of 应结案数 that 结案数 does not cover."""
    return _overdue_open(w), None


@_kpi("返工率", "rework rate")
def rework_rate(w: Window) -> Terms:
    """返工率 = 返工结案数 / 结案数 (our definition; the official formula text was not found).
    Denominator: cases closed (closed_at) in the period. Numerator: those of them sent back at
    least once because verification failed (rework_count > 0). Counted at closure because only
    then is a case's rework history complete."""
    return and_(_closed(w), Ticket.rework_count > 0), _closed(w)


@_kpi("延期率", "extension rate")
def extension_rate(w: Window) -> Terms:
    """延期率 = 延期案件数 / 应结案数 (our definition; the official formula text was not found).
    Denominator 应结案数, as for 结案率. Numerator: those cases with at least one approved
    extension (extension_count > 0). Share of the cases that came due which needed more time."""
    return and_(_due(w), Ticket.extension_count > 0), _due(w)


@_kpi("处置率", "handling rate")
def handling_rate(w: Window) -> Terms:
    """处置率 = 处置数 / 应处置数 (our definition, built like 结案率 for the department's part).
    Numerator 处置数: cases whose department reported them handled (handled_at) in the period.
    Denominator 应处置数: 处置数 plus 逾期未处置数, the cases whose deadline fell in the period,
    before now, without a handling report for the current round by the period's end."""
    return _handled(w), _handle_due(w)


@_kpi("按期处置率", "on-time handling rate")
def on_time_handling_rate(w: Window) -> Terms:
    """按期处置率 = 按期处置数 / 应处置数 (our definition). Numerator 按期处置数: cases handled
    (handled_at) in the period at or before the deadline then in force (handled_on_time).
    Denominator 应处置数, as for 处置率."""
    return and_(_handled(w), Ticket.handled_on_time.is_(True)), _handle_due(w)


@_kpi("逾期未处置数", "overdue unhandled cases")
def overdue_unhandled(w: Window) -> Terms:
    """逾期未处置数: cases whose deadline in force (deadline_at) fell in the period, before now,
    and that had no handling report for the current round by the period's end (handled_at unset,
    or set after the end). A count; the part of 应处置数 that 处置数 does not cover."""
    return _overdue_unhandled(w), None


@_kpi("办结率", "completion rate")
def completion_rate(w: Window) -> Terms:
    """办结率 = 办结数 / 受理数 (our definition, the hotline's view of what it took in).
    Denominator: tickets received (created_at) in the period. Numerator: those of them finished
    now, i.e. in a status `hotline.tickets.workflow.FINISHED` names (closed, rejected with a reason,
    answered directly); a reopened ticket is unfinished again."""
    return and_(_received(w), Ticket.status.in_(sorted(FINISHED))), _received(w)


@_kpi("反馈率", "feedback rate")
def feedback_rate(w: Window) -> Terms:
    """反馈率 = 已反馈数 / 派遣数 (our definition: feedback is the department's 处理反馈 stage).
    Denominator 派遣数: cases first dispatched (first_dispatched_at) in the period. Numerator:
    those of them whose department has reported the current round handled (handled_at set);
    a rework or reopen withdraws the report until the department reports again."""
    return and_(_dispatched(w), Ticket.handled_at.is_not(None)), _dispatched(w)


@_kpi("回访率", "callback rate")
def callback_rate(w: Window) -> Terms:
    """回访率 = 已回访数 / 应回访数 (our definition). Denominator: cases closed (closed_at) in
    the period that have a caller number to call. Numerator: those of them whose citizen
    answered a satisfaction callback after the closure (callback_at >= closed_at, satisfied
    set)."""
    callable_closed = and_(_closed(w), Ticket.caller_number != "")
    return and_(callable_closed, Ticket.callback_at >= Ticket.closed_at, Ticket.satisfied.is_not(None)), callable_closed


@_kpi("满意率", "satisfaction rate")
def satisfaction_rate(w: Window) -> Terms:
    """满意率 = 满意数 / 回访数 (our definition; final answer per ticket). Denominator: tickets
    (cases and direct answers alike) whose latest callback answer (callback_at) was given in the
    period. Numerator: those whose answer is on the satisfied side of the configured scale
    (satisfied; by default 满意 and 基本满意). A ticket counts once, with its latest answer."""
    answered = and_(_in(Ticket.callback_at, w), Ticket.satisfied.is_not(None))
    return and_(answered, Ticket.satisfied.is_(True)), answered


def kpi_condition(name: str, period: Period, *, part: Literal["numerator", "denominator"] = "numerator", now: datetime | None = None) -> Condition:
    """The condition selecting the tickets behind one KPI's numerator or denominator, for a
    drill-down list: ``select(Ticket).where(kpi_condition("overdue_open", period))``."""
    try:
        definition = TICKET_KPIS[name]
    except KeyError:
        raise ValueError(f"unknown KPI {name!r}; known: {', '.join(TICKET_KPIS)}") from None
    numerator, denominator = definition.formula(Window.of(period, now))
    if part == "numerator":
        return numerator
    if part == "denominator":
        if denominator is None:
            raise ValueError(f"{name} is a count and has no denominator")
        return denominator
    raise ValueError(f"part must be 'numerator' or 'denominator', got {part!r}")


# -- ticket reports


@dataclass(frozen=True)
class Group:
    """What a row of a report is about. `id` None is the row of tickets without a department
    (or category); `kind` 'overall' is the whole period."""

    kind: Literal["overall", "department", "category", "major_category", "operator"]
    id: int | None = None
    code: str = ""
    name_zh: str = ""
    name_en: str = ""


OVERALL = Group("overall", None, "", "合计", "overall")


@dataclass(frozen=True)
class TicketKpis:
    """The ticket KPIs of one group; each field is named as in `TICKET_KPIS`."""

    group: Group
    registration_rate: Ratio
    closure_rate: Ratio
    on_time_closure_rate: Ratio
    overdue_open: int
    rework_rate: Ratio
    extension_rate: Ratio
    handling_rate: Ratio
    on_time_handling_rate: Ratio
    overdue_unhandled: int
    completion_rate: Ratio
    feedback_rate: Ratio
    callback_rate: Ratio
    satisfaction_rate: Ratio

    @property
    def received(self) -> int:
        """受理数."""
        return self.registration_rate.denominator

    @property
    def registered(self) -> int:
        """立案数."""
        return self.registration_rate.numerator

    @property
    def due(self) -> int:
        """应结案数."""
        return self.closure_rate.denominator

    @property
    def closed(self) -> int:
        """结案数."""
        return self.closure_rate.numerator

    @property
    def closed_on_time(self) -> int:
        """按期结案数."""
        return self.on_time_closure_rate.numerator

    def as_row(self) -> dict[str, object]:
        """A flat row for CSV: group columns, then per KPI its numerator, denominator and
        percent (a count KPI is one column)."""
        row: dict[str, object] = {"group": self.group.kind, "group_id": self.group.id, "code": self.group.code, "name_zh": self.group.name_zh, "name_en": self.group.name_en}
        for name in TICKET_KPIS:
            value = getattr(self, name)
            if isinstance(value, Ratio):
                row[f"{name}_numerator"] = value.numerator
                row[f"{name}_denominator"] = value.denominator
                row[f"{name}_percent"] = value.percent
            else:
                row[name] = value
        return row


@dataclass(frozen=True)
class TicketReport:
    """Ticket KPIs for one period: overall, and one row per group when grouped. The overall
    figures are the sums of the rows' counts (every ticket is in exactly one row)."""

    period: Period
    by: GroupBy | None
    overall: TicketKpis
    rows: tuple[TicketKpis, ...] = ()

    def row(self, group_id: int | None) -> TicketKpis | None:
        return next((r for r in self.rows if r.group.id == group_id), None)


def _count(condition: Condition) -> ColumnElement[int]:
    """The rows for which `condition` is true (not false, not NULL), as
    ``count(*) FILTER (WHERE condition)``: the same count as ``SUM(CASE WHEN condition THEN
    1 ELSE 0 END)``, without a CASE and an addition per row. Measured at 1 M tickets on
    PostgreSQL: a quarter's report 111-118 → 101-108 ms of CPU, a trend half 75 → 67 ms."""
    return func.count().filter(condition)


def _terms(w: Window) -> list[tuple[str, Condition]]:
    """Every KPI's numerator and denominator condition, labelled ``<name>__n`` / ``<name>__d``."""
    terms: list[tuple[str, Condition]] = []
    for definition in TICKET_KPIS.values():
        numerator, denominator = definition.formula(w)
        terms.append((f"{definition.name}__n", numerator))
        if denominator is not None:
            terms.append((f"{definition.name}__d", denominator))
    return terms


def _ticket_columns(w: Window) -> list[ColumnElement[Any]]:
    """One count (`_count`) per KPI numerator and denominator over the tickets themselves: the formulas
    as written, each evaluated whole on every row (what `_flag_statement` is checked against)."""
    return [_count(condition).label(label) for label, condition in _terms(w)]


def _leaves(condition: ColumnElement[Any], found: list[ColumnElement[Any]]) -> None:
    """Add to `found` the tests `condition` is made of, once each: what is left when its
    AND, OR, NOT and parentheses are taken apart (``closed_at >= :w_start``, ``rework_count >
    0``, ``status NOT IN (…)``). Two tests are the same when SQLAlchemy compares them equal,
    bound values included."""
    if isinstance(condition, Grouping):
        _leaves(cast(ColumnElement[Any], condition.element), found)
    elif isinstance(condition, BooleanClauseList) or (isinstance(condition, UnaryExpression) and condition.operator is operators.inv):
        for part in condition.get_children():
            _leaves(cast(ColumnElement[Any], part), found)
    elif not any(leaf.compare(condition) for leaf in found):
        found.append(condition)


def _flag_statement(by: GroupBy | None, w: Window) -> tuple[Select[Any], tuple[str, ...]]:
    """The report query, made from the formulas so that each test is evaluated once per ticket.

    The formulas share their tests (``registered_at IS NOT NULL`` is in a dozen of them), and
    evaluated whole in ~25 count columns they cost ~1.6 µs per ticket on PostgreSQL: most
    of a quarter's report. Here an inner query (kept apart by OFFSET 0, which neither database
    flattens) computes each distinct test (`_leaves`) once per ticket the period touches, as a
    column ``f<i>``; the outer query sums the same formulas with each test replaced by its
    column. Replacing an expression by its value changes no result, NULLs included, so every
    count is the formula's own; a test (tests/test_kpi_paths.py) compares both on both
    databases over generated tickets, periods and `now`s.
    """
    terms = _terms(w)
    leaves: list[ColumnElement[Any]] = []
    for _, condition in terms:
        _leaves(condition, leaves)
    key = [_group_key(by).label("group_id")] if by is not None else []
    inner = select(*key, *(leaf.label(f"f{i}") for i, leaf in enumerate(leaves))).select_from(Ticket)
    if by == "major_category":
        inner = inner.outerjoin(Category, Category.id == Ticket.category_id)
    flags = inner.where(_touches(w)).offset(0).subquery("flags")

    def flag(element: Any, **_: Any) -> Any:
        return next((flags.c[f"f{i}"] for i, leaf in enumerate(leaves) if type(leaf) is type(element) and leaf.compare(element)), None)

    columns: list[ColumnElement[Any]] = []
    no_options: dict[str, Any] = {}
    for label, condition in terms:
        swapped = visitors.replacement_traverse(condition, no_options, flag)
        left = [c for c in visitors.iterate(swapped) if isinstance(c, Column) and c.table is Ticket.__table__]
        if left:  # pragma: no cover - every leaf is replaced by construction
            raise AssertionError(f"{label}: {left} still read from the tickets")
        columns.append(_count(swapped).label(label))
    labels = tuple(label for label, _ in terms)
    stmt: Select[Any] = select(*columns) if by is None else select(flags.c.group_id, *columns).group_by(flags.c.group_id)
    return stmt, labels


def _touches(w: Window) -> Condition:
    """The WHERE: tickets with a timestamp some formula reads inside the period. Every formula
    puts a ticket in its period through one of these, so this admits every ticket counted,
    and each arm is a plain range an index can serve."""
    return or_(
        _in(Ticket.created_at, w),
        _in(Ticket.closed_at, w),
        and_(Ticket.deadline_at >= w.start, Ticket.deadline_at < w.due_end),
        _in(Ticket.handled_at, w),
        _in(Ticket.first_dispatched_at, w),
        _in(Ticket.callback_at, w),
    )


def _group_key(by: GroupBy) -> ColumnElement[Any]:
    if by == "department":
        # "+ 0" keeps SQLite from walking all of ix_tickets_department_id_status in order just
        # to skip a sort (a full scan, measured 3-4x slower), so the WHERE's indexes serve.
        return Ticket.department_id + 0
    if by == "category":
        return Ticket.category_id.expression
    if by == "major_category":
        # A minor class rolls up to its parent; a ticket filed under a major class stays there.
        return func.coalesce(Category.parent_id, Category.id)
    if by == "operator":
        # `_intake_user()` for each ticket, kept on the ticket by the database (migration 0015).
        return Ticket.intake_user_id.expression
    raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, got {by!r}")


def _intake_user() -> ColumnElement[Any]:
    """The operator a ticket counts for: the desk user of the first intake move in its history
    (`INTAKE_ACTIONS`), i.e. who took the call in (受理); for a ticket that arrived without one
    (voicemail, Open311, the web) who first decided it (立案, 不予立案 or 直接答复). NULL while
    no desk user has touched it.

    This is the definition; the reports read its value from `Ticket.intake_user_id`, which a
    trigger (migration 0015) recomputes with this same lookup after each intake move is
    inserted; the history is append-only, so nothing else can change the answer, and
    tests/test_kpi_paths.py checks both agree. The lookup is one probe of the partial index
    ix_ticket_events_intake, whose WHERE is this one (`INTAKE_WHERE`, written as literal SQL so
    that both planners, also PostgreSQL's generic plan, see it applies)."""
    first = select(TicketEvent.actor_user_id).where(TicketEvent.ticket_id == Ticket.id, text(INTAKE_WHERE)).order_by(TicketEvent.seq).limit(1)
    return first.correlate(Ticket).scalar_subquery()


def _kpis(group: Group, counts: Mapping[Any, Any]) -> TicketKpis:
    values: dict[str, Any] = {}
    for definition in TICKET_KPIS.values():
        numerator = int(counts[f"{definition.name}__n"])
        denominator_key = f"{definition.name}__d"
        values[definition.name] = Ratio(numerator, int(counts[denominator_key])) if denominator_key in counts else numerator
    return TicketKpis(group=group, **values)


_UNGROUPED = {
    "department": ("未分派", "unassigned"),
    "category": ("未分类", "uncategorised"),
    "major_category": ("未分类", "uncategorised"),
    "operator": ("未经话务员受理", "not taken in by an operator"),
}


def _groups(session: Session, by: GroupBy, ids: Iterable[int | None]) -> dict[int | None, Group]:
    """Codes and names of the groups in a report (one small lookup), and the row for none.
    An operator's code is the username, the name the display name (or the username)."""
    found: dict[int | None, Group] = {None: Group(by, None, "", *_UNGROUPED[by])}
    wanted = [i for i in ids if i is not None]
    if wanted and by == "operator":
        for id_, username, display in session.execute(select(User.id, User.username, User.display_name).where(User.id.in_(wanted))):
            found[id_] = Group(by, id_, username, display or username, display or username)
        return found
    model: type[Department] | type[Category] = Department if by == "department" else Category
    if wanted:
        for id_, code, name_zh, name_en in session.execute(select(model.id, model.code, model.name_zh, model.name_en).where(model.id.in_(wanted))):
            found[id_] = Group(by, id_, code, name_zh, name_en)
    return found


#: The window as bound parameters: the report statements are built once (building ~25
#: count columns costs more than running them on a warm database) and run with the period's
#: bounds as parameters, and SQLAlchemy's compiled cache then serves every later report.
_BOUND = Window(
    cast(datetime, bindparam("w_start", type_=UTCDateTime())),
    cast(datetime, bindparam("w_end", type_=UTCDateTime())),
    cast(datetime, bindparam("w_due_end", type_=UTCDateTime())),
)


def _window_parameters(w: Window) -> dict[str, datetime]:
    return {"w_start": w.start, "w_end": w.end, "w_due_end": w.due_end}


#: How a test of a ticket's timestamp against the window reads for bucket ``i`` of contiguous
#: periods ``[B_0, B_1), …, [B_n-1, B_n)``, in terms of the timestamp's bucket index ``k``
#: (`_bucket_index`: the largest k with B_k <= the timestamp; -1 before B_0, n from B_n):
#: ``t >= B_i`` is ``k >= i``, ``t < B_i+1`` is ``k <= i``, ``t >= B_i+1`` is ``k > i``, and
#: ``t < min(B_i+1, now)`` is ``k <= i`` and ``t < now``. NULL stays NULL.
_BUCKET_TESTS: Mapping[tuple[Any, str], Callable[[ColumnElement[int], ColumnElement[int], ColumnElement[Any]], Condition]] = {
    (operators.ge, "w_start"): lambda k, i, _: k >= i,
    (operators.lt, "w_end"): lambda k, i, _: k <= i,
    (operators.ge, "w_end"): lambda k, i, _: k > i,
    (operators.lt, "w_due_end"): lambda k, i, before_now: and_(k <= i, before_now),
}


def _bucket_index(column: ColumnElement[Any], bounds: Sequence[ColumnElement[Any]]) -> ColumnElement[int]:
    """The index of the bucket `column` falls in: the largest k with ``bounds[k] <= column``,
    -1 before the first bound, NULL for NULL; a balanced CASE, so log2(buckets) comparisons."""

    def search(low: int, high: int) -> ColumnElement[int]:
        if low == high:
            return literal_column(str(low), Integer)
        middle = (low + high + 1) // 2
        return case((column >= bounds[middle], search(middle, high)), else_=search(low, middle - 1))

    return case((column.is_(None), null()), else_=search(-1, len(bounds) - 1))


def _window_test(leaf: ColumnElement[Any]) -> tuple[Column[Any], str, Any] | None:
    """(ticket column, window bound, operator) when `leaf` compares a ticket's column with a
    bound of `_BOUND`; None when it reads no bound; an error for any other use of a bound,
    which `_series_statement` would not know how to split per bucket."""
    bounds = {p.key for p in visitors.iterate(leaf) if isinstance(p, BindParameter)} & {"w_start", "w_end", "w_due_end"}
    if not bounds:
        return None
    compares = isinstance(leaf, BinaryExpression) and isinstance(leaf.left, Column) and leaf.left.table is Ticket.__table__ and isinstance(leaf.right, BindParameter)
    if compares and (leaf.operator, leaf.right.key) in _BUCKET_TESTS:
        return leaf.left, leaf.right.key, leaf.operator
    raise NotImplementedError(f"a formula test {leaf} reads the window in a way the trend's one statement cannot split per bucket; add it to _BUCKET_TESTS")


@functools.cache
def _series_statement(count: int) -> tuple[Select[Any], tuple[str, ...]]:
    """The case figures of `count` contiguous periods in one statement, made from the formulas.

    A trend of a month as one `ticket_kpis` per day is 31 statements, each planned (~2 ms on
    PostgreSQL) and each re-reading the tickets it shares with its neighbours. Here:

    1. one pass over the tickets any period touches (`_touches` of the whole span) computes
       per ticket the bucket index of each timestamp a formula compares with the window
       (`_bucket_index` over the bounds B_0 … B_count), whether the deadline is before now,
       and each other test of the formulas once (as `_flag_statement` does);
    2. each ticket is paired with every bucket one of `_touches`'s timestamps falls in (a
       ticket no timestamp puts in a bucket counts for nothing there, as `_touches` says);
    3. the formulas are summed per bucket with each window test rewritten by `_BUCKET_TESTS`
       and each other test replaced by its value.

    The rewrites are exact for contiguous buckets, and tests/test_kpi_paths.py compares the
    result with each bucket's formulas evaluated whole, on both databases.
    """
    bounds = [bindparam(f"b{k}", type_=UTCDateTime()) for k in range(count + 1)]
    now = bindparam("w_now", type_=UTCDateTime())
    whole = Window(cast(datetime, bounds[0]), cast(datetime, bounds[-1]), cast(datetime, bindparam("w_due_end", type_=UTCDateTime())))
    terms = _terms(_BOUND)
    leaves: list[ColumnElement[Any]] = []
    for _, condition in terms:
        _leaves(condition, leaves)
    windowed = {i: test for i, leaf in enumerate(leaves) if (test := _window_test(leaf)) is not None}
    # The timestamps `_touches` puts a ticket in a period by (its tests against the start).
    found: list[ColumnElement[Any]] = []
    _leaves(_touches(_BOUND), found)
    touching: list[Column[Any]] = []
    for leaf in found:
        test = _window_test(leaf)
        if test is not None and test[1] == "w_start" and test[0].name not in {c.name for c in touching}:
            touching.append(test[0])
    stamps = {c.name: c for c in touching} | {column.name: column for column, _, _ in windowed.values()}
    per_ticket: list[ColumnElement[Any]] = [_bucket_index(column, bounds).label(f"k_{name}") for name, column in stamps.items()]
    per_ticket += [(column < now).label(f"n_{column.name}") for column, bound, _ in windowed.values() if bound == "w_due_end"]
    per_ticket += [leaf.label(f"f{i}") for i, leaf in enumerate(leaves) if i not in windowed]
    tickets = select(*per_ticket).where(_touches(whole)).cte("ticket_buckets").prefix_with("MATERIALIZED")
    arms = []
    for n, column in enumerate(touching):
        k = tickets.c[f"k_{column.name}"]
        # Each (ticket, bucket) once: an earlier timestamp in the same bucket already paired them.
        first = [k.is_distinct_from(tickets.c[f"k_{earlier.name}"]) for earlier in touching[:n]]
        arms.append(select(k.label("bucket"), *tickets.c).where(k >= 0, k < bindparam("buckets", type_=Integer()), *first))
    pairs = union_all(*arms).subquery("pairs")

    def rewrite(element: Any, **_: Any) -> Any:
        for i, leaf in enumerate(leaves):
            if type(leaf) is type(element) and leaf.compare(element):
                if i not in windowed:
                    return pairs.c[f"f{i}"]
                column, bound, operator = windowed[i]
                before_now: ColumnElement[Any] = pairs.c[f"n_{column.name}"] if bound == "w_due_end" else null()
                return _BUCKET_TESTS[operator, bound](pairs.c[f"k_{column.name}"], pairs.c.bucket, before_now)
        return None

    no_options: dict[str, Any] = {}
    columns = [_count(visitors.replacement_traverse(condition, no_options, rewrite)).label(label) for label, condition in terms]
    return select(pairs.c.bucket, *columns).group_by(pairs.c.bucket), tuple(label for label, _ in terms)


def _padded(count: int) -> int:
    """The number of buckets a statement for `count` periods is built for: 16, 32, 64 …, so
    that a few statements serve every count (building and compiling one takes ~60 ms; a
    statement per count made each new length of trend pay it)."""
    return max(16, 1 << (count - 1).bit_length())


#: The longest period `ticket_kpi_series` counts in one statement with its neighbours: a day
#: (25 hours, for the day a daylight-saving clock goes back).
_DAY = timedelta(hours=25)


def _series(session: Session, periods: Sequence[Period], now: datetime | None) -> tuple[TicketReport, ...]:
    """`ticket_kpis` overall for each of `periods`, which follow each other without a gap,
    in one statement (`_series_statement`)."""
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    stmt, labels = _series_statement(_padded(len(periods)))
    parameters: dict[str, Any] = {f"b{k}": p.start for k, p in enumerate(periods)}
    # The bounds past the last period repeat its end: a timestamp at or after it gets an index
    # of at least len(periods), which compares with every real bucket as len(periods) would.
    parameters |= {f"b{k}": periods[-1].end for k in range(len(periods), _padded(len(periods)) + 1)}
    parameters |= {"buckets": len(periods), "w_now": now, "w_due_end": min(periods[-1].end, now)}
    found = {int(row.bucket): row._mapping for row in session.execute(stmt, parameters)}
    empty = dict.fromkeys(labels, 0)
    return tuple(TicketReport(p, None, _kpis(OVERALL, found.get(i, empty))) for i, p in enumerate(periods))


@functools.cache
def _ticket_statement(by: GroupBy | None) -> tuple[Select[Any], tuple[str, ...]]:
    """The report query for a grouping, over `_BOUND`, and its count columns' labels."""
    return _flag_statement(by, _BOUND)


def ticket_kpis(session: Session, period: Period, *, by: GroupBy | None = None, now: datetime | None = None) -> TicketReport:
    """Every ticket KPI for `period`, overall and, with `by`, per department, minor category,
    major category or intake operator, in one aggregate query.

    Args:
        now: the moment deadlines are read against (default: the current time); deadlines at
            or after it have not fallen yet. Pass a fixed time for reproducible figures.
    """
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, got {by!r}")
    w = Window.of(period, now)
    stmt, labels = _ticket_statement(by)
    if by is None:
        counts = session.execute(stmt, _window_parameters(w)).one()._mapping
        return TicketReport(period, None, _kpis(OVERALL, counts))
    # Plain dicts: ~190 rows of 24 counts are read several times each, and a row's mapping
    # looks each key up through SQLAlchemy's Python code.
    grouped = {row.group_id: dict(row._mapping) for row in session.execute(stmt, _window_parameters(w))}
    names = _groups(session, by, grouped)
    groups = {g: names.get(g, Group(by, g)) for g in grouped}
    ordered = sorted(grouped, key=lambda g: (g is None, groups[g].code, g or 0))
    rows = tuple(_kpis(groups[g], grouped[g]) for g in ordered)
    totals = {label: sum(int(c[label]) for c in grouped.values()) for label in labels}
    return TicketReport(period, by, _kpis(OVERALL, totals), rows)


def ticket_kpi_series(session: Session, periods: Iterable[Period], *, by: GroupBy | None = None, now: datetime | None = None) -> tuple[TicketReport, ...]:
    """`ticket_kpis` for each period (e.g. `month_series(2026, 1, 12)`, or a month's days for
    a trend). Ungrouped days that follow each other without a gap are counted in one statement
    (`_series_statement`); otherwise each period is one run of `ticket_kpis`'s statement.

    Measured at 1 M tickets on PostgreSQL: 14 days in one statement 74 ms against 95 ms a day
    at a time, 7 days 29 against 37 ms; but 3 months 244 against 129 ms, as a ticket is paired
    with most months of a range and the per-period statements are few. (One statement joining
    a derived table of the periods was planned as a range scan per period, slower still.)"""
    periods = tuple(periods)
    if by is None and len(periods) > 1 and all(a.end == b.start for a, b in itertools.pairwise(periods)) and all(p.end - p.start <= _DAY for p in periods):
        return _series(session, periods, now)
    return tuple(ticket_kpis(session, p, by=by, now=now) for p in periods)


def monthly_report(session: Session, year: int, month: int, tz: tzinfo | str = SHANGHAI, *, now: datetime | None = None) -> TicketReport:
    """The month's ticket KPIs overall and per department: one aggregate query plus one
    lookup of department names."""
    return ticket_kpis(session, month_period(year, month, tz), by="department", now=now)


# -- call-centre figures


@dataclass(frozen=True)
class CallKpis:
    """Inbound calls offered to one queue (or to all queues: `queue` None) in a period.

    Offered (进线量) are the finished calls that reached the queue; calls still in progress
    are counted apart, because their outcome is not known yet.
    """

    queue: str | None
    offered: int
    answered: int
    abandoned: int
    voicemail: int
    callback_requested: int
    in_progress: int
    threshold_seconds: int
    #: Answered with wait_seconds <= threshold_seconds.
    answered_within_threshold: int
    #: 服务水平: answered within the threshold / offered.
    service_level: Ratio
    #: 接通率: answered / offered (GB/T 33358 asks ≥ 95 %).
    answer_rate: Ratio
    #: 放弃率: abandoned / offered.
    abandon_rate: Ratio
    #: Mean wait in queue of the offered calls with a recorded wait, answered or not.
    average_wait: Mean
    #: Mean wait of the answered calls (average speed of answer).
    average_answer_wait: Mean
    #: Mean talk time of the answered calls with a recorded talk time (handle time without wrap-up).
    average_handle_time: Mean


@dataclass(frozen=True)
class CallReport:
    period: Period
    threshold_seconds: int
    overall: CallKpis
    queues: tuple[CallKpis, ...]
    #: Inbound calls in the period that never reached a queue (IVR self-service, hang-up in
    #: the menu, failures); not part of `offered`.
    not_queued: int

    def queue(self, name: str) -> CallKpis | None:
        return next((q for q in self.queues if q.queue == name), None)


_CALL_COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "voicemail",
    "callback_requested",
    "in_progress",
    "within",
    "wait_total",
    "wait_count",
    "answer_wait_total",
    "answer_wait_count",
    "talk_total",
    "talk_count",
)


def _call_columns(threshold_seconds: int) -> list[ColumnElement[Any]]:
    def is_(disposition: CallDisposition) -> Condition:
        return Call.disposition == disposition

    def total(condition: Condition, value: Any) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    # Still in the IVR or waiting in a queue: the outcome is not known yet.
    going = Call.disposition.in_((CallDisposition.IN_PROGRESS, CallDisposition.QUEUED))
    finished = ~going
    answered = is_(CallDisposition.ANSWERED)
    waited = and_(finished, Call.wait_seconds.is_not(None))
    answer_waited = and_(answered, Call.wait_seconds.is_not(None))
    talked = and_(answered, Call.talk_seconds.is_not(None))
    conditions: dict[str, tuple[Condition, Any]] = {
        "offered": (finished, 1),
        "answered": (answered, 1),
        "abandoned": (is_(CallDisposition.ABANDONED), 1),
        "voicemail": (is_(CallDisposition.VOICEMAIL), 1),
        "callback_requested": (is_(CallDisposition.CALLBACK_REQUESTED), 1),
        "in_progress": (going, 1),
        "within": (and_(answer_waited, Call.wait_seconds <= threshold_seconds), 1),
        "wait_total": (waited, Call.wait_seconds),
        "wait_count": (waited, 1),
        "answer_wait_total": (answer_waited, Call.wait_seconds),
        "answer_wait_count": (answer_waited, 1),
        "talk_total": (talked, Call.talk_seconds),
        "talk_count": (talked, 1),
    }
    return [total(*conditions[name]).label(name) for name in _CALL_COUNTS]


def _call_kpis(queue: str | None, threshold_seconds: int, c: Mapping[str, int]) -> CallKpis:
    offered = c["offered"]
    return CallKpis(
        queue=queue,
        offered=offered,
        answered=c["answered"],
        abandoned=c["abandoned"],
        voicemail=c["voicemail"],
        callback_requested=c["callback_requested"],
        in_progress=c["in_progress"],
        threshold_seconds=threshold_seconds,
        answered_within_threshold=c["within"],
        service_level=Ratio(c["within"], offered),
        answer_rate=Ratio(c["answered"], offered),
        abandon_rate=Ratio(c["abandoned"], offered),
        average_wait=Mean(c["wait_total"], c["wait_count"]),
        average_answer_wait=Mean(c["answer_wait_total"], c["answer_wait_count"]),
        average_handle_time=Mean(c["talk_total"], c["talk_count"]),
    )


#: The service-level threshold as a bound parameter of the cached call statements.
_THRESHOLD: Any = bindparam("sl", type_=Integer())


@functools.cache
def _call_statement() -> Select[Any]:
    """`call_kpis`'s query over `_BOUND`'s start and end, built once."""
    return select(Call.queue, func.count().label("calls"), *_call_columns(_THRESHOLD)).where(Call.direction == "in", _in(Call.started_at, _BOUND)).group_by(Call.queue).order_by(Call.queue)


def call_kpis(session: Session, period: Period, *, threshold_seconds: int = CALL_SERVICE_LEVEL_SECONDS) -> CallReport:
    """Call-centre figures for inbound calls started (started_at) in `period`, per queue and
    overall, in one aggregate query grouped by queue.

    A call is in a queue's figures when `Call.queue` names the queue; calls with no queue
    never asked for (or never reached) an operator and are only counted in `not_queued`.
    """
    if threshold_seconds < 0:
        raise ValueError(f"threshold_seconds must be >= 0, got {threshold_seconds}")
    return _per_queue(period, threshold_seconds, session.execute(_call_statement(), {"w_start": period.start, "w_end": period.end, "sl": threshold_seconds}))


def _per_queue(period: Period, threshold_seconds: int, rows: Iterable[Any]) -> CallReport:
    """The queues' figures from rows of `_call_columns` with a queue, in the rows' order
    (several rows of one queue are added up: every column is a sum)."""
    per_queue: dict[str, dict[str, int]] = {}
    not_queued = 0
    for row in rows:
        if row.queue:
            counts = per_queue.setdefault(row.queue, dict.fromkeys(_CALL_COUNTS, 0))
            for name in _CALL_COUNTS:
                counts[name] += int(row._mapping[name])
        else:
            not_queued += int(row.calls)
    totals = {name: sum(q[name] for q in per_queue.values()) for name in _CALL_COUNTS}
    return CallReport(
        period=period,
        threshold_seconds=threshold_seconds,
        overall=_call_kpis(None, threshold_seconds, totals),
        queues=tuple(_call_kpis(name, threshold_seconds, counts) for name, counts in per_queue.items()),
        not_queued=not_queued,
    )


# -- report periods, series in one query, and call figures per operator


def day_period(day: date, tz: tzinfo | str = SHANGHAI) -> Period:
    """The calendar day ``[00:00, next 00:00)`` in `tz`, labelled ``YYYY-MM-DD``."""
    return date_range_period(day, day, tz)


def date_range_period(first: date, last: date, tz: tzinfo | str = SHANGHAI, label: str = "") -> Period:
    """The whole days `first` .. `last` (both included) in `tz`: ``[first 00:00, last+1 00:00)``."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    if last < first:
        raise ValueError(f"the last day {last.isoformat()} is before the first {first.isoformat()}")
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last + timedelta(days=1), time(0), zone)
    return Period(start, end, label or (first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"))


def day_series(first: date, last: date, tz: tzinfo | str = SHANGHAI) -> tuple[Period, ...]:
    """One `day_period` per day from `first` to `last`, both included."""
    return tuple(day_period(first + timedelta(days=i), tz) for i in range((last - first).days + 1))


@functools.cache
def _call_period_statement(count: int) -> Select[Any]:
    """`call_kpis_per_period`'s query for `count` periods: a CASE over the periods' bound
    bounds gives each call its period, and the counts are `call_kpis`'s columns."""
    bucket = case(
        *((and_(Call.started_at >= bindparam(f"s{i}", type_=UTCDateTime()), Call.started_at < bindparam(f"e{i}", type_=UTCDateTime())), literal(i)) for i in range(count)), else_=literal(-1)
    ).label("period_index")
    where = (Call.direction == "in", _in(Call.started_at, _BOUND), Call.queue != "")
    return select(bucket, *_call_columns(_THRESHOLD)).where(*where).group_by(bucket)


def call_kpis_per_period(session: Session, periods: Sequence[Period], *, threshold_seconds: int = CALL_SERVICE_LEVEL_SECONDS) -> tuple[CallKpis, ...]:
    """`call_kpis` overall for each period, in one query grouped by the period a call started
    in; the counts are `call_kpis`'s own columns."""
    if threshold_seconds < 0:
        raise ValueError(f"threshold_seconds must be >= 0, got {threshold_seconds}")
    if not periods:
        return ()
    parameters: dict[str, Any] = {"w_start": min(p.start for p in periods), "w_end": max(p.end for p in periods), "sl": threshold_seconds}
    for i, p in enumerate(periods):
        parameters |= {f"s{i}": p.start, f"e{i}": p.end}
    # Padded with empty periods [end, end), which no call is in (see `_padded`).
    for i in range(len(periods), _padded(len(periods))):
        parameters |= {f"s{i}": parameters["w_end"], f"e{i}": parameters["w_end"]}
    rows = session.execute(_call_period_statement(_padded(len(periods))), parameters)
    found = {int(row.period_index): {name: int(row._mapping[name]) for name in _CALL_COUNTS} for row in rows}
    empty = dict.fromkeys(_CALL_COUNTS, 0)
    return tuple(_call_kpis(None, threshold_seconds, found.get(i, empty)) for i in range(len(periods)))


@dataclass(frozen=True)
class OperatorCallKpis:
    """The calls one operator answered in a period. An operator is known by their account
    when the desk knew who sat at the seat (`Call.agent_user_id`), else by the seat's
    interface (`name` is empty for answered calls whose seat was not recorded); abandoned
    calls reach no operator, so only the answered side is per operator
    (offered and the rates over offered are the queue's figures)."""

    user_id: int | None
    interface: str
    name: str
    kpis: CallKpis


@functools.cache
def _operator_statement() -> Select[Any]:
    return (
        select(Call.agent_user_id, Call.agent_interface, *_call_columns(_THRESHOLD))
        .where(Call.direction == "in", _in(Call.started_at, _BOUND), Call.disposition == CallDisposition.ANSWERED, Call.queue != "")
        .group_by(Call.agent_user_id, Call.agent_interface)
    )


def call_kpis_by_operator(session: Session, period: Period, *, threshold_seconds: int = CALL_SERVICE_LEVEL_SECONDS) -> tuple[OperatorCallKpis, ...]:
    """Answered inbound calls started in `period`, per operator, with `call_kpis`'s columns
    (answered, within the threshold, mean answer wait, mean handle time)."""
    if threshold_seconds < 0:
        raise ValueError(f"threshold_seconds must be >= 0, got {threshold_seconds}")
    return _per_operator(session, threshold_seconds, session.execute(_operator_statement(), {"w_start": period.start, "w_end": period.end, "sl": threshold_seconds}))


def _per_operator(session: Session, threshold_seconds: int, rows: Iterable[Any]) -> tuple[OperatorCallKpis, ...]:
    """The operators' figures from rows of `_call_columns` over answered queued calls, with
    the seat's account and interface (several rows of one operator are added up)."""
    merged: dict[tuple[int | None, str], dict[str, int]] = {}
    seats: dict[tuple[int | None, str], set[str]] = {}
    for row in rows:
        # One row per account; calls with no known account are kept apart per seat.
        key = (row.agent_user_id, "") if row.agent_user_id is not None else (None, row.agent_interface or "")
        counts = merged.setdefault(key, dict.fromkeys(_CALL_COUNTS, 0))
        for name in _CALL_COUNTS:
            counts[name] += int(row._mapping[name])
        if row.agent_interface:
            seats.setdefault(key, set()).add(row.agent_interface)
    ids = [user_id for user_id, _ in merged if user_id is not None]
    names: dict[int, str] = {}
    if ids:
        names = {i: (d or u) for i, u, d in session.execute(select(User.id, User.username, User.display_name).where(User.id.in_(ids)))}
    out = []
    for (user_id, interface), counts in merged.items():
        name = names.get(user_id, f"#{user_id}") if user_id is not None else interface
        out.append(OperatorCallKpis(user_id, ", ".join(sorted(seats.get((user_id, interface), ()))), name, _call_kpis(None, threshold_seconds, counts)))
    return tuple(sorted(out, key=lambda o: (-o.kpis.answered, o.name)))


@functools.cache
def _call_detail_statement() -> Select[Any]:
    """`call_kpis_with_operators`'s query: `_call_columns` per queue, disposition and seat."""
    keys = (Call.queue, Call.disposition, Call.agent_user_id, Call.agent_interface)
    return select(*keys, func.count().label("calls"), *_call_columns(_THRESHOLD)).where(Call.direction == "in", _in(Call.started_at, _BOUND)).group_by(*keys)


def call_kpis_with_operators(session: Session, period: Period, *, threshold_seconds: int = CALL_SERVICE_LEVEL_SECONDS) -> tuple[CallReport, tuple[OperatorCallKpis, ...]]:
    """`call_kpis` and `call_kpis_by_operator` from one pass over the period's calls: the same
    columns grouped by queue, disposition and seat, then added up per queue, and per operator
    over the answered calls of a queue (what `call_kpis_by_operator`'s WHERE selects). Every
    column is a sum, so the totals are the two functions' own (tests/test_kpi_paths.py); a
    report's call half reads the calls once instead of twice."""
    if threshold_seconds < 0:
        raise ValueError(f"threshold_seconds must be >= 0, got {threshold_seconds}")
    # In `call_kpis`'s order of queues (its ORDER BY; queue names are plain ASCII): no ORDER BY
    # here, so that PostgreSQL can hash the ~100 groups instead of sorting the calls.
    rows = sorted(session.execute(_call_detail_statement(), {"w_start": period.start, "w_end": period.end, "sl": threshold_seconds}), key=lambda row: row.queue or "")
    answered = [row for row in rows if row.queue and row.disposition == CallDisposition.ANSWERED]
    return _per_queue(period, threshold_seconds, rows), _per_operator(session, threshold_seconds, answered)


def build_statements(longest_series: int) -> None:
    """Build the report statements now instead of at the first report that needs each
    (`longest_series`: the most periods a trend has, `hotline.reports.report.TREND_DAYS`;
    series of every length up to it, its halves included, share the `_padded` statements).

    They are built once and kept for the life of the process (~22,000 Python objects). The
    desk role builds them at start-up (`hotline.service.build`), before it keeps its start-up
    objects out of the garbage collector's scans (`hotline.startup.freeze_start_up_objects`);
    built later by the first reports, every full collection scanned them again, a pause of
    the request it fell in (bench/RESULTS.md, reports at 1 M), and the first report of each
    kind paid the building (~0.2-0.35 s)."""
    for by in (None, *GROUPINGS):
        _ticket_statement(by)
    for count in sorted({_padded(n) for n in range(1, longest_series + 1)}):
        _series_statement(count)
        _call_period_statement(count)
    _call_statement()
    _operator_statement()
    _call_detail_statement()
