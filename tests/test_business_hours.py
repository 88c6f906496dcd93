"""Queue hours: always open, weekday ranges, and the working calendar with its holidays."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.business_hours import BusinessHours
from hotline.worktime import WorkingCalendar

CST = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar(tz=CST)


def at(*a: int) -> datetime:
    return datetime(*a, tzinfo=CST)


def test_always_open():
    """24x7 is open on a holiday night."""
    assert BusinessHours.parse(["24x7"]).is_open(at(2026, 2, 17, 3, 0), CAL)


def test_workdays_follow_holidays_and_adjusted_days():
    """'workdays' is closed on Spring Festival and open on the worked Saturday 2026-02-28."""
    hours = BusinessHours.parse(["workdays 08:30-17:30"])
    assert hours.is_open(at(2026, 2, 13, 9, 0), CAL)  # Friday before the holiday
    assert not hours.is_open(at(2026, 2, 17, 9, 0), CAL)  # 春节
    assert hours.is_open(at(2026, 2, 28, 9, 0), CAL)  # 调休 Saturday
    assert not hours.is_open(at(2026, 2, 13, 17, 30), CAL)  # the end is exclusive
    assert not hours.is_open(at(2026, 2, 13, 8, 29), CAL)


def test_weekday_rules_add_up():
    """Several rules combine; plain weekday rules ignore the holiday calendar."""
    hours = BusinessHours.parse(["mon-fri 08:00-20:00", "sat,sun 09:00-12:00"])
    assert hours.is_open(at(2026, 10, 1, 10, 0), CAL)  # Thursday, National Day, but mon-fri
    assert hours.is_open(at(2026, 10, 3, 11, 0), CAL)  # Saturday morning
    assert not hours.is_open(at(2026, 10, 3, 13, 0), CAL)
    assert hours.is_open(datetime(2026, 10, 5, 1, 0, tzinfo=ZoneInfo("UTC")), CAL)  # 09:00 in Shanghai


@pytest.mark.parametrize(
    "specs, message",
    [
        ([], "no hours given"),
        (["always"], 'expected "24x7" alone'),
        (["24x7", "mon 09:00-10:00"], 'expected "24x7" alone'),
        (["mon-fry 08:00-17:00"], "unknown day in 'mon-fry'"),
        (["fri-mon 08:00-17:00"], "runs backwards"),
        (["mon 17:00-08:00"], "ends before it starts"),
        (["mon 25:00-26:00"], "not a valid time"),
    ],
)
def test_bad_rules_are_named(specs, message):
    """Each malformed rule is refused with the rule quoted and the problem said."""
    with pytest.raises(ValueError, match=message):
        BusinessHours.parse(specs)
