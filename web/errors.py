"""Errors as the caller expects them: JSON {"errors": [...]} under /api, a readable page elsewhere."""
from flask import current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.errors import BatonError, Conflict, Forbidden, Invalid, NotFound

from .extensions import db

STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, Invalid: 422}


def status_of(error):
    return next((code for cls, code in STATUS.items() if isinstance(error, cls)), 400)


def json_errors(view):
    """Mark a page-side view that scripts call (editor save, diagram progress): it answers errors in JSON."""
    view.json_errors = True
    return view


def _wants_json():
    view = current_app.view_functions.get(request.endpoint)
    return (request.path.startswith("/api/") or getattr(view, "json_errors", False)
            or request.accept_mimetypes.best == "application/json")


def _respond(status, errors, headers=None):
    if _wants_json():
        return jsonify({"errors": errors}), status, headers or {}
    return render_template("error.html", status=status, errors=errors), status, headers or {}


def register(app):
    @app.errorhandler(BatonError)
    def baton_error(error):
        db.session.rollback()
        return _respond(status_of(error), error.errors)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return _respond(400, [{"message": "the form was not accepted: its security token is missing or expired; "
                                          "reload the page and try again"}])

    @app.errorhandler(HTTPException)
    def http_error(error):
        headers = {"WWW-Authenticate": 'Basic realm="Baton"'} if error.code == 401 else None
        return _respond(error.code, [{"message": error.description}], headers)

    @app.errorhandler(Exception)
    def unexpected(error):
        db.session.rollback()
        app.logger.exception("unhandled error")
        # honest: what the request committed before it failed stays (message and signal delivery commit
        # per instance), so the caller is told to look rather than that nothing happened
        return _respond(500, [{"message": "internal error: the request did not finish. Changes it had already "
                                          "saved are kept (a message or signal may have reached some instances): "
                                          "check the instance history before trying again"}])
