"""Alembic environment for fieldbridge's database, configured in code by `models.migrate` (no alembic.ini).

The caller hands over an open connection in `config.attributes["connection"]`: `models.migrate` holds the
migration lock on that very connection and owns its transaction, so this file never creates an engine.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from models.migrate import context_options  # also registers every table in SQLModel.metadata

config = context.config
target_metadata = SQLModel.metadata  # what autogenerate compares against: every fieldbridge table


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through models.migrate or `fieldbridge db upgrade`: they pass the "
                           "connection and hold the migration lock; there is no alembic.ini")
    context.configure(**{**context_options(connection), "target_metadata": target_metadata})
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported: fieldbridge migrates the database itself")
run_migrations_online()
