"""Camunda's cron timer cycles (`0 0 9 ? * MON-FRI`), which SpiffWorkflow cannot read.

Camunda 7 accepts, besides ISO 8601 repetitions (`R/P7D`), a Quartz cron expression in a `timeCycle`:
six or seven fields — second, minute, hour, day of month, month, day of week (1 = Sunday, or SUN-SAT),
and an optional year — each `*`, `?`, a number, a range `a-b`, a list `a,b` or a step `a/n`, `*/n`.
Baton reads them in UTC and fires them for ever (a cron cycle has no repetition count). The Quartz
specials `L`, `W` and `#` are refused at deploy in plain words, as is a cycle that fires more often
than BATON_MIN_TIMER_CYCLE_SECONDS.
"""
import datetime as _dt
from dataclasses import dataclass

from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition

from modeller.normalise import is_cron

from . import bounds, clock

_MONTHS = {name: n for n, name in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                                              "NOV", "DEC"), 1)}
_DAYS = {name: n for n, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
# (name, lowest, highest, names) of each field in order
_FIELDS = (("second", 0, 59, {}), ("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
           ("month", 1, 12, _MONTHS), ("day of week", 1, 7, _DAYS), ("year", 1970, 2199, {}))
_SEARCH_DAYS = 5 * 366


@dataclass(frozen=True)
class Schedule:
    seconds: tuple
    minutes: tuple
    hours: tuple
    days: frozenset | None        # days of month, None: any
    months: frozenset
    weekdays: frozenset | None    # ISO weekdays (1 = Monday), None: any
    years: frozenset | None

    def fires_on(self, day):
        return (day.month in self.months and (self.years is None or day.year in self.years)
                and (self.days is None or day.day in self.days)
                and (self.weekdays is None or day.isoweekday() in self.weekdays))


def _values(text, name, low, high, names):
    if any(special in text.upper() for special in ("L", "W", "#")) and not any(n in text.upper() for n in names):
        raise ValueError(f"the {name} field {text!r} uses L, W or #, which Baton does not support")
    found = set()
    for part in text.split(","):
        body, _, step = part.partition("/")
        if body in ("*", "?", ""):
            first, last = low, high
        elif "-" in body:
            first, last = (_number(v, name, low, high, names) for v in body.split("-", 1))
        else:
            first = _number(body, name, low, high, names)
            last = high if step else first
        every = _number(step, name, 1, high, {}) if step else 1
        if first > last:
            raise ValueError(f"the {name} field {text!r} has a range that runs backwards")
        found.update(range(first, last + 1, every))
    return found


def _number(text, name, low, high, names):
    value = names.get(text.upper()) if text.upper() in names else int(text) if text.isdigit() else None
    if value is None or not low <= value <= high:
        raise ValueError(f"the {name} field has {text!r}; use {low} to {high}"
                         + (f" or names ({', '.join(list(names)[:3])}…)" if names else ""))
    return value


def parse(text):
    """The Schedule of a cron expression, or ValueError saying which field is wrong and why."""
    if not is_cron(text):
        raise ValueError(f"{text!r} is not a cron expression: six or seven fields, seconds first")
    parts = text.split()
    values = [_values(part, *spec) for part, spec in zip(parts, _FIELDS)]
    day_of_month, day_of_week = parts[3], parts[5]
    if day_of_month not in ("*", "?") and day_of_week not in ("*", "?"):
        raise ValueError("give either the day of month or the day of week, and ? for the other")
    weekdays = None if day_of_week in ("*", "?") else frozenset(7 if d == 1 else d - 1 for d in values[5])
    return Schedule(tuple(sorted(values[0])), tuple(sorted(values[1])), tuple(sorted(values[2])),
                    None if day_of_month in ("*", "?") else frozenset(values[3]), frozenset(values[4]), weekdays,
                    frozenset(values[6]) if len(parts) == 7 else None)


def next_after(schedule, moment):
    """The first moment after `moment` (naive UTC) at which `schedule` fires."""
    start = moment.replace(microsecond=0) + _dt.timedelta(seconds=1)
    day = start.date()
    for _ in range(_SEARCH_DAYS):
        if schedule.fires_on(day):
            earliest = start.time() if day == start.date() else _dt.time(0)
            at = _first_time(schedule, earliest)
            if at is not None:
                return _dt.datetime.combine(day, at)
        day += _dt.timedelta(days=1)
    raise ValueError("the cron expression does not fire in the next five years")


def _first_time(schedule, earliest):
    for hour in (h for h in schedule.hours if h >= earliest.hour):
        for minute in schedule.minutes:
            if hour == earliest.hour and minute < earliest.minute:
                continue
            for second in schedule.seconds:
                if (hour, minute) == (earliest.hour, earliest.minute) and second < earliest.second:
                    continue
                return _dt.time(hour, minute, second)
    return None


def problem(text):
    """Why a literal cron cycle cannot be used, or None (checked at deploy)."""
    try:
        schedule = parse(text)
        moment, gaps = _dt.datetime(2026, 1, 1), []
        for _ in range(24):
            following = next_after(schedule, moment)
            gaps.append((following - moment).total_seconds())
            moment = following
    except ValueError as error:
        return f"cron cycle {text!r}: {error}"
    if min(gaps[1:]) < bounds.MIN_TIMER_CYCLE_SECONDS:
        return f"timer cycle {text!r} repeats more often than every {bounds.MIN_TIMER_CYCLE_SECONDS:g} s"
    return None


_iso_cycle_complete = CycleTimerEventDefinition.cycle_complete


def first_firing(expression):
    """The `event_value` SpiffWorkflow keeps for a cycle timer as it starts waiting: for ISO (`R3/…/P1D`)
    its repetitions, first moment and interval; for cron its expression and first moment. A cron cycle the
    engine cannot keep (too frequent, malformed) raises LimitExceeded, as an ISO one does when parsed."""
    if not is_cron(expression):
        cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(expression)
        return {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}
    problem_found = problem(expression)
    if problem_found:
        raise bounds.LimitExceeded(problem_found)
    return {"cycles": -1, "cron": expression,
            "next": next_after(parse(expression), clock.now()).replace(tzinfo=_dt.UTC).isoformat()}


def cycle_complete(self, my_task):
    """SpiffWorkflow's cycle step, which also reads cron: the next firing is kept in `event_value` as for
    ISO cycles (with the expression, so each firing computes the one after it)."""
    event_value = my_task._get_internal_data("event_value")
    if event_value is None:
        event_value = first_firing(my_task.workflow.script_engine.evaluate(my_task, self.expression))
        my_task._set_internal_data(event_value=event_value)
    if "cron" not in event_value:
        return _iso_cycle_complete(self, my_task)
    due = _dt.datetime.fromisoformat(event_value["next"])
    ready = due < clock.now().replace(tzinfo=_dt.UTC)
    if ready:
        following = next_after(parse(event_value["cron"]), due.astimezone(_dt.UTC).replace(tzinfo=None))
        event_value["next"] = following.replace(tzinfo=_dt.UTC).isoformat()
    my_task._set_internal_data(event_value=event_value)
    return ready
