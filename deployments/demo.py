"""`fieldbridge demo`: the main job on the embedded default, end to end, with nothing to configure.

Jobs arrive the way they will in production: a simulated field-service system posts signed
`job.closed` events (plus a few `job.updated` edits and duplicate deliveries) to the ingress, and the
served `job-closed` deployment runs them — visible live in the Prefect UI.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.registry import get_plugin
from deployments import demo_data, demo_morning, sandboxes
from models.files import private_dir
from models.settings import FieldbridgeSettings

# by role: whichever connector plays it
DEFAULT_PORTS = {"crm": 8701, "accounting": 8702, "payroll": 8703, "field_service": 8708}
DEFAULT_INGRESS_PORT = 8700
SECRET_FILE = "ingress-secret"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def company_for(settings: FieldbridgeSettings, jobs: int) -> demo_data.DemoCompany:
    """The demo company with ids shaped as the configured payroll and accounting systems shape them."""
    roles = sandboxes.configured(settings)
    payroll, accounting, hr = roles["payroll"], roles["accounting"], roles.get("hr")
    return demo_data.generate(jobs=jobs, accounting_system=accounting.name,
                              payroll_id=payroll.demo_id or demo_data.default_id,
                              vendor_id=accounting.demo_id or demo_data.default_id,
                              hr_id=(hr.demo_id if hr is not None and hr.demo_id else demo_data.default_hr_id))


def prepare_company(settings: FieldbridgeSettings, jobs: int) -> demo_data.DemoCompany:
    """Tests' and benchmarks' shortcut: load the whole company into the FSM tables and seed the vendors."""
    from models.db import create_schema, get_engine

    engine = get_engine(settings.resolved_database_url())
    create_schema(engine)
    company = company_for(settings, jobs)
    demo_data.load(company, engine)
    sandboxes.seed(company, settings)
    return company


def prepare_setup(settings: FieldbridgeSettings, jobs: int) -> tuple[demo_data.DemoCompany, demo_morning.DemoMorning]:
    """The demo's start: company configuration and the vendors' side, with the morning's new CRM cases and HR
    time off; the closed jobs come through the ingress."""
    from models.db import create_schema, get_engine

    engine = get_engine(settings.resolved_database_url())
    create_schema(engine)
    company = company_for(settings, jobs)
    demo_data.load_setup(company, engine)
    morning = demo_morning.plan(company, settings)
    sandboxes.seed(company, settings, morning)
    return company, morning


def ingress_secret(home: Path) -> str:
    """The demo's signing secret: FIELDBRIDGE_INGRESS_SECRETS if set, else one generated into the home (0600)."""
    configured = os.environ.get("FIELDBRIDGE_INGRESS_SECRETS", "").split(",")[0].strip()
    if configured:
        return configured
    path = home / SECRET_FILE
    if not path.exists():
        private_dir(home)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("whsec_" + secrets.token_urlsafe(32))
    return path.read_text().strip()


