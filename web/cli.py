"""The `baton` command: database, users, deploy/start/tasks/complete, the server, the worker and demo data."""
import contextlib
import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from engine import database, definitions, instances, tasks, users
from engine.access import internal_actor
from engine.errors import BatonError

from . import create_app
from .extensions import db

OPERATOR = internal_actor("cli")   # the person at the server's console may do anything


def _print_json(value):
    click.echo(json.dumps(value, indent=2, default=current_app.json.default))


def _actor(username):
    return users.actor(users.find(db.session, username)) if username else OPERATOR


def _data(text):
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object")
    return value


def _engine_call(function, *args):
    """Run an engine operation; print its errors and exit 1 instead of a traceback."""
    try:
        return function(*args)
    except BatonError as error:
        for item in error.errors:
            where = " ".join(f"{k}={v}" for k, v in item.items() if k != "message" and v is not None)
            click.echo(f"error: {item.get('message')}" + (f" ({where})" if where else ""), err=True)
        sys.exit(1)


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=False)
def main():
    """Baton: BPMN workflows for marketing teams."""


@main.group("db")
def db_group():
    """Database schema."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade():
    """Create or upgrade the schema to the latest migration."""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    database.upgrade(url)
    click.echo(f"database {database.shown(url)} is up to date")


@main.group("users")
def users_group():
    """People and their roles."""


@users_group.command("add")
@click.argument("username")
@click.option("--password", help="avoid: it stays in the shell history and shows in the process list; "
                                 "without it the password is asked for, or read from standard input")
@click.option("--role", "roles", multiple=True, help="a role; repeat for several")
@click.option("--admin", is_flag=True)
@click.option("--email", help="where email notifications go")
@with_appcontext
def users_add(username, password, roles, admin, email):
    """Add a user. The password is asked for (at a terminal) or read from the first line of standard
    input (`printf '%s\\n' "$PW" | baton users add ana --role writer`)."""
    if password is None:
        password = _password_from_console()
    user = _engine_call(users.create, db.session, username, password, list(roles), admin, email)
    click.echo(f"added {user.username} (roles: {', '.join(user.role_names) or 'none'}{', admin' if admin else ''})")


def _password_from_console():
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@users_group.command("token")
@click.argument("username")
@with_appcontext
def users_token(username):
    """Issue an API bearer token for USERNAME (printed once)."""
    click.echo(users.issue_token(db.session, _engine_call(users.find, db.session, username)))


@main.command("deploy")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", help="deploy as this user (default: the operator)")
@with_appcontext
def deploy(files, user):
    """Deploy a diagram together with the DMN tables and called diagrams it needs."""
    definition, created = _engine_call(definitions.deploy, db.session,
                                       [(f.name, f.read_bytes()) for f in files], _actor(user))
    _print_json({**definitions.describe(definition), "created": created})


@main.command("start")
@click.argument("key")
@click.option("--data", help="start-form values as a JSON object")
@click.option("--user", help="start as this user (default: the operator)")
@with_appcontext
def start(key, data, user):
    instance = _engine_call(instances.start, db.session, key, _data(data), _actor(user))
    _print_json(instances.describe(db.session, instance))


@main.command("tasks")
@click.option("--user", help="only the tasks this user may do")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@with_appcontext
def list_tasks(user, as_json):
    rows, total = tasks.open_for(db.session, _actor(user), limit=1000)
    if as_json:
        return _print_json([tasks.describe(r) for r in rows])
    for row in rows:
        due = row.due_at.strftime("%Y-%m-%d %H:%M") if row.due_at else "-"
        click.echo(f"{row.id}  {row.process_key}#{row.instance_id}  {row.name}  [{tasks.who_for(row)}]  due {due}")
    click.echo(f"{total} open task(s)")


@main.command("complete")
@click.argument("task_id")
@click.option("--user", required=True, help="complete as this user")
@click.option("--data", help="form values as a JSON object")
@with_appcontext
def complete(task_id, user, data):
    instance = _engine_call(tasks.complete, db.session, task_id, _actor(user), _data(data))
    _print_json(instances.describe(db.session, instance))


@main.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--workers", default=1, type=int, help="web processes (they share nothing but the database)")
@click.option("--threads", default=8, type=int, help="threads per process")
def serve(host, port, workers, threads):
    """Serve the web app with gunicorn (a production WSGI server)."""
    from .server import Server
    click.echo(f"serving on http://{host}:{port}/ with database {database.shown(database.database_url())} "
               f"({workers} process(es) × {threads} threads)")
    Server(create_app, bind=f"{host}:{port}", workers=workers, threads=threads).run()


@main.command("demo")
@with_appcontext
def demo():
    """Load the workflows in diagrams/, demo users for every role and a few instances in flight."""
    from engine import demo as demo_data
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    database.upgrade(url)
    logins = _engine_call(demo_data.load, db.session)
    click.echo(f"Demo data in {database.shown(url)}. Demo users (username / password / roles):")
    for username, password, roles in logins:
        click.echo(f"  {username:24} {password:28} {', '.join(roles)}")


@main.command("worker")
@click.option("--interval", default=1.0, type=float, help="seconds between passes")
@click.option("--once", is_flag=True, help="one pass, then exit")
@with_appcontext
def worker(interval, once):
    """Fire due timers and send due notifications (run one or more next to `baton serve`)."""
    import logging

    from engine import worker as background
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if once:
        _print_json(background.run_once(db.session))
        return
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    click.echo(f"worker polling every {interval} s with database {database.shown(url)}; Ctrl-C to stop")
    sys.stdout.flush()   # the start line reaches a log or a pipe now, not when the buffer fills
    factory = database.connect(url)
    with contextlib.suppress(KeyboardInterrupt):
        background.run_forever(factory, interval)
