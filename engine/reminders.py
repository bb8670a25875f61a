"""When a task's reminders go out.

A step names its reminders in a `camunda:properties` entry `reminders` (`PT48H,PT24H`: 48 and 24
hours before the due date), or its process does for all its steps. A step without either is reminded
at its follow-up date if it has one, else `BATON_REMINDER_HOURS` before its due date (a list, `48,24`,
gives several). A reminder whose
moment has already come when the task opens (or comes within its first minute) is folded into the
task's "new task" notice: nobody gets two notices about one task in the same minute. With a default
calendar, a reminder counted back from the due date that falls outside working hours goes at the
nearest working moment before the due date instead (the end of the working day before it, or the start
of the one after), so nobody is reminded on a Saturday or at night; two that meet there are one.
"""
import os
from datetime import timedelta

from . import calendars, deadlines, workdays

FOLD = timedelta(minutes=1)


def server_leads():
    """BATON_REMINDER_HOURS as seconds before the due date, the earliest reminder first."""
    hours = [float(part) for part in os.environ.get("BATON_REMINDER_HOURS", "24").split(",") if part.strip()]
    return sorted((int(h * 3600) for h in hours), reverse=True)


def leads(step):
    """The step's reminders as seconds before its due date (see the module's docstring)."""
    if step.get("reminders"):
        return sorted((int(deadlines.parse_duration(part).total_seconds())
                       for part in step["reminders"].split(",") if part.strip()), reverse=True)
    return [] if step.get("follow_up") else server_leads()


def moments(task):
    """Every reminder moment of a task (its `due_at`, `follow_up_at` and `reminder_leads`), in order."""
    calendar = calendars.active()
    found = {workdays.in_working_hours(calendar, task.due_at - timedelta(seconds=lead), task.due_at)
             for lead in (task.reminder_leads or ()) if task.due_at}
    if task.follow_up_at:
        found.add(task.follow_up_at)
    return sorted(moment for moment in found if task.due_at is None or moment < task.due_at)


def next_after(task, moment):
    """The first reminder after `moment`, or None."""
    return next((at for at in moments(task) if at > moment), None)


def first(task, opened_at):
    """The first reminder of a task that opened at `opened_at`: those due by then are folded into its notice."""
    return next_after(task, opened_at + FOLD)


def folded(task, opened_at):
    """Whether a reminder of the task was due when it opened, so its "new task" notice says so."""
    return any(at <= opened_at + FOLD for at in moments(task)) and (task.due_at is None or task.due_at > opened_at)
