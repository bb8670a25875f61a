"""Admin pages for working days: calendars with their holidays (typed in, or imported from an `.ics`
file), the default calendar, and people's time off."""
from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine import calendars
from engine.errors import Invalid

from .auth import actor, admins_only
from .extensions import db

bp = admins_only(Blueprint("work_calendars", __name__, url_prefix="/admin/calendars"), "keep calendars")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")



def _page(errors=None, status=200):
    return render_template("admin/calendars.html", calendars=calendars.all_calendars(db.session),
                           time_off=calendars.time_off(db.session), weekdays=WEEKDAYS,
                           errors=errors or []), status


def _holidays(text):
    """`2026-12-25 Christmas Day` lines as the engine takes holidays."""
    found = []
    for line in (text or "").splitlines():
        day, _, name = line.strip().partition(" ")
        if day:
            found.append({"day": day, "name": name.strip() or "Holiday"})
    return found


@bp.get("/")
def index():
    return _page()


@bp.post("/")
def save():
    body = {"name": request.form.get("name"), "day_starts": request.form.get("day_starts"),
            "day_ends": request.form.get("day_ends"), "default": bool(request.form.get("default")),
            "working_days": [int(d) for d in request.form.getlist("working_days") if d.isdigit()],
            "holidays": _holidays(request.form.get("holidays"))}
    try:
        calendar = calendars.save(db.session, actor(), body)
    except Invalid as error:
        db.session.rollback()
        return _page(error.errors, 422)
    flash(f"Saved the calendar “{calendar.name}”.", "success")
    return redirect(url_for("work_calendars.index"))


@bp.post("/<name>/ics")
def import_ics(name):
    upload = request.files.get("file")
    try:
        added = calendars.import_ics(db.session, actor(), name, upload.read() if upload else b"")
    except Invalid as error:
        db.session.rollback()
        return _page(error.errors, 422)
    flash(f"Imported {added} holiday{'s' if added != 1 else ''} into “{name}”.", "success")
    return redirect(url_for("work_calendars.index"))


@bp.post("/time-off")
def add_time_off():
    username = (request.form.get("username") or "").strip()
    try:
        calendars.add_time_off(db.session, actor(), username, request.form.to_dict())
    except Invalid as error:
        db.session.rollback()
        return _page(error.errors, 422)
    flash(f"Recorded time off for {username}.", "success")
    return redirect(url_for("work_calendars.index"))
