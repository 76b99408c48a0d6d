"""Prefect task wrappers for the effects: retries with jittered exponential backoff, never on data errors."""

from __future__ import annotations

import os
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.tasks import exponential_backoff

from connectors.contract.errors import is_retryable
from tasks import effects
from tasks.quality import artifact_key

RETRIES = int(os.environ.get("FIELDBRIDGE_TASK_RETRIES", "4"))
BACKOFF = float(os.environ.get("FIELDBRIDGE_TASK_BACKOFF_SECONDS", "2"))


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only transient failures; a vendor's 4xx data error will fail the same way again."""
    try:
        state.result()
    except Exception as exc:
        return is_retryable(exc)
    return False


_options: dict[str, Any] = {
    "retries": RETRIES,
    "retry_delay_seconds": exponential_backoff(backoff_factor=BACKOFF),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_transient,
}


@task(name="crm-resolve-case", task_run_name="crm-{job_id}", tags=["crm"], **_options)
def crm_effect(job_id: str, validated: str | None = None) -> dict[str, Any]:
    return effects.resolve_case(job_id, validated=validated)


@task(name="payroll-upsert-hours", task_run_name="payroll-{job_id}", tags=["payroll"], **_options)
def payroll_effect(job_id: str, validated: str | None = None) -> dict[str, Any]:
    return effects.upsert_hours(job_id, validated=validated)


@task(name="accounting-create-invoice", task_run_name="accounting-{job_id}", tags=["accounting"], **_options)
def accounting_effect(job_id: str, validated: str | None = None) -> dict[str, Any]:
    try:
        return effects.create_invoice(job_id, validated=validated)
    except effects.InvoiceNeedsReview as exc:
        create_markdown_artifact(markdown=exc.markdown(), key=artifact_key("invoice-review", job_id),
                                 description=f"Job {job_id}: the sent or paid invoice differs from the job now")
        raise


@task(name="events-deliver", task_run_name="events-{job_id}", tags=["events"], **_options)
def events_effect(job_id: str, results: dict[str, Any]) -> dict[str, Any]:
    from tasks.events import deliver_events

    return deliver_events(job_id, results)
