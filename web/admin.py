"""Admin pages: people, roles, passwords, deactivation."""
from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine import users
from engine.errors import BatonError

from .auth import admins_only
from .extensions import db

bp = admins_only(Blueprint("admin", __name__, url_prefix="/admin"), "manage users")



def _roles(text):
    return [r for r in (text or "").replace(";", ",").split(",") if r.strip()]


@bp.get("/users")
def user_list():
    return render_template("admin/users.html", rows=users.all_users(db.session), errors=[])


@bp.post("/users")
def add_user():
    try:
        users.create(db.session, request.form.get("username", ""), request.form.get("password", ""),
                     _roles(request.form.get("roles")), request.form.get("admin") == "on",
                     request.form.get("email") or None)
    except BatonError as error:
        db.session.rollback()
        return render_template("admin/users.html", rows=users.all_users(db.session), errors=error.errors), 422
    flash(f"Added {request.form.get('username')}.", "success")
    return redirect(url_for("admin.user_list"))


@bp.post("/users/<username>")
def update_user(username):
    form = request.form
    try:
        users.update(db.session, username, roles=_roles(form.get("roles")), admin=form.get("admin") == "on",
                     active=form.get("active") == "on", password=form.get("password") or None,
                     email=form.get("email", ""))
    except BatonError as error:
        db.session.rollback()
        return render_template("admin/users.html", rows=users.all_users(db.session), errors=error.errors), 422
    flash(f"Updated {username}.", "success")
    return redirect(url_for("admin.user_list"))
