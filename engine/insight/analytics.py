"""How a process version performs, from the stored instance and task rows (never a workflow):
instances per week, cycle time, and per human step its runs, rework, waiting, working and total time,
the share finished late and the team's estimate. `compare` sets two versions side by side.

A step's times: wait = ready → claimed (→ completed when nobody claimed it), work = claimed →
completed (runs that were claimed), total = ready → completed. Rework = runs beyond one per instance.
Late share = runs completed after their due date ÷ runs that had one. Weeks start on Monday (UTC).

Big versions are answered from the figures the worker keeps (`snapshots`), smaller ones on request."""
from collections import Counter

from sqlalchemy import select

from ..models import HumanTask, Instance
from . import snapshots
from .figures import summary
from .flow import human_steps, version_of
from .moments import epoch_seconds, week_of

FIGURES = {   # figure id → (what people call it, how to read it off a step's row): the heatmap's choices
    "total_median": ("Total time, median", lambda s: s["total_s"]["median"]),
    "total_p90": ("Total time, p90", lambda s: s["total_s"]["p90"]),
    "wait_median": ("Waiting time, median", lambda s: s["wait_s"]["median"]),
    "work_median": ("Working time, median", lambda s: s["work_s"]["median"]),
    "runs": ("Runs", lambda s: s["runs"]),
    "rework": ("Rework (extra runs)", lambda s: s["rework"]),
    "overdue_share": ("Share finished late", lambda s: s["overdue_share"]),
}


def _weekly(rows):
    """[{"week", "started", "completed", "failed", "running"}]: per week, the instances started, completed,
    and now failed whose failure (their last change) fell in it; running = open at the week's end."""
    weeks = {}

    def week(seconds):
        return weeks.setdefault(week_of(seconds), {"started": 0, "completed": 0, "failed": 0, "ended": 0})

    for created, ended, updated, status in rows:
        week(created)["started"] += 1
        if ended is not None:
            counts = week(ended)
            counts["ended"] += 1
            counts["completed"] += status == "completed"
        if status == "failed":
            counts = week(updated)
            counts["failed"] += 1
            counts["ended"] += 1
    running, result = 0, []
    for monday in sorted(weeks):
        counts = weeks[monday]
        running += counts["started"] - counts["ended"]
        result.append({"week": monday, "started": counts["started"], "completed": counts["completed"],
                       "failed": counts["failed"], "running": running})
    return result


def _step_figures(step, runs):
    """The row of one step from its completed runs [(instance_id, ready, claimed, completed, due)], moments
    in seconds (see `moments`)."""
    wait = [(claimed or done) - ready for _, ready, claimed, done, _ in runs]
    work = [done - claimed for _, _, claimed, done, _ in runs if claimed is not None]
    total = [done - ready for _, ready, _, done, _ in runs]
    with_due = [done > due for _, _, _, done, due in runs if due is not None]
    return {"element_id": step["element_id"], "name": step["name"], "runs": len(runs),
            "rework": len(runs) - len({run[0] for run in runs}),
            "wait_s": summary(wait), "work_s": summary(work), "total_s": summary(total),
            "overdue_share": sum(with_due) / len(with_due) if with_due else None,
            "estimate_s": step["estimate_s"]}


def analytics(session, key, version=None, live_limit=None):
    """The figures of version `version` of process `key` (the newest when None), as the API gives them:
    kept by the worker when the version has more than `live_limit` completed steps (see `snapshots`;
    `as_of` says when they were computed), else computed now (`as_of` null)."""
    process_version = version_of(session, key, version)
    kept = snapshots.kept(session, process_version, live_limit)
    return kept if kept is not None else {**compute(session, process_version)[0], "as_of": None}


def refresh_due(session, now):
    """The worker's part: compute and keep the figures of every version whose kept ones are missing or
    older than `snapshots.REFRESH_SECONDS` and whose instances changed since; returns how many."""
    refreshed = 0
    for process_version, snapshot, changed in snapshots.due(session, now):
        if changed:
            figures, runs = compute(session, process_version)
            snapshots.keep(session, process_version, snapshot, figures, runs, now)
            refreshed += 1
        else:
            snapshots.touch(session, snapshot, now)
    return refreshed


def compute(session, process_version):
    """(figures, completed steps read) of `process_version`, from every row."""
    key = process_version.key
    of_version = (Instance.process_key == key, Instance.version == process_version.version)
    rows = session.execute(select(epoch_seconds(Instance.created_at), epoch_seconds(Instance.ended_at),
                                  epoch_seconds(Instance.updated_at), Instance.status).where(*of_version)).all()
    runs = {}
    for element_id, *run in session.execute(
            select(HumanTask.element_id, HumanTask.instance_id, epoch_seconds(HumanTask.created_at),
                   epoch_seconds(HumanTask.claimed_at), epoch_seconds(HumanTask.completed_at),
                   epoch_seconds(HumanTask.due_at))
            .join(Instance, Instance.id == HumanTask.instance_id).where(*of_version, HumanTask.state == "completed")):
        runs.setdefault(element_id, []).append(run)
    steps = human_steps(session, process_version)
    known = {s["element_id"] for s in steps}
    steps += [{"element_id": e, "name": e, "estimate_s": None} for e in sorted(runs) if e not in known]
    status = Counter(row[3] for row in rows)
    figures = {"process_key": key, "version": process_version.version,
               "instances": {"started": len(rows), **{s: status[s] for s in ("completed", "running", "failed")}},
               "weekly": _weekly(rows),
               "cycle_time_s": summary([ended - created for created, ended, _, state in rows if state == "completed"]),
               "steps": [_step_figures(step, runs.get(step["element_id"], [])) for step in steps]}
    return figures, sum(len(r) for r in runs.values())


def compare(before, after):
    """Per step of `after` (rows of two `analytics` results): the change of each median, after − before."""
    earlier = {s["element_id"]: s for s in before["steps"]}
    changes = {}
    for step in after["steps"]:
        old = earlier.get(step["element_id"])
        changes[step["element_id"]] = {
            figure: (step[figure]["median"] - old[figure]["median"]
                     if old and step[figure]["median"] is not None and old[figure]["median"] is not None else None)
            for figure in ("wait_s", "work_s", "total_s")}
    return changes


def heat(result, figure):
    """{element_id: value} of one figure (see FIGURES) for the diagram heatmap."""
    read = FIGURES[figure][1]
    return {s["element_id"]: read(s) for s in result["steps"] if read(s) is not None}
