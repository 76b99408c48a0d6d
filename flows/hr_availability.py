"""hr_availability: technicians' approved time off from the HR system → their availability here, and the
scheduled visits that now conflict, in an artifact a dispatcher can act on. Hourly (prefect.yaml)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.logs import route_fieldbridge_logs
from tasks.availability import conflicts, sync_time_off
from tasks.runtime import get_runtime

route_fieldbridge_logs()


@task(name="pull-time-off", task_run_name="pull-time-off-{system}", retries=2, retry_delay_seconds=10, tags=["hr"])
def pull_time_off(system: str, start: str, end: str) -> list[Any]:
    rt = get_runtime()
    assert rt.hr is not None
    return rt.hr.list_time_off(pendulum.parse(start).date(), pendulum.parse(end).date(), status="approved")


@flow(name="hr-availability", flow_run_name="hr-availability-{days_ahead}d", log_prints=False)
def hr_availability(days_ahead: int | None = None, days_back: int = 7) -> dict[str, Any]:
    """Sync approved leave for [today - days_back, today + days_ahead] (company time zone) and list conflicts."""
    logger = get_run_logger()
    rt = get_runtime()
    settings = rt.settings
    if rt.hr is None:
        logger.warning("no HR system configured (FIELDBRIDGE_HR_SYSTEM names a connector playing the hr role): "
                       "availability not synced")
        return {"synced": False}
    days_ahead = settings.availability_days_ahead if days_ahead is None else days_ahead
    today = pendulum.now(settings.company_timezone).date()
    start, end = today - timedelta(days=days_back), today + timedelta(days=days_ahead)
    leaves = pull_time_off(settings.hr_system, start.isoformat(), end.isoformat())
    summary = sync_time_off(rt.engine, leaves, settings.hr_system, start, end, settings.workday_hours)
    found = conflicts(rt.engine, today, end, settings.workday_hours)
    logger.info("availability from %s: %d leave day(s) added, %d removed, %d unchanged; %d visit(s) conflict",
                settings.hr_system, len(summary.added), len(summary.removed), summary.unchanged, len(found))
    if summary.unknown_employees:
        logger.info("HR employees who are not technicians here (ignored): %s", ", ".join(summary.unknown_employees))
    rows = [{"visit": c.visit_id, "job": c.job_id, "technician": c.technician_id,
             "when (UTC)": f"{c.start:%Y-%m-%d %H:%M}–{c.end:%H:%M}", "why": c.reason,
             "to act": f"fieldbridge dispatch assign {c.job_id} OTHER_TECH --start … --end …"} for c in found]
    create_table_artifact(key="availability-conflicts", table=rows or [{"visit": "none", "job": "", "technician": "",
                                                                        "when (UTC)": "", "why": "", "to act": ""}],
                          description=f"Scheduled visits on a technician's leave ({start} – {end})")
    changes = [f"- added: {a}" for a in summary.added] + [f"- freed: {r}" for r in summary.removed]
    create_markdown_artifact(key="availability-changes", markdown="\n".join(
        [f"# Time off from {settings.hr_system}, {start} – {end}", "",
         f"{len(summary.added)} day(s) added, {len(summary.removed)} freed, {summary.unchanged} unchanged; "
         f"{len(found)} visit(s) now conflict.", ""] + (changes or ["No change."])),
        description="What this sync changed in the technicians' availability")
    return {"synced": True, "added": summary.added, "removed": summary.removed, "unchanged": summary.unchanged,
            "unknown_employees": summary.unknown_employees, "conflicts": rows}
