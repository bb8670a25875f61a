"""The runtime's only source of the current time, so tests can pass time in instead of sleeping."""
from contextlib import contextmanager
from datetime import datetime, timezone

_frozen = []


def now():
    """Naive UTC: the same on SQLite (no time zones) and PostgreSQL."""
    if _frozen:
        return _frozen[-1]
    return datetime.now(timezone.utc).replace(tzinfo=None)


@contextmanager
def frozen_at(moment):
    """Within the block, `now()` returns `moment` (advance with `travel`)."""
    _frozen.append(moment)
    try:
        yield
    finally:
        _frozen.pop()


def travel(moment):
    """Move a frozen clock to `moment`."""
    _frozen[-1] = moment
