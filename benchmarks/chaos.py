"""The chaos proving ground: closed jobs through the production shape while everything that can go wrong does,
judged only by what the vendors' sandboxes hold — compared with a fault-free run of the same company.

    uv run python benchmarks/chaos.py [--jobs 1000] [--bad 10] [--deliver-seconds 240] [--outage-seconds 180]

The shape (`benchmarks/pgstack.py`): a private PostgreSQL cluster holding the Prefect server's database and
fieldbridge's tables, `fieldbridge deploy`, two `prefect worker` processes, `fieldbridge ingress`. Every job's
`job.closed` event is posted three times (signed, shuffled over --deliver-seconds). Meanwhile: 20 % of vendor
requests answer 5xx, 5 % of writes commit and then drop the connection, 429 bursts, QuickBooks answers only
5xx for --outage-seconds, a worker is killed with SIGKILL (a supervisor starts a new one 20 s later),
PostgreSQL is restarted, the Prefect server is restarted. Then the faults stop and nobody does anything:
crashed runs must be detected and re-driven, transient failures retried, the outage waited out.

The verdict compares the sandboxes with a fault-free bulk run of the same company on fresh sandboxes: 0
duplicate and 0 missing tickets, notes, time sheets and invoices; hours equal to the minute; totals to the
cent; each invoice emailed once; no ledger row IN_FLIGHT; the only jobs left for a person are the --bad ones
(a part with a SKU that is not in the price book: quarantined, nothing posted). Exit code 0 on a pass.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECRET = "whsec_chaos"
FAULTS = {"error_rate": 0.2, "drop_after_commit_rate": 0.05, "burst_429_rate": 0.02, "burst_429_length": 3}
CLEAR = {"error_rate": 0.0, "drop_after_commit_rate": 0.0, "burst_429_rate": 0.0}


# -- what the vendors hold, in terms that do not depend on the ids they gave out ---------------------------------

@dataclass
class Census:
    tickets: dict[str, str] = field(default_factory=dict)  # job id → pipeline stage
    notes: dict[str, str] = field(default_factory=dict)  # note key → body
    sheets: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # tech-day key → class → minutes
    invoices: dict[str, tuple[Decimal, tuple[Any, ...]]] = field(default_factory=dict)  # job → total, lines
    emails: Counter[str] = field(default_factory=Counter)  # job → invoice emails sent
    duplicates: Counter[str] = field(default_factory=Counter)  # kind → records held more than once


def census(state: Callable[[str, str], list[dict[str, Any]]]) -> Census:
    out = Census()
    for kind, rows, key in (
            ("tickets", state("hubspot", "tickets"), lambda r: r["properties"].get("fieldbridge_job_id")),
            ("notes", state("hubspot", "notes"), lambda r: r["properties"].get("fieldbridge_note_key")),
            ("time_sheets", state("gusto", "time_sheets"), lambda r: (r.get("metadata") or {}).get("fieldbridge_key")),
            ("invoices", state("quickbooks", "Invoice"), lambda r: r.get("DocNumber"))):
        counts = Counter(key(r) for r in rows)
        out.duplicates[kind] = sum(n - 1 for n in counts.values() if n > 1)
        for row in rows:
            k = key(row)
            if kind == "tickets":
                out.tickets[k] = row["properties"].get("hs_pipeline_stage")
            elif kind == "notes":
                out.notes[k] = row["properties"].get("hs_note_body")
            elif kind == "time_sheets":
                out.sheets[k] = {e["pay_classification"]: (Decimal(str(e["hours_worked"])) * 60).quantize(Decimal(1))
                                 for e in row.get("entries", [])}  # to the minute
            else:
                lines = tuple(sorted((str((ln.get("SalesItemLineDetail") or {}).get("ItemRef", {}).get("name")
                                          or ln.get("Description")), str(ln.get("Amount")))
                                     for ln in row.get("Line", []) if ln.get("DetailType") == "SalesItemLineDetail"))
                out.invoices[k] = (Decimal(str(row.get("TotalAmt"))).quantize(Decimal("0.01")), lines)
    by_id = {i["Id"]: i.get("DocNumber") for i in state("quickbooks", "Invoice")}
    out.emails = Counter(by_id.get(str(o.get("invoice"))) for o in state("quickbooks", "outbox"))
    return out


def compare(got: Census, want: Census) -> dict[str, int]:
    """Every way the chaos run differs from the fault-free run; all zeros is a pass."""
    verdict: dict[str, int] = {f"duplicate {k}": n for k, n in got.duplicates.items()}
    for name in ("tickets", "notes", "sheets", "invoices"):
        g, w = getattr(got, name), getattr(want, name)
        verdict[f"missing {name}"] = len(set(w) - set(g))
        verdict[f"extra {name}"] = len(set(g) - set(w))
        verdict[f"different {name}"] = sum(1 for k in set(g) & set(w) if g[k] != w[k])
    verdict["invoices not emailed exactly once"] = sum(1 for k in want.emails if got.emails.get(k) != 1) + \
        sum(1 for k, n in got.emails.items() if k not in want.emails or n != 1)
    return verdict


# -- the fault-free reference ---------------------------------------------------------------------------------------

REFERENCE_LABEL = "chaos-reference"


def reference(company: Any, home: Path, api_url: str) -> Census:
    """The same company through the bulk path on fresh sandboxes with no faults (SQLite, this process), tracked by
    the stack's Prefect server (`api_url`): a second, in-process Prefect API would cost a server start."""
    from deployments import demo_data, sandboxes
    from flows.bulk_job_closed import bulk_job_closed
    from models.db import create_schema, make_engine
    from models.settings import FieldbridgeSettings
    from tasks.runtime import reset_runtime

    saved = dict(os.environ)
    home.mkdir(parents=True, exist_ok=True)
    for key in [k for k in os.environ if k.startswith("FIELDBRIDGE_")]:
        del os.environ[key]  # the product's defaults, as the stack's workers have them (a test's own are not)
    os.environ.update({"FIELDBRIDGE_HOME": str(home), "FIELDBRIDGE_DATABASE_URL": f"sqlite:///{home / 'ref.db'}",
                       "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300"})
    os.environ["PREFECT_API_URL"] = api_url
    running = sandboxes.start_all(FieldbridgeSettings())
    try:
        os.environ.update(running.env())
        reset_runtime()
        settings = FieldbridgeSettings()
        engine = make_engine(settings.resolved_database_url())
        create_schema(engine)
        demo_data.load(company, engine)
        sandboxes.seed(company, settings)
        ids = [j.id for j in company.jobs]
        for start in range(0, len(ids), 300):
            bulk_job_closed(ids[start:start + 300], label=f"{REFERENCE_LABEL}-{start // 300 + 1}", return_state=True)
        import httpx

        return census(lambda s, c: httpx.get(f"{running.url(s)}/_sandbox/state/{c}", timeout=60).json()["results"])
    finally:
        reset_runtime()
        running.stop()
        os.environ.clear()
        os.environ.update(saved)


