"""Instance pages: the list, one instance with its tasks, data and history, and admin actions."""
from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import or_, select

from engine import definitions, history, instances, progress
from engine.errors import Forbidden
from engine.models import Event, Instance

from .auth import actor
from .errors import json_errors
from .extensions import db

bp = Blueprint("instances", __name__, url_prefix="/instances")
STATUSES = ("running", "failed", "completed", "cancelled")


@bp.before_request
@login_required
def require_login():
    pass


def _readable(instance_id):
    instance = instances.get(db.session, instance_id)
    if not instances.took_part(db.session, instance, actor()):
        raise Forbidden("you have no part in this instance")
    return instance


@bp.get("/")
def index():
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    query = select(Instance).order_by(Instance.id.desc()).limit(200)
    if not actor().admin:
        acted = select(Event.instance_id).where(Event.user == actor().username)
        query = query.where(or_(Instance.started_by == actor().username, Instance.id.in_(acted)))
    if status:
        query = query.where(Instance.status == status)
    return render_template("instances/index.html", rows=db.session.scalars(query).all(), status=status,
                           statuses=STATUSES)


@bp.get("/<int:instance_id>")
def show(instance_id):
    instance = _readable(instance_id)
    return render_template("instances/show.html", instance=instance,
                           view=instances.describe(db.session, instance),
                           events=history.events(db.session, instance_id))


@bp.get("/<int:instance_id>/diagram.xml")
def diagram(instance_id):
    instance = _readable(instance_id)
    return Response(definitions.get(db.session, instance.definition_id).files[0].content, mimetype="application/xml")


@bp.get("/<int:instance_id>/progress.json")
@json_errors
def progress_json(instance_id):
    """What the read-only diagram highlights: completed, active and failed elements, flows taken."""
    return jsonify(progress.of(db.session, _readable(instance_id)))


@bp.post("/<int:instance_id>/cancel")
def cancel(instance_id):
    instances.cancel(db.session, instance_id, actor())
    flash("The instance was cancelled.", "info")
    return redirect(url_for("instances.show", instance_id=instance_id))


@bp.post("/<int:instance_id>/retry")
def retry(instance_id):
    instance = instances.retry(db.session, instance_id, actor())
    flash(f"Retried: the instance is now {instance.status}.", "info")
    return redirect(url_for("instances.show", instance_id=instance_id))
