"""The wallboard's figures: per queue what is happening now (from the AMI live model) beside
today's and the last hour's call figures (from the call records, `kpi.call_kpis`: the KPIs'
own definitions), and every agent's state with the time in it.

`wallboard(snapshot, figures, now, queues)` is a pure function: the desk fetches the database
part with `database_figures` in a pool thread, takes the live snapshot on the reactor thread,
and the result is plain frozen data that serialises to JSON (`Wallboard.as_json`), whatever
carries it to the browser (polling now, the desk's event stream later).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import dialplan
from hotline.ami.live import LiveSnapshot, MemberView, QueueView
from hotline.ami.seats import extension_of
from hotline.reports.report import CALL_FIGURES, Column, without_jit
from hotline.storage.models import Call
from hotline.tickets import kpi
from hotline.tickets.kpi import CallKpis, CallReport, Mean, Period, Ratio

#: GB/T 33358-2016: a government hotline connects at least 95 % of its calls (接通率).
ANSWER_RATE_TARGET = Decimal(95)
#: Agent states in the order the board lists them.
AGENT_STATES = ("ready", "ringing", "on_call", "wrapup", "paused", "unavailable", "unknown")
#: A call record still open after this long is not believed to be a call in progress.
_OPEN_CALL_HOURS = 12
#: The recorded figures the board shows, in its order, with the reports' definitions (names
#: and hover formulas: `hotline.reports.report.CALL_FIGURES`, the KPIs of docs/kpi.md).
BOARD_FIGURES = ("offered", "answered", "abandoned", "abandon_rate", "service_level", "answer_rate", "average_wait", "average_handle_time")
RECORDED_FIGURES: tuple[tuple[str, Column], ...] = tuple((attr, column) for attr, column in CALL_FIGURES if attr in BOARD_FIGURES)
#: What only the live view knows (not KPIs: no formula beyond what Asterisk reports).
LIVE_FIGURES: tuple[tuple[str, Column], ...] = (
    ("waiting", Column("排队", "waiting", doc="callers waiting in the queue now, as Asterisk reports them")),
    ("longest_wait", Column("最长等待", "longest wait", doc="how long the caller waiting longest has waited so far")),
    (
        "time_in_state",
        Column("状态时长", "time in state", doc="since the pause, the answer of the call in progress, or the end of the last call"),
    ),
    ("calls_taken", Column("已接来电", "calls taken", doc="queue calls the seat answered since Asterisk last reloaded its queues")),
)


@dataclass(frozen=True)
class QueueSetting:
    """What the board needs of a configured queue (`hotline.config.QueueConfig`)."""

    skill: str
    label_zh: str = ""
    label_en: str = ""
    service_level_seconds: int = kpi.CALL_SERVICE_LEVEL_SECONDS
    wrapup_seconds: int = 0


@dataclass(frozen=True)
class DatabaseFigures:
    """The call records' part: today's and the last hour's figures per service-level
    threshold in use, and since when each agent interface has had an answered call open."""

    today: Mapping[int, CallReport]
    last_hour: Mapping[int, CallReport]
    on_call_since: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueBoard:
    skill: str
    label_zh: str
    label_en: str
    #: None when there is no live view (AMI off or disconnected).
    waiting: int | None
    longest_wait_seconds: int | None
    threshold_seconds: int
    today: CallKpis
    last_hour: CallKpis
    agents: Mapping[str, int]

    @property
    def answer_rate_met(self) -> bool | None:
        """Today's 接通率 against `ANSWER_RATE_TARGET`; None before any call is offered."""
        percent = self.today.answer_rate.percent
        return None if percent is None else percent >= ANSWER_RATE_TARGET


@dataclass(frozen=True)
class AgentBoard:
    name: str
    interface: str
    state: str
    pause_reason: str
    #: When the agent entered the state, when known.
    since: datetime | None
    seconds_in_state: int | None
    queues: tuple[str, ...]
    calls_taken: int


