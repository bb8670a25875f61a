"""Turning a step's `camunda:dueDate`/`followUpDate` into a moment: an ISO date-time, an ISO
duration counted from when the task became ready (`P2D`), or an expression over the instance
data run in the sandbox (`publish_date - days(25)`)."""
import datetime as _dt

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from modeller.elements import deadline_kind
from modeller.normalise import juel_to_python

from . import bounds, calendars, clock, sandbox, workdays


def parse_duration(text, start=None):
    """ISO 8601 duration as a length counted from `start` (default: now), with the calendar arithmetic
    SpiffWorkflow's timers use (a month is as long as the month it starts in) and the limits
    `engine.bounds` puts on them, so `P1M` means one thing for a timer, a due date, a reminder and an
    estimate."""
    text = str(text).strip()
    if not text.startswith("P") or text in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    try:
        parsed = TimerEventDefinition.parse_iso_duration(text)
    except bounds.LimitExceeded as error:
        raise ValueError(str(error)) from None
    except Exception:   # SpiffWorkflow raises a bare Exception("Invalid duration")  # noqa: BLE001
        raise ValueError(f"not an ISO 8601 duration: {text!r}") from None
    return TimerEventDefinition.get_timedelta_from_start(parsed, start or clock.now())


def as_utc(value):
    """A date, date-time or ISO text as a naive UTC datetime; a day without a time (a date, or ISO text
    of a date) is due at the end of that working day (`workdays.close_of`)."""
    if isinstance(value, str):
        text = value.strip()
        value = (_dt.date.fromisoformat(text) if len(text) == 10
                 else _dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, _dt.date):
        return workdays.close_of(calendars.active(), value)
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
        return workdays.to_working_day(calendars.active(), ready_at + parse_duration(text, ready_at), backwards=False)
    return workdays.to_working_day(calendars.active(), as_utc(sandbox.run(juel_to_python(text), dict(data))),
                                   backwards="+" not in text)