def deliveries(company: demo_data.DemoCompany) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the simulated FSM sends: every job closed (every fifth one delivered twice, as webhooks
    are), then edits after closing for a few jobs (a late note, a corrected time entry)."""
    from deployments import fsm_simulator

    closed = []
    for n, job in enumerate(company.jobs):
        evt = fsm_simulator.event(company, job)
        closed.append(evt)
        if n % 5 == 4:
            closed.append(evt)  # a duplicate delivery: answered 200, starts nothing
    edits = [fsm_simulator.edited(company, job, n) for n, job in enumerate(company.jobs) if n % 7 == 3]
    return closed, edits


def post_all(url: str, secret: str, events: list[dict[str, Any]], workers: int) -> list[int]:
    import httpx

    from deployments import fsm_simulator

    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda e: fsm_simulator.post(client, url, secret, e).status_code, events))


def wait_for_jobs(engine: Any, job_ids: list[str], console: Console, timeout: float = 600) -> dict[str, str]:
    """Poll until the latest run of every job is final; job id → its final state name."""
    from flows.starter import wait_for_runs
    from models import inbox

    deadline = time.monotonic() + timeout
    runs: dict[str, str] = {}
    while time.monotonic() < deadline:  # the ingress starts runs just after answering: collect their ids
        runs = {row.flow_run_id: row.job_id for job in job_ids
                if (row := inbox.latest_for_job(engine, job)) is not None and row.flow_run_id}
        if len(runs) == len(job_ids):
            break
        time.sleep(0.2)
    columns = (TextColumn("[bold]jobs posted"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("jobs", total=len(runs))
        states = wait_for_runs(list(runs), timeout=max(1.0, deadline - time.monotonic()), poll=0.5,
                               on_progress=lambda done, _t: progress.update(bar, completed=done))
    return {runs[r]: (s.name if s else "unknown") for r, s in states.items()} | {
        j: "no run" for j in job_ids if j not in runs.values()}


def results_table(engine: Any, settings: FieldbridgeSettings, job_ids: list[str], outcome: dict[str, str],
                  tickets: dict[str, str]) -> Table:
    """What each system now holds per job, read from the effect ledger (the record of what was written)."""
    import json

    from sqlmodel import Session, select

    from models.canonical import TimeEntry
    from models.integration import Effect
    from tasks.timesheets import payroll_settings, workday_of

    ps = payroll_settings(settings)
    with Session(engine) as s:
        effects = {e.key: e for e in s.exec(select(Effect))}
        entries = defaultdict(set)
        for e in s.exec(select(TimeEntry).where(TimeEntry.job_id.in_(job_ids))):  # type: ignore[attr-defined]
            entries[e.job_id].add((e.technician_id, workday_of(e.start, ps).isoformat()))

    def summary(key: str) -> dict[str, Any]:
        row = effects.get(key)
        return json.loads(row.summary) if row is not None and row.summary else {}

    roles = sandboxes.configured(settings)
    crm, payroll, accounting = roles["crm"].title, roles["payroll"].title, roles["accounting"].title
    hours_col = f"{payroll} hours (OT)"
    table = Table(title=f"What each system now holds, per job (hours: the technician's workday, as sent to "
                  f"{payroll})")
    for col in ("job", "run", f"{crm} case", "state", hours_col, f"{accounting} invoice", "total", "sent"):
        table.add_column(col, justify="right" if col in ("total", hours_col) else "left", no_wrap=True)
    for job_id in job_ids:
        ticket = summary(f"{settings.crm_system}:ticket:{job_id}")
        invoice = summary(f"{settings.accounting_system}:invoice:{job_id}")
        sheets = [summary(f"{settings.payroll_system}:timesheet:{t}:{d}") for t, d in sorted(entries[job_id])]
        hours = sum((Decimal(x.get("regular", 0)) + Decimal(x.get("overtime", 0)) + Decimal(x.get("double_time", 0))
                     for x in sheets), Decimal(0))
        overtime = sum((Decimal(x.get("overtime", 0)) + Decimal(x.get("double_time", 0)) for x in sheets), Decimal(0))
        state = outcome.get(job_id, "?")
        style = "green" if state in ("Completed", "Superseded") else "red"
        table.add_row(job_id, f"[{style}]{state}[/]", ticket.get("ticket_id", "-"),
                      tickets.get(job_id, "-"), f"{hours:.2f} ({overtime:.2f})",
                      f"{invoice.get('number', '-')} #{invoice.get('invoice_id', '-')}",
                      f"{invoice.get('total', '-')} {invoice.get('currency', '')}",
                      "yes" if summary(f"{settings.accounting_system}:invoice-send:{job_id}") else "-")
    return table


def run_demo(jobs: int, keep_running: bool, home: Path, prefect_port: int, workers: int = 4,
             console: Console | None = None, source: str | None = None) -> int:
    console = console or Console(width=None if sys.stdout.isatty() else 140, emoji=False)
    os.environ["FIELDBRIDGE_HOME"] = str(home)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ["FIELDBRIDGE_EXECUTOR_WORKERS"] = str(workers)
    secret = ingress_secret(home)
    os.environ.setdefault("FIELDBRIDGE_INGRESS_SECRETS", secret)
    if source is not None:  # the jobs come from a field-service system's sandbox, through its webhooks
        get_plugin(source, "field_service")
        os.environ["FIELDBRIDGE_FIELD_SERVICE_SYSTEM"] = source
    settings = FieldbridgeSettings(home=home)
    if settings.hr_system is None and "hr" in get_plugin(settings.payroll_system).roles:
        os.environ["FIELDBRIDGE_HR_SYSTEM"] = settings.payroll_system  # time off from the payroll system's HR side
        settings = FieldbridgeSettings(home=home)
    ports = {s: (p if _port_free(p) else 0) for s, p in DEFAULT_PORTS.items()}
    console.print(f"[bold]fieldbridge demo[/] — {settings.company_name}, home [cyan]{home}[/]")
    running = sandboxes.start_all(settings, state_dir=home / "sandboxes", ports=ports)
    os.environ.update(running.env())
    for role, system in running.roles.items():
        console.print(f"  sandbox {system:<10} {running.url(system)}  ({role})")
    service = None
    prefect = None
    try:
        from deployments.serve import use_prefect_api

        with console.status("starting the local Prefect server (about 30 s the first time)…"):
            prefect = use_prefect_api(home, prefect_port)
        console.print(f"  Prefect UI      {os.environ['PREFECT_API_URL'].removesuffix('/api')}")
        from deployments.serve import start_service
        from tasks.runtime import reset_runtime

        source_jobs: dict[str, str] = {}
        if source is not None:  # before anything connects: the connector's mapping is part of its settings
            source_jobs = seed_source(source, running, company_for(FieldbridgeSettings(), jobs), console)
        reset_runtime()
        settings = FieldbridgeSettings()
        company, morning = prepare_setup(settings, jobs)
        with console.status("serving the deployments from prefect.yaml (and loading the quality suites)…"):
            service = start_service(settings, ingress_port=DEFAULT_INGRESS_PORT if _port_free(
                DEFAULT_INGRESS_PORT) else 0, prefect=prefect)
        console.print(f"  ingress         {service.ingress_url}/v1/events")
        demo_morning.run(morning, company, console)
        if source is not None:
            return _run_from_source(source, source_jobs, company, settings, service, running, console,
                                    keep_running)
        return _run(company, settings, service, running, workers, console, keep_running)
    finally:
        if not keep_running:
            if service is not None:
                service.stop()
            elif prefect is not None:
                prefect.stop()
            running.stop()


def _run(company: demo_data.DemoCompany, settings: FieldbridgeSettings, service: Any,
         running: sandboxes.RunningSandboxes, workers: int, console: Console, keep_running: bool) -> int:
    from models.db import get_engine
    from tasks.timesheets import payroll_settings

    ps = payroll_settings(settings)
    console.print(
        f"  payroll rules   {ps.jurisdiction}, time zone {ps.timezone}, workday starts {ps.workday_start:%H:%M}, "
        f"workweek starts {['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][ps.workweek_start]}")
    closed, edits = deliveries(company)
    secret = settings.ingress_secret_list()[0]
    engine = get_engine(settings.resolved_database_url())
    job_ids = [j.id for j in company.jobs]
    started = time.monotonic()
    codes = post_all(service.ingress_url, secret, closed, workers)
    console.print(f"  field service   {len(company.jobs)} jobs closed on {demo_data.DEMO_DAY}: "
                  f"{len(closed)} job.closed deliveries ({len(closed) - len(company.jobs)} duplicates), answered "
                  + ", ".join(f"{codes.count(c)}×{c}" for c in sorted(set(codes))))
    outcome = wait_for_jobs(engine, job_ids, console)
    codes = post_all(service.ingress_url, secret, edits, workers)
    console.print(f"  field service   {len(edits)} job.updated edits after posting (a late note, a corrected "
                  f"travel time), answered " + ", ".join(f"{codes.count(c)}×{c}" for c in sorted(set(codes))))
    outcome = wait_for_jobs(engine, job_ids, console)
    console.print(results_table(engine, settings, job_ids, outcome, case_states(job_ids)))
    failed = [j for j, s in outcome.items() if s not in ("Completed", "Superseded")]
    console.print(f"[bold]{len(job_ids) - len(failed)} of {len(job_ids)} jobs posted[/] in "
                  f"{time.monotonic() - started:.1f} s; rerunning the demo posts nothing twice (every write goes "
                  "through the effect ledger).")
    from flows.reconciliation import nightly_reconciliation

    night = nightly_reconciliation(day=demo_data.DEMO_DAY, return_state=True)  # what runs every night at 02:00
    console.print(f"[bold]{night.message}[/] (the nightly reconciliation, run now for {demo_data.DEMO_DAY})")
    ui = os.environ["PREFECT_API_URL"].removesuffix("/api")
    console.print(f"Flow runs, task runs and artifacts: {ui}/runs  (run names: job-closed-<job id>, "
                  f"reconciliation-{demo_data.DEMO_DAY})")
    if keep_running:
        from deployments.serve import serve_forever

        console.print(f"Serving: post events to {service.ingress_url}/v1/events (secret in "
                      f"{settings.home / SECRET_FILE}) or trigger job-closed from the UI. Ctrl-C stops everything.")
        try:
            serve_forever(service)
        finally:
            running.stop()
    return 1 if failed or not night.is_completed() else 0


def seed_source(source: str, running: sandboxes.RunningSandboxes, company: demo_data.DemoCompany,
                console: Console) -> dict[str, str]:
    """The day's jobs, open, in the field-service sandbox; the connector's settings that map its users follow
    (environment). Returns fieldbridge job id → the vendor's job id."""
    from deployments import fsm_simulator

    plugin = get_plugin(source, "field_service")
    if plugin.demo_source is None:
        raise ValueError(f"{plugin.title} has no demo sandbox driver")
    env, jobs, customers = plugin.demo_source.seed(running.url(source), plugin.load_settings(),
                                                   [fsm_simulator.snapshot(company, job) for job in company.jobs])
    os.environ.update(env)
    link_source_customers(company, customers)
    console.print(f"  field service   {plugin.title} sandbox {running.url(source)}: {len(jobs)} open jobs, "
                  f"{len(company.technicians)} users mapped to technicians")
    return jobs


