"""The JSON API (`/api/v1`): HTTP Basic or Bearer token on every call; errors are {"errors": [...]}.
Its contract is `web/openapi.yaml`, served at `/api/v1/openapi.json`; the API tests check every reply against it."""
import functools
from pathlib import Path

import yaml
from flask import Blueprint, Response, abort, g, jsonify, request

from engine import definitions, history, instances, messages, tasks, users
from engine.data import MAX_INT, unstorable
from engine.errors import Forbidden, Invalid

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
                    headers={"Content-Disposition": f'attachment; filename="{first.filename}"'})


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
    return jsonify([tasks.describe(r) for r in rows]), 200, {"X-Total-Count": str(total)}


@bp.get("/tasks/<task_id>")
def show_task(task_id):
    row = tasks.get(db.session, task_id)
    if not tasks.may_see(g.actor, row):
        raise Forbidden(f"{g.actor.username} may not see task {task_id}")
    return jsonify(tasks.describe(row, g.actor))


@bp.post("/tasks/<task_id>/claim")
def claim(task_id):
    row = tasks.claim(db.session, task_id, g.actor)
    return jsonify(instances.describe(db.session, instances.get(db.session, row.instance_id)))


@bp.post("/tasks/<task_id>/unclaim")
def unclaim(task_id):
    row = tasks.unclaim(db.session, task_id, g.actor)
    return jsonify(instances.describe(db.session, instances.get(db.session, row.instance_id)))


@bp.post("/tasks/<task_id>/complete")
def complete(task_id):
    instance = tasks.complete(db.session, task_id, g.actor, _json_object("data"))
    return jsonify(instances.describe(db.session, instance))


def _describe_user(user):
    return {"username": user.username, "email": user.email, "roles": user.role_names, "admin": user.is_admin, "active": user.active}


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
