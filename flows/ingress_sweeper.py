"""ingress_sweeper: nothing stored is left without a run.

Every minute (prefect.yaml) it starts the `job-closed` run of every stored event that has none — the
ingress could not reach Prefect, or died between its commit and the start — and re-drives runs that
crashed (the process executing them died; the zombie automation marks those Crashed) or failed only for
transient reasons (a vendor or the database away longer than the task retries waited: `TransientFailure`,
run again after 1, 2, 4 … 15 minutes, up to 12 runs). Starting is idempotent per event, so racing the
ingress is harmless.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows.burst import start_backlog
from flows.logs import route_fieldbridge_logs
from flows.starter import EventRef, RunStarter
from models import inbox, webhook_inbox
from tasks.runtime import get_runtime

route_fieldbridge_logs()


#: a run that failed only for transient reasons is run again after 1, 2, 4 … minutes (at most 15 between
#: tries), up to this many runs in all: a vendor outage of a few hours is waited out, a permanent one is not
MAX_RUNS = 12


def retry_delay(run_count: int) -> float:
    """Seconds to wait before the next run of a run that has run `run_count` times (FIELDBRIDGE_REDRIVE_BASE_SECONDS,
    60 by default: 1, 2, 4, 8, 15, 15 … minutes)."""
    from models.settings import get_settings

    base = get_settings().redrive_base_seconds
    return min(base * 2 ** max(run_count - 1, 0), 15 * base)


def redrive(engine: Any, limit: int = 200) -> list[dict[str, str]]:
    """Runs of inbox events that need no person: crashed ones (the process died) and ones stuck Pending (claimed
    by a worker that died before starting them) go back to Scheduled now; ones that failed only for transient
    reasons (`TransientFailure`) are scheduled again with a growing pause.
    Each rerun goes through the ledger, so what was written is not written again."""
    from datetime import UTC, datetime, timedelta

    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterState,
        FlowRunFilterStateName,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import AwaitingRetry

    from flows.job_closed import TRANSIENT_STATE
    from models.settings import get_settings

    started = inbox.started_run_ids(engine, limit=5000) | webhook_inbox.started_run_ids(engine)
    if not started:
        return []
    ids = [UUID(r) for r in started]
    redriven = []
    with get_client(sync_client=True) as client:
        crashed = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=ids),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CRASHED]))), limit=limit)
        for run in crashed:
            client.set_flow_run_state(run.id, AwaitingRetry(message="re-driven by the ingress sweeper after a crash"),
                                      force=True)
            redriven.append({"flow_run": str(run.id), "event": started[str(run.id)], "was": "Crashed"})
        stuck_before = datetime.now(UTC) - timedelta(seconds=get_settings().redrive_pending_seconds)
        pending = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=ids),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PENDING]))), limit=limit)
        for run in pending:
            if run.state is None or run.state.timestamp > stuck_before:
                continue  # a worker is starting it right now
            client.set_flow_run_state(run.id, AwaitingRetry(
                message=f"re-driven by the ingress sweeper: {run.state.name} since {run.state.timestamp:%H:%M:%S} "
                "UTC (the worker that claimed it is gone)"), force=True)
            redriven.append({"flow_run": str(run.id), "event": started[str(run.id)], "was": f"stuck {run.state.name}"})
        transient = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=ids),
            state=FlowRunFilterState(name=FlowRunFilterStateName(any_=[TRANSIENT_STATE]))), limit=limit)
        for run in transient:
            if run.run_count >= MAX_RUNS:
                continue  # stays Failed: the alert automation has told the operator
            when = datetime.now(UTC) + timedelta(seconds=retry_delay(run.run_count))
            client.set_flow_run_state(run.id, AwaitingRetry(
                scheduled_time=when, message=f"re-driven by the ingress sweeper after a transient failure "
                f"(run {run.run_count} of at most {MAX_RUNS}): {(run.state.message or '')[:200]}"), force=True)
            redriven.append({"flow_run": str(run.id), "event": started[str(run.id)],
                             "was": f"{TRANSIENT_STATE}, again at {when:%H:%M:%S} UTC"})
    return redriven


@flow(name="ingress-sweeper", flow_run_name="ingress-sweeper", log_prints=False)
def ingress_sweeper(older_than_seconds: float = 30.0) -> dict[str, Any]:
    """Start runs for stored events that have none; re-drive crashed ones."""
    logger = get_run_logger()
    rt = get_runtime()
    starter = RunStarter()
    settings = rt.settings
    due = [EventRef(e.source, e.event_id, e.job_id) for e in inbox.due_for_run(rt.engine, older_than_seconds)]
    rows = start_backlog(rt.engine, starter, due, settings.burst_threshold, settings.burst_batch_size)
    for hook in webhook_inbox.due_for_run(rt.engine, older_than_seconds):  # vendor webhooks stored, never started
        run_id = starter.start_for_webhook(rt.engine, hook)
        rows.append({"event": f"{hook.system} webhook {hook.digest[:12]}", "job": "",
                     "flow_run": run_id or "-", "outcome": "started" if run_id else "waiting (Prefect away)"})
    redriven = redrive(rt.engine)
    if rows or redriven:
        create_table_artifact(
            key="ingress-sweeper", table=rows + [{"event": r["event"], "job": "", "flow_run": r["flow_run"],
                                                  "outcome": f"re-driven ({r['was']})"} for r in redriven],
            description="Inbox events the sweeper started or re-drove")
    logger.info("sweeper: %d event(s) started, %d crashed or transiently failed run(s) re-driven", len(rows),
                len(redriven))
    return {"started": [r for r in rows if r["flow_run"] != "-"], "waiting": [r for r in rows if r["flow_run"] == "-"],
            "redriven": redriven}