# -- the run --------------------------------------------------------------------------------------------------------

def spoil(company: Any, bad: int) -> list[str]:
    """`bad` jobs get a part whose SKU is not in the price book: data errors only a person can fix."""
    with_parts = sorted({p.job_id for p in company.parts})
    chosen = with_parts[:: max(1, len(with_parts) // max(bad, 1))][:bad]
    for part in company.parts:
        if part.job_id in chosen:
            part.sku = "NOT-IN-BOOK"
    return chosen


def deliveries(company: Any, seconds: float, seed: int = 7) -> list[tuple[float, dict[str, Any]]]:
    """Each job's job.closed event three times, at random moments in [0, seconds)."""
    from deployments import fsm_simulator

    rng = random.Random(seed)
    plan = [(rng.uniform(0, seconds), fsm_simulator.event(company, job)) for job in company.jobs for _ in range(3)]
    return sorted(plan, key=lambda p: p[0])


@dataclass
class Chaos:
    jobs: int = 1000
    bad: int = 10
    deliver_seconds: float = 240.0
    outage_seconds: float = 180.0
    heartbeat_seconds: int = 30  # Prefect's minimum: a dead run is marked Crashed after 3 beats missed
    redrive_base_seconds: float = 20.0
    redrive_pending_seconds: float = 90.0
    settle_timeout: float = 1800.0
    burst_threshold: int | None = None  # FIELDBRIDGE_BURST_THRESHOLD for the ingress (None: the default, 30)
    quotas: dict[str, str] = field(default_factory=dict)
    log: Callable[[str], None] = print
    events: list[tuple[float, str]] = field(default_factory=list)

    def say(self, began: float, what: str) -> None:
        self.events.append((time.monotonic() - began, what))
        self.log(f"[{time.monotonic() - began:7.1f} s] {what}")

    def run(self) -> dict[str, Any]:
        import httpx

        from benchmarks.pgcluster import PgCluster
        from benchmarks.pgstack import PgStack
        from connectors.emulator import FaultConfig, free_port
        from deployments import fsm_simulator

        work = Path(tempfile.mkdtemp(prefix="fb-chaos-"))
        cluster = PgCluster(work / "pg", free_port()).init().start()
        env = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(self.heartbeat_seconds),
               "FIELDBRIDGE_REDRIVE_BASE_SECONDS": str(self.redrive_base_seconds),
               "FIELDBRIDGE_REDRIVE_PENDING_SECONDS": str(self.redrive_pending_seconds), **self.quotas}
        if self.burst_threshold is not None:
            env["FIELDBRIDGE_BURST_THRESHOLD"] = str(self.burst_threshold)
        stack = PgStack(work / "home", jobs=self.jobs, workers=2, pg=cluster.url, vendor_env=env,
                        faults=FaultConfig(**FAULTS, seed=3), worker_env=env, ingress_secret=SECRET)
        result: dict[str, Any] = {}
        try:
            stack.start()
            bad = spoil(stack.company, self.bad)
            plan = deliveries(stack.company, self.deliver_seconds)
            # the fault-free reference first, while the machine is calm
            self.log("fault-free reference run …")
            expected = reference(stack.company, work / "reference", stack.api_url)
            began = time.monotonic()
            self.say(began, f"{len(stack.company.jobs)} jobs ({len(bad)} with a data error), {len(plan)} deliveries "
                     f"over {self.deliver_seconds:.0f} s; faults on: {FAULTS}")
            posted = Counter()

            def deliver() -> None:
                with httpx.Client(timeout=30) as client:
                    for at, evt in plan:
                        time.sleep(max(0.0, at - (time.monotonic() - began)))
                        for _attempt in range(60):  # an FSM's outbox retries until the door takes it
                            try:
                                status = fsm_simulator.post(client, stack.ingress_url, SECRET, evt).status_code
                            except httpx.HTTPError as exc:
                                status = type(exc).__name__
                            posted[status] += 1
                            if isinstance(status, int) and status < 500:
                                break
                            time.sleep(2)

            sender = threading.Thread(target=deliver, name="deliveries", daemon=True)
            sender.start()
            # the storm follows the work, not the clock: each blow lands while runs are executing (flow-run
            # processes take seconds to start, so a clock-driven plan could end before the first run did)
            good = len(stack.company.jobs) - len(bad)
            outage_over = [float("inf")]

            def progress() -> float:
                resolved = sum(1 for t in stack.state("hubspot", "tickets")
                               if t["properties"].get("hs_pipeline_stage") == "4")
                return resolved / max(good, 1)

            def outage() -> None:
                stack_faults(stack, "quickbooks", error_rate=1.0)
                outage_over[0] = time.monotonic() + self.outage_seconds

            steps: list[tuple[float, str, Callable[[], None]]] = [
                (0.10, f"QuickBooks down for {self.outage_seconds:.0f} s", outage),
                (0.25, "SIGKILL worker 0 and its flow runs", lambda: stack.kill_worker(0)),
                (0.45, "PostgreSQL restarted", lambda: cluster.restart(down_seconds=5)),
                (0.65, "Prefect server restarted", lambda: stack.restart_server(down_seconds=5)),
            ]
            restarted_worker = quickbooks_back = False
            killed_at = None
            hard_stop = time.monotonic() + self.deliver_seconds + self.outage_seconds + max(900, 12 * self.jobs)
            while True:
                done = progress()
                now = time.monotonic()
                while steps and done >= steps[0][0]:
                    _, what, action = steps.pop(0)
                    self.say(began, f"{what} ({done:.0%} of the jobs posted to the CRM)")
                    action()
                    if "SIGKILL" in what:
                        killed_at = time.monotonic()
                if killed_at and not restarted_worker and now - killed_at > 20:
                    self.say(began, "a supervisor starts a new worker")
                    stack.start_worker()
                    restarted_worker = True
                if not quickbooks_back and now > outage_over[0]:
                    self.say(began, "QuickBooks back (20 % 5xx)")
                    stack_faults(stack, "quickbooks", error_rate=FAULTS["error_rate"])
                    quickbooks_back = True
                if (not steps and quickbooks_back and restarted_worker and done >= 0.9) or now > hard_stop:
                    break
                time.sleep(2)
            self.say(began, f"every fault stops ({progress():.0%} of the jobs posted to the CRM)")
            for system in stack.sandboxes.servers:
                stack_faults(stack, system, **CLEAR)
            sender.join()
            self.say(began, f"all deliveries made: {dict(posted)}")
            faults_cleared = time.monotonic() - began
            want_quarantined = set(bad)
            self.say(began, "waiting for the system to finish by itself")
            deadline = time.monotonic() + self.settle_timeout
            while True:
                got = census(stack.state)
                verdict = compare(got, expected)
                in_flight, runs = ledger_in_flight(stack), job_runs(stack)
                # Crashed and TransientFailure runs are the sweeper's to re-drive: not settled yet
                open_runs = sum(1 for r in runs if r["state"] not in SETTLED_STATES)
                if not any(verdict.values()) and in_flight == 0 and open_runs == 0:
                    break
                if time.monotonic() > deadline:
                    self.say(began, f"gave up waiting: {verdict}, {in_flight} IN_FLIGHT, {open_runs} open runs")
                    break
                time.sleep(10)
            settled = time.monotonic() - began
            self.say(began, "settled" if not any(verdict.values()) else "NOT settled")
            bulk_runs = [r for r in runs if r["job"].startswith("bulk:")]
            runs = [r for r in runs if not r["job"].startswith("bulk:")]
            by_state = Counter(r["state"] for r in runs)
            quarantined = {r["job"] for r in runs if r["state"] == "Quarantined"}
            needs_person = {r["job"] for r in runs if r["state"] not in ("Completed", "Superseded")}
            result = {
                "jobs": len(stack.company.jobs), "bad": sorted(bad), "deliveries": dict(posted),
                "verdict": verdict, "ledger_in_flight": in_flight, "runs_by_state": dict(by_state),
                "bulk_runs_by_state": dict(Counter(r["state"] for r in bulk_runs)),
                "runs_rerun_by_the_system": sum(1 for r in runs if r["run_count"] > 1),
                "max_run_count": max((r["run_count"] for r in runs), default=0),
                "needs_a_person": sorted(needs_person), "quarantined_as_expected": quarantined == want_quarantined,
                "unfinished": [(r["job"], r["state"], r["run_count"], r["message"]) for r in runs
                               if r["state"] not in ("Completed", "Superseded", "Quarantined")],
                "seconds_faults_cleared": round(faults_cleared), "seconds_settled": round(settled),
                "seconds_to_settle_after_faults": round(settled - faults_cleared),
                "sandbox_stats": stack.stats(),
            }
            result["passed"] = (not any(verdict.values()) and in_flight == 0 and needs_person == want_quarantined)
            return result
        finally:
            stack.stop()
            cluster.destroy()


def stack_faults(stack: Any, system: str, **knobs: Any) -> None:
    import httpx

    httpx.post(f"{stack.sandboxes.url(system)}/_sandbox/faults", json=knobs, timeout=30).raise_for_status()


def ledger_in_flight(stack: Any) -> int:
    import psycopg

    try:
        with psycopg.connect(stack.env["FIELDBRIDGE_DATABASE_URL"], connect_timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM effect WHERE lower(status::text) = 'in_flight'").fetchone()[0]
    except psycopg.Error:
        return -1


SETTLED_STATES = frozenset({"Completed", "Superseded", "Quarantined", "Failed", "Cancelled", "HandedOff"})
"""Run states the system will not change by itself (a plain Failed is a permanent, non-data error)."""


def job_runs(stack: Any) -> list[dict[str, Any]]:
    """Every job-closed run, latest per job: its state, and how often the system ran it; and every bulk run of
    a burst, keyed by its run id (their jobs are judged by the sandboxes and by the runs they hand jobs to)."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    latest: dict[str, Any] = {}
    try:
        with stack.client() as client:
            offset = 0
            while True:
                page = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(
                    any_=["job-closed", "bulk-job-closed"])), limit=200, offset=offset)
                for run in page:
                    if run.name.startswith(f"bulk-job-closed-{REFERENCE_LABEL}"):
                        continue
                    job = (run.parameters or {}).get("job_id") or f"bulk:{run.id}"
                    if job not in latest or run.created > latest[job].created:
                        latest[job] = run
                if len(page) < 200:
                    break
                offset += 200
    except Exception:
        return [{"job": "?", "state": "unknown", "state_type": "UNKNOWN", "run_count": 0}]
    return [{"job": job, "state": run.state.name if run.state else "?",
             "state_type": run.state.type.value if run.state else "?", "run_count": run.run_count,
             "message": ((run.state.message or "") if run.state else "")[:300]}
            for job, run in latest.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--bad", type=int, default=10, help="jobs with a data error (they must ask for a person)")
    parser.add_argument("--deliver-seconds", type=float, default=240)
    parser.add_argument("--outage-seconds", type=float, default=180)
    parser.add_argument("--settle-timeout", type=float, default=1800)
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    chaos = Chaos(jobs=args.jobs, bad=args.bad, deliver_seconds=args.deliver_seconds,
                  outage_seconds=args.outage_seconds, settle_timeout=args.settle_timeout)
    result = chaos.run()
    print("\nverdict (all zero is a pass):")
    for name, n in result["verdict"].items():
        print(f"  {name:<36} {n}")
    for key in ("unfinished", "ledger_in_flight", "runs_by_state", "bulk_runs_by_state", "runs_rerun_by_the_system",
                "max_run_count", "needs_a_person", "quarantined_as_expected", "seconds_faults_cleared",
                "seconds_settled", "seconds_to_settle_after_faults", "deliveries"):
        print(f"{key}: {result[key]}")
    print("sandbox answers:", {s: {k: v for k, v in st.items() if k in ("requests", "429", "errors", "dropped")}
                               for s, st in result["sandbox_stats"].items()})
    print("PASS" if result["passed"] else "FAIL")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
