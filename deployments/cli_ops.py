"""Operator commands: `fieldbridge rerun` and `fieldbridge quarantine list | show | release`.

Reruns go through the `job-closed` deployment (so they appear in the Prefect UI, run on whatever serves
it, and carry `replaces=<old run>`); `--local` runs them in this process instead, for a machine with no
served deployments.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import Annotated, Any

import typer

EXIT_CONFIG = 3

quarantine_app = typer.Typer(help="Jobs the quality gate held back: list them, see why, release them.",
                             no_args_is_help=True)


def _console() -> Any:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 160, emoji=False)


def _engine() -> Any:
    from models.db import create_schema, get_engine

    engine = get_engine()
    create_schema(engine)
    return engine


def _parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        typer.echo(f"error: {option} {value!r} is not a date (YYYY-MM-DD)", err=True)
        raise typer.Exit(2) from None


def _run_jobs(jobs: list[tuple[str, str | None]], local: bool, label: str) -> dict[str, str]:
    """Rerun each (job id, replaces) through the deployment (or locally); job id → final state name."""
    import uuid

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    outcome: dict[str, str] = {}
    with Progress(*columns, console=_console()) as progress:
        bar = progress.add_task(label, total=len(jobs))
        if local:
            from flows.job_closed import job_closed

            for job_id, replaces in jobs:
                state = job_closed(job_id, replaces=replaces, return_state=True)
                outcome[job_id] = state.name
                progress.update(bar, advance=1)
            return outcome
        from flows.starter import RunStarter, wait_for_runs

        starter = RunStarter()
        batch = uuid.uuid4().hex[:12]
        runs: dict[str, str] = {}
        try:
            for job_id, replaces in jobs:
                run_id = starter.start(job_id, key=f"rerun:{batch}:{job_id}", parameters={"replaces": replaces},
                                       tags=["rerun"])
                runs[run_id] = job_id
        except Exception as exc:
            typer.echo(f"error: could not start job-closed runs ({exc}). Is `fieldbridge serve` (or a worker) "
                       "running against PREFECT_API_URL? Use --local to run them in this process.", err=True)
            raise typer.Exit(EXIT_CONFIG) from exc
        states = wait_for_runs(list(runs), on_progress=lambda done, _total: progress.update(bar, completed=done))
        for run_id, job_id in runs.items():
            state = states.get(run_id)
            outcome[job_id] = f"{state.name if state else 'unknown'} ({run_id})"
    return outcome


def _run_bulk(job_ids: list[str], batch_size: int) -> dict[str, str]:
    """bulk-job-closed runs of `batch_size` jobs in this process; job id → how it ended."""
    from flows.bulk_job_closed import bulk_job_closed

    outcome: dict[str, str] = {}
    chunks = [job_ids[i:i + batch_size] for i in range(0, len(job_ids), batch_size)]
    for n, chunk in enumerate(chunks, 1):
        state = bulk_job_closed(chunk, label=f"rerun-{n}-of-{len(chunks)}", return_state=True)
        result = state.result(raise_on_failure=False)
        rows = result["jobs"] if isinstance(result, dict) else [{"job": j, "state": "failed", "problem": str(result)}
                                                               for j in chunk]
        for row in rows:
            outcome[row["job"]] = "Completed (bulk)" if row["state"] == "posted" else \
                f"{row['state']}: {str(row['problem'])[:160]}"
        _console().print(f"batch {n} of {len(chunks)}: {state.message}")
    return outcome


def rerun_command(
    since: Annotated[str, typer.Option(help="First close date to consider (YYYY-MM-DD, company time zone).")],
    until: Annotated[str | None, typer.Option(help="Last close date (default: today).")] = None,
    failed: Annotated[bool, typer.Option("--failed/--all", help="Only jobs not fully posted (default) or all.")] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be rerun; start nothing.")] = False,
    local: Annotated[bool, typer.Option("--local", help="Run in this process instead of the deployment.")] = False,
    bulk: Annotated[bool, typer.Option("--bulk", help="Through bulk-job-closed runs in this process: the vendors' "
                                       "batch APIs, one flow run per batch (backfills of thousands of jobs).")] = False,
    batch_size: Annotated[int, typer.Option(help="Jobs per bulk run (with --bulk).", min=1)] = 300,
) -> None:
    """Rerun closed jobs of a date range through job-closed; each rerun names the run it replaces."""
    from rich.table import Table

    from flows.backfill import local_day_bounds
    from flows.reruns import find_reruns
    from models.settings import get_settings

    start = _parse_day(since, "--since")
    end = _parse_day(until, "--until") if until else date.today()
    if end < start:
        typer.echo("error: --until is before --since", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    lo, hi = local_day_bounds(start, end, settings.company_timezone)
    try:
        candidates = find_reruns(_engine(), lo, hi, only_failed=failed, use_prefect=not local)
    except Exception as exc:
        typer.echo(f"error: could not read flow runs from Prefect ({exc}); with --local only fieldbridge's own "
                   "records are used", err=True)
        raise typer.Exit(EXIT_CONFIG) from exc
    console = _console()
    table = Table(title=f"Jobs closed {start}..{end} to rerun ({'not fully posted' if failed else 'all'})")
    for col in ("job", "closed", "why", "replaces"):
        table.add_column(col, overflow="fold")
    for c in candidates:
        table.add_row(c.job_id, c.closed_at.isoformat(timespec="minutes"), c.reason, c.replaces or "-")
    console.print(table if candidates else "nothing to rerun")
    if dry_run or not candidates:
        return
    if bulk:
        outcome = _run_bulk([c.job_id for c in candidates], batch_size)
    else:
        outcome = _run_jobs([(c.job_id, c.replaces) for c in candidates], local, "rerunning")
    bad = {j: s for j, s in outcome.items() if not s.startswith(("Completed", "Superseded"))}
    for job_id, state in outcome.items():
        console.print(f"{job_id}: {state}")
    console.print(f"{len(outcome) - len(bad)} of {len(outcome)} reruns completed")
    if bad:
        raise typer.Exit(1)


def _open_quarantines(engine: Any, job_id: str | None = None) -> list[Any]:
    from sqlmodel import Session, select

    from models.integration import Quarantine

    with Session(engine) as s:
        query = select(Quarantine).where(Quarantine.released_at.is_(None))  # type: ignore[union-attr]
        if job_id:
            query = query.where(Quarantine.job_id == job_id)
        return list(s.exec(query.order_by(Quarantine.created_at)))


@quarantine_app.command("list")
def quarantine_list() -> None:
    """Every job held back by the quality gate, oldest first."""
    from rich.table import Table

    rows = _open_quarantines(_engine())
    if not rows:
        typer.echo("no job is quarantined")
        return
    latest: dict[str, Any] = {}
    for q in rows:
        latest[q.job_id] = q  # one line per job: its newest hold
    table = Table(title=f"{len(latest)} quarantined job(s)")
    for col in ("job", "since", "what is wrong"):
        table.add_column(col, overflow="fold")
    for q in latest.values():
        table.add_row(q.job_id, q.created_at.isoformat(timespec="minutes") if q.created_at else "-", q.reason)
    _console().print(table)


@quarantine_app.command("show")
def quarantine_show(job_id: Annotated[str, typer.Argument(help="The job, e.g. J1042.")]) -> None:
    """Which checks failed on which rows, and how to release the job."""
    from rich.table import Table

    rows = _open_quarantines(_engine(), job_id)
    if not rows:
        typer.echo(f"{job_id} is not quarantined")
        raise typer.Exit(1)
    q = rows[-1]
    table = Table(title=f"{job_id} quarantined since {q.created_at:%Y-%m-%d %H:%M} UTC: nothing was posted")
    for col in ("check", "table", "what is wrong", "rows"):
        table.add_column(col, overflow="fold")
    for f in json.loads(q.failures):
        table.add_row(f["check"], f["table"], f["message"], ", ".join(f["rows"]) or "(table)")
    console = _console()
    console.print(table)
    console.print(f"Fix the data in the field-service system (it sends job.updated), then: "
                  f"fieldbridge quarantine release {job_id}")


@quarantine_app.command("release")
def quarantine_release(
    job_id: Annotated[str, typer.Argument(help="The job whose data was fixed.")],
    local: Annotated[bool, typer.Option("--local", help="Run in this process instead of the deployment.")] = False,
) -> None:
    """Rerun the job: if its data now passes, it is released and posted; if not, it stays held."""
    engine = _engine()
    if not _open_quarantines(engine, job_id):
        typer.echo(f"{job_id} is not quarantined")
        raise typer.Exit(1)
    replaces = None if local else _latest_quarantined_run(job_id)
    outcome = _run_jobs([(job_id, replaces)], local, f"releasing {job_id}")
    state = outcome[job_id]
    if _open_quarantines(engine, job_id):
        held = _open_quarantines(engine, job_id)[-1]
        typer.echo(f"{job_id} is still quarantined: {held.reason}")
        raise typer.Exit(1)
    typer.echo(f"{job_id} released: {state}")
    if not state.startswith(("Completed", "Superseded")):
        raise typer.Exit(1)


def _latest_quarantined_run(job_id: str) -> str | None:
    from flows.reruns import latest_runs

    try:
        run = latest_runs([job_id], datetime(1970, 1, 1)).get(job_id)
    except Exception:
        return None
    return str(run.id) if run is not None and run.state is not None and run.state.name == "Quarantined" else None
