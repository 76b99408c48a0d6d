"""Schema migrations: a database of the last release keeps every row and reaches the current schema, on SQLite
and PostgreSQL; pre-migration installs, concurrent starts, a newer database, the CLI, and the guard that fails
when a model changes without a migration."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select
from typer.testing import CliRunner

from connectors.contract.records import VendorRecord
from deployments.cli_db import db_app
from models import migrate
from models.canonical import EntryKind, Job, JobStatus, JobTechnician, PartUsage, Technician, TimeEntry
from models.db import SchemaTooNew, create_schema, make_engine
from models.integration import Effect, EffectStatus, ExternalRef, InboxEvent, InboxStatus, Quarantine
from models.ledger import Ledger
from models.settings import get_settings
from models.token_store import OAuthToken
from tests.conftest import run_concurrently
from tests.test_postgres import PG_ADMIN_URL, require_postgres

RELEASE_SQL = Path(__file__).parent / "data" / "release-2331384.sql"
HEAD = migrate.head()
#: every table of the release, and the order its rows are compared in
RELEASE_TABLES = {
    "customer": "id", "site": "id", "technician": "id", "pricebookitem": "sku", "job": "id",
    "jobtechnician": "job_id, technician_id", "timeentry": "id", "partusage": "id", "expense": "id", "note": "id",
    "externalref": "id", "effect": '"key"', "quarantine": "id", "validatedjob": "job_id", "inboundevent": "event_id",
}
AFTER_BASELINE = migrate.revisions()[1:]  # what a database of the release (or a pre-migration build) gains


# ---------------------------------------------------------------------------------------------- databases


class Engines:
    """make_engine, remembering what it made so the connections can be closed before a schema is dropped."""

    def __init__(self) -> None:
        self.made: list[Engine] = []

    def __call__(self, url: str) -> Engine:
        self.made.append(make_engine(url))
        return self.made[-1]

    def dispose(self) -> None:
        for engine in self.made:
            engine.dispose()


@pytest.fixture
def engines() -> Iterator[Engines]:
    made = Engines()
    yield made
    made.dispose()


@pytest.fixture
def pg_schema_url(engines: Engines) -> Iterator[str]:
    """A fresh PostgreSQL schema in the test database, first on the search path of every connection."""
    require_postgres()
    import psycopg

    schema = f"mig_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    base = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}?options=-csearch_path%3D{schema}"
    engines.dispose()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_schema_url")
    return f"sqlite:///{tmp_path / 'fieldbridge.db'}"


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip()]


def _release_inserts() -> list[str]:
    return [s.removesuffix(";") for s in _statements(RELEASE_SQL.read_text()) if s.startswith("INSERT")]


def _load_release(url: str, engines: Callable[[str], Engine]) -> Engine:
    """A database of release 2331384 with its rows: the file as is on SQLite; on PostgreSQL the schema built
    by `0001_baseline` (shown equal to the release's) and the same INSERTs, with the sequences moved on as a
    restore would."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.executescript(RELEASE_SQL.read_text())
        return engines(url)
    engine = engines(url)
    assert migrate.upgrade(engine, migrate.BASELINE) == [migrate.BASELINE]
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")  # the file's timestamps are UTC
        for statement in _release_inserts():
            conn.exec_driver_sql(statement)
        for table in ("externalref", "quarantine"):
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}")
    return engine


