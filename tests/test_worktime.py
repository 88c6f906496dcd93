"""Tests for hotline.worktime: time limits on the Chinese working calendar.

Expected deadlines are worked out by hand from the State Council holiday notices for 2025 and
2026 (which chinesecalendar encodes), with the default office hours 08:30-12:00 and
13:30-17:30 (7.5 hours a day):

- 2025 Spring Festival: off 01-28 .. 02-04; worked Sun 01-26 and Sat 02-08.
- 2025 National Day + Mid-Autumn: off 10-01 .. 10-08; worked Sun 09-28 and Sat 10-11.
- 2026 Spring Festival: off 02-15 .. 02-23; worked Sat 02-14 and Sat 02-28.
- 2026 National Day: off 10-01 .. 10-07; worked Sun 09-20 and Sat 10-10.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.worktime import OfficeHours, TimeLimit, TimeUnit, WorkingCalendar, YearOverride

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = 7.5 * 3600

CALENDAR = WorkingCalendar()


def at(text: str) -> datetime:
    """A Beijing-time moment from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def due(start: str, limit: str, calendar: WorkingCalendar = CALENDAR) -> datetime:
    return calendar.deadline(at(start), TimeLimit.parse(limit))


# -- TimeLimit ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("4h", 4, TimeUnit.HOURS),
        ("4 hours", 4, TimeUnit.HOURS),
        ("1 hour", 1, TimeUnit.HOURS),
        ("24 HOURS", 24, TimeUnit.HOURS),
        ("2 working_hours", 2, TimeUnit.WORKING_HOURS),
        ("2wh", 2, TimeUnit.WORKING_HOURS),
        ("2 working hours", 2, TimeUnit.WORKING_HOURS),
        ("1 Working-Hour", 1, TimeUnit.WORKING_HOURS),
        ("4 working_days", 4, TimeUnit.WORKING_DAYS),
        ("4wd", 4, TimeUnit.WORKING_DAYS),
        ("  20 working days ", 20, TimeUnit.WORKING_DAYS),
        ("4小时", 4, TimeUnit.HOURS),
        ("2工作时", 2, TimeUnit.WORKING_HOURS),
        ("4个工作日", 4, TimeUnit.WORKING_DAYS),
        ("4 工作日", 4, TimeUnit.WORKING_DAYS),
    ],
)
def test_time_limit_parse_accepts_documented_forms(text: str, amount: int, unit: TimeUnit) -> None:
    """Every documented spelling of a time limit parses to the right amount and unit."""
    assert TimeLimit.parse(text) == TimeLimit(amount, unit)


@pytest.mark.parametrize(
    "text",
    ["", "4", "hours", "0h", "00 working_days", "-1 hours", "4.5 hours", "4 weeks", "4 h 3", "four hours", "4 working"],
)
def test_time_limit_parse_rejects_bad_text_quoting_it_and_the_forms(text: str) -> None:
    """Bad limit text raises ValueError quoting the text and listing the accepted forms."""
    with pytest.raises(ValueError) as info:
        TimeLimit.parse(text)
    message = str(info.value)
    assert repr(text) in message
    assert "working_days" in message and "working_hours" in message and "hours" in message


@pytest.mark.parametrize("text", ["3d", "3 days", "1 day"])
def test_time_limit_parse_refuses_ambiguous_days(text: str) -> None:
    """A bare 'days' is refused with a hint, since calendar days and working days differ."""
    with pytest.raises(ValueError, match="ambiguous"):
        TimeLimit.parse(text)


def test_time_limit_parse_rejects_non_string() -> None:
    """A number where a string was expected (a TOML slip) is a ValueError, not a crash."""
    with pytest.raises(ValueError, match="4"):
        TimeLimit.parse(4)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [0, -3])
def test_time_limit_amount_must_be_positive(amount: int) -> None:
    """A zero or negative limit cannot be constructed."""
    with pytest.raises(ValueError, match="> 0"):
        TimeLimit(amount, TimeUnit.HOURS)


def test_time_limit_amount_must_be_whole() -> None:
    """Fractional and boolean amounts are refused (they would silently truncate)."""
    with pytest.raises(ValueError):
        TimeLimit(1.5, TimeUnit.HOURS)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TimeLimit(True, TimeUnit.HOURS)


