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
             timeout_seconds: float = 3600) -> dict[str, Any]:
    """Closed jobs whose close date (company time zone) is in [start, end], rerun through `job-closed`."""
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
