"""Reports for supervisors and administrators: the summary and trend pages and their CSV and
XLSX exports. The figures are the core's (`hotline.reports.report`); this module reads the
query string, renders, and draws the charts (`agent_desk.charts`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape
from twisted.internet.defer import Deferred, FirstError, gatherResults

from agent_desk import charts, i18n
from agent_desk.base import DeskBase, HttpError, Req
from agent_desk.i18n import N_
from hotline.reports import report as reports
from hotline.tickets import kpi
from hotline.users import SignedIn

#: The most bars a ranking chart draws.
RANKING_ROWS = 30
A = TypeVar("A")
B = TypeVar("B")
EXPORT_TYPES = {"csv": b"text/csv; charset=utf-8", "xlsx": b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def case_cells(row: Any, hover: Mapping[str, Markup]) -> Markup:
    """A row's case figures as table cells, each with its counts and its formula's first
    sentence on hover (`hover`: per figure, escaped once per page). Built here rather than by a
    template macro per cell: a month by minor category is ~180 rows of a dozen figures, and the
    macro calls were most of the page's rendering (bench/RESULTS.md, reports at 1 M). A count
    and a ratio's text (`911/972 = 93.72 %`, "—") are made of digits and signs only, so they
    are written as they are: escaping each of a quarter's ~7,400 texts per page cost ~10 ms."""
    cells = []
    for key, definition in kpi.TICKET_KPIS.items():
        value = getattr(row, key)
        if definition.is_count:
            cells.append(f'<td class="num" title="{hover[key]}">{int(value)}</td>')
        else:
            shown = f"{value.percent} %" if value.percent is not None else "—"
            cells.append(f'<td class="num" title="{value} · {hover[key]}">{shown}</td>')
    return Markup("".join(cells))


def _language(who: SignedIn) -> reports.Language:
    return "en" if who.language == "en" else "zh"


def explainer(language: str) -> Callable[[str], str]:
    """A figure's formula in the reader's language: the one definition's text (a KPI's
    docstring, a call figure's `Column.doc`) looked up in the catalogue by value, the English
    text being the message id. Plain gettext, not the templates' `_`: the texts contain "%"."""
    return i18n.catalogue(language).gettext


def headline(formula: str) -> str:
    """The first sentence of a formula text (“结案率 = 结案数 / 应结案数。”): what each figure's
    hover repeats, while its column header carries the whole text. Repeating the whole text in
    every cell made a report of 178 minor categories 861 kB."""
    ends = [i for i in (formula.find("。"), formula.find(". ")) if i >= 0]
    return formula[: min(ends) + 1] if ends else formula