def test_time_limit_unit_accepts_value_string_and_rejects_unknown() -> None:
    """The unit may be given as its string value; an unknown unit is a ValueError."""
    assert TimeLimit(2, "working_days").unit is TimeUnit.WORKING_DAYS  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TimeLimit(2, "fortnights")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("limit", "text"),
    [
        (TimeLimit(4, TimeUnit.HOURS), "4 hours"),
        (TimeLimit(2, TimeUnit.WORKING_HOURS), "2 working_hours"),
        (TimeLimit(4, TimeUnit.WORKING_DAYS), "4 working_days"),
    ],
)
def test_time_limit_str_is_canonical(limit: TimeLimit, text: str) -> None:
    """str() gives the canonical '<amount> <unit value>' form stored in configuration."""
    assert str(limit) == text


@pytest.mark.parametrize(
    ("limit", "zh", "en"),
    [
        (TimeLimit(4, TimeUnit.HOURS), "4小时", "4 hours"),
        (TimeLimit(1, TimeUnit.HOURS), "1小时", "1 hour"),
        (TimeLimit(2, TimeUnit.WORKING_HOURS), "2工作时", "2 working hours"),
        (TimeLimit(1, TimeUnit.WORKING_HOURS), "1工作时", "1 working hour"),
        (TimeLimit(4, TimeUnit.WORKING_DAYS), "4个工作日", "4 working days"),
        (TimeLimit(1, TimeUnit.WORKING_DAYS), "1个工作日", "1 working day"),
    ],
)
def test_time_limit_labels(limit: TimeLimit, zh: str, en: str) -> None:
    """Labels read naturally in Chinese (default) and English, with English singulars."""
    assert limit.label() == zh
    assert limit.label("zh") == zh
    assert limit.label("en") == en


def test_time_limit_label_rejects_unknown_language() -> None:
    """An unsupported label language is a ValueError rather than a silent fallback."""
    with pytest.raises(ValueError, match="fr"):
        TimeLimit(4, TimeUnit.HOURS).label("fr")


time_limits = st.builds(TimeLimit, st.integers(min_value=1, max_value=10_000), st.sampled_from(TimeUnit))


@given(time_limits)
def test_time_limit_round_trips_through_str_and_labels(limit: TimeLimit) -> None:
    """parse(str(x)) == x, and both labels parse back to the same limit."""
    assert TimeLimit.parse(str(limit)) == limit
    assert TimeLimit.parse(limit.label("zh")) == limit
    assert TimeLimit.parse(limit.label("en")) == limit


# -- OfficeHours ----------------------------------------------------------------------------


def test_office_hours_default_is_seven_and_a_half_hours() -> None:
    """The default office day is 08:30-12:00 and 13:30-17:30, 27000 seconds."""
    hours = OfficeHours()
    assert hours.periods == ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
    assert hours.seconds_per_day == 27000
    assert OfficeHours.parse(["08:30-12:00", "13:30-17:30"]) == hours


def test_office_hours_parse_sorts_periods_and_allows_spaces() -> None:
    """Periods given out of order are sorted; spaces around the dash are tolerated."""
    hours = OfficeHours.parse(["14:00 - 18:00", "9:00-12:00"])
    assert hours.periods == ((time(9, 0), time(12, 0)), (time(14, 0), time(18, 0)))
    assert hours.seconds_per_day == 7 * 3600


def test_office_hours_touching_periods_are_allowed() -> None:
    """Periods that meet end to start do not overlap and are accepted."""
    assert OfficeHours.parse(["08:00-12:00", "12:00-16:00"]).seconds_per_day == 8 * 3600


@pytest.mark.parametrize(
    ("specs", "match"),
    [
        ([], "at least one period"),
        (["8.30-12.00"], r"#1 '8\.30-12\.00'.*HH:MM-HH:MM"),
        (["08:30-12:00", "13:30"], "#2 '13:30'.*HH:MM-HH:MM"),
        (["08:30-24:00"], "not a time of day"),
        (["08:61-12:00"], "not a time of day"),
        (["12:00-08:30"], "'12:00-08:30': end is not after start"),
        (["08:30-08:30"], "end is not after start"),
        (["08:30-12:00", "11:00-14:00"], "'08:30-12:00' and '11:00-14:00' overlap"),
        ("08:30-12:00", "must be a list"),
        ([830], "#1 830"),
    ],
)
def test_office_hours_parse_errors_are_clear(specs: list[str], match: str) -> None:
    """Bad format, end before start, overlap and a missing list each give a message naming the culprit."""
    with pytest.raises(ValueError, match=match):
        OfficeHours.parse(specs)


