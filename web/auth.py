"""Who is calling: HTTP Basic or Bearer tokens for the API, a session cookie for the pages."""
import base64
import binascii

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from engine import users

from . import throttle
from .extensions import db, login_manager

bp = Blueprint("auth", __name__)
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see that page."


class SignedIn(UserMixin):
    """The Flask-Login view of an engine user; `actor` is what the engine checks."""

    def __init__(self, user):
        self.user = user
        self.actor = users.actor(user)

    def get_id(self):
        return f"{self.user.id}:{self.user.password_hash[-12:]}"


@login_manager.user_loader
def _load(session_id):
    user_id, _, fingerprint = session_id.partition(":")
    user = users.by_id(db.session, int(user_id)) if user_id.isdigit() else None
    # a password change or deactivation ends every existing session of that user
    if user is None or not user.active or user.password_hash[-12:] != fingerprint:
        return None
    return SignedIn(user)


def api_actor():
    """The Actor the Authorization header names, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return users.actor_for_token(db.session, value.strip())
    if scheme.lower() == "basic" and value:
        try:
            username, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if throttle.blocked(username):
            abort(429)
        user = users.authenticate(db.session, username, password)
        throttle.record(username, success=user is not None)
        return users.actor(user) if user is not None else None
    return None


def actor():
    """The acting user of this request (pages or API)."""
    return g.actor if "actor" in g else current_user.actor


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    if request.method == "POST":
        username = request.form.get("username", "")
        if throttle.blocked(username):
            flash("Too many failed sign-ins. Wait a few minutes and try again.", "error")
            return render_template("auth/login.html", username=username), 429
        user = users.authenticate(db.session, username, request.form.get("password", ""))
        throttle.record(username, success=user is not None)
        if user is None:
            flash("Wrong username or password.", "error")
            return render_template("auth/login.html", username=username), 401
        session.clear()
        login_user(SignedIn(user))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", username="")


def _safe_next(target):
    """Only same-site relative paths: never bounce a user to another site after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("inbox.index")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
