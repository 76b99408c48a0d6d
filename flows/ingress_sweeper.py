"""ingress_sweeper: nothing stored is left without a run.

Every minute (prefect.yaml) it starts the `job-closed` run of every stored event that has none — the
ingress could not reach Prefect, or died between its commit and the start — and re-drives runs that
crashed (the process executing them died; the zombie automation marks those Crashed). Starting is
idempotent per event, so racing the ingress is harmless.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows.logs import route_fieldbridge_logs
from flows.starter import RunStarter
from models import inbox
from tasks.runtime import get_runtime

route_fieldbridge_logs()


def redrive_crashed(engine: Any, limit: int = 200) -> list[dict[str, str]]:
    """Put crashed `job-closed` runs of inbox events back to Scheduled (a retry: the ledger keeps it exactly-once)."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import AwaitingRetry

    started = inbox.started_run_ids(engine, limit=5000)
    if not started:
        return []
    redriven = []
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[UUID(r) for r in started]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CRASHED]))), limit=limit)
        for run in runs:
            client.set_flow_run_state(run.id, AwaitingRetry(message="re-driven by the ingress sweeper after a crash"),
                                      force=True)
            redriven.append({"flow_run": str(run.id), "event": started[str(run.id)], "was": "Crashed"})
    return redriven


@flow(name="ingress-sweeper", flow_run_name="ingress-sweeper", log_prints=False)
def ingress_sweeper(older_than_seconds: float = 30.0) -> dict[str, Any]:
    """Start runs for stored events that have none; re-drive crashed ones."""
    logger = get_run_logger()
    rt = get_runtime()
    starter = RunStarter()
    rows = []
    for event in inbox.due_for_run(rt.engine, older_than_seconds):
        run_id = starter.start_for_event(rt.engine, event.source, event.event_id, event.job_id)
        rows.append({"event": event.event_id, "job": event.job_id, "flow_run": run_id or "-",
                     "outcome": "started" if run_id else "still waiting (Prefect unreachable?)"})
    redriven = redrive_crashed(rt.engine)
    if rows or redriven:
        create_table_artifact(
            key="ingress-sweeper", table=rows + [{"event": r["event"], "job": "", "flow_run": r["flow_run"],
                                                  "outcome": "crashed run re-driven"} for r in redriven],
            description="Inbox events the sweeper started or re-drove")
    logger.info("sweeper: %d event(s) started, %d crashed run(s) re-driven", len(rows), len(redriven))
    return {"started": [r for r in rows if r["flow_run"] != "-"], "waiting": [r for r in rows if r["flow_run"] == "-"],
            "redriven": redriven}