def test_office_hours_constructor_validates_too() -> None:
    """Direct construction checks the same rules as parse, and whole minutes."""
    with pytest.raises(ValueError, match="end is not after start"):
        OfficeHours(((time(12), time(8)),))
    with pytest.raises(ValueError, match="whole minutes"):
        OfficeHours(((time(8, 0, 30), time(12)),))
    with pytest.raises(ValueError, match="naive"):
        OfficeHours(((time(8, tzinfo=UTC), time(12, tzinfo=UTC)),))


# -- YearOverride ---------------------------------------------------------------------------


def test_year_override_refuses_a_date_both_off_and_worked() -> None:
    """A date cannot be both a holiday and a workday in one override."""
    with pytest.raises(ValueError, match="2027-01-01"):
        YearOverride(holidays=frozenset({date(2027, 1, 1)}), workdays=frozenset({date(2027, 1, 1)}))


def test_calendar_refuses_override_dates_of_another_year() -> None:
    """An override filed under the wrong year names the config key and the date."""
    with pytest.raises(ValueError, match=r"calendar\.years\.2027: 2028-01-01"):
        WorkingCalendar(overrides={2027: YearOverride(holidays=frozenset({date(2028, 1, 1)}))})


# -- working days ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "worked"),
    [
        ("2025-01-26", True),  # Sunday worked before the Spring Festival
        ("2025-01-27", True),
        ("2025-01-28", False),
        ("2025-02-04", False),
        ("2025-02-05", True),
        ("2025-02-08", True),  # Saturday worked
        ("2025-09-27", False),
        ("2025-09-28", True),  # Sunday worked
        ("2025-10-01", False),
        ("2025-10-08", False),
        ("2025-10-09", True),
        ("2025-10-11", True),  # Saturday worked
        ("2026-02-14", True),  # Saturday worked
        ("2026-02-15", False),
        ("2026-02-23", False),  # a Monday, still off
        ("2026-02-24", True),
        ("2026-02-28", True),  # Saturday worked
        ("2026-09-20", True),  # Sunday worked
        ("2026-10-01", False),
        ("2026-10-07", False),
        ("2026-10-08", True),
        ("2026-10-10", True),  # Saturday worked
        ("2026-03-07", False),  # an ordinary Saturday
    ],
)
def test_working_days_follow_the_state_council_notices(day: str, worked: bool) -> None:
    """Holidays and adjusted working days of 2025 and 2026 come out as the notices say."""
    assert CALENDAR.is_working_day(date.fromisoformat(day)) is worked


def test_is_working_day_reads_an_aware_datetime_in_the_calendar_zone() -> None:
    """An aware datetime is judged by its Beijing date: 2025-01-27 20:00 UTC is already the 28th, a holiday."""
    assert CALENDAR.is_working_day(datetime(2025, 1, 27, 20, 0, tzinfo=UTC)) is False
    assert CALENDAR.is_working_day(datetime(2025, 1, 27, 10, 0, tzinfo=UTC)) is True


def test_is_year_known_counts_library_and_overrides() -> None:
    """A year is known when the library has it or an override table supplies it."""
    calendar = WorkingCalendar(overrides={2031: YearOverride()})
    assert calendar.is_year_known(2025) and calendar.is_year_known(2026)
    assert calendar.is_year_known(2031)
    assert not calendar.is_year_known(2030)


