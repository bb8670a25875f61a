"""Turning a step's `camunda:dueDate`/`followUpDate` into a moment: an ISO date-time, an ISO
duration counted from when the task became ready (`P2D`), or an expression over the instance
data run in the sandbox (`publish_date - days(25)`)."""
import datetime as _dt
import re

from modeller.elements import deadline_kind
from modeller.normalise import juel_to_python

from . import calendars, sandbox, workdays

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
                       r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_duration(text):
    """ISO 8601 duration; a year counts 365 days and a month 30 (calendar-free, as Camunda does)."""
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    years, months, weeks, days, hours, minutes, seconds = (float(g) if g else 0 for g in match.groups())
    return _dt.timedelta(days=years * 365 + months * 30 + weeks * 7 + days, hours=hours, minutes=minutes,
                         seconds=seconds)


def as_utc(value):
    """A date, date-time or ISO text as a naive UTC datetime (dates mean midnight UTC)."""
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day)
    raise ValueError(f"a deadline must be a date or date-time, not {type(value).__name__}")


def resolve(text, data, ready_at):
    """The moment `text` names, for a task that became ready at `ready_at`; None when empty. A date that
    falls on a day nobody works moves to the working day before it when it is counted back from the data
    (an expression without `+`), to the one after it otherwise (see engine.calendars)."""
    if not text:
        return None
    kind = deadline_kind(text)
    if kind == "instant":
        return as_utc(text)
    if kind == "duration":
        return workdays.to_working_day(calendars.active(), ready_at + parse_duration(text), backwards=False)
    return workdays.to_working_day(calendars.active(), as_utc(sandbox.run(juel_to_python(text), dict(data))),
                                   backwards="+" not in text)
