"""The `fieldbridge` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from deployments.cli_db import db_app
from deployments.cli_hours import hours_command
from deployments.cli_ops import quarantine_app, rerun_command
from deployments.cli_reconcile import reconcile_command
from deployments.cli_run import HELP as RUN_HELP
from deployments.cli_run import run_command
from deployments.cli_schedule import availability_command, brief_command, dispatch_app, schedule_command
from deployments.cli_source import connect_command, sync_command

if TYPE_CHECKING:
    from models.settings import FieldbridgeSettings

app = typer.Typer(help="fieldbridge: a closed field-service job reaches CRM, payroll and accounting exactly once.",
                  no_args_is_help=True, add_completion=False)
app.command("hours", help="Preview how a CSV of time entries will be paid (regular / overtime / double time).")(
    hours_command
)
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(db_app, name="db")
app.command("rerun")(rerun_command)
app.command("reconcile")(reconcile_command)
app.command("run", help=RUN_HELP)(run_command)
app.add_typer(dispatch_app, name="dispatch")
app.command("schedule")(schedule_command)
app.command("availability")(availability_command)
app.command("brief")(brief_command)
app.command("connect")(connect_command)
app.command("sync")(sync_command)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"fieldbridge {version('fieldbridge')}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """fieldbridge: a closed field-service job reaches CRM, payroll and accounting exactly once."""
    from connectors.contract.redact import install_log_redaction

    install_log_redaction()

EXIT_CONFIG = 3


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _settings(home: Path | None) -> FieldbridgeSettings:
    from models.settings import FieldbridgeSettings

    return FieldbridgeSettings(home=home) if home is not None else FieldbridgeSettings()


@app.command()
def demo(
    jobs: Annotated[int, typer.Option(min=1, max=2000, help="How many closed jobs the demo company has.")] = 30,
    keep_running: Annotated[bool, typer.Option(help="Keep sandboxes and Prefect up; serve the deployments.")] = False,
    home: Annotated[Path, typer.Option(help="Where the SQLite database, sandbox state and Prefect live.")] = Path(
        ".fieldbridge"),
    prefect_port: Annotated[int, typer.Option(help="Port of the local Prefect server (reused if running).")] = 4200,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Jobs processed at once.")] = 4,
    source: Annotated[str | None, typer.Option(help="Take the day's jobs from this field-service system's sandbox "
                                               "(closed there, read back through its webhooks; `fieldbridge "
                                               "connectors` lists them) instead of the simulated open-API "
                                               "sender.")] = None,
) -> None:
    """Run the main job on the embedded default: SQLite, sandboxes, a local Prefect server, the ingress."""
    from connectors.registry import UnknownConnector, get_plugin
    from deployments.demo import run_demo

    if source is not None:
        try:
            if get_plugin(source, "field_service").demo_source is None:
                _fail(f"{source} has no demo sandbox driver")
        except UnknownConnector as exc:
            _fail(str(exc))
    raise typer.Exit(run_demo(jobs, keep_running, home, prefect_port, workers, source=source))


@app.command()
def sandbox(
    system: Annotated[str, typer.Argument(help="An installed connector with a sandbox (`fieldbridge connectors`), "
                                        "or 'all': the configured CRM, payroll, accounting and events systems.")],
    port: Annotated[int | None, typer.Option(help="Port. Default: the port of the connector's configured "
                                             "loopback base URL (8701 if it has none).")] = None,
    error_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of requests answered 500/503.")] = 0.0,
    latency_ms: Annotated[int, typer.Option(min=0, help="Added latency per request.")] = 0,
    drop_after_commit_rate: Annotated[float, typer.Option(min=0, max=1,
                                                          help="Share of writes committed, then dropped.")] = 0.0,
    burst_429_rate: Annotated[float, typer.Option(min=0, max=1, help="Chance a request starts a 429 burst.")] = 0.0,
    state_dir: Annotated[Path | None, typer.Option(help="Persist sandbox state here (default: memory).")] = None,
    host: Annotated[str, typer.Option(help="Interface the vendor API listens on (e.g. 0.0.0.0 for workers on "
                                      "other hosts). The /_sandbox admin API answers loopback clients only, "
                                      "whatever the interface.")] = "127.0.0.1",
) -> None:
    """Run vendor sandboxes in the foreground, with fault knobs. Each listens where its connector's settings
    point, so `fieldbridge sandbox all` is what the configured connectors expect to find."""
    import time

    from connectors.emulator import FaultConfig, SandboxServer
    from deployments import sandboxes
    from models.settings import FieldbridgeSettings

    available = sandboxes.with_sandboxes()
    if system == "all":
        chosen = [p.name for p in sandboxes.configured(FieldbridgeSettings()).values()]
        for name in [n for n in chosen if n not in available]:
            typer.echo(f"note: {name} ships no sandbox; point it at the real system or at your own emulator")
        systems = [n for n in chosen if n in available]
        if port is not None and len(systems) > 1:
            typer.echo("error: --port applies to one sandbox; with 'all' each uses its configured port", err=True)
            raise typer.Exit(2)
    elif system in available:
        systems = [system]
    else:
        typer.echo(f"error: unknown sandbox {system!r}; choose {', '.join(available)} or all", err=True)
        raise typer.Exit(2)
    faults = FaultConfig(error_rate=error_rate, latency_ms=latency_ms, drop_after_commit_rate=drop_after_commit_rate,
                         burst_429_rate=burst_429_rate)
    servers = []
    for name in systems:
        box = sandboxes.build(name, faults, state_dir)
        listen = port or sandboxes.configured_port(name) or 8701
        try:
            servers.append(SandboxServer(box.asgi(), port=listen, host=host).start())
        except RuntimeError as exc:
            typer.echo(f"error: {exc} (is port {listen} in use?)", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"{name} sandbox listening on {servers[-1].url}")
    typer.echo("admin API (/_sandbox/*: state, faults, seed, reset) answers loopback clients only. Ctrl-C to stop.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        for server in servers:
            server.stop()


@app.command("connectors")
def connectors_command() -> None:
    """The installed connectors: what each one plays, and which the settings choose for each role."""
    from connectors.registry import plugins
    from models.settings import FieldbridgeSettings

    settings = FieldbridgeSettings()
    chosen: dict[str, list[str]] = {}
    for role, name in (("crm", settings.crm_system), ("payroll", settings.payroll_system),
                       ("accounting", settings.accounting_system), ("events", settings.events_system)):
        if name:
            chosen.setdefault(name, []).append(role)
    for name, plugin in sorted(plugins().items()):
        roles = chosen.get(name)
        mark = f"  ← configured as {' and '.join(roles)}" if roles else ""
        sandbox = "sandbox" if plugin.sandbox is not None else "no sandbox"
        typer.echo(f"{name:<12} {plugin.title:<22} {', '.join(sorted(plugin.roles)):<22} {sandbox}{mark}")


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
def serve(
    home: Annotated[Path | None, typer.Option(help="fieldbridge home (database, local Prefect server).")] = None,
    port: Annotated[int | None, typer.Option(help="Ingress port (default FIELDBRIDGE_INGRESS_PORT, 8700).")] = None,
    prefect_port: Annotated[int, typer.Option(help="Port of the local Prefect server, if one is started.")] = 4200,
    ingress: Annotated[bool, typer.Option(help="Also run the webhook ingress (--no-ingress: flows only).")] = True,
    project_file: Annotated[Path | None, typer.Option(help="The prefect.yaml to serve.")] = None,
) -> None:
    """Serve every deployment prefect.yaml declares, plus the ingress, from this process."""
    from deployments.serve import use_prefect_api

    settings = _settings(home)
    if ingress and not settings.ingress_secret_list():
        _fail("FIELDBRIDGE_INGRESS_SECRETS is not set: the ingress needs at least one signing secret "
              "(comma-separated; any one verifies). Or run with --no-ingress.", EXIT_CONFIG)
    try:
        prefect = use_prefect_api(settings.home, prefect_port)
    except RuntimeError as exc:
        _fail(f"could not start a local Prefect server: {exc}", EXIT_CONFIG)
    from deployments.project import PROJECT_FILE, ProjectFileError
    from deployments.serve import serve_forever, start_service

    try:
        service = start_service(settings, project_file=project_file or PROJECT_FILE, ingress=ingress,
                                ingress_port=port, prefect=prefect)
    except ProjectFileError as exc:
        _fail(str(exc), EXIT_CONFIG)
    import os

    typer.echo(f"Prefect API     {os.environ['PREFECT_API_URL']}")
    for name in service.deployments:
        typer.echo(f"serving         {name}")
    if service.ingress_url:
        typer.echo(f"ingress         {service.ingress_url}/v1/events  (OpenAPI: {service.ingress_url}/docs)")
    typer.echo("Ctrl-C stops: in-flight runs finish first.")
    serve_forever(service)


@app.command()
def ingress(
    port: Annotated[int | None, typer.Option(help="Port (default FIELDBRIDGE_INGRESS_PORT, 8700).")] = None,
    host: Annotated[str | None, typer.Option(help="Interface (default FIELDBRIDGE_INGRESS_HOST).")] = None,
) -> None:
    """Run only the webhook ingress; runs start on the configured Prefect API's workers (or the sweeper)."""
    import uvicorn

    settings = _settings(None)
    if not settings.ingress_secret_list():
        _fail("FIELDBRIDGE_INGRESS_SECRETS is not set: the ingress needs at least one signing secret", EXIT_CONFIG)
    from deployments.ingress import create_app
    from flows.starter import RunStarter

    app = create_app(settings, starter=RunStarter(settings.job_closed_deployment))
    uvicorn.run(app, host=host or settings.ingress_host, port=port or settings.ingress_port, log_level="warning")