# -- working hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "limit", "expected", "why"),
    [
        ("2025-03-03 09:00", "2wh", "2025-03-03 11:00", "inside one period"),
        ("2025-03-03 11:00", "2wh", "2025-03-03 14:30", "across the lunch break"),
        ("2025-03-03 16:30", "2wh", "2025-03-04 09:30", "across a night"),
        ("2025-03-07 16:00", "4wh", "2025-03-10 11:00", "across a weekend"),
        ("2025-09-30 16:00", "4wh", "2025-10-09 11:00", "across National Day 2025"),
        ("2025-09-26 16:00", "4wh", "2025-09-28 11:00", "into the worked Sunday 2025-09-28"),
        ("2025-10-10 16:00", "4wh", "2025-10-11 11:00", "into the worked Saturday 2025-10-11"),
        ("2025-01-30 09:00", "2wh", "2025-02-05 10:30", "start on a Spring Festival holiday"),
        ("2025-03-08 10:00", "2wh", "2025-03-10 10:30", "start on a weekend"),
        ("2025-03-03 07:00", "2wh", "2025-03-03 10:30", "start before opening"),
        ("2025-03-03 12:30", "2wh", "2025-03-03 15:30", "start in the lunch break"),
        ("2025-03-03 18:00", "2wh", "2025-03-04 10:30", "start after closing"),
        ("2025-03-03 17:30", "2wh", "2025-03-04 10:30", "start exactly at closing"),
        ("2025-03-03 09:00", "3wh", "2025-03-03 12:00", "count ends exactly at the morning's end"),
        ("2025-03-03 13:30", "4wh", "2025-03-03 17:30", "count ends exactly at closing"),
        ("2025-03-03 16:30", "1wh", "2025-03-03 17:30", "count ends exactly at closing, not next morning"),
        ("2026-02-13 16:00", "4wh", "2026-02-14 11:00", "into the worked Saturday 2026-02-14"),
        ("2026-02-14 16:00", "4wh", "2026-02-24 11:00", "across Spring Festival 2026"),
    ],
)
def test_working_hours_deadline(start: str, limit: str, expected: str, why: str) -> None:
    """Working hours run only during office time on working days (see the 'why' column)."""
    assert due(start, limit) == at(expected), why


def test_add_working_time_ending_at_period_end_returns_that_end() -> None:
    """3.5 hours from opening end at 12:00 that day, not at 13:30 when the afternoon opens."""
    assert CALENDAR.add_working_time(at("2025-03-03 08:30"), 3.5 * 3600) == at("2025-03-03 12:00")


def test_add_working_time_zero_returns_start_and_negative_is_refused() -> None:
    """Adding nothing is the identity even outside office time; a negative amount is an error."""
    assert CALENDAR.add_working_time(at("2025-03-08 23:00"), 0) == at("2025-03-08 23:00")
    with pytest.raises(ValueError, match=">= 0"):
        CALENDAR.add_working_time(at("2025-03-03 09:00"), -1)


# -- working days ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "limit", "expected", "why"),
    [
        ("2025-03-07 15:00", "1wd", "2025-03-10 15:00", "Friday 15:00 -> next working day 15:00"),
        ("2025-03-08 10:00", "1wd", "2025-03-10 17:30", "dispatched Saturday -> close of Monday"),
        ("2025-03-03 08:30", "1wd", "2025-03-03 17:30", "from opening -> close of the same day"),
        ("2025-03-03 12:00", "1wd", "2025-03-04 12:00", "from the end of the morning -> next day 12:00"),
        ("2025-01-27 10:00", "4wd", "2025-02-08 10:00", "over Spring Festival 2025 to the worked Saturday"),
        ("2025-01-24 15:00", "1wd", "2025-01-26 15:00", "onto the worked Sunday 2025-01-26"),
        ("2025-01-24 15:00", "2wd", "2025-01-27 15:00", "through the worked Sunday"),
        ("2025-01-24 15:00", "3wd", "2025-02-05 15:00", "through the worked Sunday and the holiday"),
        ("2025-09-30 15:00", "1wd", "2025-10-09 15:00", "over National Day 2025"),
        ("2025-09-30 15:00", "4wd", "2025-10-13 15:00", "through the worked Saturday 2025-10-11"),
        ("2025-10-03 09:00", "1wd", "2025-10-09 17:30", "dispatched on a holiday -> close of the first working day"),
        ("2026-02-13 15:00", "1wd", "2026-02-14 15:00", "onto the worked Saturday 2026-02-14"),
        ("2026-02-13 15:00", "2wd", "2026-02-24 15:00", "over Spring Festival 2026"),
        ("2026-02-13 15:00", "7wd", "2026-03-02 15:00", "through the worked Saturday 2026-02-28"),
        ("2026-02-21 10:00", "1wd", "2026-02-24 17:30", "dispatched during Spring Festival 2026"),
        ("2026-09-18 15:00", "1wd", "2026-09-20 15:00", "onto the worked Sunday 2026-09-20"),
        ("2026-09-30 15:00", "1wd", "2026-10-08 15:00", "over National Day 2026"),
        ("2026-09-30 15:00", "3wd", "2026-10-10 15:00", "onto the worked Saturday 2026-10-10"),
        ("2025-03-03 10:00", "20wd", "2025-03-31 10:00", "20 working days (demolition) skip whole days"),
    ],
)
def test_working_days_deadline(start: str, limit: str, expected: str, why: str) -> None:
    """N working days are N office days of office time, on the official calendar (see 'why')."""
    assert due(start, limit) == at(expected), why


