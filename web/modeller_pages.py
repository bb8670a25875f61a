"""The modeller pages: the list of diagrams, upload, the bpmn-js editor and saving from it."""
from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from engine import definitions
from engine.errors import Invalid, NotFound
from engine.models import ProcessVersion
from modeller import reader
from modeller.diff import compare

from . import assets
from .auth import actor, signed_in_only
from .errors import json_errors
from .extensions import db

bp = signed_in_only(Blueprint("modeller", __name__, url_prefix="/modeller"))



@bp.get("/")
def index():
    return render_template("modeller/index.html", rows=definitions.all_definitions(db.session),
                           may_deploy=actor().has_role(definitions.DESIGNER_ROLE), errors=[])


@bp.post("/upload")
def upload():
    files = [(f.filename or "diagram.bpmn", f.read()) for f in request.files.getlist("file") if f.filename]
    try:
        definition, created = definitions.deploy(db.session, files, actor(), request.form.get("as") == "model")
    except Invalid as error:
        db.session.rollback()
        return render_template("modeller/index.html", rows=definitions.all_definitions(db.session),
                               may_deploy=actor().has_role(definitions.DESIGNER_ROLE), errors=error.errors), 422
    flash(f"Deployed {definition.filename}." if created else f"{definition.filename} is unchanged.", "success")
    return redirect(url_for("modeller.edit", definition_id=definition.id))


@bp.get("/new")
def new():
    return render_template("modeller/edit.html", definition=None, xml_url="",
                           taken=definitions.process_keys(db.session),
                           may_save=actor().has_role(definitions.DESIGNER_ROLE))


@bp.get("/<int:definition_id>")
def edit(definition_id):
    definition = definitions.get(db.session, definition_id)
    return render_template("modeller/edit.html", definition=definition,
                           xml_url=url_for("modeller.xml", definition_id=definition_id),
                           may_save=actor().has_role(definitions.DESIGNER_ROLE))


@bp.get("/<int:definition_id>/xml")
def xml(definition_id):
    return assets.diagram(definitions.get(db.session, definition_id).files[0].content)


@bp.post("/save")
@json_errors
def save():
    """Save XML from the editor: the same checks as deploy; a changed diagram is a new version."""
    filename = (request.args.get("name") or "diagram") + ".bpmn"
    definition, created = definitions.deploy(db.session, [(filename, request.get_data())], actor())
    body = {**definitions.describe(definition), "url": url_for("modeller.edit", definition_id=definition.id)}
    return jsonify(body), 201 if created else 200


@bp.get("/processes/<key>/diff")
def diff(key):
    """Elements added, removed, changed and moved between two versions of a process."""
    numbers = (request.args.get("from", type=int), request.args.get("to", type=int))
    found = {r.version: r for r in db.session.scalars(select(ProcessVersion).where(
        ProcessVersion.key == key, ProcessVersion.version.in_(numbers)))}
    if any(n not in found for n in numbers):
        raise NotFound(f"choose two existing versions of {key!r}")
    roots = [reader.read(*_first_file(found[n].definition_id)).root for n in numbers]
    return render_template("modeller/diff.html", key=key, numbers=numbers, result=compare(*roots))


def _first_file(definition_id):
    first = definitions.get(db.session, definition_id).files[0]
    return first.filename, first.content


@bp.get("/processes/<key>")
def versions(key):
    rows = db.session.scalars(select(ProcessVersion).where(ProcessVersion.key == key)
                              .order_by(ProcessVersion.version.desc())).all()
    return render_template("modeller/versions.html", key=key, rows=rows,
                           definitions={r.definition_id: definitions.get(db.session, r.definition_id) for r in rows})
