"""Connecting to the database and bringing its schema up to date (Alembic migrations)."""
import contextlib
import os
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from psycopg.pq import TransactionStatus
from sqlalchemy import create_engine, event, exc, make_url
from sqlalchemy.orm import sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_URL = "sqlite:///baton.sqlite3"
PING_AFTER_IDLE = 1.0   # seconds a pooled PostgreSQL connection may rest before it is pinged on its next use


def database_url():
    """`BATON_DATABASE_URL` (default: `baton.sqlite3` in the current folder), resolved once for every
    process and command: `postgresql://` gets the psycopg 3 driver, and a relative SQLite path becomes
    absolute against the current folder. Left relative, each library resolves it its own way
    (Flask-SQLAlchemy against the app's instance folder, Alembic and the worker against the current
    folder), and `baton db upgrade` would build a schema the server never opens."""
    return resolve(os.environ.get("BATON_DATABASE_URL") or DEFAULT_URL)


def resolve(url):
    """`url` with the psycopg 3 driver for PostgreSQL and an absolute path for a SQLite file."""
    if url.startswith("postgresql://"):
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not parsed.database.startswith("file:") and not os.path.isabs(parsed.database):
        return parsed.set(database=os.path.abspath(parsed.database)).render_as_string(hide_password=False)
    return url


def shown(url):
    """The database as the start-up lines name it: the file for SQLite, the URL without its password otherwise."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.render_as_string(hide_password=True)


def engine_options(url):
    """SQLite: wait for the write lock (the threads of a server share the file). PostgreSQL: psycopg's
    defaults (a statement run five times on a connection is prepared on the server)."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {}


def _sqlite_pragmas(dbapi_connection, _record):
    """Foreign keys on; write-ahead logging, whose commits need no disk flush (`synchronous=NORMAL`, as
    SQLite advises for WAL): a killed process loses nothing committed, a power cut may lose the last
    commits but never corrupts the file. Run on PostgreSQL where that matters."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _ping_when_idle(engine):
    """Ping a pooled connection before use only if it rested more than PING_AFTER_IDLE: one left idle
    overnight or across a database restart is replaced before a request sees it, while one given back a
    moment ago (most, under load) is not pinged again (`pool_pre_ping` pings at every checkout, twice per
    API call that answers after its commit). A restart under load fails the requests in flight and about
    one more per web process: the first disconnect error makes the pool replace all its older connections."""
    @event.listens_for(engine, "connect")
    def _born(_dbapi_connection, record):
        record.info["baton.rested_since"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _rest(_dbapi_connection, record):
        if record is not None:
            record.info["baton.rested_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _wake(dbapi_connection, record, _proxy):
        if time.monotonic() - record.info.get("baton.rested_since", 0.0) <= PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError("the database dropped a pooled connection") from error   # the pool reconnects


INTRANS = TransactionStatus.INTRANS
WROTE = "baton.wrote"   # Connection.info: whether the connection's transaction has written anything


def _reads_end_with_commit(engine):
    """End a transaction that only read with COMMIT, not ROLLBACK: psycopg forgets every statement it
    prepared on the server at each ROLLBACK (and sends `DEALLOCATE ALL`), and most requests only read,
    so the hot statements would hardly ever stay prepared. For a transaction with no writes both ends
    are the same; one that wrote is rolled back as asked. Writes are seen as they go to the cursor
    (every statement but a SELECT counts as one), and `engine.driver` marks its own."""
    @event.listens_for(engine, "begin")
    def _begun(connection):
        connection.info[WROTE] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(connection, _cursor, statement, _parameters, _context, _executemany):
        if statement.lstrip()[:6].upper() != "SELECT":
            connection.info[WROTE] = True

    @event.listens_for(engine, "rollback")
    def _ending(connection):
        if connection.invalidated or connection.info.get(WROTE, True):
            return
        dbapi_connection = connection.connection.dbapi_connection
        if dbapi_connection.info.transaction_status == INTRANS:
            with contextlib.suppress(engine.dialect.loaded_dbapi.Error):   # then the rollback deals with it
                dbapi_connection.commit()   # the rollback that follows finds no transaction left to end


def configure(engine):
    """Per-connection settings; call once for every Engine Baton creates (Flask's too)."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name == "postgresql":
        _ping_when_idle(engine)
        _reads_end_with_commit(engine)
    return engine


def connect(url=None):
    """A session factory for the CLI, workers and tests (the web app uses Flask-SQLAlchemy)."""
    url = url or database_url()
    return sessionmaker(configure(create_engine(url, **engine_options(url))), expire_on_commit=False)


def upgrade(url=None, revision="head"):
    """Create or upgrade the schema to `revision`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", (url or database_url()).replace("%", "%%"))
    command.upgrade(config, revision)
