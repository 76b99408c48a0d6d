"""Schema migrations: bring any fieldbridge database to the schema of this build, safely, on every start.

`models.db.create_schema` calls `upgrade(engine)` before anything uses a database, so the demo, serve, the
ingress, the CLI and every worker migrate without anyone running a command. Four cases:

- at head already: one read of `alembic_version`, no lock (the common case, so it is cheap to call often);
- empty database: `create_all` then `stamp head` (Alembic's documented recipe for a new database: fast);
- created by `create_all` of a build before migrations existed (fieldbridge tables, no `alembic_version`):
  stamped `0001_baseline` (the last release), then upgraded; `0002` only creates what is missing, so this is
  right for any build between that release and the first one with migrations;
- `alembic_version` present: `upgrade`.

A database at a revision this build does not know was migrated by a newer fieldbridge: `SchemaTooNew`.

Writing a migration (see docs/migrations.md): `uv run python -m models.migrate revision -m "what" --autogenerate`.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

# Every module that defines tables (`table=True`): imported here so that SQLModel.metadata, which create_all
# builds and every comparison checks against, holds all of them whatever else a process imported first.
import models.canonical
import models.intake
import models.integration
import models.rate_budget
import models.schedule
import models.token_store
import models.webhook_inbox  # noqa: F401

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BASELINE = "0001_baseline"  # the schema of release 2331384, the last one without migrations
#: tables an older build created that the current models no longer have: they still mark a fieldbridge database
RETIRED_TABLES = frozenset({"inboundevent"})
#: pg_advisory_lock key of the migration lock, one per database ("fbmigrat" as a bigint)
PG_LOCK_KEY = 0x66626D6967726174
SQLITE_LOCK_WAIT_SECONDS = 600.0  # a second SQLite migrator waits this long for the first one to finish


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer fieldbridge: this build would misread its tables."""


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code: the scripts ship inside the `models` package, no alembic.ini."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("file_template", "%%(rev)s")  # versions/0003_add_x.py: the id is the file name
    cfg.attributes["connection"] = connection
    return cfg


@lru_cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head() -> str:
    """The newest revision this build knows: where `upgrade` takes a database."""
    heads = _script().get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads ({', '.join(heads)}): merge them")
    return heads[0]


def revisions() -> list[str]:
    """Every revision of this build, oldest first."""
    return [r.revision for r in reversed(list(_script().walk_revisions()))]


def history() -> list[tuple[str, str]]:
    """(revision, first line of its docstring), oldest first: what `fieldbridge db history` prints."""
    out = []
    for rev in reversed(list(_script().walk_revisions())):
        out.append((rev.revision, (rev.doc or "").strip().splitlines()[0] if rev.doc else ""))
    return out


