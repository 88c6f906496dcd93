"""When a queue is staffed: "24x7", weekday ranges, or the Chinese working calendar.

A rule is `"<days> HH:MM-HH:MM"` where days is `mon`…`sun`, a range `mon-fri`, a list
`sat,sun`, or `workdays` (working days on the calendar, so public holidays are closed and
adjusted working days 调休 are open). `"24x7"` alone means always open. Several rules add up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

from hotline.worktime import WorkingCalendar

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RULE = re.compile(r"^(?P<days>[a-z,\-]+)\s+(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$")


@dataclass(frozen=True)
class Rule:
    #: Weekday numbers (0 = Monday), or None for "working days on the calendar".
    weekdays: frozenset[int] | None
    start: time
    end: time

    def covers(self, local: datetime, calendar: WorkingCalendar) -> bool:
        if self.weekdays is None:
            if not calendar.is_working_day(local.date()):
                return False
        elif local.weekday() not in self.weekdays:
            return False
        return self.start <= local.time() < self.end


@dataclass(frozen=True)
class BusinessHours:
    always: bool
    rules: tuple[Rule, ...] = ()

    @classmethod
    def parse(cls, specs: list[str] | tuple[str, ...]) -> BusinessHours:
        """Raises ValueError naming the rule and what is wrong with it."""
        if not specs:
            raise ValueError('no hours given; use ["24x7"] for always open')
        if [s.strip().lower() for s in specs] == ["24x7"]:
            return cls(always=True)
        rules = []
        for spec in specs:
            found = _RULE.match(spec.strip().lower())
            if not found:
                raise ValueError(f'{spec!r}: expected "24x7" alone, or "<days> HH:MM-HH:MM" such as "mon-fri 08:30-17:30" or "workdays 08:30-17:30"')
            try:
                start, end = time.fromisoformat(found["start"]), time.fromisoformat(found["end"])
            except ValueError:
                raise ValueError(f"{spec!r}: not a valid time of day") from None
            if end <= start:
                raise ValueError(f"{spec!r}: the period ends before it starts")
            rules.append(Rule(_weekdays(spec, found["days"]), start, end))
        return cls(always=False, rules=tuple(rules))

    def is_open(self, at: datetime, calendar: WorkingCalendar) -> bool:
        if self.always:
            return True
        if at.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime")
        local = at.astimezone(calendar.tz)
        return any(rule.covers(local, calendar) for rule in self.rules)


def _weekdays(spec: str, text: str) -> frozenset[int] | None:
    if text == "workdays":
        return None
    days: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in DAYS or last not in DAYS:
                raise ValueError(f"{spec!r}: unknown day in {part!r} (use {', '.join(DAYS)} or workdays)")
            a, b = DAYS.index(first), DAYS.index(last)
            if b < a:
                raise ValueError(f"{spec!r}: day range {part!r} runs backwards")
            days.update(range(a, b + 1))
        elif part in DAYS:
            days.add(DAYS.index(part))
        else:
            raise ValueError(f"{spec!r}: unknown day {part!r} (use {', '.join(DAYS)} or workdays)")
    return frozenset(days)
