"""Configuration sections administrators set from the desk, kept in the database so that every
role on every machine picks them up without a restart.

How a change travels (docs/admin.md): the admin page validates the section with the loader's
own checkers (`hotline.config.check_section`), writes it to `admin_settings` with the next
`revision` and an audit entry in one transaction. Every role polls `max(revision)` every
POLL_SECONDS (one indexed read of a table of a few rows); when it moved, the role reads the
stored sections and swaps what it holds: today the working calendar, which every ticket
policy, deadline and business-hours check of the process reads through `LiveCalendar`. A
stored section replaces the file's section as a whole; a stored section that no longer
validates (after an upgrade tightened a rule) is logged and the file's section is kept.

Departments and categories need none of this: they are rows that dispatch reads each time.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline import audit
from hotline.config import CalendarConfig, Config, ConfigError, QueueConfig, calendar_of, check_config, check_section
from hotline.storage.db import Database
from hotline.storage.models import AdminSetting, utcnow
from hotline.worktime import OfficeHours, TimeLimit, WorkingCalendar, YearOverride

log = logging.getLogger(__name__)

#: Seconds between two looks at `max(revision)` in each role: how long a change may take to
#: reach every process.
POLL_SECONDS = 5.0
#: The source ConfigError messages name, where the loader names the file.
SOURCE = "admin settings"
#: Sections an administrator may set from the desk.
EDITABLE = ("calendar", "callbacks", "queues")
#: Arrays of tables ([[queues]]) are stored under this key of the row's JSON object.
ENTRIES = "entries"
#: What Asterisk must be told after a change, and the command that tells it.
RELOAD_COMMANDS = {"queues": "asterisk -rx 'queue reload all'"}


class SettingsConflict(Exception):
    """Another administrator saved at the same moment; nothing was saved."""


def revision(session: Session) -> int:
    """The newest revision (0: nothing stored): what each role polls."""
    return int(session.scalar(select(func.coalesce(func.max(AdminSetting.revision), 0))) or 0)


def stored(session: Session) -> dict[str, dict[str, Any]]:
    """Every stored section, raw as the file would hold it."""
    return {row.key: dict(row.value) for row in session.scalars(select(AdminSetting))}


def save(session: Session, name: str, raw: Any, *, user_id: int | None, username: str, address: str, config: Config | None = None) -> Any:
    """Validate one section exactly as the loader does (a table, or the list of an array of
    tables), and with `config` (the file's) the loader's checks across sections too; store it
    with the next revision and audit it, in the caller's transaction. Raises ConfigError (the
    loader's message) or SettingsConflict; returns the typed section."""
    if name not in EDITABLE:
        raise ConfigError(SOURCE, name, "a section set from the desk (" + ", ".join(EDITABLE) + ")", name)
    raw = _plain(raw)
    section = check_section(name, raw, SOURCE)
    if config is not None:
        check_config(dataclasses.replace(effective(config, stored(session)), **{name: section}, source=SOURCE))
    value = {ENTRIES: raw} if isinstance(raw, list) else raw
    row = session.get(AdminSetting, name)
    before = dict(row.value) if row is not None else None
    next_revision = revision(session) + 1
    if row is None:
        session.add(AdminSetting(key=name, value=value, revision=next_revision, changed_at=utcnow(), changed_by=username[:64]))
    else:
        row.value, row.revision, row.changed_at, row.changed_by = value, next_revision, utcnow(), username[:64]
    try:
        session.flush()
    except IntegrityError:  # the unique revision: another save took it first
        raise SettingsConflict("another administrator saved settings at the same moment; nothing was saved, try again") from None
    audit.record(session, f"settings.{name}", user_id=user_id, username=username, target=name, address=address, detail={"before": before, "after": value, "revision": next_revision})
    return section


def _plain(value: Any) -> Any:
    """JSON-storable: dates as ISO text (the loader reads both)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def calendar_raw(section: CalendarConfig) -> dict[str, Any]:
    """A [calendar] section as the file (and the stored setting) writes it."""
    return {
        "office_hours": list(section.office_hours),
        "years": {str(year): {"holidays": [d.isoformat() for d in sorted(y.holidays)], "workdays": [d.isoformat() for d in sorted(y.workdays)]} for year, y in sorted(section.years.items())},
    }


def calendar_edit(section: CalendarConfig, *, office_hours: list[str], year: str, holidays: list[str], workdays: list[str]) -> dict[str, Any]:
    """The raw [calendar] section after a page's edit: new office hours, and one year's local
    holidays and working days replaced (both empty: the year's override removed). Checked
    afterwards by `save`, with the loader's rules."""
    raw = calendar_raw(section)
    raw["office_hours"] = office_hours
    if year:
        if holidays or workdays:
            raw["years"][year] = {"holidays": holidays, "workdays": workdays}
        else:
            raw["years"].pop(year, None)
    return raw


def current(session: Session, config: Config) -> Config:
    """The configuration as the roles run it now: the file's, with the stored sections."""
    return effective(config, stored(session))


def effective(config: Config, values: Mapping[str, Mapping[str, Any]]) -> Config:
    """The file's configuration with the stored sections in place of its own."""
    sections: dict[str, Any] = {}
    for name, raw in values.items():
        if name not in EDITABLE:
            continue
        try:
            sections[name] = check_section(name, raw[ENTRIES] if ENTRIES in raw and set(raw) == {ENTRIES} else dict(raw), SOURCE)
        except ConfigError as exc:
            log.error("stored setting %s ignored, the file's section is used: %s", name, exc)
    return dataclasses.replace(config, **sections)


def with_stored(config: Config) -> Config:
    """The file's configuration with what administrators stored, read once (command-line tools
    such as `hotline asterisk-config render`, so they write what the roles run). No database
    yet (a missing SQLite file, an uninitialised schema): the file's; an unreachable one: the
    file's, with a warning. Never creates a database."""
    url = config.database_url()
    sqlite_file = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") and url != "sqlite:///:memory:" else None
    if sqlite_file is not None and not Path(sqlite_file).is_file():
        return config
    database = Database.from_url(url, timeout=config.database.timeout)
    try:
        if not inspect(database.engine).has_table(AdminSetting.__tablename__):
            return config
        return effective(config, database.read(stored))
    except Exception as exc:  # noqa: BLE001 - any driver error means the same: use the file
        log.warning("admin settings not read (%s): using %s alone", str(exc).splitlines()[0] if str(exc) else type(exc).__name__, config.source)
        return config
    finally:
        database.dispose()


def queues_raw(config: Config) -> list[dict[str, Any]]:
    """The [[queues]] as the file (and the stored setting) writes them."""
    return [{f.name: (list(v) if isinstance(v := getattr(q, f.name), tuple) else v) for f in dataclasses.fields(q)} for q in config.queues]


def queues_edit(config: Config, fields: Mapping[str, str], *, new: bool) -> list[dict[str, Any]]:
    """The raw [[queues]] after a page's edit of one queue (or a new one), the form's text
    turned into the TOML types the loader expects (numbers that read as numbers, a checkbox,
    one hours rule a line); anything else is left as typed for the loader to refuse."""
    entries = queues_raw(config)
    name = fields.get("name", "").strip()
    found = [i for i, q in enumerate(entries) if q["name"] == name]
    entry: dict[str, Any] = {"name": name}
    for spec in dataclasses.fields(QueueConfig):
        if spec.name == "name":
            continue
        if spec.name not in fields:
            # Not on the page: an edit keeps the queue's value, a new queue gets the default.
            if found and not new:
                entry[spec.name] = entries[found[0]][spec.name]
            continue
        text = fields[spec.name]
        default = spec.default
        if isinstance(default, bool):
            entry[spec.name] = text == "1"
        elif isinstance(default, int):
            entry[spec.name] = int(text) if re.fullmatch(r"\s*-?[0-9]+\s*", text) else text
        elif isinstance(default, tuple):
            entry[spec.name] = [line.strip() for line in text.splitlines() if line.strip()]
        else:
            entry[spec.name] = text.strip()
    if new:
        return [*entries, entry]
    if not found:
        raise ConfigError(SOURCE, "queues", "the name of a declared queue (" + ", ".join(q["name"] for q in entries) + ")", name)
    entries[found[0]] = entry
    return entries


@dataclass(frozen=True)
class AsteriskRender:
    """What re-rendering the Asterisk files did, for the page's notice."""

    written: tuple[str, ...]
    #: Why nothing was written ("" when it was).
    problem: str
    #: Run this so that Asterisk reads the new files.
    reload_command: str
    #: Run this first when the desk does not render (no asterisk.conf_dir).
    render_command: str


def render_asterisk(config: Config, section: str) -> AsteriskRender:
    """Write the Asterisk files again after `section` changed, through the installed
    ``hotline.asterisk_files`` feature (the core never imports asterisk_conf), into
    asterisk.conf_dir; without one, say what to run."""
    from hotline import plugins

    reload_command = RELOAD_COMMANDS.get(section, "asterisk -rx 'core reload'")
    out_dir = config.asterisk.conf_dir
    render_command = f"hotline asterisk-config render --out {out_dir or '/etc/asterisk/hotline'}"
    if not out_dir:
        return AsteriskRender((), "asterisk.conf_dir is not set: the desk does not write Asterisk's files", reload_command, render_command)
    renderers = plugins.load(plugins.ASTERISK_FILES)
    if not renderers:
        return AsteriskRender((), "asterisk_conf is not installed on this node", reload_command, render_command)
    written: list[str] = []
    try:
        for render in renderers.values():
            written.extend(render(config, config.base_dir / out_dir))
    except ValueError as exc:
        return AsteriskRender(tuple(written), str(exc), reload_command, render_command)
    return AsteriskRender(tuple(written), "", reload_command, "")


class LiveCalendar(WorkingCalendar):
    """A working calendar whose rules can be replaced while the process runs: every user holds
    this one object, and `replace` swaps the calendar it answers from in one assignment, so a
    deadline is computed wholly on the old rules or wholly on the new."""

    def __init__(self, current: WorkingCalendar) -> None:  # no base __init__: every method delegates
        self._current = current

    def replace(self, current: WorkingCalendar) -> None:
        self._current = current

    @property
    def office_hours(self) -> OfficeHours:
        return self._current.office_hours

    @property
    def tz(self) -> ZoneInfo:
        return self._current.tz

    @property
    def overrides(self) -> Mapping[int, YearOverride]:
        return self._current.overrides

    def is_year_known(self, year: int) -> bool:
        return self._current.is_year_known(year)

    def is_working_day(self, d: date) -> bool:
        return self._current.is_working_day(d)

    def add_working_time(self, start: datetime, seconds: float) -> datetime:
        return self._current.add_working_time(start, seconds)

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        return self._current.working_seconds_between(a, b)

    def deadline(self, start: datetime, limit: TimeLimit) -> datetime:
        return self._current.deadline(start, limit)

    def __repr__(self) -> str:
        return f"Live{self._current!r}"


class LiveSettings:
    """One role's view of the stored settings: the configuration it runs with, kept current."""

    def __init__(self, config: Config) -> None:
        self.file_config = config
        self.calendar = LiveCalendar(calendar_of(config.calendar, config.service.timezone))
        self.config = dataclasses.replace(config, live_calendar=self.calendar)
        self.revision = -1
        self.listeners: list[Callable[[Config], None]] = []

    def changes(self, session: Session) -> tuple[int, dict[str, dict[str, Any]]] | None:
        """In a database thread: the new revision and the stored sections, or None when
        nothing changed since the last `apply`."""
        current = revision(session)
        if current == self.revision:
            return None
        return current, stored(session)

    def poll(self, pool: Any) -> Any:
        """Read and apply what changed, on `pool`'s reader (a `DatabasePool`); a failure is
        logged and tried again at the next poll."""
        d = pool.read(self.changes)
        d.addCallback(self.apply)
        d.addErrback(lambda failure: log.warning("admin settings not applied: %s", (failure.getErrorMessage().splitlines() or ["?"])[0]))
        return d

    def apply(self, change: tuple[int, dict[str, dict[str, Any]]] | None) -> bool:
        """Take what `changes` read; True when something was applied."""
        if change is None:
            return False
        number, values = change
        config = effective(self.file_config, values)
        self.calendar.replace(calendar_of(config.calendar, config.service.timezone))
        self.config = dataclasses.replace(config, live_calendar=self.calendar)
        first, self.revision = self.revision < 0, number
        for listener in self.listeners:
            listener(self.config)
        if not first:
            log.info("admin settings revision %d applied (%s)", number, ", ".join(sorted(values)) or "none stored")
        return True

    def refresh(self, session: Session) -> bool:
        """Read and apply in one go (tests, command-line tools)."""
        return self.apply(self.changes(session))

    def refresh_from(self, database: Database) -> bool:
        """At start-up, before the reactor runs: the role starts on the stored settings."""
        return self.apply(database.read(self.changes))


# -- the calling-windows page


@dataclass(frozen=True)
class WindowDay:
    day: date
    working: bool
    #: The periods callbacks may be made in, "HH:MM-HH:MM".
    periods: tuple[str, ...]


def calling_windows(config: Config, start: date, days: int = 14) -> list[WindowDay]:
    """When callbacks may be made on each of `days` days from `start`, on this calendar."""
    from datetime import timedelta

    from hotline.business_hours import BusinessHours

    hours = BusinessHours.parse(list(config.callbacks.calling_hours))
    calendar = calendar_of(config.calendar, config.service.timezone)
    out = []
    for offset in range(days):
        d = start + timedelta(days=offset)
        working = calendar.is_working_day(d)
        if hours.always:
            periods: tuple[str, ...] = ("00:00-24:00",)
        else:
            periods = tuple(sorted(f"{r.start:%H:%M}-{r.end:%H:%M}" for r in hours.rules if (working if r.weekdays is None else d.weekday() in r.weekdays)))
        out.append(WindowDay(d, working, periods))
    return out


# -- the month view of the calendar page

_HOLIDAY_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


@dataclass(frozen=True)
class Day:
    """One day of the month view and why it is (not) worked."""

    day: date
    working: bool
    #: "workday", "weekend", "holiday" (statutory), "adjusted" (调休: a weekend day worked),
    #: "local_holiday" / "local_workday" (calendar.years overrides), "unknown" (no holiday data).
    kind: str
    #: The festival, in Chinese and English, for statutory holidays and adjusted days.
    festival_zh: str = ""
    festival_en: str = ""


def month(calendar: WorkingCalendar, year: int, month_number: int) -> list[list[Day | None]]:
    """The month as weeks (Monday first; None pads), each day as the calendar decides it."""
    import calendar as stdlib_calendar

    import chinese_calendar

    weeks: list[list[Day | None]] = []
    for week in stdlib_calendar.Calendar(firstweekday=0).monthdatescalendar(year, month_number):
        row: list[Day | None] = []
        for d in week:
            if d.month != month_number:
                row.append(None)
                continue
            working = calendar.is_working_day(d)
            override = calendar.overrides.get(d.year)
            festival = ""
            if override is not None and d in override.holidays:
                kind = "local_holiday"
            elif override is not None and d in override.workdays:
                kind = "local_workday"
            elif not calendar.is_year_known(d.year):
                kind = "unknown"
            else:
                try:
                    festival = chinese_calendar.get_holiday_detail(d)[1] or ""
                except NotImplementedError:
                    festival = ""
                weekend = d.weekday() >= 5
                kind = ("adjusted" if weekend else "workday") if working else ("holiday" if festival or not weekend else "weekend")
                if kind == "workday":
                    festival = ""
            row.append(Day(d, working, kind, _HOLIDAY_ZH.get(festival, festival), festival))
        weeks.append(row)
    return weeks
