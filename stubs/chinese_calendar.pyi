# The part of chinesecalendar (which ships no type information) that hotline.tickets.worktime uses.
import datetime

def is_workday(date: datetime.date) -> bool: ...
