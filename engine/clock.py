"""The runtime's only source of the current time, so tests can pass time in instead of sleeping.

`frozen_at` fixes the time for everything (tests); `evaluating_at` fixes it for the current
thread only, so a worker firing timers "as of" a moment makes SpiffWorkflow agree on that moment.
"""
import threading
from contextlib import contextmanager
from datetime import UTC, datetime

_frozen = []
_local = threading.local()


def now():
    """Naive UTC: the same on SQLite (no time zones) and PostgreSQL."""
    override = getattr(_local, "moment", None)
    if override is not None:
        return override
    if _frozen:
        return _frozen[-1]
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def frozen_at(moment):
    """Within the block, `now()` returns `moment` in every thread (advance with `travel`)."""
    _frozen.append(moment)
    try:
        yield
    finally:
        _frozen.pop()


def travel(moment):
    """Move a frozen clock to `moment`."""
    _frozen[-1] = moment


@contextmanager
def evaluating_at(moment):
    """Within the block, `now()` returns `moment` in this thread only."""
    previous, _local.moment = getattr(_local, "moment", None), moment
    try:
        yield
    finally:
        _local.moment = previous
