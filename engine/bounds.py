"""Bounds on the work a diagram, or the data a form puts into it, can make the engine do.

The sandbox bounds the code a diagram runs; SpiffWorkflow then acts on what that code returns, in
this process and without limits of its own:
- a timer duration is turned into a date month by month (`P2000000Y` is 24 million steps);
- a timer cycle `R/PT0S` fires on every worker pass, as often as the worker can take it;
- a multi-instance activity makes one task per item, however many a number or a list in the data asks;
- a DMN input entry goes through a regular expression whose cost grows with the square of its `?`s.

Each is bounded here, once, where SpiffWorkflow does the work (its static helpers and the
multi-instance `create_child` are wrapped at import), so every entry point (start, completion, the
timer worker, retry) obeys the same limits. A breach raises `LimitExceeded`, which the runtime turns
into an incident on the element, and which deploy reports when the value is written in the diagram.
The limits are settings (see docs/security.md).
"""
import datetime as _dt
import os

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState

from . import clock

MAX_TIMER_YEARS = int(os.environ.get("BATON_MAX_TIMER_YEARS", 100))
MIN_TIMER_CYCLE_SECONDS = float(os.environ.get("BATON_MIN_TIMER_CYCLE_SECONDS", 60))
MAX_INSTANCES_PER_ACTIVITY = int(os.environ.get("BATON_MAX_INSTANCES_PER_ACTIVITY", 1000))
MAX_OPEN_TASKS_PER_INSTANCE = int(os.environ.get("BATON_MAX_OPEN_TASKS_PER_INSTANCE", 5000))

_MAX_TIMER_SECONDS = MAX_TIMER_YEARS * 366 * 86400
_SECONDS_PER = {"years": 366 * 86400, "months": 31 * 86400, "weeks": 7 * 86400, "days": 86400,
                "hours": 3600, "minutes": 60, "seconds": 1}


class LimitExceeded(Exception):
    """A value from a diagram or its data asks the engine for more work than Baton allows."""


# ---------------------------------------------------------------------------------------------
# Timers

_parse_duration = TimerEventDefinition.parse_iso_duration
_get_datetime = TimerEventDefinition.get_datetime
_parse_cycle = TimerEventDefinition.parse_iso_recurring_interval


def bounded_duration(expression):
    parsed = _parse_duration(expression)
    if sum(value * _SECONDS_PER[unit] for unit, value in parsed.items()) > _MAX_TIMER_SECONDS:
        raise LimitExceeded(f"timer duration {_shown(expression)} is longer than {MAX_TIMER_YEARS} years")
    return parsed


def bounded_datetime(expression):
    moment = _get_datetime(expression)
    latest = clock.now().replace(tzinfo=_dt.UTC) + _dt.timedelta(days=366 * MAX_TIMER_YEARS)
    if moment > latest:
        raise LimitExceeded(f"timer date {_shown(expression)} is more than {MAX_TIMER_YEARS} years away")
    return moment


def bounded_cycle(expression):
    cycles, start, interval = _parse_cycle(expression)
    if interval.total_seconds() < MIN_TIMER_CYCLE_SECONDS:
        raise LimitExceeded(f"timer cycle {_shown(expression)} repeats more often than every "
                            f"{MIN_TIMER_CYCLE_SECONDS:g} s")
    return cycles, start, interval


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def naming_the_timer(method):
    """The timer's task attached to a breach, so the incident names the timer element."""
    def checked(self, my_task):
        try:
            return method(self, my_task)
        except LimitExceeded as error:
            raise WorkflowTaskException(str(error), task=my_task) from None
    return checked


_TIMER_PARSERS = {"timeDuration": bounded_duration, "timeDate": TimerEventDefinition.parse_time_or_duration,
                  "timeCycle": bounded_cycle}


def timer_problem(kind, value):
    """Why the literal timer `value` of `kind` (timeDuration, timeDate, timeCycle) is out of bounds, or None."""
    try:
        _TIMER_PARSERS[kind](value)
    except LimitExceeded as error:
        return str(error)
    except Exception:  # noqa: BLE001 - a malformed value is reported when it runs, as before
        return None
    return None


# ---------------------------------------------------------------------------------------------
# Multi-instance fan-out

_create_child = MultiInstanceTask.create_child


def bounded_create_child(self, my_task, item, key_or_index=None):
    made = len(my_task.children)
    if made >= MAX_INSTANCES_PER_ACTIVITY:
        raise WorkflowTaskException(f"multi-instance activity would run more than {MAX_INSTANCES_PER_ACTIVITY} "
                                    "instances (BATON_MAX_INSTANCES_PER_ACTIVITY)", task=my_task)
    if made % 100 == 0 and _open_tasks(my_task.workflow) >= MAX_OPEN_TASKS_PER_INSTANCE:
        raise WorkflowTaskException(f"the process instance would have more than {MAX_OPEN_TASKS_PER_INSTANCE} "
                                    "open tasks (BATON_MAX_OPEN_TASKS_PER_INSTANCE)", task=my_task)
    return _create_child(self, my_task, item, key_or_index)


def _open_tasks(workflow):
    top = getattr(workflow, "top_workflow", None) or workflow
    workflows = [top, *getattr(top, "subprocesses", {}).values()]
    return sum(1 for w in workflows for task in w.tasks.values() if not task.has_state(TaskState.FINISHED_MASK))



# ---------------------------------------------------------------------------------------------
# DMN input entries

def mark_input_references(match_expr):
    """`?` outside quotes → `dmninputexpr`, in one pass.

    SpiffWorkflow does this with a look-ahead regular expression whose cost grows with the square of
    the number of `?`s. A `?` is outside quotes when an even number of quote characters follows it
    (the look-ahead accepts `'` and `"` alike); counting them from the end gives the same result."""
    out, quotes_after = [], 0
    for char in reversed(match_expr):
        if char in "'\"":
            quotes_after += 1
        out.append("dmninputexpr" if char == "?" and quotes_after % 2 == 0 else char)
    return "".join(reversed(out))


class LinearSub:
    """The `re` module as SpiffWorkflow's DMN engine uses it (only `re.sub` with its one pattern)."""

    @staticmethod
    def sub(pattern, replacement, text):
        return mark_input_references(text)