# -- clock hours ----------------------------------------------------------------------------


def test_urgent_hours_ignore_holidays_and_nights() -> None:
    """An urgent missing manhole cover (4 hours) dispatched on a holiday night is due 4 clock hours later."""
    assert due("2026-10-01 22:00", "4 hours") == at("2026-10-02 02:00")
    assert due("2025-01-28 10:00", "24h") == at("2025-01-29 10:00")


def test_hours_are_elapsed_time_across_zones() -> None:
    """Clock hours add elapsed time to any aware start; the result is in the calendar's zone."""
    result = CALENDAR.deadline(datetime(2025, 3, 3, 23, 0, tzinfo=UTC), TimeLimit(4, TimeUnit.HOURS))
    assert result == datetime(2025, 3, 4, 3, 0, tzinfo=UTC)
    assert result.tzinfo == SHANGHAI


# -- time zones and naive input -------------------------------------------------------------


def test_utc_input_is_counted_in_beijing_office_hours() -> None:
    """A UTC start is converted to Beijing time: 02:00 UTC is 10:00 in the office."""
    result = CALENDAR.deadline(datetime(2025, 3, 3, 2, 0, tzinfo=UTC), TimeLimit(2, TimeUnit.WORKING_HOURS))
    assert result == datetime(2025, 3, 3, 4, 0, tzinfo=UTC)
    assert result.tzinfo == SHANGHAI


def test_calendar_timezone_is_configurable() -> None:
    """Office hours are read on the calendar's own wall clock."""
    calendar = WorkingCalendar(tz=ZoneInfo("UTC"))
    result = calendar.deadline(datetime(2025, 3, 3, 9, 0, tzinfo=UTC), TimeLimit(1, TimeUnit.WORKING_HOURS))
    assert result == datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def test_custom_office_hours_change_the_working_day() -> None:
    """With one 09:00-17:00 period a working day is 8 hours and has no lunch break."""
    calendar = WorkingCalendar(office_hours=OfficeHours.parse(["09:00-17:00"]))
    assert due("2025-03-03 11:00", "2wh", calendar) == at("2025-03-03 13:00")
    assert due("2025-03-07 15:00", "1wd", calendar) == at("2025-03-10 15:00")
    assert due("2025-03-08 15:00", "1wd", calendar) == at("2025-03-10 17:00")


NAIVE = datetime(2025, 3, 3, 9, 0)


@pytest.mark.parametrize("unit", list(TimeUnit))
def test_deadline_refuses_naive_datetime(unit: TimeUnit) -> None:
    """A naive start is refused for every unit, since its zone would be a guess."""
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.deadline(NAIVE, TimeLimit(1, unit))


def test_other_entry_points_refuse_naive_datetimes() -> None:
    """add_working_time, working_seconds_between and is_working_day refuse naive datetimes too."""
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.add_working_time(NAIVE, 60)
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.working_seconds_between(NAIVE, at("2025-03-03 10:00"))
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.working_seconds_between(at("2025-03-03 10:00"), NAIVE)
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.is_working_day(NAIVE)


# -- overrides and unknown years ------------------------------------------------------------


def test_override_holiday_beats_the_library() -> None:
    """A local holiday declared for a library-known year (Mon 2026-03-09) stops the clock that day."""
    calendar = WorkingCalendar(overrides={2026: YearOverride(holidays=frozenset({date(2026, 3, 9)}))})
    assert not calendar.is_working_day(date(2026, 3, 9))
    assert due("2026-03-06 15:00", "1wd", calendar) == at("2026-03-10 15:00")
    # Dates the override does not list still follow the library.
    assert not calendar.is_working_day(date(2026, 10, 1))
    assert calendar.is_working_day(date(2026, 2, 14))


