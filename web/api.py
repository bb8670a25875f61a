"""The JSON API (`/api/v1`): HTTP Basic or Bearer token on every call; errors are {"errors": [...]}.
Its contract is `web/openapi.yaml`, served at `/api/v1/openapi.json`; the API tests check every reply against it."""
import functools
from pathlib import Path

import yaml
from flask import Blueprint, Response, abort, g, jsonify, request

from engine import calendars, definitions, files, history, instances, messages, notifications, plan, tasks, users
from engine.data import MAX_INT, unstorable
from engine.errors import Forbidden, Invalid
from engine.insight import exports, visibility
from engine.plan import anchor

from . import downloads
from .auth import api_actor
from .extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")


SPEC = Path(__file__).with_name("openapi.yaml")


@functools.cache
def description():
    """The OpenAPI description of this API, read once."""
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))


@bp.before_request
def authenticate():
    if request.endpoint == "api.openapi":   # the description is public, like any API's documentation
        return
    g.actor = api_actor()
    if g.actor is None:
        abort(401)


def _json_object(key=None):
    """The request body as a dict (or its `key` member), refused whole if any part cannot be stored."""
    try:
        body = request.get_json(silent=True) if request.content_length or request.is_json else {}
    except RecursionError:
        body = None
    if body is None or not isinstance(body, dict):
        raise Invalid("the request body must be a JSON object", [{"message": "the request body must be a JSON object"}])
    problem = unstorable(body, "body")
    if problem:
        raise Invalid("the request body cannot be stored", [{"field": problem[0], "message": problem[1]}])
    if key is None:
        return body
    value = body.get(key, {})
    if not isinstance(value, dict):
        raise Invalid(f"{key!r} must be an object", [{"field": key, "message": "must be an object"}])
    return value


def _readable_instance(instance_id):
    instance = instances.get(db.session, instance_id)
    if not instances.took_part(db.session, instance, g.actor):
        raise Forbidden(f"{g.actor.username} has no part in instance {instance_id}")
    return instance


@bp.get("/openapi.json")
def openapi():
    return jsonify(description())


@bp.post("/definitions")
def deploy():
    uploads = request.files.getlist("file")
    files = [(f.filename or "diagram.bpmn", f.read()) for f in uploads]
    as_model = request.values.get("as") == "model"   # keep a sound diagram that cannot run, as a model
    definition, created = definitions.deploy(db.session, files, g.actor, as_model)
    return jsonify(definitions.describe(definition)), 201 if created else 200


@bp.get("/definitions")
def list_definitions():
    return jsonify([definitions.describe(d) for d in definitions.all_definitions(db.session)])


@bp.get("/definitions/<int:definition_id>")
def show_definition(definition_id):
    return jsonify(definitions.describe(definitions.get(db.session, definition_id)))


@bp.get("/definitions/<int:definition_id>/xml")
def definition_xml(definition_id):
    first = definitions.get(db.session, definition_id).files[0]
    return Response(first.content, mimetype="application/xml",
                    headers={"Content-Disposition": downloads.attachment(first.filename)})


@bp.post("/processes/<key>/instances")
def start(key):
    instance = instances.start(db.session, key, _json_object("data"), g.actor)
    return jsonify(instances.describe(db.session, instance)), 201


@bp.get("/instances/<int:instance_id>")
def show_instance(instance_id):
    return jsonify(instances.describe(db.session, _readable_instance(instance_id)))


@bp.get("/instances/<int:instance_id>/history")
def instance_history(instance_id):
    _readable_instance(instance_id)
    return jsonify([{"at": e.at, "type": e.type, "element_id": e.element_id, "task_id": e.task_id, "user": e.user,
                     "data": e.data} for e in history.events(db.session, instance_id)])


@bp.get("/instances/<int:instance_id>/plan")
def instance_plan(instance_id):
    return jsonify(plan.of_instance(db.session, _readable_instance(instance_id)))


@bp.post("/instances/<int:instance_id>/plan/preview")
def preview_plan(instance_id):
    """The plan with `data` applied, nothing saved (admins, managers, the starter)."""
    return jsonify(anchor.preview(db.session, instance_id, g.actor, _json_object("data")))


@bp.patch("/instances/<int:instance_id>/data")
def change_data(instance_id):
    """Change data; every date drawn from it moves in the same transaction (admins, managers, the starter)."""
    instance = anchor.change_data(db.session, instance_id, g.actor, _json_object("data"))
    return jsonify(instances.describe(db.session, instance))


@bp.post("/instances/<int:instance_id>/cancel")
def cancel(instance_id):
    return jsonify(instances.describe(db.session, instances.cancel(db.session, instance_id, g.actor)))


@bp.post("/instances/<int:instance_id>/retry")
def retry(instance_id):
    instance = instances.retry(db.session, instance_id, g.actor, _json_object("data"))
    return jsonify(instances.describe(db.session, instance))


