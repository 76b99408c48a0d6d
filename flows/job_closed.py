"""job_closed(job_id): validate, then resolve the case, upsert hours and invoice — concurrently, once."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.futures import wait

from tasks.effect_tasks import accounting_effect, crm_effect, payroll_effect
from tasks.quality import artifact_key, quality_gate
from tasks.runtime import get_runtime


def summary_markdown(job_id: str, crm: dict, payroll: dict, accounting: dict) -> str:
    lines = [f"# Job {job_id} posted", "", "| system | record | detail |", "|---|---|---|"]
    lines.append(f"| {crm['system']} | ticket `{crm['ticket_id']}` | resolved; notes: "
                 f"{', '.join(f'`{n}`' for n in crm['note_ids']) or 'none'} |")
    for sheet in payroll["timesheets"]:
        lines.append(
            f"| {payroll['system']} | timesheet `{sheet['timesheet_id']}` | {sheet['technician_id']} "
            f"{sheet['workday']}: {sheet['regular']} reg, {sheet['overtime']} OT, {sheet['double_time']} DT, "
            f"{sheet['travel']} travel |"
        )
    lines.append(f"| {accounting['system']} | invoice `{accounting['invoice_id']}` | number {accounting['number']}, "
                 f"total {accounting['total']} {accounting['currency']} |")
    return "\n".join(lines)


def failure_markdown(job_id: str, done: dict[str, Any], errors: list[str]) -> str:
    lines = [f"# Job {job_id}: {len(errors)} of 3 branches failed", "",
             "Branches that succeeded are recorded in the effect ledger and will not be repeated; "
             "fix the cause and rerun the flow to finish the rest.", "", "| branch | outcome |", "|---|---|"]
    lines += [f"| {name} | posted |" for name in done]
    lines += [f"| {err.split(':', 1)[0]} | **failed**: {err.split(':', 1)[1].strip()} |" for err in errors]
    return "\n".join(lines)


@flow(name="job-closed", flow_run_name="job-closed-{job_id}", log_prints=False)
def job_closed(job_id: str) -> dict[str, Any]:
    """The DAG for one closed job. Effects are independent branches after the quality gate."""
    logger = get_run_logger()
    rt = get_runtime()
    validated = quality_gate(job_id)  # each branch refuses data that changed after this point
    branches = {"crm": (crm_effect, rt.crm.system), "payroll": (payroll_effect, rt.payroll.system),
                "accounting": (accounting_effect, rt.accounting.system)}
    futures = {name: task.with_options(tags=[name, system]).submit(job_id, validated)
               for name, (task, system) in branches.items()}
    wait(list(futures.values()))
    results: dict[str, Any] = {}
    errors = []
    for name, future in futures.items():
        try:
            results[name] = future.result()
        except Exception as exc:  # report every failed branch, not only the first
            errors.append(f"{name}: {exc}")
    if errors:
        create_markdown_artifact(
            markdown=failure_markdown(job_id, results, errors),
            key=artifact_key("job-failed", job_id),
            description=f"Job {job_id}: what posted and what did not",
        )
        raise RuntimeError(f"job {job_id}: " + " | ".join(errors))
    create_markdown_artifact(
        markdown=summary_markdown(job_id, results["crm"], results["payroll"], results["accounting"]),
        key=artifact_key("job-closed", job_id),
        description=f"What job {job_id} posted to each system",
    )
    logger.info("job %s: ticket %s, %d timesheets, invoice %s total %s", job_id, results["crm"]["ticket_id"],
                len(results["payroll"]["timesheets"]), results["accounting"]["number"], results["accounting"]["total"])
    return {"job_id": job_id, **results}
