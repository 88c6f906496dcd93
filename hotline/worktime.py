"""Time limits on the Chinese working calendar.

A dispatched ticket must be handled within a time limit that a city sets per category:
some in clock hours (an urgent missing manhole cover: 4 hours), most in working hours
(工作时) or working days (工作日). Working time only runs during office hours on working
days, and working days follow the State Council's yearly holiday notice, including the
adjusted working days (调休) when a Saturday or Sunday is worked. Getting this right is what
makes the on-time closure rate (按时结案率) right.

Holiday data comes from the maintained ``chinesecalendar`` package; a per-year override table
(from ``[calendar.years.<year>]`` in the configuration) covers local holidays and years the
package does not know yet. This module is pure: no I/O, no database, no reactor.
"""

from __future__ import annotations

import enum
import itertools
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import chinese_calendar

__all__ = [
    "OfficeHours",
    "TimeLimit",
    "TimeUnit",
    "WorkingCalendar",
    "YearOverride",
]

logger = logging.getLogger(__name__)

#: Searches for a deadline or a span give up beyond this many days, so that a calendar
#: without working days (or an absurd limit) fails loudly instead of looping for ever.
MAX_SEARCH_DAYS = 3653  # ten years

_DEFAULT_TZ = "Asia/Shanghai"


class TimeUnit(enum.StrEnum):
    """How a time limit is counted."""

    #: Clock hours, regardless of the calendar (urgent cases: 4 hours, 24 hours).
    HOURS = "hours"
    #: Hours of office time on working days (工作时).
    WORKING_HOURS = "working_hours"
    #: Whole office days of office time on working days (工作日).
    WORKING_DAYS = "working_days"


# Every spelling TimeLimit.parse accepts, after lower-casing and turning runs of spaces
# and hyphens into one underscore. The canonical spelling is the unit's value.
_UNIT_ALIASES: dict[str, TimeUnit] = {
    "h": TimeUnit.HOURS,
    "hour": TimeUnit.HOURS,
    "hours": TimeUnit.HOURS,
    "小时": TimeUnit.HOURS,
    "个小时": TimeUnit.HOURS,
    "wh": TimeUnit.WORKING_HOURS,
    "working_hour": TimeUnit.WORKING_HOURS,
    "working_hours": TimeUnit.WORKING_HOURS,
    "工作时": TimeUnit.WORKING_HOURS,
    "工作小时": TimeUnit.WORKING_HOURS,
    "个工作小时": TimeUnit.WORKING_HOURS,
    "wd": TimeUnit.WORKING_DAYS,
    "working_day": TimeUnit.WORKING_DAYS,
    "working_days": TimeUnit.WORKING_DAYS,
    "工作日": TimeUnit.WORKING_DAYS,
    "个工作日": TimeUnit.WORKING_DAYS,
}

_LIMIT_RE = re.compile(r"\s*([0-9]+)\s*(\S(?:.*\S)?)\s*", re.DOTALL)
_LIMIT_FORMS = (
    "'<amount> <unit>' with a whole amount > 0 and unit one of hours (h, 小时), working_hours (wh, 工作时), working_days (wd, 工作日), e.g. '4 hours', '2 working_hours', '4 working_days', '4wd'"
)

_ZH_LABELS = {
    TimeUnit.HOURS: "{}小时",
    TimeUnit.WORKING_HOURS: "{}工作时",
    TimeUnit.WORKING_DAYS: "{}个工作日",
}
_EN_LABELS = {
    TimeUnit.HOURS: ("hour", "hours"),
    TimeUnit.WORKING_HOURS: ("working hour", "working hours"),
    TimeUnit.WORKING_DAYS: ("working day", "working days"),
}