@dataclass(frozen=True)
class Wallboard:
    at: datetime
    #: Whether the live part is current (AMI connected); the call figures are current anyway.
    live: bool
    queues: tuple[QueueBoard, ...]
    agents: tuple[AgentBoard, ...]
    agent_counts: Mapping[str, int]

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types: rates as {numerator, denominator, percent}, means as seconds."""
        return {
            "at": self.at.isoformat(),
            "live": self.live,
            "answer_rate_target": str(ANSWER_RATE_TARGET),
            "queues": [
                {
                    "skill": q.skill,
                    "label_zh": q.label_zh,
                    "label_en": q.label_en,
                    "waiting": q.waiting,
                    "longest_wait_seconds": q.longest_wait_seconds,
                    "threshold_seconds": q.threshold_seconds,
                    "answer_rate_met": q.answer_rate_met,
                    "today": _kpis_json(q.today),
                    "last_hour": _kpis_json(q.last_hour),
                    "agents": dict(q.agents),
                }
                for q in self.queues
            ],
            "agents": [
                {
                    "name": a.name,
                    "interface": a.interface,
                    "seat": extension_of(a.interface),
                    "state": a.state,
                    "pause_reason": a.pause_reason,
                    "since": a.since.isoformat() if a.since else None,
                    "seconds_in_state": a.seconds_in_state,
                    "queues": list(a.queues),
                    "calls_taken": a.calls_taken,
                }
                for a in self.agents
            ],
            "agent_counts": dict(self.agent_counts),
        }


def _ratio_json(r: Ratio) -> dict[str, Any]:
    return {"numerator": r.numerator, "denominator": r.denominator, "percent": None if r.percent is None else str(r.percent)}


def _mean_json(m: Mean) -> str | None:
    return None if m.value is None else str(m.value)


def _kpis_json(k: CallKpis) -> dict[str, Any]:
    return {
        "offered": k.offered,
        "answered": k.answered,
        "abandoned": k.abandoned,
        "in_progress": k.in_progress,
        "answer_rate": _ratio_json(k.answer_rate),
        "abandon_rate": _ratio_json(k.abandon_rate),
        "service_level": _ratio_json(k.service_level),
        "average_wait": _mean_json(k.average_wait),
        "average_answer_wait": _mean_json(k.average_answer_wait),
        "average_handle_time": _mean_json(k.average_handle_time),
    }


def today_and_last_hour(now: datetime, tz: tzinfo) -> tuple[Period, Period]:
    """``[local midnight, now)`` and ``[now - 1 h, now)``; a period is never empty (just
    after midnight it is one microsecond long)."""
    local = now.astimezone(tz)
    midnight = datetime.combine(local.date(), time(0), tz)
    end = max(now, midnight + timedelta(microseconds=1))
    return Period(midnight, end, "today"), Period(now - timedelta(hours=1), end, "last hour")


def database_figures(session: Session, now: datetime, tz: tzinfo, thresholds: Iterable[int]) -> DatabaseFigures:
    """Today's and the last hour's `kpi.call_kpis` for each threshold, and the open answered
    calls per agent interface (for "on call since"). Two aggregate queries per threshold
    (usually one threshold) and one small indexed lookup."""
    today, last_hour = today_and_last_hour(now, tz)
    without_jit(session)
    wanted = sorted(set(thresholds)) or [kpi.CALL_SERVICE_LEVEL_SECONDS]
    open_calls = session.execute(
        select(Call.agent_interface, Call.answered_at).where(
            Call.started_at >= now - timedelta(hours=_OPEN_CALL_HOURS), Call.answered_at.is_not(None), Call.ended_at.is_(None), Call.agent_interface != ""
        )
    )
    since: dict[str, datetime] = {}
    for interface, answered_at in open_calls:
        if answered_at is not None and (interface not in since or answered_at > since[interface]):
            since[interface] = answered_at
    return DatabaseFigures(
        {t: kpi.call_kpis(session, today, threshold_seconds=t) for t in wanted},
        {t: kpi.call_kpis(session, last_hour, threshold_seconds=t) for t in wanted},
        since,
    )


def _empty(skill: str, threshold: int) -> CallKpis:
    zero = Ratio(0, 0)
    return CallKpis(skill, 0, 0, 0, 0, 0, 0, threshold, 0, zero, zero, zero, Mean(0, 0), Mean(0, 0), Mean(0, 0))


def _report_queue(reports: Mapping[int, CallReport], threshold: int, skill: str) -> CallKpis:
    report = reports.get(threshold)
    found = report.queue(skill) if report is not None else None
    return found if found is not None else _empty(skill, threshold)


def agent_state(member: MemberView, now: datetime, wrapup_seconds: int, on_call_since: datetime | None) -> tuple[str, datetime | None]:
    """An agent's state on the board and since when: paused (with its reason) wins; then a
    call in progress; ringing; logged off or unreachable; within the queue's wrap-up time
    after the last call; else ready (since the last call, when there was one)."""
    if member.paused:
        return "paused", member.paused_since
    if member.in_call or member.talking_to or member.availability == "busy":
        return "on_call", on_call_since
    if member.availability == "ringing":
        return "ringing", None
    if member.availability in ("unavailable", "unknown"):
        return member.availability, None
    if member.last_call is not None and now - member.last_call < timedelta(seconds=wrapup_seconds):
        return "wrapup", member.last_call
    return "ready", member.last_call


def wallboard(snapshot: LiveSnapshot | None, figures: DatabaseFigures, now: datetime, queues: Sequence[QueueSetting]) -> Wallboard:
    """The board: configured queues in their order (then any other queue the live model or
    the call records know), each with its live and recorded figures; agents by state, each
    once however many queues they serve."""
    settings = {q.skill: q for q in queues}
    live_queues: dict[str, QueueView] = {}
    if snapshot is not None:
        for view in snapshot.queues:
            skill = dialplan.skill_of(view.name)
            if skill is not None:
                live_queues[skill] = view
    recorded = {q.queue for report in figures.today.values() for q in report.queues if q.queue}
    order = [q.skill for q in queues] + sorted((set(live_queues) | recorded) - set(settings))
    members: dict[str, tuple[MemberView, list[str], int]] = {}
    for skill in order:
        live = live_queues.get(skill)
        wrapup = settings[skill].wrapup_seconds if skill in settings else 0
        for member in live.members if live is not None else ():
            found = members.get(member.interface)
            if found is None:
                members[member.interface] = (member, [skill], wrapup)
            else:
                found[1].append(skill)
                members[member.interface] = (found[0], found[1], max(found[2], wrapup))
    agents = []
    for interface, (member, skills, wrapup) in members.items():
        state, since = agent_state(member, now, wrapup, figures.on_call_since.get(interface))
        seconds = None if since is None else max(0, int((now - since).total_seconds()))
        agents.append(AgentBoard(member.name or interface, interface, state, member.pause_reason if state == "paused" else "", since, seconds, tuple(skills), member.calls_taken))
    agents.sort(key=lambda a: (AGENT_STATES.index(a.state), -(a.seconds_in_state or 0), a.name))
    boards = []
    for skill in order:
        setting = settings.get(skill, QueueSetting(skill, skill, skill))
        live = live_queues.get(skill)
        counts = dict.fromkeys(AGENT_STATES, 0)
        for agent in agents:
            if skill in agent.queues:
                counts[agent.state] += 1
        threshold = setting.service_level_seconds
        boards.append(
            QueueBoard(
                skill,
                setting.label_zh or skill,
                setting.label_en or skill,
                len(live.callers) if live is not None else None,
                live.longest_wait_seconds if live is not None else None,
                threshold,
                _report_queue(figures.today, threshold, skill),
                _report_queue(figures.last_hour, threshold, skill),
                counts,
            )
        )
    totals = dict.fromkeys(AGENT_STATES, 0)
    for agent in agents:
        totals[agent.state] += 1
    return Wallboard(now, snapshot is not None and snapshot.connected, tuple(boards), tuple(agents), totals)
