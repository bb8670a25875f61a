"""Slowing password guessing: after `BATON_LOGIN_MAX_FAILURES` failed sign-ins within
`BATON_LOGIN_WINDOW_SECONDS`, a username is refused until the oldest of them is that old.

The failures are rows in the database, so every web process counts the same ones and a restart
forgets nothing; a name matches whatever its case. Rows older than the window are deleted as new
failures come, so names that once failed are not remembered for ever. A sign-in costs one indexed
count; only a failure, or a success after failures, writes.
"""
import os
from datetime import timedelta

from sqlalchemy import delete, func, insert, select

from . import clock
from .models import LoginFailure

MAX_FAILURES = int(os.environ.get("BATON_LOGIN_MAX_FAILURES", 5))
WINDOW_SECONDS = int(os.environ.get("BATON_LOGIN_WINDOW_SECONDS", 300))


def _name(username):
    return (username or "")[:80].lower()


def recent_failures(session, username):
    """Failed sign-ins of this name within the window."""
    since = clock.now() - timedelta(seconds=WINDOW_SECONDS)
    return session.scalar(select(func.count()).select_from(LoginFailure)
                          .where(LoginFailure.username == _name(username), LoginFailure.at > since))


def blocked(failures):
    return failures >= MAX_FAILURES


def record(session, username, success, failures):
    """Note the outcome of a sign-in that had `failures` before it (as `recent_failures` said)."""
    if success and not failures:
        return
    now = clock.now()
    if success:
        session.execute(delete(LoginFailure).where(LoginFailure.username == _name(username)))
    else:
        session.execute(delete(LoginFailure).where(LoginFailure.at <= now - timedelta(seconds=WINDOW_SECONDS)))
        session.execute(insert(LoginFailure).values(username=_name(username), at=now))
    session.commit()
