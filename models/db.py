"""One engine factory: SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlmodel import Session, SQLModel, create_engine

import models.canonical
import models.intake
import models.integration
import models.schedule
import models.token_store
import models.webhook_inbox  # noqa: F401
from connectors.contract.errors import register_transient
from models import migrate
from models.migrate import SchemaTooNew as SchemaTooNew  # raised by create_schema
from models.settings import get_settings

log = logging.getLogger("fieldbridge.db")

#: what a database says while it restarts, fails over or is briefly unreachable (PostgreSQL, SQLite's lock)
_GONE = ("server closed the connection", "terminating connection", "connection refused", "could not connect",
         "connection is closed", "the database system is", "connection timeout", "ssl connection has been closed",
         "database is locked", "connection to server", "consuming input failed", "admin_shutdown")


def database_went_away(exc: BaseException) -> bool:
    """A dropped or refused database connection: the same statement will work once the database is back
    (a schema or constraint error never is)."""
    if isinstance(exc, DisconnectionError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OperationalError, InterfaceError)) and any(s in str(exc).lower() for s in _GONE)


register_transient(database_went_away)


def make_engine(url: str) -> Engine:
    """Create an engine tuned for concurrent effect tasks on either backend."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL waits for a lock like any write
            cur.execute("PRAGMA journal_mode=WAL")
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
    """The database lacks columns this build needs although its migrations say it is current."""


_checked: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines whose columns were checked in this process


def create_schema(engine: Engine | None = None) -> None:
    """Bring the database to this build's schema before anything uses it: every entry point (demo, serve,
    ingress, CLI, workers) calls this, so migrations run on every start without an operator (see
    docs/migrations.md). Cheap when the database is current: one read of its revision.

    Raises `migrate.SchemaTooNew` for a database migrated by a newer fieldbridge, and `SchemaOutdated` when
    columns are still missing afterwards (a model changed without a migration, or a database older than the
    baseline): a half-matching schema would otherwise fail later with a raw SQL error in the middle of a run."""
    engine = engine or get_engine()
    applied = migrate.upgrade(engine)
    if applied:
        log.info("database %s migrated: %s", engine.url.render_as_string(hide_password=True), ", ".join(applied))
    if engine in _checked and not applied:
        return
    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    missing = []
    for table in SQLModel.metadata.sorted_tables:
        if table.name not in tables:
            missing.append(f"table {table.name}")
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in have]
    if missing:
        raise SchemaOutdated(
            f"the database at {engine.url.render_as_string(hide_password=True)} is at revision "
            f"{migrate.current(engine)} but lacks {', '.join(missing)}: a model changed without a migration "
            "(write one: docs/migrations.md), or the database predates the baseline release")
    _checked.add(engine)


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
