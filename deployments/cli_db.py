"""`fieldbridge db upgrade | current | history`: the schema migrations of the configured database.

Every fieldbridge process migrates the database itself when it starts (models.db.create_schema); these
commands are for operators who want to migrate before deploying, or to see where a database stands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

EXIT_FAILED = 1  # the migration itself failed, or the database is newer than this fieldbridge
EXIT_UNREACHABLE = 3  # the database could not be reached (a configuration or network problem)

db_app = typer.Typer(help="The fieldbridge database: schema migrations.", no_args_is_help=True)


def _database() -> tuple[str, Engine]:
    """The configured database (FIELDBRIDGE_DATABASE_URL, or the SQLite file under FIELDBRIDGE_HOME), with
    its URL as it may be printed: password hidden."""
    from sqlalchemy.engine import make_url

    from models.db import get_engine
    from models.settings import get_settings

    url = get_settings().resolved_database_url()
    return make_url(url).render_as_string(hide_password=True), get_engine(url)


def _unreachable(shown: str, exc: Exception) -> NoReturn:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    typer.echo(f"error: cannot reach the database at {shown}: {reason[0] if reason else type(exc).__name__}",
               err=True)
    raise typer.Exit(EXIT_UNREACHABLE)


def _connect(shown: str, engine: Engine) -> None:
    """Fail with one clear line when the database cannot be reached, before anything else is attempted."""
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        _unreachable(shown, exc)


@db_app.command()
def upgrade(
    revision: Annotated[str, typer.Option(help="The revision to migrate to (default: this build's newest).")] = "head",
) -> None:
    """Migrate the database to this build's schema now (every fieldbridge process also does it on start).

    Exit codes: 0 migrated or already current, 1 the migration failed or the database is newer than this
    fieldbridge, 3 the database cannot be reached."""
    from alembic.util import CommandError

    from models import migrate

    shown, engine = _database()
    typer.echo(f"database: {shown}")
    _connect(shown, engine)
    before = migrate.current(engine)
    typer.echo(f"before:   {before or 'none (empty, or created before migrations)'}")
    try:
        applied = migrate.upgrade(engine, revision)
    except (migrate.SchemaTooNew, CommandError) as exc:  # CommandError: no such revision, or a downgrade
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from exc
    after = migrate.current(engine)
    typer.echo(f"after:    {after}")
    typer.echo(f"applied:  {', '.join(applied) if applied else 'nothing (already current)'}")


@db_app.command()
def current() -> None:
    """Print the database's revision ("none" when it was never migrated)."""
    from sqlalchemy.exc import DBAPIError

    from models import migrate

    shown, engine = _database()
    try:
        revision = migrate.current(engine)
    except DBAPIError as exc:
        _unreachable(shown, exc)
    typer.echo(revision or "none")
    if revision != migrate.head():
        typer.echo(f"this fieldbridge's newest revision is {migrate.head()}: `fieldbridge db upgrade` (or any "
                   "fieldbridge start) migrates the database", err=True)


@db_app.command()
def history() -> None:
    """List this build's revisions, oldest first."""
    from models import migrate

    head = migrate.head()
    for revision, title in migrate.history():
        typer.echo(f"{revision}{' (head)' if revision == head else ''}  {title}")
