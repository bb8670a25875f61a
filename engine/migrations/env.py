"""Alembic environment: runs Baton's migrations against the configured URL."""
from alembic import context
from sqlalchemy import create_engine

from engine.database import configure, engine_options
from engine.models import Base

url = context.config.get_main_option("sqlalchemy.url")
connectable = configure(create_engine(url, **engine_options(url)))
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
connectable.dispose()