@bp.get("/tasks")
def list_tasks():
    limit = min(max(request.args.get("limit", 100, type=int), 0), 500)
    offset = min(max(request.args.get("offset", 0, type=int), 0), MAX_INT)
    rows, total = tasks.open_for(db.session, g.actor, tab=request.args.get("tab", "all"), limit=limit, offset=offset,
                                 process_key=request.args.get("process"), role=request.args.get("role"),
                                 search=request.args.get("q"))
    if request.args.get("format") == "csv":
        return downloads.csv_reply("tasks", exports.TASKS, [tasks.describe(r) for r in rows])
    return jsonify([tasks.describe(r) for r in rows]), 200, {"X-Total-Count": str(total)}


@bp.get("/tasks/<task_id>")
def show_task(task_id):
    row = tasks.get(db.session, task_id)
    if not (tasks.may_see(g.actor, row) or visibility.sees_all(g.actor)):
        raise Forbidden(f"{g.actor.username} may not see task {task_id}")
    before, after = plan.around(db.session, row)
    return jsonify({**tasks.describe(row, g.actor), "before": before, "after": after})


@bp.post("/tasks/<task_id>/claim")
def claim(task_id):
    """Claim; `warnings` says when the task is due while the caller is away."""
    row = tasks.claim(db.session, task_id, g.actor)
    return jsonify({**instances.describe(db.session, instances.get(db.session, row.instance_id)),
                    "warnings": calendars.warnings_for(db.session, g.actor.username, row)})


@bp.post("/tasks/<task_id>/unclaim")
def unclaim(task_id):
    row = tasks.unclaim(db.session, task_id, g.actor)
    return jsonify(instances.describe(db.session, instances.get(db.session, row.instance_id)))


@bp.get("/files/<int:file_id>")
def attached_file(file_id):
    return downloads.stored_file_reply(*files.for_reader(db.session, file_id, g.actor))


@bp.post("/tasks/<task_id>/complete")
def complete(task_id):
    instance = tasks.complete(db.session, task_id, g.actor, _json_object("data"))
    return jsonify(instances.describe(db.session, instance))


@bp.get("/notifications")
def list_notifications():
    """The caller's in-app notices, newest first."""
    return jsonify([{"id": n.id, "kind": n.kind, "subject": n.subject, "body": n.body, "task_id": n.task_id,
                     "instance_id": n.instance_id, "created_at": n.created_at, "read_at": n.read_at}
                    for n in notifications.of_person(db.session, g.actor.username)])


@bp.get("/calendars")
def list_calendars():
    if not g.actor.admin:
        raise Forbidden("only admins may see the calendars")
    return jsonify([calendars.describe(c) for c in calendars.all_calendars(db.session)])


@bp.post("/calendars")
def save_calendar():
    """Create or replace a calendar: working days and hours, holidays, whether it is the default (admins)."""
    return jsonify(calendars.describe(calendars.save(db.session, g.actor, _json_object()))), 201


@bp.post("/users/<username>/time-off")
def add_time_off(username):
    """Days a person is away (admins)."""
    away = calendars.add_time_off(db.session, g.actor, username, _json_object())
    return jsonify(calendars.describe_time_off(away, username)), 201


def _describe_user(user):
    return {"username": user.username, "email": user.email, "roles": user.role_names, "admin": user.is_admin,
            "active": user.active}


@bp.post("/users")
def create_user():
    if not g.actor.admin:
        raise Forbidden("only admins may add users")
    body = _json_object()
    user = users.create(db.session, body.get("username"), body.get("password"), body.get("roles", []),
                        body.get("admin", False), body.get("email"))
    return jsonify(_describe_user(user)), 201


@bp.get("/users")
def list_users():
    if not g.actor.admin:
        raise Forbidden("only admins may list users")
    return jsonify([_describe_user(u) for u in users.all_users(db.session)])


@bp.post("/tokens")
def create_token():
    """A bearer token for the caller (shown once)."""
    return jsonify({"token": users.issue_token(db.session, users.find(db.session, g.actor.username))}), 201


@bp.get("/tokens")
def list_tokens():
    """The caller's tokens: id and when each was made (the secrets are not kept)."""
    held = users.tokens_of(db.session, users.find(db.session, g.actor.username))
    return jsonify([{"id": t.id, "created_at": t.created_at} for t in held])


@bp.delete("/tokens/<int:token_id>")
def revoke_token(token_id):
    """Revoke one of the caller's tokens."""
    users.revoke_token(db.session, users.find(db.session, g.actor.username), token_id)
    return "", 204


@bp.post("/messages")
def message():
    """Deliver a BPMN message: {"name", "correlation": {...}, "data": {...}}."""
    body = _json_object()
    ids = messages.deliver(db.session, g.actor, body.get("name"), body.get("correlation", {}), body.get("data", {}))
    return jsonify({"delivered_to": ids})


@bp.post("/signals")
def signal():
    """Throw a BPMN signal to every instance waiting for it: {"name", "data": {...}}."""
    body = _json_object()
    return jsonify({"delivered_to": messages.broadcast(db.session, g.actor, body.get("name"), body.get("data", {}))})
