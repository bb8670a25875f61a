"""The instance timeline as the page draws it: one row per step of the plan, placed on a strip of days
between the plan's first and last dates, with today's line. Presentation only: the dates are the plan's."""
from datetime import timedelta

from engine import clock


def _day(moment):
    return moment.replace(hour=0, minute=0, second=0, microsecond=0) if moment else None


def rows(plan, start):
    """(rows, today's position in %, the strip's first and last day) for `plan` of an instance started at `start`."""
    now = clock.now()
    moments = [start, now] + [m for s in plan["steps"] for m in (s["planned_due"], s["completed_at"]) if m]
    first, last = _day(min(moments)), _day(max(moments)) + timedelta(days=1)
    span = (last - first).total_seconds()

    def at(moment):
        return round(100 * (moment - first).total_seconds() / span, 2)

    drawn = []
    for step in plan["steps"]:
        when = step["completed_at"] or step["planned_due"]
        late = (step["state"] == "open" and step["due_at"] is not None and step["due_at"] < now) or \
               (step["state"] == "done" and step["due_at"] is not None and step["completed_at"] > step["due_at"])
        drawn.append({**step, "at": at(when) if when else None, "planned_at": at(step["planned_due"])
                      if step["planned_due"] else None, "late": late})
    return drawn, at(now), first, last - timedelta(days=1)