def test_override_workday_beats_the_library() -> None:
    """A date the library calls a holiday or weekend is worked when the override says so."""
    calendar = WorkingCalendar(overrides={2026: YearOverride(workdays=frozenset({date(2026, 3, 7), date(2026, 10, 5)}))})
    assert calendar.is_working_day(date(2026, 10, 5))
    assert due("2026-03-06 15:00", "1wd", calendar) == at("2026-03-07 15:00")


def test_override_for_unknown_year_beats_the_fallback(caplog: pytest.LogCaptureFixture) -> None:
    """A configured 2031 (made-up holidays) decides its days and logs no warning."""
    caplog.set_level(logging.WARNING, logger="hotline.worktime")
    calendar = WorkingCalendar(
        overrides={
            2031: YearOverride(
                holidays=frozenset({date(2031, 1, 1), date(2031, 1, 2), date(2031, 1, 3)}),
                workdays=frozenset({date(2031, 1, 4)}),
            )
        }
    )
    assert not calendar.is_working_day(date(2031, 1, 1))  # a Wednesday, declared off
    assert calendar.is_working_day(date(2031, 1, 4))  # a Saturday, declared worked
    assert not calendar.is_working_day(date(2031, 1, 5))  # unlisted Sunday
    assert calendar.is_working_day(date(2031, 1, 6))  # unlisted Monday
    assert due("2030-12-31 15:00", "1wd", calendar) == at("2031-01-04 15:00")
    assert [r for r in caplog.records if "2031" in r.getMessage()] == []


def test_unknown_year_falls_back_to_weekdays_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    """Without data for 2030, Monday-Friday are worked and one warning names calendar.years.2030."""
    caplog.set_level(logging.WARNING, logger="hotline.worktime")
    calendar = WorkingCalendar()
    assert calendar.is_working_day(date(2030, 1, 1))  # a Tuesday; New Year is unknown
    assert not calendar.is_working_day(date(2030, 1, 5))  # a Saturday
    assert due("2030-01-04 15:00", "1wd", calendar) == at("2030-01-07 15:00")
    assert due("2030-05-01 09:00", "4wd", calendar) == at("2030-05-07 09:00")
    warnings = [r for r in caplog.records if r.name == "hotline.worktime"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "2030" in warnings[0].getMessage()
    assert "calendar.years.2030" in warnings[0].getMessage()


def test_each_unknown_year_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    """A deadline crossing from a known year into an unknown one warns for that year only, once."""
    caplog.set_level(logging.WARNING, logger="hotline.worktime")
    calendar = WorkingCalendar()
    # 2027-01-01 is a Friday: with no data it counts as a working day.
    assert due("2026-12-31 15:00", "1wd", calendar) == at("2027-01-01 15:00")
    calendar.is_working_day(date(2027, 6, 1))
    calendar.is_working_day(date(2028, 6, 1))
    messages = [r.getMessage() for r in caplog.records if r.name == "hotline.worktime"]
    assert len(messages) == 2
    assert "calendar.years.2027" in messages[0]
    assert "calendar.years.2028" in messages[1]


def test_search_is_capped() -> None:
    """A limit beyond ten years of search raises instead of looping on."""
    calendar = WorkingCalendar(overrides={y: YearOverride() for y in range(2027, 2040)})
    with pytest.raises(ValueError, match="3653 days"):
        calendar.deadline(at("2025-03-03 09:00"), TimeLimit(100_000, TimeUnit.WORKING_DAYS))
    with pytest.raises(ValueError, match="3653 days"):
        calendar.working_seconds_between(at("2025-03-03 09:00"), at("2036-03-03 09:00"))


# -- working_seconds_between ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "hours"),
    [
        ("2025-03-03 09:00", "2025-03-03 09:00", 0),
        ("2025-03-03 09:00", "2025-03-03 11:00", 2),
        ("2025-03-03 11:00", "2025-03-03 14:30", 2),
        ("2025-03-03 12:10", "2025-03-03 13:20", 0),
        ("2025-03-03 18:00", "2025-03-04 08:00", 0),
        ("2025-03-07 16:00", "2025-03-10 11:00", 4),
        ("2025-03-03 00:00", "2025-03-10 00:00", 5 * 7.5),
        ("2025-09-30 00:00", "2025-10-13 00:00", 4 * 7.5),  # 09-30, 10-09, 10-10, 10-11
        ("2025-01-27 10:00", "2025-02-08 10:00", 4 * 7.5),
        ("2026-02-14 00:00", "2026-03-01 00:00", 6 * 7.5),  # 02-14, 02-24 .. 02-28
    ],
)
def test_working_seconds_between_counts_only_office_time(a: str, b: str, hours: float) -> None:
    """Elapsed working time counts office hours on working days only."""
    assert CALENDAR.working_seconds_between(at(a), at(b)) == hours * 3600


