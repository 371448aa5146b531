"""Alembic environment: uses the connection handed in by app.db.upgrade, else Settings' URL."""
from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from app.db.models import Base

config = context.config
if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _run(connection) -> None:
    # Batch mode lets later revisions ALTER tables on SQLite (it copies the table).
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from app.config import get_settings
    from app.db.session import make_engine

    with make_engine(get_settings().database_url).begin() as conn:
        _run(conn)
