# The part of chinesecalendar (which ships no type information) that hotline.tickets.worktime uses.
import datetime

def is_workday(date: datetime.date) -> bool: ...

# hotline.settings (the admin calendar's month view): (is a holiday, the festival's English name or None).
def get_holiday_detail(date: datetime.date) -> tuple[bool, str | None]: ...
