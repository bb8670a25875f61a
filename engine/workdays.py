"""Counting working days: the one rule for `working_days(n)` in diagram code, for moving a planned date
off a weekend or holiday, and for the plan. Plain Python with no imports from Baton, because the
sandbox worker runs it too. A calendar here is {"weekdays": [ISO weekday numbers], "holidays": [ISO
dates], "day_starts": "HH:MM", "day_ends": "HH:MM"}; without one every day is a working day and a day
has no hours."""
import datetime as _dt

EVERY_DAY = {"weekdays": [1, 2, 3, 4, 5, 6, 7], "holidays": []}
MAX_DAYS = 3660   # ten years: a calendar with no working day at all must not loop for ever


def _day(moment):
    return moment.date() if isinstance(moment, _dt.datetime) else moment


def works(calendar, moment):
    day = _day(moment)
    return day.isoweekday() in calendar["weekdays"] and day.isoformat() not in calendar["holidays"]


def _step(calendar, moment, direction):
    for _ in range(MAX_DAYS):
        moment += _dt.timedelta(days=direction)
        if works(calendar, moment):
            return moment
    raise ValueError("the calendar has no working day")


def to_working_day(calendar, moment, backwards):
    """`moment` if it falls on a working day, else the working day before it (`backwards`) or after it."""
    return moment if works(calendar, moment) else _step(calendar, moment, -1 if backwards else 1)


def _at(day, hours_and_minutes):
    hours, _, minutes = hours_and_minutes.partition(":")
    return _dt.datetime(day.year, day.month, day.day, int(hours), int(minutes))


def close_of(calendar, day):
    """When work is due that is due on `day` (a date): at the end of the calendar's working day, so a step
    due on the 10th is late once the 10th's work is over, not from its first minute; midnight (the start
    of the day, as Camunda reads a date) when the calendar has no hours."""
    return _at(day, calendar.get("day_ends", "00:00"))


def in_working_hours(calendar, moment, latest):
    """`moment` if it falls in working hours, else the nearest working moment to it — the end of the
    working day before or the start of the one after — but never after `latest`: a reminder counted back
    from a due date reaches people at work, not on a Saturday or at 3 a.m. Unchanged without hours."""
    if "day_starts" not in calendar or "day_ends" not in calendar:
        return moment
    starts, ends = calendar["day_starts"], calendar["day_ends"]
    opens, closes, working = _at(moment, starts), _at(moment, ends), works(calendar, moment)
    if working and opens <= moment <= closes:
        return moment
    before = closes if working and moment > closes else _at(_step(calendar, moment, -1), ends)
    after = opens if working and moment < opens else _at(_step(calendar, moment, 1), starts)
    return after if after <= latest and after - moment < moment - before else before


def add(calendar, moment, n):
    """`moment` moved by `n` working days (back when `n` is negative); the time of day is kept."""
    for _ in range(abs(int(n))):
        moment = _step(calendar, moment, -1 if n < 0 else 1)
    return moment


class WorkingDays:
    """What `working_days(n)` gives diagram code: `publish_date - working_days(3)` is three working days
    before the publish date, `start + working_days(2)` two after."""

    def __init__(self, n, calendar):
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_DAYS:
            raise ValueError(f"working_days takes a whole number of days from 0 to {MAX_DAYS}")
        self._n, self._calendar = n, calendar   # private: diagram code cannot reach underscore names

    def __repr__(self):
        return f"working_days({self._n})"

    def __radd__(self, moment):
        if not isinstance(moment, _dt.date):
            return NotImplemented
        return add(self._calendar, moment, self._n)

    def __rsub__(self, moment):
        if not isinstance(moment, _dt.date):
            return NotImplemented
        return add(self._calendar, moment, -self._n)
