"""The Flask application: pages and JSON API over the engine. It holds no process logic."""
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from engine.data import plain
from engine.database import configure

from . import assets, config
from .extensions import csrf, db, login_manager


class JSONProvider(DefaultJSONProvider):
    """Dates as ISO 8601 text, like the engine's instance data."""

    @staticmethod
    def default(value):
        return plain(value)


def create_app(overrides=None):
    app = Flask(__name__, instance_relative_config=True)
    app.json = JSONProvider(app)
    app.config.update(config.from_environment(app.instance_path))
    app.config.update(overrides or {})
    db.init_app(app)
    with app.app_context():
        configure(db.engine)
    login_manager.init_app(app)
    csrf.init_app(app)

    from . import (
        admin,
        analytics_pages,
        api,
        auth,
        calendar_pages,
        errors,
        inbox,
        instance_pages,
        manager_api,
        modeller_pages,
        notice_pages,
        overview,
        security,
        templating,
        work_calendars,
    )
    for blueprint in (api.bp, manager_api.bp):
        app.register_blueprint(blueprint)
        csrf.exempt(blueprint)
    for blueprint in (auth.bp, inbox.bp, instance_pages.bp, modeller_pages.bp, admin.bp, notice_pages.bp, overview.bp,
                      analytics_pages.bp, calendar_pages.bp, work_calendars.bp):
        app.register_blueprint(blueprint)
    errors.register(app)
    security.register(app)
    templating.register(app)
    assets.register(app)
    app.context_processor(notice_pages.unread_count)
    return app
