"""Instance pages: the list, one instance with its tasks, data and history, and admin actions."""
from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for

from engine import clock, definitions, files, history, instances, plan, progress
from engine.errors import Forbidden, Invalid
from engine.insight import exports, listing
from engine.plan import anchor

from . import assets, manager_api
from .auth import actor, signed_in_only
from .downloads import csv_reply, stored_file_reply, wants_csv
from .errors import json_errors
from .extensions import db
from .timeline import rows as timeline_rows

bp = signed_in_only(Blueprint("instances", __name__, url_prefix="/instances"))
STATUSES = listing.STATUSES



def _readable(instance_id):
    instance = instances.get(db.session, instance_id)
    if not instances.took_part(db.session, instance, actor()):
        raise Forbidden("you have no part in this instance")
    return instance


@bp.get("/files/<int:file_id>")
def attached_file(file_id):
    """A file attached through a form, for those who may see its instance."""
    return stored_file_reply(*files.for_reader(db.session, file_id, actor()))


@bp.get("/")
def index():
    """The instances the person may see, filtered and searched (`insight.listing`), a page at a time."""
    filters = manager_api.filters_from(request.args)
    if wants_csv():
        rows, _ = listing.search(db.session, actor(), filters, manager_api.EXPORT_ROWS)
        return csv_reply("instances", exports.INSTANCES, rows)
    page = max(request.args.get("page", 1, type=int), 1)
    size = current_app.config["BATON_PAGE_SIZE"]
    rows, total = listing.search(db.session, actor(), filters, size, (page - 1) * size)
    return render_template("instances/index.html", rows=rows, total=total, page=page, pages=-(-total // size),
                           filters=filters, status=filters.status, statuses=STATUSES)


@bp.post("/cancel")
def cancel_many():
    """Admins: cancel the ticked instances."""
    ids = [int(i) for i in request.form.getlist("instance_id") if i.isdigit()]
    cancelled, refused = listing.cancel_many(db.session, ids, actor())
    flash(f"Cancelled {len(cancelled)} instance{'s' if len(cancelled) != 1 else ''}."
          + (f" Not cancelled: {', '.join(f'#{i} ({why})' for i, why in refused.items())}." if refused else ""),
          "info" if not refused else "error")
    return redirect(url_for("instances.index"))


@bp.get("/<int:instance_id>")
def show(instance_id):
    return _show(_readable(instance_id))


def _show(instance, preview=None, submitted=None, errors=None, status=200):
    """The instance page; with `preview`, the plan a change of its dates would give, beside the current one."""
    current = plan.of_instance(db.session, instance)
    timeline, today, first, last = timeline_rows(current, instance.created_at)
    may_edit = anchor.may_edit(instance, actor()) and instance.status == "running"
    fields = anchor.dated_fields(db.session, instance) if may_edit else []
    for f in fields:
        f["value"] = (submitted or {}).get(f["id"], f["value"])
    retry_data = instances.data_at_failure(db.session, instance) \
        if instance.status == "failed" and actor().admin else None
    moved = None
    if preview is not None:
        was = {s["element_id"]: s["planned_due"] for s in current["steps"]}
        moved = [{**s, "was": was.get(s["element_id"])} for s in preview["steps"]]
    return render_template("instances/show.html", instance=instance, view=instances.describe(db.session, instance),
                           events=history.events(db.session, instance.id), plan=current, timeline=timeline,
                           today=today, first=first, last=last, now=clock.now(), fields=fields, errors=errors or {},
                           preview=preview, moved=moved, retry_data=retry_data,
                           labels=definitions.field_labels(db.session, instance.definition_id)), status


def _submitted():
    """The fields filled in on the form (the engine refuses any that is not the process's data)."""
    return {key: value for key, value in request.form.items() if key != "csrf_token" and value}


@bp.post("/<int:instance_id>/data/preview")
def preview_data(instance_id):
    """The plan with the new dates, nothing saved."""
    instance = _readable(instance_id)
    submitted = _submitted()
    try:
        return _show(instance, anchor.preview(db.session, instance_id, actor(), submitted), submitted)
    except Invalid as error:
        db.session.rollback()
        return _show(instance, None, submitted, {e.get("field"): e["message"] for e in error.errors}, 422)


@bp.post("/<int:instance_id>/data")
def change_data(instance_id):
    """Save new dates: every open due date, reminder and timer drawn from them moves."""
    instance = _readable(instance_id)
    submitted = _submitted()
    try:
        anchor.change_data(db.session, instance_id, actor(), submitted)
    except Invalid as error:
        db.session.rollback()
        return _show(instance, None, submitted, {e.get("field"): e["message"] for e in error.errors}, 422)
    flash("Saved. The plan and the open due dates follow the new dates.", "success")
    return redirect(url_for("instances.show", instance_id=instance_id))


@bp.get("/<int:instance_id>/diagram.xml")
def diagram(instance_id):
    instance = _readable(instance_id)
    return assets.diagram(definitions.get(db.session, instance.definition_id).files[0].content)


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
    """Retry a failed instance, with the data an admin corrected in the page's boxes (`data:<key>`)."""
    edited = {key.removeprefix("data:"): value for key, value in request.form.items() if key.startswith("data:")}
    added = (request.form.get("new_name", ""), request.form.get("new_value", ""))
    instance = instances.retry_corrected(db.session, instance_id, actor(), edited, added)
    flash(f"Retried: the instance is now {instance.status}.", "info")
    return redirect(url_for("instances.show", instance_id=instance_id))