def link_source_customers(company: demo_data.DemoCompany, customers: dict[str, str]) -> None:
    """The company's customers that already have an accounting record are the same people in the field-service
    system: link the field-service customer ids to those records (a shop does this once, in the id map)."""
    from sqlmodel import Session, select

    from models.db import create_schema, get_engine
    from models.integration import ExternalRef

    if not company.accounting_system:
        return
    engine = get_engine(FieldbridgeSettings().resolved_database_url())
    create_schema(engine)
    with Session(engine) as s:
        for cid, vendor_id in company.accounting_customers.items():
            alias = customers.get(cid)
            if alias and s.exec(select(ExternalRef).where(
                    ExternalRef.system == company.accounting_system, ExternalRef.entity == "customer",
                    ExternalRef.canonical_id == alias)).first() is None:
                s.add(ExternalRef(system=company.accounting_system, entity="customer", canonical_id=alias,
                                  vendor_id=vendor_id))
        s.commit()


def _wait_for_new_events(engine: Any, before: dict[str, str | None], timeout: float = 300) -> None:
    """Until each job's newest inbox event differs from `before` (the vendor's webhook was read and applied)."""
    from models import inbox

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = {j: (row.event_id if (row := inbox.latest_for_job(engine, j)) else None) for j in before}
        if all(now[j] != before[j] and now[j] is not None for j in before):
            return
        time.sleep(0.3)