class ReportPages(DeskBase):
    """/reports, /reports/trend and /reports/export."""

    def _filters(self, request: Req) -> reports.ReportFilters:
        args = {key.decode("utf-8", "replace"): self.form(request, key.decode("utf-8", "replace")) for key in (request.args or {})}
        return reports.parse_filters(args, self.context.now().astimezone(self.tz).date())

    def _invalid(self, request: Req, who: SignedIn, exc: reports.InvalidFilters, view: str) -> bytes:
        today = self.context.now().astimezone(self.tz).date()
        filters = reports.ReportFilters("month", today, today.replace(day=1), today, "department")
        return self.render(request, "reports.html", who, 400, view=view, errors=exc.errors, filters=filters, explain=explainer(who.language), **self._choices(request))

    def _choices(self, request: Req) -> dict[str, Any]:
        """What the filter form offers, and the values the browser sent (kept on a 400)."""
        sent = {key.decode("utf-8", "replace"): self.form(request, key.decode("utf-8", "replace")) for key in (request.args or {})}
        rankable = [(name, kpi.TICKET_KPIS[name]) for name in reports.RANKABLE]
        return {
            "sent": sent,
            "rankable": rankable,
            "kpis": kpi.TICKET_KPIS,
            "call_figures": reports.CALL_FIGURES,
            "operator_figures": reports.OPERATOR_FIGURES,
            "talk_time": reports.TALK_TIME,
            "group_titles": reports.GROUP_TITLES,
            "headline": headline,
        }

    async def on_reports(self, request: Req, who: SignedIn) -> bytes:
        try:
            filters = self._filters(request)
        except reports.InvalidFilters as exc:
            return self._invalid(request, who, exc, "summary")
        result = await self._report(filters)
        zh = _language(who) == "zh"
        definition = kpi.TICKET_KPIS[filters.rank]
        formula = headline(explainer(who.language)(definition.doc))
        rows = [
            ((g.group.name_zh if zh else g.group.name_en or g.group.name_zh), _float(getattr(g, filters.rank).percent), f"{getattr(g, filters.rank)} · {formula}")
            for g in result.tickets.rows
            if getattr(g, filters.rank).denominator
        ]
        group_name = {"department": ("部门", "departments"), "category": ("小类", "minor categories"), "major_category": ("大类", "major categories"), "operator": ("受理话务员", "intake operators")}[
            filters.by
        ]
        title = f"{definition.name_zh}：{group_name[0]}排名" if zh else f"{definition.name_en}: ranking of {group_name[1]}"
        if len(rows) > RANKING_ROWS:
            # A ranking of 200 minor classes is unreadable: the best and the worst, said so.
            rows.sort(key=lambda r: -(r[1] or 0.0))
            half = RANKING_ROWS // 2
            rows = rows[:half] + rows[-half:]
            title += f"（前后各 {half} 名，共 {len(result.tickets.rows)} 组）" if zh else f" (best and worst {half} of {len(result.tickets.rows)})"
        chart = charts.ranking(title, rows)
        explain = explainer(who.language)
        hover = {key: escape(headline(explain(d.doc))) for key, d in kpi.TICKET_KPIS.items()}
        return self.render(
            request,
            "reports.html",
            who,
            view="summary",
            report=result,
            filters=filters,
            chart=chart,
            export=self._export_links(filters),
            explain=explain,
            case_cells=lambda row: case_cells(row, hover),
            **self._choices(request),
        )

    async def on_report_trend(self, request: Req, who: SignedIn) -> bytes:
        try:
            filters = self._filters(request)
        except reports.InvalidFilters as exc:
            return self._invalid(request, who, exc, "trend")
        trend = await self._trend(filters)
        zh = _language(who) == "zh"
        labels = [b.label for b in trend.buckets]

        def name(attr: str) -> str:
            d = kpi.TICKET_KPIS[attr]
            return d.name_zh if zh else d.name_en

        figures = dict(reports.CALL_FIGURES)
        rates = charts.trend(
            "案件指标趋势" if zh else "Case figures per day" if labels and len(labels[0]) == 10 else "Case figures",
            labels,
            [(name(a), [_float(getattr(t.overall, a).percent) for t in trend.tickets]) for a in ("closure_rate", "on_time_closure_rate", "handling_rate", "satisfaction_rate")],
        )
        calls = charts.trend(
            "话务指标趋势" if zh else "Call figures",
            labels,
            [(figures[a].title(_language(who)), [_float(getattr(c, a).percent) for c in trend.calls]) for a in ("answer_rate", "service_level", "abandon_rate")],
        )
        volume = charts.trend(
            "受理量与进线量" if zh else "Tickets received and calls offered",
            labels,
            [("受理数" if zh else "received", [float(t.overall.received) for t in trend.tickets]), ("进线量" if zh else "calls offered", [float(c.offered) for c in trend.calls])],
            unit="",
            maximum=None,
        )
        table = reports.trend_table(trend, _language(who))
        return self.render(
            request,
            "reports.html",
            who,
            view="trend",
            trend=trend,
            filters=filters,
            charts_=[rates, calls, volume],
            table=table,
            export=self._export_links(filters),
            explain=explainer(who.language),
            **self._choices(request),
        )

    async def _report(self, filters: reports.ReportFilters) -> reports.Report:
        """The case and the call figures side by side, each on a reader thread of its own."""
        tz, now, read = self.tz, self.context.now(), self.context.pool.read
        tickets, calls = await _both(read(lambda s: reports.case_figures(s, filters, tz, now)), read(lambda s: reports.call_figures(s, filters, tz)))
        return reports.Report(filters, filters.period_of(tz), tickets, *calls)

    async def _trend(self, filters: reports.ReportFilters) -> reports.Trend:
        """The trend's buckets in two halves on two reader threads (`reports.trend_case_figures`:
        days one statement per half, months one per month), the call figures with the second
        half, the smaller one when the count is odd (a quarter's three months: two, then one
        with the calls)."""
        tz, now, read = self.tz, self.context.now(), self.context.pool.read
        buckets = reports.trend_periods(filters, tz)
        first, second = buckets[: (len(buckets) + 1) // 2], buckets[(len(buckets) + 1) // 2 :]

        def second_half(s: Any) -> tuple[tuple[kpi.TicketReport, ...], tuple[kpi.CallKpis, ...]]:
            return reports.trend_case_figures(s, second, now), reports.trend_call_figures(s, buckets, filters.threshold_seconds)

        early, (late, calls) = await _both(read(lambda s: reports.trend_case_figures(s, first, now)), read(second_half))
        return reports.Trend(filters, filters.period_of(tz), buckets, early + late, calls)

    def _export_links(self, filters: reports.ReportFilters) -> dict[str, str]:
        links = {f"{table}.csv": "?" + urlencode(filters.query(table=table, format="csv")) for table in reports.TABLES}
        links["xlsx"] = "?" + urlencode(filters.query(format="xlsx"))
        return links

    async def on_report_export(self, request: Req, who: SignedIn) -> bytes:
        fmt = self.form(request, "format") or "csv"
        table_name = self.form(request, "table") or "tickets"
        if fmt not in EXPORT_TYPES:
            raise HttpError(400, N_("Bad request"), N_("format: choose csv or xlsx"))
        if fmt == "csv" and table_name not in reports.TABLES:
            raise HttpError(400, N_("Bad request"), N_("table: choose tickets, calls, operators or trend"))
        try:
            filters = self._filters(request)
        except reports.InvalidFilters as exc:
            return self._invalid(request, who, exc, "summary")
        tz, now, language = self.tz, self.context.now(), _language(who)
        result = await self._report(filters)
        trend = await self._trend(filters) if fmt == "xlsx" or table_name == "trend" else None
        report_tables = reports.tables(result, trend, language)
        period = result.period
        stem = f"12319-report-{period.label.replace(' – ', '_') or filters.first.isoformat()}"
        if fmt == "csv":
            body = reports.to_csv(next(t for t in report_tables if t.name == table_name), language)
            filename = f"{stem}-{table_name}.csv"
        else:
            zh = language == "zh"
            heading = [
                ("报表" if zh else "report", "12319 热线报表" if zh else "12319 hotline report"),
                ("期间" if zh else "period", f"{filters.first.isoformat()} – {filters.last.isoformat()}"),
                ("分组" if zh else "grouped by", reports.GROUP_TITLES[filters.by][0 if zh else 1]),
                ("服务水平阈值(秒)" if zh else "service level threshold (s)", str(filters.threshold_seconds)),
                ("生成时间" if zh else "made at", now.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")),
                ("说明" if zh else "note", "指标定义见 docs/kpi.md；比率保留两位小数" if zh else "definitions: docs/kpi.md; rates to two places"),
            ]
            body = reports.to_xlsx(report_tables, language, heading, explainer(who.language))
            filename = f"{stem}.xlsx"
        request.setHeader(b"content-type", EXPORT_TYPES[fmt])
        request.setHeader(b"content-disposition", f"attachment; filename*=UTF-8''{quote(filename)}".encode("ascii"))
        request.setHeader(b"cache-control", b"no-store")
        return body


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


async def _both(first: Deferred[A], second: Deferred[B]) -> tuple[A, B]:
    """Two pool results awaited together; a failure is raised as itself (the desk's error
    page tells a database outage from a bug by the exception), not as a FirstError."""
    try:
        results = await gatherResults([cast(Deferred[Any], first), cast(Deferred[Any], second)], consumeErrors=True)
    except FirstError as exc:
        exc.subFailure.raiseException()
        raise  # unreachable: raiseException always raises
    return cast(A, results[0]), cast(B, results[1])
