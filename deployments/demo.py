"""`fieldbridge demo`: the main job on the embedded default, end to end, with nothing to configure."""

from __future__ import annotations

import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deployments import demo_data, prefect_server, sandboxes
from models.settings import FieldbridgeSettings

DEFAULT_PORTS = {"hubspot": 8701, "quickbooks": 8702, "gusto": 8703}


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class JobOutcome:
    job_id: str
    ok: bool
    result: dict[str, Any] | None
    error: str | None


def run_jobs(job_ids: list[str], workers: int, console: Console) -> list[JobOutcome]:
    """Run job_closed for each job, a few at a time, with a progress bar."""
    from flows.job_closed import job_closed

    def one(job_id: str) -> JobOutcome:
        try:
            return JobOutcome(job_id, True, job_closed(job_id), None)
        except Exception as exc:
            return JobOutcome(job_id, False, None, str(exc))

    outcomes: list[JobOutcome] = []
    columns = (TextColumn("[bold]closing jobs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[last]}"))
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("jobs", total=len(job_ids), last="")
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in as_completed([pool.submit(one, j) for j in job_ids]):
                outcome = future.result()
                outcomes.append(outcome)
                progress.update(bar, advance=1, last=f"{outcome.job_id} {'ok' if outcome.ok else 'FAILED'}")
    return sorted(outcomes, key=lambda o: o.job_id)


def results_table(outcomes: list[JobOutcome], tickets: dict[str, str]) -> Table:
    table = Table(title="What each system now holds, per job (hours: the technician's workday, as sent to Gusto)")
    for col in ("job", "ticket", "status", "Gusto hours (OT)", "sheets", "invoice", "total"):
        table.add_column(col, justify="right" if col in ("total", "Gusto hours (OT)") else "left", no_wrap=True)
    for o in outcomes:
        if not o.ok or o.result is None:
            table.add_row(o.job_id, "-", "[red]failed", "-", "-", "-", (o.error or "")[:60])
            continue
        crm, payroll, acc = o.result["crm"], o.result["payroll"], o.result["accounting"]
        hours = sum(Decimal(s["regular"]) + Decimal(s["overtime"]) + Decimal(s["double_time"])
                    for s in payroll["timesheets"])
        overtime = sum(Decimal(s["overtime"]) + Decimal(s["double_time"]) for s in payroll["timesheets"])
        table.add_row(o.job_id, crm["ticket_id"], tickets.get(crm["ticket_id"], "?"),
                      f"{hours:.2f} ({overtime:.2f})", str(len(payroll["timesheets"])),
                      f"{acc['number']} #{acc['invoice_id']}", f"{acc['total']} {acc['currency']}")
    return table


def prepare_company(settings: FieldbridgeSettings, jobs: int) -> demo_data.DemoCompany:
    """Create the schema, load the demo company into the FSM tables and seed the vendors' side."""
    from models.db import create_schema, get_engine

    engine = get_engine(settings.resolved_database_url())
    create_schema(engine)
    company = demo_data.generate(jobs=jobs)
    demo_data.load(company, engine)
    sandboxes.seed(company, settings)
    return company


def run_demo(jobs: int, keep_running: bool, home: Path, prefect_port: int, workers: int = 4,
             use_server: bool = True, console: Console | None = None) -> int:
    console = console or Console(width=None if sys.stdout.isatty() else 120, emoji=False)
    os.environ["FIELDBRIDGE_HOME"] = str(home)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    settings = FieldbridgeSettings(home=home)
    ports = {s: (p if _port_free(p) else 0) for s, p in DEFAULT_PORTS.items()}
    console.print(f"[bold]fieldbridge demo[/] — {settings.company_name}, home [cyan]{home}[/]")
    running = sandboxes.start_all(settings, state_dir=home / "sandboxes", ports=ports)
    os.environ.update(running.env())
    for system in sandboxes.SYSTEMS:
        console.print(f"  sandbox {system:<10} {running.url(system)}")
    server = None
    try:
        if use_server:
            with console.status("starting the local Prefect server (about 30 s the first time)…"):
                server = prefect_server.start(home / "prefect", port=prefect_port)
            os.environ["PREFECT_API_URL"] = server.api_url
            console.print(f"  Prefect UI      {server.ui_url}")
        return _run(jobs, keep_running, settings, running, server, workers, console)
    finally:
        if not keep_running:
            running.stop()
            if server is not None:
                server.stop()


def _run(jobs: int, keep_running: bool, settings: FieldbridgeSettings, running: sandboxes.RunningSandboxes,
         server: prefect_server.LocalPrefectServer | None, workers: int, console: Console) -> int:
    from tasks.runtime import get_runtime, reset_runtime
    from tasks.timesheets import payroll_settings

    reset_runtime()
    settings = FieldbridgeSettings()
    company = prepare_company(settings, jobs)
    ps = payroll_settings(settings)
    console.print(
        f"  payroll rules   {ps.jurisdiction}, time zone {ps.timezone}, workday starts {ps.workday_start:%H:%M}, "
        f"workweek starts {['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][ps.workweek_start]}"
    )
    console.print(f"  company data    {len(company.technicians)} technicians, {len(company.customers)} customers, "
                  f"{len(company.jobs)} closed jobs on {demo_data.DEMO_DAY}")
    get_runtime()
    with console.status("loading the quality suites…"):
        from tasks.validate import warm_up

        warm_up()  # import Great Expectations once, before the worker threads need it
    outcomes = run_jobs([j.id for j in company.jobs], workers, console)
    tickets = {t["id"]: ("resolved" if t["properties"]["hs_pipeline_stage"] == "4" else "open")
               for t in _state(running.url("hubspot"), "tickets")}
    console.print(results_table(outcomes, tickets))
    failed = [o for o in outcomes if not o.ok]
    console.print(f"[bold]{len(outcomes) - len(failed)} of {len(outcomes)} jobs posted[/]; rerunning the demo "
                  "posts nothing twice (every write goes through the effect ledger).")
    if server is not None:
        console.print(f"Flow runs, task runs and artifacts: {server.ui_url}/runs  (run names: job-closed-<job id>)")
    if keep_running:
        from deployments.serve import serve_all

        console.print("Serving deployments; trigger job-closed/job-closed from the UI. Ctrl-C stops everything.")
        serve_all()
    return 1 if failed else 0


def _state(url: str, collection: str) -> list[dict[str, Any]]:
    import httpx

    return httpx.get(f"{url}/_sandbox/state/{collection}", timeout=20).json()["results"]
