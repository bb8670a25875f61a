"""Who is calling: HTTP Basic or Bearer tokens for the API, a session cookie for the pages."""
import base64
import binascii

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from engine import credentials, login_throttle, users
from engine.access import require_admin

from .extensions import db, login_manager

bp = Blueprint("auth", __name__)
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see that page."


class SignedIn(UserMixin):
    """The Flask-Login view of an engine user; `actor` is what the engine checks. `sign_in` is the id of its
    server-side session (engine.users.sign_in): the cookie carries it, and it works while its row exists."""

    def __init__(self, user, sign_in):
        self.user, self.sign_in = user, sign_in
        self.actor = users.actor(user)

    def get_id(self):
        return self.sign_in


@login_manager.user_loader
def _load(sign_in):
    # signing out, a password change or a deactivation deletes the session's row: the cookie ends with it
    user = users.by_sign_in(db.session, sign_in)
    return SignedIn(user, sign_in) if user is not None else None


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
        failures = login_throttle.recent_failures(db.session, username)
        if login_throttle.blocked(failures):
            abort(429)
        found = credentials.authenticate(db.session, username, password)
        login_throttle.record(db.session, username, found is not None, failures)
        return found
    return None


def actor():
    """The acting user of this request (pages or API)."""
    return g.actor if "actor" in g else current_user.actor


def signed_in_only(blueprint):
    """Every route of `blueprint` needs a signed-in person: pages send others to the sign-in form."""
    blueprint.before_request(login_required(lambda: None))
    return blueprint


def admins_only(blueprint, what):
    """Every route of `blueprint` is for signed-in admins; anyone else gets 403 saying `what` is theirs."""
    @login_required
    def admins_only_here():
        require_admin(actor(), what)
    blueprint.before_request(admins_only_here)
    return blueprint


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    if request.method == "POST":
        username = request.form.get("username", "")
        failures = login_throttle.recent_failures(db.session, username)
        if login_throttle.blocked(failures):
            flash("Too many failed sign-ins. Wait a few minutes and try again.", "error")
            return render_template("auth/login.html", username=username), 429
        user = users.authenticate(db.session, username, request.form.get("password", ""))
        login_throttle.record(db.session, username, user is not None, failures)
        if user is None:
            flash("Wrong username or password.", "error")
            return render_template("auth/login.html", username=username), 401
        session.clear()
        lifetime = current_app.permanent_session_lifetime.total_seconds()
        login_user(SignedIn(user, users.sign_in(db.session, user, lifetime)))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", username="")


def _safe_next(target):
    """Only same-site relative paths: never bounce a user to another site after login. Browsers drop
    tabs and line breaks from a URL (`/%09/evil.example/` becomes `//evil.example/`), and a line break
    cannot go into a header at all, so a target with any control character is refused too."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and not any(ord(c) < 0x20 or ord(c) == 0x7f for c in target):
        return target
    return url_for("inbox.index")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    users.sign_out(db.session, current_user.sign_in)
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/account/tokens")
@login_required
def tokens():
    return render_template("auth/tokens.html", tokens=users.tokens_of(db.session, current_user.user))


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id):
    users.revoke_token(db.session, current_user.user, token_id)
    flash(f"Token #{token_id} is revoked.", "info")
    return redirect(url_for("auth.tokens"))