def _run_from_source(source: str, source_jobs: dict[str, str], company: demo_data.DemoCompany,
                     settings: FieldbridgeSettings, service: Any, running: sandboxes.RunningSandboxes,
                     console: Console, keep_running: bool) -> int:
    """The demo's day with the jobs closed in the field-service system: its webhooks reach the ingress, each is
    stored, acknowledged and read back, and the job-closed runs post the jobs; then a few late notes."""
    from models import inbox
    from models.db import get_engine

    plugin = get_plugin(source, "field_service")
    assert plugin.demo_source is not None
    driver, url, vendor = plugin.demo_source, running.url(source), plugin.load_settings()
    engine = get_engine(settings.resolved_database_url())
    job_ids = list(source_jobs)
    started = time.monotonic()
    hook_url = f"{service.ingress_url.rstrip('/')}/webhooks/{source}"
    closed_at = {j.id: j.closed_at.isoformat() for j in company.jobs if j.closed_at is not None}
    driver.close(url, vendor, [(source_jobs[j], closed_at[j]) for j in job_ids if j in closed_at], hook_url)
    console.print(f"  field service   {len(job_ids)} jobs closed in {plugin.title}: its signed webhooks (some "
                  f"delivered twice) go to {hook_url}")
    _wait_for_new_events(engine, {j: None for j in job_ids})
    outcome = wait_for_jobs(engine, job_ids, console)
    edited = [j for n, j in enumerate(job_ids) if n % 7 == 3]
    by_job = {link.job_id: link.technician_id for link in company.job_technicians}
    emails = {t.id: t.email for t in company.technicians}
    before = {j: (row.event_id if (row := inbox.latest_for_job(engine, j)) else None) for j in edited}
    driver.edit(url, vendor, [(source_jobs[j], emails[by_job[j]]) for j in edited if j in by_job])
    console.print(f"  field service   {len(edited)} late notes added in {plugin.title} after posting")
    _wait_for_new_events(engine, before)
    outcome = wait_for_jobs(engine, job_ids, console)
    console.print(results_table(engine, settings, job_ids, outcome, case_states(job_ids)))
    failed = [j for j, s in outcome.items() if s not in ("Completed", "Superseded")]
    console.print(f"[bold]{len(job_ids) - len(failed)} of {len(job_ids)} jobs posted[/] from {plugin.title} in "
                  f"{time.monotonic() - started:.1f} s; {driver.pending(url)} webhook deliveries pending.")
    if keep_running:
        from deployments.serve import serve_forever

        console.print(f"Serving: {plugin.title} webhooks at {hook_url}. Ctrl-C stops everything.")
        try:
            serve_forever(service)
        finally:
            running.stop()
    return 1 if failed else 0


def case_states(job_ids: list[str]) -> dict[str, str]:
    """Each job's case as the CRM now shows it (asked through the CRM role)."""
    from tasks.runtime import get_runtime

    crm = get_runtime().crm
    return {job_id: (found.status or "?") if (found := crm.find_case(job_id)) is not None else "missing"
            for job_id in job_ids}
