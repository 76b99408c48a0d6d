"""The `fieldbridge` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from deployments.cli_hours import hours_command

app = typer.Typer(help="fieldbridge: a closed field-service job reaches CRM, payroll and accounting exactly once.",
                  no_args_is_help=True, add_completion=False)
app.command("hours", help="Preview how a CSV of time entries will be paid (regular / overtime / double time).")(
    hours_command
)


@app.command()
def demo(
    jobs: Annotated[int, typer.Option(min=1, max=2000, help="How many closed jobs the demo company has.")] = 30,
    keep_running: Annotated[bool, typer.Option(help="Keep sandboxes and Prefect up; serve the deployments.")] = False,
    home: Annotated[Path, typer.Option(help="Where the SQLite database, sandbox state and Prefect live.")] = Path(
        ".fieldbridge"),
    prefect_port: Annotated[int, typer.Option(help="Port of the local Prefect server (reused if running).")] = 4200,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Jobs processed at once.")] = 4,
    server: Annotated[bool, typer.Option(help="Start a local Prefect server (--no-server: ephemeral API).")] = True,
) -> None:
    """Run the main job on the embedded default: SQLite, sandboxes on loopback, a local Prefect server."""
    from deployments.demo import run_demo

    raise typer.Exit(run_demo(jobs, keep_running, home, prefect_port, workers, use_server=server))


@app.command()
def sandbox(
    system: Annotated[str, typer.Argument(help="hubspot | quickbooks | gusto | all")],
    port: Annotated[int, typer.Option(help="Port (with 'all': hubspot on N, quickbooks N+1, gusto N+2).")] = 8701,
    error_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of requests answered 500/503.")] = 0.0,
    latency_ms: Annotated[int, typer.Option(min=0, help="Added latency per request.")] = 0,
    drop_after_commit_rate: Annotated[float, typer.Option(min=0, max=1,
                                                          help="Share of writes committed, then dropped.")] = 0.0,
    burst_429_rate: Annotated[float, typer.Option(min=0, max=1, help="Chance a request starts a 429 burst.")] = 0.0,
    state_dir: Annotated[Path | None, typer.Option(help="Persist sandbox state here (default: memory).")] = None,
) -> None:
    """Run vendor sandboxes in the foreground, with fault knobs."""
    import time

    from connectors.emulator import FaultConfig, SandboxServer
    from deployments import sandboxes
    from models.settings import FieldbridgeSettings

    systems = list(sandboxes.SYSTEMS) if system == "all" else [system]
    if any(s not in sandboxes.SYSTEMS for s in systems):
        typer.echo(f"error: unknown sandbox {system!r}; choose hubspot, quickbooks, gusto or all", err=True)
        raise typer.Exit(2)
    faults = FaultConfig(error_rate=error_rate, latency_ms=latency_ms, drop_after_commit_rate=drop_after_commit_rate,
                         burst_429_rate=burst_429_rate)
    settings = FieldbridgeSettings()
    servers = []
    for offset, name in enumerate(systems):
        box = sandboxes.build(name, settings, faults, state_dir)
        try:
            servers.append(SandboxServer(box.asgi(), port=port + offset).start())
        except RuntimeError as exc:
            typer.echo(f"error: {exc} (is port {port + offset} in use?)", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"{name} sandbox listening on {servers[-1].url}")
    typer.echo("Ctrl-C to stop.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        for server in servers:
            server.stop()


@app.command("run")
def run_job(job_id: Annotated[str, typer.Argument(help="The closed job to post, e.g. J1042.")]) -> None:
    """Run job_closed for one job against the configured systems."""
    from connectors.http.errors import ConnectorError
    from flows.job_closed import job_closed

    try:
        result = job_closed(job_id)
    except ConnectorError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except Exception as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    acc = result["accounting"]
    typer.echo(f"{job_id}: ticket {result['crm']['ticket_id']} resolved, {len(result['payroll']['timesheets'])} "
               f"timesheet(s), invoice {acc['number']} total {acc['total']} {acc['currency']}")


@app.command()
def effects(
    job_id: Annotated[str | None, typer.Argument(help="Only this job's effects (default: all).")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only effects that are not done.")] = False,
) -> None:
    """Show the effect ledger and quarantine: what was posted where, what is stuck and why."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from sqlmodel import Session, select

    from models.db import create_schema, get_engine
    from models.integration import Effect, EffectStatus, Quarantine

    engine = get_engine()
    create_schema(engine)
    with Session(engine) as s:
        query = select(Effect).where(Effect.kind != "lock").order_by(Effect.key)
        if job_id:
            query = query.where((Effect.job_id == job_id) | Effect.key.contains(job_id))  # type: ignore[attr-defined]
        if failed:
            query = query.where(Effect.status != EffectStatus.DONE)
        rows = list(s.exec(query))
        held = list(s.exec(select(Quarantine).where(Quarantine.released_at.is_(None))))  # type: ignore[union-attr]
    table = Table(title=f"Effect ledger{' for ' + job_id if job_id else ''}")
    for col in ("key", "status", "vendor id", "attempts", "last error"):
        table.add_column(col, overflow="fold")
    for row in rows:
        style = {"done": "green", "failed": "red", "in_flight": "yellow"}.get(row.status, "")
        table.add_row(escape(row.key), f"[{style}]{row.status}[/]" if style else row.status, row.vendor_id or "-",
                      str(row.attempts), escape((row.last_error or "")[:200]))
    console = Console(width=None if sys.stdout.isatty() else 160, emoji=False)
    if rows:
        console.print(table)
    for q in held:
        if not job_id or q.job_id == job_id:
            console.print(f"[red]quarantined[/] {escape(q.job_id)}: {escape(q.reason)}")
    if not rows:
        console.print("no effects recorded" + (f" for {job_id}" if job_id else ""))


@app.command()
def serve() -> None:
    """Serve every deployment from this process (embedded; needs a Prefect API)."""
    from deployments.serve import serve_all

    serve_all()


def main() -> None:  # pragma: no cover
    sys.exit(app())
