"""The background worker: fires due timers and sends due notifications, polling the database.

Several workers may run at once (on PostgreSQL rows are locked with SKIP LOCKED; everywhere the
instance's optimistic lock stops a timer from firing twice). Nothing else is needed: no broker.
"""
import logging
import threading

from . import clock, notifications, timers

log = logging.getLogger("baton.worker")


def run_once(session, now=None):
    """One pass over everything due at `now`; returns what was done, for logs and tests."""
    now = now or clock.now()
    done = {"timers": timers.fire_due(session, now)}
    done.update(notifications.run_due(session, now))
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
