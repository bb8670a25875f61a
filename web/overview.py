"""The manager's overview page: late work and who holds it, with nudge and reassign buttons; and how
figures read on the manager's pages (durations, shares)."""
from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine import calendars, clock
from engine.insight import overview, visibility

from .auth import actor, signed_in_only
from .extensions import db

bp = signed_in_only(Blueprint("overview", __name__))



@bp.app_template_filter("duration")
def duration(seconds):
    """'2 d 4 h', '3 h 20 min', '45 min', '30 s'; '–' when there is no figure."""
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{secs} s"


@bp.app_template_filter("sees_all")
def sees_all(person):
    return visibility.sees_all(person)


@bp.app_template_filter("share")
def share(value):
    return "–" if value is None else f"{round(value * 100)} %"


@bp.get("/overview")
def index():
    days = request.args.get("stalled_days", type=int) or overview.stalled_days()
    view = overview.overview(db.session, actor(), clock.now(), days)
    listed = [t["task_id"] for t in view["overdue"] + view["due_soon"]]
    return render_template("overview/index.html", view=view, days=days,
                           takers=overview.who_may_take(db.session, listed) if listed else {})


@bp.post("/overview/tasks/<task_id>/nudge")
def nudge(task_id):
    row = overview.nudge(db.session, task_id, actor())
    flash(f"Reminder sent to {overview.owner(row)} about “{row.name}”.", "success")
    return redirect(url_for("overview.index"))


@bp.post("/overview/tasks/<task_id>/assign")
def assign(task_id):
    row = overview.assign(db.session, task_id, request.form.get("user", ""), actor())
    flash(f"“{row.name}” is now with {row.claimed_by}.", "success")
    for warning in calendars.warnings_for(db.session, row.claimed_by, row):   # due while they are away
        flash(warning, "warning")
    return redirect(url_for("overview.index"))
