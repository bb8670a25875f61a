"""The background worker: fires due timers, sends due notifications and keeps the analytics of big
process versions current (`insight.snapshots`), polling the database.

Several workers may run at once (on PostgreSQL rows are locked with SKIP LOCKED; everywhere the
instance's optimistic lock stops a timer from firing twice). Nothing else is needed: no broker.
"""
import logging
import threading

from . import clock, notifications, timers
from .insight import analytics

log = logging.getLogger("baton.worker")


def run_once(session, now=None):
    """One pass over everything due at `now`; returns what was done, for logs and tests."""
    now = now or clock.now()
    done = {"timers": timers.fire_due(session, now)}
    done.update(notifications.run_due(session, now))
    done["analytics"] = analytics.refresh_due(session, now)   # last: the figures wait, timers and notices do not
    return done


def run_forever(session_factory, interval=1.0, stop=None):
    stop = stop or threading.Event()
    while not stop.is_set():
        session = session_factory()
        try:
            done = run_once(session)
            if any(done.values()):
                log.info("worker pass: %s", done)
        except Exception:  # one bad pass must not stop the worker; the next pass retries
            log.exception("worker pass failed")
            session.rollback()
        finally:
            session.close()
        stop.wait(interval)