@dataclass(frozen=True)
class TimeLimit:
    """A time limit such as 4 working days; ``str()`` gives the form ``parse`` reads back.

    Grammar of ``parse``: optional spaces, a whole number > 0, optional spaces, a unit.
    Units (case-insensitive; spaces or hyphens may stand for the underscore):
    ``hours``/``hour``/``h``/``小时``, ``working_hours``/``working_hour``/``wh``/``工作时``,
    ``working_days``/``working_day``/``wd``/``工作日``/``个工作日``. So the English and
    Chinese labels parse too. A bare ``d``/``days`` is refused: it is ambiguous between
    calendar and working days, and a wrong guess moves every deadline.
    """

    amount: int
    unit: TimeUnit

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise ValueError(f"time limit amount must be a whole number, got {self.amount!r}")
        if self.amount <= 0:
            raise ValueError(f"time limit amount must be > 0, got {self.amount}")
        # Accept the plain string value too ("working_days"), as a StrEnum allows.
        object.__setattr__(self, "unit", TimeUnit(self.unit))

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        """Read a limit from configuration or a form; the error quotes the text and the forms."""
        if not isinstance(text, str):
            raise ValueError(f"invalid time limit {text!r}: expected a string {_LIMIT_FORMS}")
        match = _LIMIT_RE.fullmatch(text)
        if match is None:
            raise ValueError(f"invalid time limit {text!r}: expected {_LIMIT_FORMS}")
        amount = int(match.group(1))
        unit_text = re.sub(r"[\s\-_]+", "_", match.group(2).lower())
        unit = _UNIT_ALIASES.get(unit_text)
        if unit is None:
            hint = ""
            if unit_text in {"d", "day", "days", "天"}:
                hint = " ('days' is ambiguous: write working_days, or hours for clock time)"
            raise ValueError(f"invalid time limit {text!r}: unknown unit {match.group(2)!r}{hint}; expected {_LIMIT_FORMS}")
        if amount <= 0:
            raise ValueError(f"invalid time limit {text!r}: amount must be > 0; expected {_LIMIT_FORMS}")
        return cls(amount, unit)

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.value}"

    def label(self, lang: str = "zh") -> str:
        """Human text for the desk and reports: '4个工作日' or '4 working days'."""
        if lang == "zh":
            return _ZH_LABELS[self.unit].format(self.amount)
        if lang == "en":
            singular, plural = _EN_LABELS[self.unit]
            return f"{self.amount} {singular if self.amount == 1 else plural}"
        raise ValueError(f"unsupported label language {lang!r}: expected 'zh' or 'en'")


def _seconds_of_day(t: time) -> int:
    return t.hour * 3600 + t.minute * 60


_PERIOD_RE = re.compile(r"\s*([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})\s*")


@dataclass(frozen=True)
class OfficeHours:
    """The periods of a day during which working time runs (default 08:30–12:00, 13:30–17:30).

    Periods are wall-clock times in the calendar's timezone, within one day (no period
    crosses midnight), non-empty, and non-overlapping; the constructor sorts them. Clock
    round-the-clock limits are expressed with the ``hours`` unit, not with office hours.
    """

    periods: tuple[tuple[time, time], ...] = (
        (time(8, 30), time(12, 0)),
        (time(13, 30), time(17, 30)),
    )

    def __post_init__(self) -> None:
        periods = tuple(tuple(p) for p in self.periods)
        if not periods:
            raise ValueError("office hours need at least one period such as '08:30-12:00'")
        for p in periods:
            if len(p) != 2 or not all(isinstance(t, time) for t in p):
                raise ValueError(f"office period {p!r} must be a (start, end) pair of datetime.time")
            start, end = p
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError(f"office period {_fmt_period(start, end)} must use naive times (the calendar has the timezone)")
            if start.second or start.microsecond or end.second or end.microsecond:
                raise ValueError(f"office period {_fmt_period(start, end)} must be whole minutes")
            if end <= start:
                raise ValueError(f"office period {_fmt_period(start, end)}: end is not after start")
        ordered = tuple(sorted(periods))
        for (s1, e1), (s2, e2) in itertools.pairwise(ordered):
            if s2 < e1:
                raise ValueError(f"office periods {_fmt_period(s1, e1)} and {_fmt_period(s2, e2)} overlap")
        object.__setattr__(self, "periods", ordered)

    @classmethod
    def parse(cls, specs: Iterable[str]) -> OfficeHours:
        """Read periods written 'HH:MM-HH:MM', e.g. ["08:30-12:00", "13:30-17:30"]."""
        if isinstance(specs, str):
            raise ValueError(f"office hours must be a list of periods such as ['08:30-12:00', '13:30-17:30'], got {specs!r}")
        periods = []
        for i, spec in enumerate(specs):
            match = _PERIOD_RE.fullmatch(spec) if isinstance(spec, str) else None
            if match is None:
                raise ValueError(f"office period #{i + 1} {spec!r}: expected 'HH:MM-HH:MM' such as '08:30-12:00'")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            try:
                periods.append((time(h1, m1), time(h2, m2)))
            except ValueError:
                raise ValueError(f"office period #{i + 1} {spec!r}: not a time of day (00:00 to 23:59)") from None
        return cls(tuple(periods))

    @property
    def seconds_per_day(self) -> int:
        """Office seconds in one working day (27000 for the default 7.5 hours); a working day's length."""
        return sum(_seconds_of_day(e) - _seconds_of_day(s) for s, e in self.periods)


