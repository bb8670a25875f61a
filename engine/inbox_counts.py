"""The number of open tasks under each candidate key, for tab sizes that do not count every visible task.

Only tasks with one key are counted here (`InboxCount`): a task shared by several keys must be counted
once for a person holding two of them, so those few are told apart when the tabs are counted. A change
adds up what it opens and closes per key and writes the sums that are not zero, in key order, as its
last writes: two changes that move tasks between the same roles in opposite directions then lock the
counters in the same order and queue instead of deadlocking on PostgreSQL. A process whose steps stay
with one role writes no counter at all until its last step.
"""
from collections import Counter

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite

from . import driver
from .models import InboxCount


def tally(deltas: Counter, keys, step):
    """Add `step` (+1 opened, -1 closed) for a task with these candidate keys, if it has only one."""
    if keys and len(keys) == 1:
        deltas[keys[0]] += step


def _add_to_count(dialect):
    """INSERT … ON CONFLICT DO UPDATE adding `delta` to the key's count (SQLite and PostgreSQL say it alike)."""
    statement = dialect.insert(InboxCount.__table__).values(key=bindparam("key"), open_tasks=bindparam("delta"))
    return statement.on_conflict_do_update(index_elements=["key"],
                                           set_={"open_tasks": InboxCount.open_tasks + statement.excluded.open_tasks})


_ADD = {"sqlite": _add_to_count(sqlite), "postgresql": _add_to_count(postgresql)}


def write(connection, deltas: Counter):
    """Write a change's sums (inside its `driver.commit_together` burst)."""
    changed = [{"key": key, "delta": delta} for key, delta in sorted(deltas.items()) if delta]
    if changed:
        driver.write(connection, _ADD[connection.dialect.name], changed)
