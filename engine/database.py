"""Connecting to the database and bringing its schema up to date (Alembic migrations)."""
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_URL = "sqlite:///baton.sqlite3"


def database_url():
    """`BATON_DATABASE_URL`, or a SQLite file in the current folder."""
    url = os.environ.get("BATON_DATABASE_URL", DEFAULT_URL)
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


def engine_options(url):
    """Options that make SQLite safe for a multi-threaded server: wait for the write lock."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True}


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


def configure(engine):
    """Per-connection settings; call once for every Engine Baton creates (Flask's too)."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
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
