"""Each person's calendar feed, read by calendar apps without signing in (the secret address is the
key), and the profile page where its owner sees and renews that address."""
from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from engine import users
from engine.insight import calendar

from .extensions import db

bp = Blueprint("calendar", __name__)


@bp.get("/calendar/<secret>.ics")
def feed(secret):
    user = calendar.owner_of(db.session, secret)
    if user is None:
        abort(404)
    text = calendar.feed(db.session, user, lambda task_id: url_for("inbox.task", task_id=task_id, _external=True))
    return Response(text, mimetype="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": 'inline; filename="baton.ics"',
                             "Cache-Control": "private, no-store"})


def _me():
    return users.find(db.session, current_user.actor.username)


@bp.get("/profile")
@login_required
def profile():
    secret = calendar.secret_of(db.session, _me())
    return render_template("profile/index.html", user=current_user.user,
                           feed_url=url_for("calendar.feed", secret=secret, _external=True))


@bp.post("/profile/calendar")
@login_required
def renew():
    calendar.renew(db.session, _me())
    flash("Your calendar has a new address; the old one no longer works. Subscribe to the new one.", "success")
    return redirect(url_for("calendar.profile"))
