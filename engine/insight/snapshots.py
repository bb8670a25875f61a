"""Where the figures of big process versions are kept between the worker's refreshes.

Reading every completed step of a version is exact and takes milliseconds up to some tens of
thousands of rows; a version with a million completed steps takes seconds, which no page should wait
for. So, as Camunda Optimize imports the engine's history on a schedule, the worker computes the
figures of every version at most every `REFRESH_SECONDS` when its instances changed, and keeps them
here with the number of completed steps they were drawn from. A version with more than `LIVE_LIMIT`
of them is answered from its kept figures, saying how old they are (`as_of`); a smaller one is
computed on every request and is always current (`as_of` null)."""
import os
from datetime import date, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError

from ..data import plain
from ..models import AnalyticsSnapshot, Instance, ProcessVersion

LIVE_LIMIT = int(os.environ.get("BATON_ANALYTICS_LIVE_LIMIT", 10_000))
REFRESH_SECONDS = int(os.environ.get("BATON_ANALYTICS_REFRESH_SECONDS", 300))
# a change stamped shortly before a refresh may commit after the refresh read the rows: look that far back
_LATE_COMMIT = timedelta(seconds=30)


def kept(session, process_version, live_limit=None):
    """The kept figures of `process_version` when it is too big to compute on request, else None."""
    limit = LIVE_LIMIT if live_limit is None else live_limit
    snapshot = session.get(AnalyticsSnapshot, (process_version.key, process_version.version))
    if snapshot is None or snapshot.runs <= limit:
        return None
    figures = snapshot.figures
    weekly = [{**w, "week": date.fromisoformat(w["week"])} for w in figures["weekly"]]
    return {**figures, "weekly": weekly, "as_of": snapshot.computed_at}


def due(session, now):
    """The versions whose figures are missing, or older than `REFRESH_SECONDS` (with whether their
    instances changed since): [(ProcessVersion, snapshot or None, changed)]."""
    stale = now - timedelta(seconds=REFRESH_SECONDS)
    rows = session.execute(
        select(ProcessVersion, AnalyticsSnapshot)
        .outerjoin(AnalyticsSnapshot, (AnalyticsSnapshot.process_key == ProcessVersion.key)
                   & (AnalyticsSnapshot.version == ProcessVersion.version))
        .where(ProcessVersion.executable.is_(True),
               or_(AnalyticsSnapshot.computed_at.is_(None), AnalyticsSnapshot.computed_at <= stale))).all()
    return [(version, snapshot, snapshot is None or session.scalar(select(exists().where(
        Instance.process_key == version.key, Instance.version == version.version,
        Instance.updated_at > snapshot.computed_at - _LATE_COMMIT)))) for version, snapshot in rows]


def keep(session, process_version, snapshot, figures, runs, now):
    """Store `figures` (drawn from `runs` completed steps) as of `now`. Another worker keeping the same
    version at the same moment wins; its figures are as good."""
    body = plain(figures)   # the weeks' dates as ISO text, as the API gives them
    if snapshot is None:
        snapshot = AnalyticsSnapshot(process_key=process_version.key, version=process_version.version)
        session.add(snapshot)
    snapshot.figures, snapshot.runs, snapshot.computed_at = body, runs, now
    try:
        session.commit()
    except IntegrityError:
        session.rollback()


def touch(session, snapshot, now):
    """Nothing changed since `snapshot`: it stays true; look again in `REFRESH_SECONDS`."""
    snapshot.computed_at = now
    session.commit()
