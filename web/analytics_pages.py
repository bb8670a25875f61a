"""Per-process pages: the pipeline board, the analytics (tables, bars, two versions side by side), and
the diagram heatmap, whose figures the viewer fetches as JSON."""
from flask import Blueprint, abort, jsonify, render_template, request

from engine import clock, definitions
from engine.insight import analytics, board, exports
from engine.insight.flow import version_numbers, version_of

from . import assets
from .auth import actor, signed_in_only
from .downloads import csv_reply, wants_csv
from .errors import json_errors
from .extensions import db

bp = signed_in_only(Blueprint("processes", __name__, url_prefix="/processes"))



def _versions(key):
    return version_numbers(db.session, key)


@bp.get("/<key>/board")
def show_board(key):
    return render_template("processes/board.html", view=board.board(db.session, actor(), key, clock.now()),
                           name=version_of(db.session, key).name or key)


@bp.get("/<key>/analytics")
def show_analytics(key):
    result = analytics.analytics(db.session, key, request.args.get("version", type=int))
    if wants_csv():
        return csv_reply(f"{key}-v{result['version']}-steps", exports.STEPS, result["steps"])
    against = request.args.get("compare", type=int)
    other = analytics.analytics(db.session, key, against) if against else None
    return render_template("processes/analytics.html", result=result, other=other,
                           changes=analytics.compare(other, result) if other else {},
                           versions=_versions(key), name=version_of(db.session, key).name or key,
                           most=max([w["started"] for w in result["weekly"]] or [1]))


def _figure():
    figure = request.args.get("figure", "total_median")
    if figure not in analytics.FIGURES:
        abort(404)
    return figure


@bp.get("/<key>/heatmap")
def heatmap(key):
    version = version_of(db.session, key, request.args.get("version", type=int))
    return render_template("processes/heatmap.html", key=key, version=version.version, figure=_figure(),
                           figures=analytics.FIGURES, versions=_versions(key), name=version.name or key)


@bp.get("/<key>/heatmap.json")
@json_errors
def heatmap_json(key):
    """{"figure", "label", "unit", "values": {element_id: number}} for the viewer to paint."""
    figure = _figure()
    result = analytics.analytics(db.session, key, request.args.get("version", type=int))
    unit = "seconds" if figure.endswith(("median", "p90")) else "share" if figure == "overdue_share" else "count"
    return jsonify({"figure": figure, "label": analytics.FIGURES[figure][0], "unit": unit,
                    "values": analytics.heat(result, figure)})


@bp.get("/<key>/diagram.xml")
def diagram(key):
    version = version_of(db.session, key, request.args.get("version", type=int))
    return assets.diagram(definitions.get(db.session, version.definition_id).files[0].content)
