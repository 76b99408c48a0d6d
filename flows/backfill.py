"""backfill(start, end, only_failed=True): rerun the closed jobs of a date range — by default only those
not fully posted — as `job-closed` runs linked to this one (subflows) and to the runs they replace."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pendulum
from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.context import get_run_context

from flows.logs import route_fieldbridge_logs
from flows.reruns import find_reruns
from flows.starter import wait_for_runs
from tasks.runtime import get_runtime

route_fieldbridge_logs()


def local_day_bounds(start: date, end: date, timezone: str) -> tuple[pendulum.DateTime, pendulum.DateTime]:
    """[start 00:00, end+1 00:00) in the company's zone, as UTC instants (DST days are 23 or 25 h)."""
    lo = pendulum.datetime(start.year, start.month, start.day, tz=timezone)
    after = end + timedelta(days=1)
    hi = pendulum.datetime(after.year, after.month, after.day, tz=timezone)
    return lo.in_timezone("UTC"), hi.in_timezone("UTC")


@flow(name="backfill", flow_run_name="backfill-{start}-to-{end}", log_prints=False)
def backfill(start: date, end: date, only_failed: bool = True, dry_run: bool = False,
             timeout_seconds: float = 3600, bulk: bool = False, batch_size: int = 300) -> dict[str, Any]:
    """Closed jobs whose close date (company time zone) is in [start, end], rerun through `job-closed` — or,
    with `bulk`, through `bulk-job-closed` runs of `batch_size` jobs (the vendors' batch APIs: thousands of
    jobs in minutes instead of one flow run and several vendor calls each)."""
    from prefect.deployments import run_deployment

    logger = get_run_logger()
    rt = get_runtime()
    lo, hi = local_day_bounds(start, end, rt.settings.company_timezone)
    candidates = find_reruns(rt.engine, lo, hi, only_failed=only_failed)
    table = [{"job": c.job_id, "closed_at": c.closed_at.isoformat(), "reason": c.reason,
              "replaces": c.replaces or "-"} for c in candidates]
    scope = "failed only" if only_failed else "all"
    create_table_artifact(key="backfill-plan", table=table or [{"job": "-", "reason": "nothing to rerun"}],
                          description=f"Jobs closed {start}..{end} to rerun ({scope})")
    logger.info("backfill %s..%s: %d job(s) to rerun%s", start, end, len(candidates), " (dry run)" if dry_run else "")
    if dry_run or not candidates:
        return {"planned": table, "runs": {}}
    if bulk:
        return {"planned": table, **run_in_batches([c.job_id for c in candidates], batch_size, f"{start}-{end}")}
    parent = str(get_run_context().flow_run.id)  # type: ignore[union-attr]
    runs: dict[str, str] = {}
    for c in candidates:
        run = run_deployment(rt.settings.job_closed_deployment, parameters={"job_id": c.job_id, "replaces": c.replaces},
                             timeout=0, idempotency_key=f"backfill:{parent}:{c.job_id}", tags=["backfill"])
        runs[str(run.id)] = c.job_id
    progress = create_progress_artifact(progress=0.0, key="backfill-progress", description="Reruns finished")

    def report(done: int, total: int) -> None:
        update_progress_artifact(progress, progress=100.0 * done / total)

    states = wait_for_runs(list(runs), timeout=timeout_seconds, on_progress=report)
    outcome = [{"job": runs[r], "flow_run": r, "state": s.name if s else "unknown"} for r, s in states.items()]
    create_table_artifact(key="backfill-outcome", table=outcome, description="How each rerun ended")
    failed = [o for o in outcome if o["state"] not in ("Completed", "Superseded")]
    logger.info("backfill done: %d rerun(s), %d not completed", len(outcome), len(failed))
    return {"planned": table, "runs": runs, "outcome": outcome, "failed": failed}


def run_in_batches(job_ids: list[str], batch_size: int, label: str) -> dict[str, Any]:
    """`bulk-job-closed` subflows of `batch_size` jobs, one after another, with a progress bar; the jobs of all
    batches in one outcome table."""
    from flows.bulk_job_closed import bulk_job_closed

    logger = get_run_logger()
    chunks = [job_ids[i:i + batch_size] for i in range(0, len(job_ids), max(1, batch_size))]
    progress = create_progress_artifact(progress=0.0, key="backfill-progress", description="Jobs through bulk runs")
    rows: list[dict[str, Any]] = []
    for n, chunk in enumerate(chunks, 1):
        state = bulk_job_closed(chunk, label=f"{label}-{n}-of-{len(chunks)}", return_state=True)
        outcome = state.result(raise_on_failure=False)
        rows.extend(outcome["jobs"] if isinstance(outcome, dict) else
                    [{"job": j, "state": "failed", "problem": str(outcome)} for j in chunk])
        update_progress_artifact(progress, progress=100.0 * sum(map(len, chunks[:n])) / len(job_ids))
        logger.info("bulk batch %d of %d: %s", n, len(chunks), state.message)
    failed = [r for r in rows if r["state"] != "posted"]
    create_table_artifact(key="backfill-outcome", table=[{k: r.get(k) for k in ("job", "state", "problem")}
                                                         for r in rows], description="How each job ended")
    logger.info("backfill done: %d job(s) in %d batch(es), %d not posted", len(rows), len(chunks), len(failed))
    return {"batches": len(chunks), "outcome": rows, "failed": failed}