def _fmt_period(start: time, end: time) -> str:
    return f"'{start:%H:%M}-{end:%H:%M}'"


@dataclass(frozen=True)
class YearOverride:
    """Local corrections for one year: dates off work and dates worked, winning over the library.

    Used for local holidays and for years the holiday package does not know yet
    (``[calendar.years.<year>]`` in the configuration).
    """

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for name in ("holidays", "workdays"):
            values = frozenset(getattr(self, name))
            bad = [v for v in values if isinstance(v, datetime) or not isinstance(v, date)]
            if bad:
                raise ValueError(f"{name} must be dates, got {bad[0]!r}")
            object.__setattr__(self, name, values)
        both = sorted(self.holidays & self.workdays)
        if both:
            listed = ", ".join(d.isoformat() for d in both)
            raise ValueError(f"dates listed both as holidays and as workdays: {listed}")


class WorkingCalendar:
    """Which days are worked and when office time runs, and deadlines on top of it.

    Whether a day is worked: a date in the override for its year wins; otherwise
    ``chinese_calendar`` decides (public holidays and adjusted working days 调休); for a
    year that neither knows, Monday to Friday are worked and one warning per year is
    logged naming the ``calendar.years.<year>`` key to set.

    Office time is counted on the wall clock of ``tz``. All datetimes in and out are
    timezone-aware; naive ones are refused, because guessing their zone shifts deadlines
    by hours. Results are in ``tz``.
    """

    def __init__(
        self,
        *,
        office_hours: OfficeHours | None = None,
        tz: ZoneInfo | None = None,
        overrides: Mapping[int, YearOverride] | None = None,
    ) -> None:
        self._office_hours = office_hours if office_hours is not None else OfficeHours()
        self._tz = tz if tz is not None else ZoneInfo(_DEFAULT_TZ)
        table = dict(overrides or {})
        for year, override in table.items():
            wrong = sorted(d for d in override.holidays | override.workdays if d.year != year)
            if wrong:
                raise ValueError(f"calendar.years.{year}: {wrong[0].isoformat()} is not in {year}")
        self._overrides: Mapping[int, YearOverride] = MappingProxyType(table)
        # Period bounds as offsets from midnight, for day arithmetic without time objects.
        self._periods = tuple((timedelta(seconds=_seconds_of_day(s)), timedelta(seconds=_seconds_of_day(e))) for s, e in self._office_hours.periods)
        self._day_length = sum((e - s for s, e in self._periods), timedelta())
        # The library scans its whole table on every call, so remember each answer.
        self._day_cache: dict[date, bool] = {}
        self._library_years: dict[int, bool] = {}
        self._warned_years: set[int] = set()

    @property
    def office_hours(self) -> OfficeHours:
        return self._office_hours

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    @property
    def overrides(self) -> Mapping[int, YearOverride]:
        return self._overrides

    # -- days -------------------------------------------------------------------------

    def is_year_known(self, year: int) -> bool:
        """True if the library or an override has this year's holidays, so no guessing is needed."""
        return year in self._overrides or self._library_knows(year)

    def is_working_day(self, d: date) -> bool:
        """Whether office time runs on this date (an aware datetime is read in the calendar's zone)."""
        if isinstance(d, datetime):
            d = self._local(d).date()
        cached = self._day_cache.get(d)
        if cached is None:
            cached = self._day_cache[d] = self._decide(d)
        return cached

    def _decide(self, d: date) -> bool:
        override = self._overrides.get(d.year)
        if override is not None:
            if d in override.holidays:
                return False
            if d in override.workdays:
                return True
        if self._library_knows(d.year):
            return bool(chinese_calendar.is_workday(d))
        if override is None and d.year not in self._warned_years:
            self._warned_years.add(d.year)
            logger.warning(
                "No holiday data for %d: treating Monday to Friday as working days, so deadlines "
                "may fall on public holidays. Set calendar.years.%d (holidays, workdays) in the "
                "configuration, or upgrade the chinesecalendar package.",
                d.year,
                d.year,
            )
        return d.weekday() < 5

    def _library_knows(self, year: int) -> bool:
        known = self._library_years.get(year)
        if known is None:
            try:
                chinese_calendar.is_workday(date(year, 7, 1))
            except NotImplementedError:
                known = False
            else:
                known = True
            self._library_years[year] = known
        return known

    # -- office time ------------------------------------------------------------------

    def _local(self, moment: datetime) -> datetime:
        """Naive wall-clock time in the calendar's zone; refuses naive input."""
        if not isinstance(moment, datetime):
            raise ValueError(f"expected a timezone-aware datetime, got {moment!r}")
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment.isoformat()} refused: give it a timezone")
        return moment.astimezone(self._tz).replace(tzinfo=None)

    def _aware(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self._tz)

    def add_working_time(self, start: datetime, seconds: float) -> datetime:
        """The moment when ``seconds`` of office time have run since ``start``.

        A start outside office time begins counting at the next office period; a count that
        ends exactly at the end of a period returns that end, not the next opening. Zero
        seconds returns ``start`` itself.
        """
        local = self._local(start)
        if seconds < 0:
            raise ValueError(f"working time to add must be >= 0, got {seconds}")
        if seconds == 0:
            return self._aware(local)
        remaining = timedelta(seconds=seconds)
        day = local.date()
        first_day = day
        while True:
            if (day - first_day).days > MAX_SEARCH_DAYS:
                raise ValueError(f"no deadline within {MAX_SEARCH_DAYS} days of {start.isoformat()} for {seconds} s of working time")
            if self.is_working_day(day):
                midnight = datetime.combine(day, time())
                if local <= midnight and remaining > self._day_length:
                    # A whole working day: skip it in one step.
                    remaining -= self._day_length
                else:
                    for period_start, period_end in self._periods:
                        begin = max(midnight + period_start, local)
                        end = midnight + period_end
                        if end <= begin:
                            continue
                        available = end - begin
                        if remaining <= available:
                            return self._aware(begin + remaining)
                        remaining -= available
            day += timedelta(days=1)

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Office seconds from ``a`` to ``b``; negative if ``b`` is before ``a``.

        This is the inverse of ``add_working_time``, used to measure elapsed and remaining
        working time of a ticket.
        """
        local_a, local_b = self._local(a), self._local(b)
        if local_b < local_a:
            return -self.working_seconds_between(b, a)
        if (local_b.date() - local_a.date()).days > MAX_SEARCH_DAYS:
            raise ValueError(f"span from {a.isoformat()} to {b.isoformat()} is longer than {MAX_SEARCH_DAYS} days")
        total = timedelta()
        day = local_a.date()
        while day <= local_b.date():
            if self.is_working_day(day):
                midnight = datetime.combine(day, time())
                if local_a <= midnight and midnight + timedelta(days=1) <= local_b:
                    total += self._day_length
                else:
                    for period_start, period_end in self._periods:
                        begin = max(midnight + period_start, local_a)
                        end = min(midnight + period_end, local_b)
                        if end > begin:
                            total += end - begin
            day += timedelta(days=1)
        return total.total_seconds()

    def deadline(self, start: datetime, limit: TimeLimit) -> datetime:
        """When a ticket dispatched at ``start`` with ``limit`` falls due.

        - ``hours``: ``start`` plus N elapsed clock hours, ignoring the calendar.
        - ``working_hours``: N hours of office time counted from ``start``.
        - ``working_days``: N office days' worth of office time (N × ``seconds_per_day``)
          counted from ``start``: dispatched Friday 15:00, 1 working day is due the next
          working day at 15:00; dispatched on a Saturday, it is due at the close of the
          next working day.
        """
        if limit.unit is TimeUnit.HOURS:
            self._local(start)  # refuse naive input like the other units
            due = start.astimezone(UTC) + timedelta(hours=limit.amount)
            return due.astimezone(self._tz)
        if limit.unit is TimeUnit.WORKING_HOURS:
            return self.add_working_time(start, limit.amount * 3600)
        return self.add_working_time(start, limit.amount * self._office_hours.seconds_per_day)

    def __repr__(self) -> str:
        periods = ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in self._office_hours.periods)
        years = sorted(self._overrides)
        return f"WorkingCalendar(tz={str(self._tz)!r}, office_hours=[{periods}], override_years={years})"
