"""The bell: in-app notifications for the signed-in user."""
from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from engine import notifications

from .auth import actor, signed_in_only
from .extensions import db

bp = signed_in_only(Blueprint("notices", __name__, url_prefix="/notifications"))



@bp.get("/")
def index():
    return render_template("notices/index.html", rows=notifications.unread(db.session, actor().username, limit=100))


@bp.post("/read")
def mark_read():
    notifications.mark_read(db.session, actor().username)
    return redirect(url_for("notices.index"))


def unread_count():
    """For the bell in every page's header."""
    if not current_user.is_authenticated:
        return {}
    return {"unread_count": notifications.unread_count(db.session, current_user.actor.username)}
