"""The plan of an instance: every human step on the path ahead, with its planned due date and owner,
known from the start and kept in step with the data its dates are drawn from.

Owns three things, one module each:
- `walk`: which steps lie ahead, read from the process graph of the stored spec (never by running or
  even loading the workflow): the path already taken (its steps have task rows), then the conditions
  current data decides, then default flows; branches the data cannot decide yet are `undecided`; a
  loop counts once; embedded sub-processes and called processes are walked in their place.
- `build`: the dates: expression due dates evaluated with current data in the sandbox, durations
  chained from the step before (or the step's `estimate`), completed steps with their actual dates.
- `anchor`: moving an anchor date: data changed through the API, the instance page or a task's form
  re-dates the open tasks, their reminders and the waiting timers that read it, in the same
  transaction, and tells each person whose date moved.
"""
from .build import around, of_instance, preview

__all__ = ["around", "of_instance", "preview"]
