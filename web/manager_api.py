"""The manager's side of the JSON API (`/api/v1`): the overview, nudge and reassign, the instance list,
the pipeline board and the analytics. Same authentication and errors as `web.api`; `format=csv` on
the lists answers with the CSV file instead."""
from datetime import datetime

from flask import Blueprint, abort, g, jsonify, request

from engine import calendars, clock
from engine.data import MAX_INT
from engine.errors import Invalid
from engine.insight import analytics, board, exports, listing, overview

from .api import _json_object
from .auth import api_actor
from .downloads import csv_reply, wants_csv
from .extensions import db

bp = Blueprint("manager_api", __name__, url_prefix="/api/v1")


@bp.before_request
def authenticate():
    g.actor = api_actor()
    if g.actor is None:
        abort(401)


EXPORT_ROWS = 100_000   # a CSV export's default and largest size


def paging(default=25, cap=500):
    limit = min(max(request.args.get("limit", default, type=int), 0), cap)
    return limit, min(max(request.args.get("offset", 0, type=int), 0), MAX_INT)


def _date(name):
    text = request.args.get(name)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise Invalid(f"{name} must be an ISO date",
                      [{"field": name, "message": "must be an ISO date, e.g. 2026-12-01"}]) from None


def filters_from(args):
    """The instance list's filters from query parameters (shared with the page)."""
    overdue = args.get("overdue", "").lower() in ("true", "1", "yes", "on")
    return listing.Filters(process=args.get("process") or None, version=args.get("version", type=int),
                           status=args.get("status") if args.get("status") in listing.STATUSES else None,
                           step=args.get("step") or None, role=args.get("role") or None,
                           started_by=args.get("started_by") or None, started_from=_date("from"),
                           started_to=_date("to"), overdue=overdue, q=args.get("q") or None)


@bp.get("/overview")
def show_overview():
    return jsonify(overview.overview(db.session, g.actor, clock.now(), request.args.get("stalled_days", type=int)))


@bp.post("/tasks/<task_id>/nudge")
def nudge(task_id):
    return jsonify(overview.task_item(overview.nudge(db.session, task_id, g.actor)))


@bp.post("/tasks/<task_id>/assign")
def assign(task_id):
    row = overview.assign(db.session, task_id, _json_object().get("user"), g.actor)
    return jsonify({**overview.task_item(row), "warnings": calendars.warnings_for(db.session, row.claimed_by, row)})


@bp.get("/instances")
def list_instances():
    limit, offset = paging(EXPORT_ROWS, EXPORT_ROWS) if wants_csv() else paging()
    rows, total = listing.search(db.session, g.actor, filters_from(request.args), limit, offset)
    if wants_csv():
        return csv_reply("instances", exports.INSTANCES, rows)
    return jsonify(rows), 200, {"X-Total-Count": str(total)}


@bp.get("/processes/<key>/board")
def show_board(key):
    return jsonify(board.board(db.session, g.actor, key, clock.now()))


@bp.get("/processes/<key>/analytics")
def show_analytics(key):
    result = analytics.analytics(db.session, key, request.args.get("version", type=int))
    if wants_csv():
        return csv_reply(f"{key}-v{result['version']}-steps", exports.STEPS, result["steps"])
    return jsonify(result)
