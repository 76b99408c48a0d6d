"""job_closed(job_id): validate, then resolve the case, upsert hours and invoice — concurrently, once.

The run ends in a state an operator can tell apart at a glance:
- `Completed`: every branch posted (or had nothing new to post);
- `Quarantined` (type Failed): the quality gate held the job back, nothing was posted;
- `NeedsReview` (type Failed): a changed invoice that was already sent or paid is left for finance;
- `Superseded` (type Completed): the job changed after validation and a newer event's run posts it;
- `Failed`: a branch failed for another reason (the failure artifact says which and why).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.futures import wait
from prefect.states import Completed, Failed, State

from connectors.contract.errors import is_retryable
from flows.logs import route_fieldbridge_logs
from flows.report import failure_markdown, origin_markdown, summary_markdown
from models import inbox
from tasks.effect_tasks import accounting_effect, crm_effect, events_effect, payroll_effect
from tasks.effects import InvoiceNeedsReview
from tasks.quality import QualityGateFailed, artifact_key, quality_gate
from tasks.runtime import get_runtime
from tasks.snapshot import JobChanged

route_fieldbridge_logs()

#: the name of a run's Failed state when every failure was transient (the sweeper re-drives these)
TRANSIENT_STATE = "TransientFailure"


@flow(name="job-closed", flow_run_name="job-closed-{job_id}", log_prints=False)
def job_closed(job_id: str, event_id: str | None = None, replaces: str | None = None) -> dict[str, Any] | State:
    """The DAG for one closed job. Effects are independent branches after the quality gate.

    `event_id` names the inbox event that started the run (the ingress sets it); `replaces` the flow run
    this one reruns (backfill, `fieldbridge rerun`, quarantine release). Both are shown in the artifacts.
    """
    return transient_as_state(lambda: _job_closed(job_id, event_id, replaces), f"job {job_id}")


def transient_as_state(body: Callable[[], dict[str, Any] | State], what: str) -> dict[str, Any] | State:
    """Run a flow's body; the database or the Prefect API going away outside a task (the gate, an artifact)
    ends it `TransientFailure`, for the sweeper to run again later, like a branch's transient failure."""
    try:
        return body()
    except Exception as exc:
        if not is_retryable(exc):
            raise
        return Failed(name=TRANSIENT_STATE, message=f"{what}: {type(exc).__name__}: {exc} — will be "
                      "retried automatically", data=exc)


def _job_closed(job_id: str, event_id: str | None, replaces: str | None) -> dict[str, Any] | State:
    logger = get_run_logger()
    rt = get_runtime()
    origin = origin_markdown(rt, event_id, replaces)
    try:
        validated = quality_gate(job_id)  # each branch refuses data that changed after this point
    except QualityGateFailed as exc:
        return Failed(name="Quarantined", message=str(exc), data=exc)
    branches = {"crm": (crm_effect, rt.crm.system), "payroll": (payroll_effect, rt.payroll.system),
                "accounting": (accounting_effect, rt.accounting.system)}
    futures = {name: task.with_options(tags=[name, system]).submit(job_id, validated)
               for name, (task, system) in branches.items()}
    wait(list(futures.values()))
    results: dict[str, Any] = {}
    errors: dict[str, BaseException] = {}
    for name, future in futures.items():
        try:
            results[name] = future.result()
        except Exception as exc:  # report every failed branch, not only the first
            errors[name] = exc
    if rt.events is not None and results:  # custom systems hear of what posted, once per receiver
        try:
            results["events"] = events_effect.with_options(tags=["events", rt.events.system]).submit(
                job_id, dict(results)).result()
        except Exception as exc:
            errors["events"] = exc
    if errors:
        create_markdown_artifact(
            markdown=failure_markdown(job_id, results, errors, origin),
            key=artifact_key("job-failed", job_id),
            description=f"Job {job_id}: what posted and what did not",
        )
        return _failed_state(rt, job_id, event_id, errors)
    create_markdown_artifact(
        markdown=summary_markdown(rt, job_id, results, origin),
        key=artifact_key("job-closed", job_id),
        description=f"What job {job_id} posted to each system",
    )
    logger.info("job %s: ticket %s, %d timesheets, invoice %s total %s", job_id, results["crm"]["ticket_id"],
                len(results["payroll"]["timesheets"]), results["accounting"]["number"], results["accounting"]["total"])
    return {"job_id": job_id, **results}


def _failed_state(rt: Any, job_id: str, event_id: str | None, errors: dict[str, BaseException]) -> State:
    message = f"job {job_id}: " + " | ".join(f"{name}: {exc}" for name, exc in errors.items())
    first = next(iter(errors.values()))
    if all(isinstance(e, JobChanged) for e in errors.values()) and event_id is not None:
        newest = inbox.latest_for_job(rt.engine, job_id)
        if newest is not None and newest.event_id != event_id:
            return Completed(name="Superseded", message=f"job {job_id} changed after validation; the run for "
                             f"event {newest.event_id} posts the new data")
    if any(isinstance(e, InvoiceNeedsReview) for e in errors.values()):
        review = next(e for e in errors.values() if isinstance(e, InvoiceNeedsReview))
        return Failed(name="NeedsReview", message=message, data=review)
    data = first if len(errors) == 1 else RuntimeError(message)
    if all(is_retryable(e) for e in errors.values()):
        # nothing wrong with the data: a vendor or the database stayed away longer than the task retries
        # waited. The ingress sweeper runs it again later, with growing pauses — no person needed.
        return Failed(name=TRANSIENT_STATE, message=f"{message} — will be retried automatically", data=data)
    return Failed(message=message, data=data)