def _version(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def current(engine: Engine) -> str | None:
    """The database's revision, or None when it was never migrated (empty, or created before migrations)."""
    with engine.connect() as conn:
        return _version(conn)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Autogenerate writes plain SQLAlchemy types into a new revision, never fieldbridge's own classes: a
    migration is frozen history and must not change when `models.types` or sqlmodel change later."""
    if type_ != "type":
        return False
    if isinstance(obj, AutoString):
        return f"sa.String({obj.length})" if obj.length else "sa.String()"
    if isinstance(obj, sa.types.TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def context_options(connection: Connection) -> dict[str, Any]:
    """The options of env.py, shared with `diff`, so a comparison sees exactly what a migration saw."""
    return {
        "connection": connection,
        "target_metadata": SQLModel.metadata,
        "compare_type": True,
        "compare_server_default": True,
        # SQLite cannot ALTER most things: batch mode rebuilds the table (copy, drop, rename) instead
        "render_as_batch": connection.dialect.name == "sqlite",
        "render_item": render_item,
    }


def diff(engine: Engine) -> list[Any]:
    """What the database lacks or has beyond the current models (empty: they agree). Alembic's comparison,
    plus the labels of PostgreSQL enum types, which Alembic does not compare (a missing label fails only
    when a row first uses it)."""
    with engine.connect() as conn:
        found: list[Any] = list(compare_metadata(MigrationContext.configure(conn, opts=context_options(conn)),
                                                 SQLModel.metadata))
        if conn.dialect.name == "postgresql":
            found += _enum_label_diff(conn)
    return found


def _enum_label_diff(conn: Connection) -> list[tuple[str, str, list[str], list[str]]]:
    rows = conn.execute(sa.text(
        "SELECT t.typname, e.enumlabel FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid "
        "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = current_schema() "
        "ORDER BY t.typname, e.enumsortorder")).all()
    have: dict[str, list[str]] = {}
    for name, label in rows:
        have.setdefault(name, []).append(label)
    out = []
    wanted = {c.type.name: list(c.type.enums) for t in SQLModel.metadata.tables.values() for c in t.columns
              if isinstance(c.type, sa.Enum) and c.type.native_enum and c.type.name}
    for name, labels in sorted(wanted.items()):
        missing = [lb for lb in labels if lb not in have.get(name, [])]
        extra = [lb for lb in have.get(name, []) if lb not in labels]
        if missing or extra:
            out.append(("enum_labels", name, missing, extra))
    return out


def upgrade(engine: Engine, revision: str = "head") -> list[str]:
    """Migrate the database to `revision` (default: this build's head). Returns the revisions the database
    gained, oldest first (empty when it was there already), for a log line."""
    if revision == "head":
        with engine.connect() as conn:
            if _version(conn) == head():
                return []
    with _migration_lock(engine) as conn:
        before = _version(conn)  # again: another process may have migrated while we waited for the lock
        if revision == "head" and before == head():
            return []
        if before is not None and before not in revisions():
            raise SchemaTooNew(
                f"the database at {engine.url.render_as_string(hide_password=True)} was created by a newer "
                f"fieldbridge (revision {before}); upgrade fieldbridge")
        cfg = config(conn)
        if before is None and not _fieldbridge_tables(conn):
            if revision in ("head", head()):
                SQLModel.metadata.create_all(conn)
                command.stamp(cfg, "head")
            else:  # a chosen older revision: only the scripts build exactly that schema
                command.upgrade(cfg, revision)
        else:
            if before is None:  # created by create_all before migrations existed: it holds the baseline
                command.stamp(cfg, BASELINE)
                before = BASELINE
            command.upgrade(cfg, revision)
        after = _version(conn)
    return _between(before, after)


def _between(before: str | None, after: str | None) -> list[str]:
    order = revisions()
    start = order.index(before) + 1 if before else 0
    end = order.index(after) + 1 if after else 0
    return order[start:end]


def _fieldbridge_tables(conn: Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names()) & (set(SQLModel.metadata.tables) | RETIRED_TABLES)


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """One migrator at a time per database, and the whole migration in one transaction on that connection.

    PostgreSQL: a session advisory lock on a fixed key, taken before the transaction and released after it
    commits; several worker processes starting at once queue here, and all but the first find the database
    at head when they get the lock. The lock dies with the session if a process dies mid-migration, and
    PostgreSQL's transactional DDL rolls that migration back.

    SQLite: `BEGIN IMMEDIATE` takes the database's single write lock before the first read, so a second
    migrator waits (busy_timeout, then retried here) until the first commits, then re-reads the revision.
    The driver normally opens transactions only before DML and would commit each DDL statement on its own;
    in its autocommit mode with our explicit BEGIN the DDL joins the transaction, so a failed migration leaves
    nothing half done."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": PG_LOCK_KEY})
            conn.commit()
            try:
                with conn.begin():
                    yield conn
            finally:
                try:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
                    conn.commit()
                except Exception:  # a broken connection is discarded, and its session's lock with it
                    conn.invalidate()
        elif engine.dialect.name == "sqlite":
            dbapi = conn.connection.driver_connection
            saved = dbapi.isolation_level
            conn.commit()
            dbapi.isolation_level = None
            try:
                _begin_immediate(conn)
                try:
                    yield conn
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            finally:
                dbapi.isolation_level = saved
        else:
            with conn.begin():
                yield conn


def _begin_immediate(conn: Connection) -> None:
    deadline = time.monotonic() + SQLITE_LOCK_WAIT_SECONDS
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            conn.rollback()
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _scripts_to_head(engine: Engine) -> None:
    """Run every script (never `create_all`): the schema the migrations build, which autogenerate compares."""
    with _migration_lock(engine) as conn:
        command.upgrade(config(conn), "head")


def new_revision(message: str, autogenerate: bool = True, url: str | None = None) -> Path:
    """Write versions/NNNN_<slug>.py. With autogenerate, the operations are what the models have beyond a
    database the existing scripts migrated to head: a scratch SQLite file, or `url` (e.g. an empty
    PostgreSQL database, which also shows PostgreSQL-only differences). Always read and edit the result."""
    from models.db import make_engine

    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:27] or "change"
    rev_id = f"{len(revisions()) + 1:04d}_{slug}"  # alembic_version holds at most 32 characters
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(url or f"sqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            _scripts_to_head(engine)
            with engine.begin() as conn:
                script = command.revision(config(conn), message=message, autogenerate=autogenerate, rev_id=rev_id)
        finally:
            engine.dispose()
    _script.cache_clear()
    path = script.path if script is not None and not isinstance(script, list) else None
    return Path(path) if path else MIGRATIONS_DIR / "versions" / f"{rev_id}.py"


def main(argv: list[str] | None = None) -> int:
    """`python -m models.migrate revision -m "..." [--autogenerate] [--url URL]`: the developer's helper
    (operators use `fieldbridge db upgrade|current|history`)."""
    parser = argparse.ArgumentParser(prog="python -m models.migrate")
    sub = parser.add_subparsers(dest="command", required=True)
    rev = sub.add_parser("revision", help="write a new migration script")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--autogenerate", action="store_true", help="fill it with what the models have beyond head")
    rev.add_argument("--url", help="compare against this database (migrated to head first) instead of a scratch "
                     "SQLite file")
    args = parser.parse_args(argv)
    path = new_revision(args.message, args.autogenerate, args.url)
    print(f"wrote {path}: review it, then run the tests (tests/test_migrations.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