def _pre_migration(engine: Engine) -> None:
    """What a build before migrations left behind: the same tables, no alembic_version."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")


def _rows(engine: Engine, tables: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {t: [dict(r) for r in conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY {order}").mappings()]
                for t, order in tables.items()}


def _alembic_diff(engine: Engine) -> list[Any]:
    """Alembic's own comparison of the database with the current models, with env.py's options."""
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts=migrate.context_options(conn)),
                                     SQLModel.metadata))


def _assert_current(engine: Engine) -> None:
    assert migrate.current(engine) == HEAD
    assert set(sa.inspect(engine).get_table_names()) == set(SQLModel.metadata.tables) | {"alembic_version"}
    assert _alembic_diff(engine) == []
    assert migrate.diff(engine) == [], "the database and the models disagree"


# ------------------------------------------------------------------------------- the release, upgraded


def _assert_release_rows_kept(engine: Engine, before: dict[str, list[dict[str, Any]]]) -> None:
    kept = {t: o for t, o in RELEASE_TABLES.items() if t != "inboundevent"}
    after = _rows(engine, kept)
    for table in kept:
        assert len(after[table]) == len(before[table]) > 0, table
        for old, new in zip(before[table], after[table], strict=True):
            assert {k: new[k] for k in old} == old, table
    for entry in after["timeentry"]:  # the new flags: not in a company vehicle, relief not recorded
        assert not entry["company_vehicle"] and entry["relieved"] is None
    # the release's inbox table (declared, never written by it) is carried over, not lost
    inbox = {r["event_id"]: r for r in _rows(engine, {"inbox_event": "event_id"})["inbox_event"]}
    assert set(inbox) == {r["event_id"] for r in before["inboundevent"]}
    for old in before["inboundevent"]:
        new = inbox[old["event_id"]]
        assert {k: new[k] for k in old} == old
        assert new["deliveries"] == 1 and new["occurred_at"] == old["received_at"]
        assert new["status"] == ("STARTED" if old["flow_run_id"] else "APPLIED")  # no run is started for them
    assert {r["event_id"]: r["job_id"] for r in inbox.values()} == {"evt-7f2c1": "J1001", "evt-7f2c2": "J1002"}


def _assert_product_works(engine: Engine) -> None:
    """The migrated database through the models and the ledger, old rows and new."""
    with Session(engine) as s:
        job = s.get(Job, "J1001")
        assert job is not None and job.status is JobStatus.CLOSED
        assert job.closed_at == datetime(2026, 11, 24, 19, 42, 10, tzinfo=UTC)
        tech = s.get(Technician, "T01")
        assert tech is not None and tech.hourly_rate == Decimal("38.50")
        part = s.get(PartUsage, "P2")
        assert part is not None and (part.quantity, part.unit_price) == (Decimal("2.5"), Decimal("0.3333"))
        assert s.get(Effect, "hubspot:ticket:J1002").status is EffectStatus.IN_FLIGHT  # type: ignore[union-attr]
        assert s.exec(select(Quarantine).where(Quarantine.released_at.is_(None))).one().job_id == "J1003"  # type: ignore[union-attr]
        old_inbox = s.exec(select(InboxEvent).where(InboxEvent.event_id == "evt-7f2c1")).one()
        assert old_inbox.status is InboxStatus.STARTED and old_inbox.received_at.tzinfo is not None

        start = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
        s.add(Job(id="J2001", customer_id="C101", site_id="S101", status=JobStatus.CLOSED, description="Fridge",
                  closed_at=start.replace(hour=19)))
        s.add(JobTechnician(job_id="J2001", technician_id="T03"))
        s.add(TimeEntry(id="TE2001", job_id="J2001", technician_id="T03", kind=EntryKind.ON_CALL, start=start,
                        end=start.replace(hour=18), company_vehicle=True, relieved=False))
        s.add(ExternalRef(system="quickbooks", entity="customer", canonical_id="C101", vendor_id="59"))
        s.add(OAuthToken(key="quickbooks:9341453112345678", access_token="a", refresh_token="r", expires_at=1.5,
                         updated_at=start))
        s.commit()
    with Session(engine) as s:
        entry = s.get(TimeEntry, "TE2001")
        assert entry is not None and entry.kind is EntryKind.ON_CALL and entry.company_vehicle
        assert entry.start == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
        assert s.exec(select(ExternalRef).where(ExternalRef.vendor_id == "59")).one().id == 8  # after the release's
    ledger = Ledger(engine)
    assert ledger.get("quickbooks:invoice:J1001").vendor_id == "1043"  # type: ignore[union-attr]
    writes: list[str] = []

    def write(_existing: VendorRecord | None) -> VendorRecord:
        writes.append("sheet")
        return VendorRecord(id="ts-6001")

    out = ledger.run("gusto:timesheet:T02:2026-11-24", system="gusto", kind="timesheet", job_id=None,
                     payload={"hours": "2.67"}, lookup=lambda: None, write=write)
    assert (out.vendor_id, out.written, writes) == ("ts-6001", True, ["sheet"])  # the release's PENDING effect


def test_release_database_upgrades_on_sqlite(tmp_path: Path, engines: Callable[[str], Engine]) -> None:
    engine = _load_release(f"sqlite:///{tmp_path / 'release.db'}", engines)
    before = _rows(engine, RELEASE_TABLES)
    assert migrate.current(engine) is None
    create_schema(engine)  # what every fieldbridge start does
    _assert_current(engine)
    _assert_release_rows_kept(engine, before)
    _assert_product_works(engine)


@pytest.mark.postgres
def test_release_database_upgrades_on_postgresql(pg_schema_url: str, engines: Callable[[str], Engine]) -> None:
    engine = _load_release(pg_schema_url, engines)
    assert migrate.current(engine) == migrate.BASELINE
    # at the baseline the entry-kind type lacks the labels the hours rules added; Alembic cannot see that
    assert ("enum_labels", "entrykind", ["MEAL", "REST", "WAIT", "ON_CALL"], []) in migrate.diff(engine)
    before = _rows(engine, RELEASE_TABLES)
    create_schema(engine)
    _assert_current(engine)
    _assert_release_rows_kept(engine, before)
    _assert_product_works(engine)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_release_database_used_by_builds_before_migrations(backend: str, tmp_path: Path, request: pytest.FixtureRequest,
                                                           engines: Callable[[str], Engine]) -> None:
    """The release's database after builds between it and migrations ran `create_all` on it: new tables but
    not the new columns or enum labels, and still the old inbox table. 0002 creates only what is missing."""
    url = request.getfixturevalue("pg_schema_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'r.db'}"
    engine = _load_release(url, engines)
    if backend == "postgresql":
        _pre_migration(engine)
    SQLModel.metadata.create_all(engine)
    with engine.begin() as conn:  # a delivery the newer build's inbox stored, also in the old table
        conn.execute(sa.insert(InboxEvent.__table__).values(  # type: ignore[attr-defined]
            source="fsm", event_id="evt-7f2c2", type="job.updated", job_id="J1002", occurred_at=datetime.now(UTC),
            payload="{}", status="APPLIED", deliveries=2, received_at=datetime.now(UTC)))
    assert migrate.upgrade(engine) == AFTER_BASELINE
    _assert_current(engine)
    with Session(engine) as s:
        events = {e.event_id: e for e in s.exec(select(InboxEvent))}
    assert set(events) == {"evt-7f2c1", "evt-7f2c2"} and events["evt-7f2c2"].deliveries == 2  # the newer row wins
    _assert_product_works(engine)


def test_baseline_is_the_release_schema(tmp_path: Path, engines: Callable[[str], Engine]) -> None:
    """0001_baseline builds exactly what release 2331384's create_all built (the file's schema part)."""

    def shape(engine: Engine) -> dict[str, Any]:
        insp = sa.inspect(engine)
        out = {}
        for table in set(insp.get_table_names()) - {"alembic_version"}:
            out[table] = (
                [(c["name"], str(c["type"]), c["nullable"], c["default"]) for c in insp.get_columns(table)],
                insp.get_pk_constraint(table)["constrained_columns"],
                sorted((f["constrained_columns"], f["referred_table"], f["referred_columns"])
                       for f in insp.get_foreign_keys(table)),
                sorted((i["name"], i["column_names"], bool(i["unique"])) for i in insp.get_indexes(table)),
                sorted(u["column_names"] for u in insp.get_unique_constraints(table)),
            )
        return out

    release = _load_release(f"sqlite:///{tmp_path / 'release.db'}", engines)
    baseline = engines(f"sqlite:///{tmp_path / 'baseline.db'}")
    assert migrate.upgrade(baseline, migrate.BASELINE) == [migrate.BASELINE]
    assert shape(baseline) == shape(release)


# ----------------------------------------------------------------------------------- the other starts


def test_empty_database_is_created_at_head(database_url: str, engines: Callable[[str], Engine]) -> None:
    engine = engines(database_url)
    assert migrate.current(engine) is None
    assert migrate.upgrade(engine) == migrate.revisions()  # create_all + stamp: it has them all
    _assert_current(engine)
    _assert_product_works_on_empty(engine)


def _assert_product_works_on_empty(engine: Engine) -> None:
    ledger = Ledger(engine)
    out = ledger.run("test:invoice:J1", system="test", kind="invoice", job_id="J1", payload={},
                     lookup=lambda: None, write=lambda _e: VendorRecord(id="v1"))
    assert out.vendor_id == "v1" and ledger.get("test:invoice:J1").status is EffectStatus.DONE  # type: ignore[union-attr]


def test_pre_migration_install_of_the_current_models_upgrades(database_url: str,
                                                              engines: Callable[[str], Engine]) -> None:
    """A database `create_all` made with today's models before migrations existed: stamped as the baseline,
    then 0002 finds everything present and changes nothing but the revision."""
    engine = engines(database_url)
    SQLModel.metadata.create_all(engine)
    _assert_product_works_on_empty(engine)
    assert migrate.upgrade(engine) == AFTER_BASELINE
    _assert_current(engine)
    assert Ledger(engine).get("test:invoice:J1").vendor_id == "v1"  # type: ignore[union-attr]


def test_create_schema_twice_is_a_no_op(database_url: str, engines: Callable[[str], Engine]) -> None:
    engine = engines(database_url)
    create_schema(engine)
    create_schema(engine)
    assert migrate.upgrade(engine) == []
    create_schema(engines(database_url))  # another process's engine: the same
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all() == [HEAD]
    _assert_current(engine)


def test_database_from_a_newer_fieldbridge_is_refused(database_url: str, engines: Callable[[str], Engine]) -> None:
    engine = engines(database_url)
    create_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    with pytest.raises(SchemaTooNew, match=r"created by a newer fieldbridge \(revision 0099_from_the_future\); "
                                           r"upgrade fieldbridge"):
        create_schema(engine)
    with engine.connect() as conn:  # untouched
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0099_from_the_future"


def test_sqlite_threads_starting_at_once(tmp_path: Path, engines: Callable[[str], Engine]) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    with sqlite3.connect(tmp_path / "race.db") as conn:  # the file exists, in WAL mode: make_engine's switch to
        conn.execute("PRAGMA journal_mode=WAL")  # WAL can fail when six connections open a new file at once
    assert not run_concurrently(*[lambda e=engines(url): create_schema(e) for _ in range(6)])
    _assert_current(engines(url))


@pytest.mark.postgres
def test_postgresql_threads_starting_at_once(pg_schema_url: str, engines: Callable[[str], Engine]) -> None:
    applied: list[list[str]] = []
    assert not run_concurrently(*[lambda e=engines(pg_schema_url): applied.append(migrate.upgrade(e))
                                  for _ in range(6)])
    assert sorted(applied, key=len) == [[]] * 5 + [migrate.revisions()]  # one created it, five found it done
    _assert_current(engines(pg_schema_url))


@pytest.mark.postgres
def test_postgresql_worker_processes_migrating_at_once(pg_schema_url: str, engines: Callable[[str], Engine]) -> None:
    """Three worker processes start on a release database at once: the advisory lock lets one migrate, the
    others wait for it and find the database current."""
    engine = _load_release(pg_schema_url, engines)
    _pre_migration(engine)
    before = _rows(engine, RELEASE_TABLES)
    code = ("import json, sys; from models.db import create_schema, make_engine; from models import migrate; "
            "e = make_engine(sys.argv[1]); print(json.dumps(migrate.upgrade(e))); create_schema(e)")
    procs = [subprocess.Popen([sys.executable, "-c", code, pg_schema_url], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in results]
    applied = sorted((json.loads(out.strip().splitlines()[-1]) for out, _ in results), key=len)
    assert applied == [[], [], AFTER_BASELINE]
    _assert_current(engine)
    _assert_release_rows_kept(engine, before)




# ------------------------------------------------------------------------------------ guard and tools


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_migrations_build_exactly_the_models(backend: str, tmp_path: Path, request: pytest.FixtureRequest,
                                            engines: Callable[[str], Engine]) -> None:
    """The guard: the scripts (never create_all) run from empty to head build what the models declare. A model
    changed without a migration fails here."""
    url = request.getfixturevalue("pg_schema_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'g.db'}"
    engine = engines(url)
    migrate.upgrade(engine, migrate.BASELINE)  # from an empty database: the scripts themselves
    migrate.upgrade(engine)  # every later script
    assert migrate.current(engine) == HEAD
    found = migrate.diff(engine)
    assert not found, ("write a migration: the models differ from what the migrations build "
                       f"(`uv run python -m models.migrate revision -m '...' --autogenerate`): {found}")


def test_one_head_and_frozen_revisions() -> None:
    assert migrate.revisions()[:2] == [migrate.BASELINE, "0002_inbox_tokens_hours"]
    assert all(len(r) <= 32 for r in migrate.revisions())  # alembic_version.version_num is VARCHAR(32)
    for path in (migrate.MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text()
        assert "from models" not in text and "import models" not in text, f"{path.name} imports the models"


def test_revision_helper_writes_the_next_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m models.migrate revision -m ... --autogenerate` (on a copy of the scripts): the models match
    head, so the new script is empty, numbered after the last one."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", copy)
    migrate._script.cache_clear()
    try:
        assert migrate.main(["revision", "-m", "Add a widget table!", "--autogenerate"]) == 0
        path = copy / "versions" / f"{len(migrate.revisions()):04d}_add_a_widget_table.py"
        text = path.read_text()
        body = text.split("def upgrade() -> None:")[1].split("def downgrade")[0]
        assert f"down_revision = '{HEAD}'" in text and "pass" in body and "op." not in body
        compile(text, str(path), "exec")
    finally:
        monkeypatch.undo()
        migrate._script.cache_clear()
    assert migrate.head() == HEAD


def test_a_failing_migration_changes_nothing(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            engines: Callable[[str], Engine]) -> None:
    """One transaction for the whole upgrade, DDL included (on SQLite too): a script that fails half way leaves
    the database as it was, and the next start tries again."""
    engine = engines(database_url)
    create_schema(engine)
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "versions" / "0900_broken.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\nrevision = '0900_broken'\n"
        f"down_revision = '{HEAD}'\nbranch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade():\n    op.create_table('half_done', sa.Column('id', sa.Integer(), primary_key=True))\n"
        "    op.add_column('job', sa.Column('half_done', sa.Integer()))\n"
        "    op.execute('SELECT * FROM no_such_table')\n")
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", copy)
    migrate._script.cache_clear()
    try:
        with pytest.raises(sa.exc.DBAPIError, match="no_such_table"):
            migrate.upgrade(engine)
        assert migrate.current(engine) == HEAD
        insp = sa.inspect(engine)
        assert "half_done" not in insp.get_table_names()
        assert "half_done" not in {c["name"] for c in insp.get_columns("job")}
    finally:
        monkeypatch.undo()
        migrate._script.cache_clear()
    _assert_current(engine)


@pytest.fixture
def fieldbridge_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("FIELDBRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FIELDBRIDGE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(db_app, name="db")
    return app


def test_cli_upgrade_current_history(fieldbridge_home: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(_cli(), ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert f"database: sqlite:///{(fieldbridge_home / 'fieldbridge.db').resolve()}" in first.output
    assert "before:   none" in first.output and f"after:    {HEAD}" in first.output
    assert f"applied:  {', '.join(migrate.revisions())}" in first.output
    again = runner.invoke(_cli(), ["db", "upgrade", "--revision", "head"])
    assert again.exit_code == 0 and f"before:   {HEAD}" in again.output and "nothing (already current)" in again.output
    current = runner.invoke(_cli(), ["db", "current"])
    assert current.exit_code == 0 and current.stdout.strip() == HEAD
    history = runner.invoke(_cli(), ["db", "history"])
    assert history.exit_code == 0
    lines = history.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == migrate.revisions() and "(head)" in lines[-1]
    assert "Baseline" in lines[0]


def test_cli_upgrade_a_release_database(fieldbridge_home: Path) -> None:
    fieldbridge_home.mkdir()
    with sqlite3.connect(fieldbridge_home / "fieldbridge.db") as conn:
        conn.executescript(RELEASE_SQL.read_text())
    result = CliRunner().invoke(_cli(), ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "before:   none" in result.output and f"applied:  {', '.join(AFTER_BASELINE)}" in result.output


def test_cli_unreachable_database(fieldbridge_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDBRIDGE_DATABASE_URL", "postgresql://fieldbridge:s3cret-pw@127.0.0.1:1/fieldbridge")
    get_settings.cache_clear()
    for command in (["db", "upgrade"], ["db", "current"]):
        result = CliRunner().invoke(_cli(), command)
        assert result.exit_code == 3, result.output
        assert "s3cret-pw" not in result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "cannot reach the database at postgresql://fieldbridge:***@" in errors[0]
    shown = CliRunner().invoke(_cli(), ["db", "upgrade"]).stdout
    assert "database: postgresql://fieldbridge:***@127.0.0.1:1/fieldbridge" in shown