def test_working_seconds_between_is_negative_when_reversed() -> None:
    """Going backwards gives the same amount, negated (remaining time of an overdue ticket)."""
    assert CALENDAR.working_seconds_between(at("2025-03-03 14:30"), at("2025-03-03 11:00")) == -2 * 3600


# -- properties ----------------------------------------------------------------------------

starts = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2026, 12, 31, 23, 59, 59),
    timezones=st.sampled_from([SHANGHAI, ZoneInfo("UTC")]),
)
amounts = st.integers(min_value=1, max_value=60)
units = st.sampled_from(TimeUnit)


@settings(max_examples=300)
@given(starts, amounts)
def test_working_hours_deadline_is_exactly_n_hours_of_office_time(start: datetime, n: int) -> None:
    """Between a start and its N-working-hours deadline lie exactly N hours of office time."""
    end = CALENDAR.deadline(start, TimeLimit(n, TimeUnit.WORKING_HOURS))
    assert CALENDAR.working_seconds_between(start, end) == n * 3600


@settings(max_examples=200)
@given(starts, amounts)
def test_working_days_deadline_is_exactly_n_office_days(start: datetime, n: int) -> None:
    """Between a start and its N-working-days deadline lie exactly N office days of office time."""
    end = CALENDAR.deadline(start, TimeLimit(n, TimeUnit.WORKING_DAYS))
    assert CALENDAR.working_seconds_between(start, end) == n * DAY


@settings(max_examples=300)
@given(starts, amounts, units)
def test_deadline_is_never_before_start(start: datetime, n: int, unit: TimeUnit) -> None:
    """A deadline is never earlier than its start, and is an aware datetime in the calendar zone."""
    end = CALENDAR.deadline(start, TimeLimit(n, unit))
    assert end >= start
    assert end.tzinfo == SHANGHAI


@settings(max_examples=300)
@given(starts, starts, amounts, units)
def test_deadline_is_monotonic_in_start(a: datetime, b: datetime, n: int, unit: TimeUnit) -> None:
    """A later start never gives an earlier deadline."""
    a, b = sorted((a, b))
    limit = TimeLimit(n, unit)
    assert CALENDAR.deadline(a, limit) <= CALENDAR.deadline(b, limit)


@settings(max_examples=300)
@given(starts, amounts, amounts, units)
def test_deadline_is_monotonic_in_amount(start: datetime, m: int, n: int, unit: TimeUnit) -> None:
    """A larger limit never gives an earlier deadline."""
    m, n = sorted((m, n))
    assert CALENDAR.deadline(start, TimeLimit(m, unit)) <= CALENDAR.deadline(start, TimeLimit(n, unit))


@settings(max_examples=300)
@given(starts, st.integers(min_value=1, max_value=200 * 3600))
def test_working_time_lands_in_office_time(start: datetime, seconds: int) -> None:
    """A counted deadline lies within an office period of a working day (a period end counts)."""
    end = CALENDAR.add_working_time(start, seconds).astimezone(SHANGHAI)
    assert CALENDAR.is_working_day(end.date())
    assert any(s < end.time() <= e for s, e in CALENDAR.office_hours.periods)


@given(starts, starts)
def test_working_seconds_between_is_antisymmetric(a: datetime, b: datetime) -> None:
    """Swapping the ends negates the working time between them."""
    assert CALENDAR.working_seconds_between(a, b) == -CALENDAR.working_seconds_between(b, a)
