"""Alembic environment: runs Baton's migrations against the configured URL."""
from alembic import context
from sqlalchemy import create_engine

from engine.database import configure, engine_options
from engine.models import Base

url = context.config.get_main_option("sqlalchemy.url")
connectable = configure(create_engine(url, **engine_options(url)))
with connectable.connect() as connection:
    if connection.dialect.name == "sqlite":
        # batch migrations rebuild tables; SQLite would check foreign keys half-way through
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()   # end the implicit transaction, so Alembic's own one commits
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
connectable.dispose()
