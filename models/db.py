"""One engine factory: SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

import models.canonical
import models.integration
import models.token_store  # noqa: F401  (register the tables)
from models.settings import get_settings


def make_engine(url: str) -> Engine:
    """Create an engine tuned for concurrent effect tasks on either backend."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


@lru_cache
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: the configured database)."""
    return _engine_for(url or get_settings().resolved_database_url())


class SchemaOutdated(RuntimeError):
    """The database was created by an older fieldbridge and lacks columns this one needs."""


def create_schema(engine: Engine | None = None) -> None:
    """Create every table; safe to call repeatedly. Refuses a database whose tables lack columns
    (created by an older build): `create_all` adds tables, never columns, and a half-matching schema
    would fail later with a raw SQL error in the middle of a run."""
    engine = engine or get_engine()
    SQLModel.metadata.create_all(engine)
    inspector = inspect(engine)
    missing = []
    for table in SQLModel.metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in have]
    if missing:
        raise SchemaOutdated(
            f"the database at {engine.url.render_as_string(hide_password=True)} was created by an older "
            f"fieldbridge and lacks {', '.join(missing)}: for the demo, delete its home (.fieldbridge/) and "
            "run again; a production database needs these columns added")


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
