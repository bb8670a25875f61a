"""The inbox, the task page and the start page: where people do their work."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from engine import calendars, definitions, files, forms, handover, instances, plan, tasks
from engine.errors import Conflict, Forbidden, Invalid

from .auth import actor, signed_in_only
from .extensions import db
from .pages import handoff_message, render_markdown

bp = signed_in_only(Blueprint("inbox", __name__))



def _submitted(fields):
    """The form's values as typed, and its chosen files as Uploads (an empty file box sends a nameless part)."""
    values = {f["id"]: request.form.get(f["id"]) for f in fields if f["id"] in request.form}
    for field in (f for f in fields if f["type"] == "file"):
        chosen = [files.Upload(part.filename, part.read()) for part in request.files.getlist(field["id"])
                  if part.filename]
        if chosen:
            values[field["id"]] = chosen
    return values


def _files_not_kept():
    """A browser cannot refill a file box, so a refused form says the chosen files must be chosen again."""
    if any(part.filename for part in request.files.values()):
        flash("Nothing was saved, so the files you chose were not kept either: choose them again.", "warning")


def _filters():
    return {"process_key": request.args.get("process") or None, "role": request.args.get("role") or None,
            "search": request.args.get("q") or None}


@bp.get("/")
def index():
    tab = request.args.get("tab", "all")
    tab = tab if tab in tasks.TABS else "all"
    page = max(request.args.get("page", 1, type=int), 1)
    size = current_app.config["BATON_PAGE_SIZE"]
    filters = _filters()
    rows = tasks.open_page(db.session, actor(), tab=tab, limit=size, offset=(page - 1) * size, **filters)
    counts = tasks.counts(db.session, actor(), **filters)   # the tabs' sizes; this tab's is the total
    return render_template("inbox/index.html", rows=rows, total=counts[tab], tab=tab, page=page, size=size,
                           counts=counts, filters=filters, processes=definitions.startable(db.session),
                           who_for=tasks.who_for)


def _task_or_403(task_id):
    """The task row and its instance, read together, if the actor may see the task."""
    row, instance = tasks.get_with_instance(db.session, task_id)
    if not tasks.may_see(actor(), row):
        raise Forbidden(f"this task is for {tasks.who_for(row)}; you do not have that role")
    return row, instance


def _task_page(row, instance, errors=None, submitted=None, status=200):
    """The task's page: its form filled from the instance data and what was just submitted, and who comes
    before and after."""
    before, after = plan.around(db.session, row)
    return render_template("inbox/task.html", row=row, instance=instance, errors=errors or {}, before=before,
                           after=after, fields=_fields(row, instance.data, submitted),
                           earlier=handover.earlier_answers(db.session, row, instance),
                           documentation=render_markdown(row.documentation), who_for=tasks.who_for), status


@bp.get("/tasks/<task_id>")
def task(task_id):
    return _task_page(*_task_or_403(task_id))


def _fields(row, data, submitted=None):
    return forms.with_defaults(row.form, {**data, **(submitted or {})})


@bp.post("/tasks/<task_id>")
def act(task_id):
    row, instance = _task_or_403(task_id)
    action = request.form.get("action")
    try:
        if action == "claim":
            claimed = tasks.claim(db.session, task_id, actor())
            flash(f"You have claimed “{row.name}”.", "info")
            for warning in calendars.warnings_for(db.session, actor().username, claimed):
                flash(warning, "warning")
            return redirect(url_for("inbox.task", task_id=task_id))
        if action == "release":
            tasks.unclaim(db.session, task_id, actor())
            flash(f"You released “{row.name}”.", "info")
            return redirect(url_for("inbox.task", task_id=task_id))
        if action != "complete":
            abort(400, "unknown action")
        instance = tasks.complete(db.session, task_id, actor(), _submitted(row.form))
    except Invalid as error:
        db.session.rollback()   # the page shows the stored instance again, with the values as typed
        errors = {e.get("field"): e["message"] for e in error.errors}
        _files_not_kept()
        return _task_page(row, instance, errors, request.form.to_dict(), 422)
    except Conflict as error:   # someone else claimed or completed it meanwhile: keep what was typed
        db.session.rollback()
        flash(str(error), "error")
        row, instance = tasks.get_with_instance(db.session, task_id)
        return _task_page(row, instance, submitted=request.form.to_dict(), status=409)
    handoff_message(row.name, instance)
    return redirect(url_for("inbox.index"))


@bp.get("/start")
def start_list():
    offer = []
    for version in definitions.startable(db.session):
        step = instances.start_step_of(db.session, version)
        if instances.may_start(db.session, actor(), version, step):
            offer.append((version, step))
    return render_template("inbox/start.html", offer=offer)


@bp.route("/start/<key>", methods=["GET", "POST"])
def start(key):
    version = definitions.latest(db.session, key)
    step = instances.start_step_of(db.session, version)
    if not instances.may_start(db.session, actor(), version, step):
        raise Forbidden(f"you may not start {version.name or key}")
    fields = step["form"] if step else []
    if request.method == "POST":
        try:
            instance = instances.start(db.session, key, _submitted(fields), actor())
        except Invalid as error:
            db.session.rollback()
            errors = {e.get("field"): e["message"] for e in error.errors}
            _files_not_kept()
            return render_template("inbox/start_form.html", version=version, step=step, errors=errors,
                                   fields=forms.with_defaults(fields, request.form.to_dict())), 422
        flash(f"Started “{instance.label or version.name or key}”.", "success")
        return redirect(url_for("instances.show", instance_id=instance.id))
    return render_template("inbox/start_form.html", version=version, step=step, errors={},
                           fields=forms.with_defaults(fields, {}))