@app.command()
def deploy(
    project_file: Annotated[Path | None, typer.Option(help="The prefect.yaml to deploy.")] = None,
    pool_type: Annotated[str, typer.Option(help="Work pool type for pools that do not exist yet.")] = "process",
) -> None:
    """`prefect deploy --all` on the configured server, creating the work pool first if it is missing."""
    import os
    import subprocess

    from deployments.project import PROJECT_FILE, work_pool_names

    path = (project_file or PROJECT_FILE).resolve()
    if not os.environ.get("PREFECT_API_URL"):
        _fail("PREFECT_API_URL is not set: deploy targets a Prefect server (see README, production path)",
              EXIT_CONFIG)
    prefect_bin = str(Path(sys.executable).parent / "prefect")
    for pool in work_pool_names(path):
        found = subprocess.run([prefect_bin, "work-pool", "inspect", pool], capture_output=True, text=True)
        if found.returncode != 0:
            created = subprocess.run([prefect_bin, "work-pool", "create", pool, "--type", pool_type],
                                     capture_output=True, text=True)
            if created.returncode != 0:
                _fail(f"could not create work pool {pool}: {created.stdout}{created.stderr}", EXIT_CONFIG)
            typer.echo(f"created work pool {pool} ({pool_type})")
    env = {**os.environ, "FIELDBRIDGE_CHECKOUT": os.environ.get("FIELDBRIDGE_CHECKOUT", str(path.parent))}
    result = subprocess.run([prefect_bin, "--no-prompt", "deploy", "--all", "--prefect-file", str(path)],
                            cwd=path.parent, env=env)
    if result.returncode != 0:
        _fail("prefect deploy failed (see its output above)", result.returncode)
    from deployments.automations import ensure_automations

    for name in ensure_automations(_settings(None)):
        typer.echo(f"automation      {name}")


def main() -> None:  # pragma: no cover
    sys.exit(app())
