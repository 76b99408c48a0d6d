"""bulk_job_closed(job_ids): many closed jobs in one flow run, written through the vendors' batch APIs.

For backfills and bursts (a day imported late, thousands of jobs): every job is still validated by the
quality gate and every effect still goes through the ledger, but the vendor writes go out in batches (see
`tasks/bulk.py`). One flow run per batch; each job stays visible in the run's `bulk-outcome` table (what
posted where, or why not) and rerunnable alone: `fieldbridge run JOB` runs `job-closed` for it (and
`fieldbridge rerun --since DAY` every job not fully posted); the ledger makes that safe whatever the batch wrote.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State

from flows.logs import route_fieldbridge_logs
from tasks import bulk
from tasks.quality import apply_gates, artifact_key, quarantine_markdown
from tasks.runtime import get_runtime

route_fieldbridge_logs()

BRANCHES = ("crm", "payroll", "accounting")


def _run_name() -> str:
    params = flow_run.parameters
    if params.get("label"):
        return f"bulk-job-closed-{params['label']}"
    ids = params.get("job_ids") or []
    return f"bulk-job-closed-{ids[0]}-to-{ids[-1]}-{len(ids)}-jobs" if ids else "bulk-job-closed-empty"


@task(name="bulk-quality-gate", task_run_name="quality-gate-{label}", tags=["validation"])
def gate_all(job_ids: list[str], label: str) -> dict[str, Any]:
    """Every job through the gate: its fingerprint, or why it is quarantined (with the job's own artifact)."""
    verdicts: dict[str, Any] = {}
    for job_id, verdict in apply_gates(job_ids).items():
        if isinstance(verdict, Exception):
            verdicts[job_id] = bulk.failure(verdict)
            continue
        report, validated = verdict
        if report.success:
            verdicts[job_id] = validated
            continue
        create_markdown_artifact(markdown=quarantine_markdown(report), key=artifact_key("quarantine", job_id),
                                 description=f"Job {job_id} failed its quality checks")
        verdicts[job_id] = {"quarantined": "; ".join(f.message for f in report.failures)}
    return verdicts


@task(name="bulk-crm", task_run_name="crm-{label}", tags=["crm"])
def crm_all(jobs: dict[str, str], label: str) -> dict[str, Any]:
    return bulk.resolve_cases(get_runtime(), jobs)


@task(name="bulk-payroll", task_run_name="payroll-{label}", tags=["payroll"])
def payroll_all(jobs: dict[str, str], label: str) -> dict[str, Any]:
    return bulk.upsert_hours(get_runtime(), jobs)


@task(name="bulk-accounting", task_run_name="accounting-{label}", tags=["accounting"])
def accounting_all(jobs: dict[str, str], label: str) -> dict[str, Any]:
    return bulk.create_invoices(get_runtime(), jobs)


@task(name="bulk-events", task_run_name="events-{label}", tags=["events"])
def events_all(posted: dict[str, dict[str, Any]], label: str) -> dict[str, Any]:
    from tasks.events import deliver_events

    return {job_id: bulk.one_at_a_time(deliver_events, job_id, results) for job_id, results in posted.items()}


@task(name="bulk-handoff", task_run_name="handoff-{label}", tags=["events"])
def hand_off(events: list[list[str]], unfinished: list[str], label: str) -> dict[str, str]:
    """Each job the batch did not post gets the `job-closed` run its newest event would have had: retries,
    re-drives, quarantine alerts and reruns then work per job as on the real-time path. A start that fails
    gives the event back to the sweeper. Job id → what happens next."""
    from flows.starter import RunStarter
    from models import inbox

    engine = get_runtime().engine
    newest = {job_id: (source, event_id) for source, event_id, job_id in events}
    starter, nxt = RunStarter(), {}
    for job_id in unfinished:
        if job_id not in newest:
            continue
        source, event_id = newest[job_id]
        run_id = starter.start_for_event(engine, source, event_id, job_id)
        if run_id is None:
            inbox.release(engine, source, event_id, "the bulk run could not start this job's own run")
            nxt[job_id] = "waits for the sweeper"
        else:
            nxt[job_id] = f"job-closed run {run_id}"
    return nxt


@flow(name="bulk-job-closed", flow_run_name=_run_name, log_prints=False)
def bulk_job_closed(job_ids: list[str], label: str | None = None,
                    events: list[list[str]] | None = None) -> dict[str, Any] | State:
    """Validate every job, then write the three branches concurrently, each in batches.

    `events` ([source, event id, job id], set for a burst from the ingress or the sweeper): every job not
    posted is handed to its own `job-closed` run (flows/burst.py)."""
    from flows.job_closed import transient_as_state

    return transient_as_state(lambda: _bulk_job_closed(job_ids, label, events), f"batch {label or len(job_ids)}")


def _bulk_job_closed(job_ids: list[str], label: str | None, events: list[list[str]] | None) -> dict[str, Any] | State:
    logger = get_run_logger()
    rt = get_runtime()
    name = label or f"{len(job_ids)}-jobs"
    verdicts = gate_all(job_ids, name)
    valid = {j: v for j, v in verdicts.items() if isinstance(v, str)}
    branches = {"crm": crm_all, "payroll": payroll_all, "accounting": accounting_all}
    futures = {b: t.with_options(tags=[b, getattr(rt, b).system]).submit(valid, name) for b, t in branches.items()}
    results = {b: f.result() for b, f in futures.items()}
    posted = {j: {b: results[b][j] for b in BRANCHES} for j in valid
              if not any(bulk.failed(results[b][j]) for b in BRANCHES)}
    delivered: dict[str, Any] = {}
    if rt.events is not None and posted:
        delivered = events_all.with_options(tags=["events", rt.events.system]).submit(posted, name).result()
    rows = [_row(j, verdicts[j], {b: results[b].get(j) for b in BRANCHES}, delivered.get(j)) for j in job_ids]
    waiting = [r for r in rows if r["state"] == "failed" and r["transient"]]
    if events:
        # a job that failed only transiently waits for this batch to be run again (one run for all of them,
        # not one process per job); every other job not posted goes to its own job-closed run
        nxt = hand_off(events, [r["job"] for r in rows if r["state"] != "posted" and not r["transient"]], name)
        for row in rows:
            row["next"] = nxt.get(row["job"]) or ("this batch, run again automatically" if row in waiting else "")
    create_table_artifact(key="bulk-outcome", table=rows, description=f"Batch {name}: how each job ended")
    counts = {s: sum(r["state"] == s for r in rows) for s in ("posted", "quarantined", "failed")}
    logger.info("batch %s: %d posted, %d quarantined, %d failed", name, counts["posted"], counts["quarantined"],
                counts["failed"])
    outcome = {"jobs": rows, **counts}
    if counts["failed"] or counts["quarantined"]:
        problems = [r for r in rows if r["state"] != "posted"]
        create_markdown_artifact(markdown=_problems_markdown(name, problems), key="bulk-problems",
                                 description=f"Batch {name}: the jobs that need a rerun or a person")
        if events and waiting:  # the sweeper runs the batch again later; the ledger skips what was posted
            from flows.job_closed import TRANSIENT_STATE

            return Failed(name=TRANSIENT_STATE, data=outcome, message=f"batch {name}: {counts['posted']} of "
                          f"{len(rows)} posted; {len(waiting)} failed transiently and will be retried automatically "
                          f"with the batch; {len(problems) - len(waiting)} handed to their own job-closed runs")
        if events:  # nobody needs to act on the batch: each job's own run says how it ends
            return Completed(name="HandedOff", data=outcome, message=f"batch {name}: {counts['posted']} of "
                             f"{len(rows)} posted; {len(problems)} handed to their own job-closed runs "
                             "(see the bulk-outcome table)")
        return Failed(name="Partial", data=outcome, message=f"batch {name}: {counts['posted']} of {len(rows)} "
                      f"posted, {counts['quarantined']} quarantined, {counts['failed']} failed — see the "
                      "bulk-problems artifact; `fieldbridge run JOB` reruns one job alone")
    return Completed(data=outcome, message=f"batch {name}: all {len(rows)} jobs posted")


def _row(job_id: str, verdict: Any, results: dict[str, Any], events: dict[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"job": job_id, "state": "posted", "ticket": "-", "timesheets": "-", "invoice": "-",
                           "problem": "", "transient": False}
    if isinstance(verdict, dict):
        reason = verdict.get("quarantined") or verdict.get("error")
        return {**row, "state": "quarantined" if "quarantined" in verdict else "failed", "problem": reason,
                "transient": bool(verdict.get("retryable"))}
    crm, payroll, accounting = results["crm"] or {}, results["payroll"] or {}, results["accounting"] or {}
    if not bulk.failed(crm):
        row["ticket"] = crm.get("ticket_id") or "-"
    if not bulk.failed(payroll):
        row["timesheets"] = len(payroll.get("timesheets", []))
    if not bulk.failed(accounting):
        row["invoice"] = f"{accounting.get('number')} ({accounting.get('total')} {accounting.get('currency')})"
    failures = [(b, r) for b, r in (("crm", crm), ("payroll", payroll), ("accounting", accounting),
                                    ("events", events or {})) if bulk.failed(r)]
    if failures:
        row.update(state="failed", problem=" | ".join(f"{b}: {r['error']}" for b, r in failures),
                   transient=all(r.get("retryable") for _, r in failures))
    return row


def _problems_markdown(name: str, problems: list[dict[str, Any]]) -> str:
    lines = [f"# Batch {name}: {len(problems)} job(s) not posted", "",
             "Quarantined jobs need their data fixed in the field-service system; failed jobs can be rerun alone "
             "with `fieldbridge run JOB` (what the batch already wrote is not written again). Jobs of a burst were "
             "handed to their own `job-closed` run (the `next` column), which retries and alerts by itself.", "",
             "| job | state | why | next |", "|---|---|---|---|"]
    lines += [f"| {p['job']} | {p['state']} | {str(p['problem']).replace('|', '/')[:300]} | {p.get('next', '')} |"
              for p in problems]
    return "\n".join(lines)
