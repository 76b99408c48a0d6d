"""crm_intake: CRM cases that ask for a visit become jobs (every 5 minutes in prefect.yaml).

Reads the cases changed since the stored cursor (minus a small overlap: the CRM's clock and search index
lag), oldest first, a page at a time; each page is applied with the cursor in one transaction
(tasks/intake.py). New jobs get their job id stamped on the case through the ledger, so the close path
(`job-closed`) finds the case. A case closed in the CRM before the visit cancels the job and its visits.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from connectors.contract import IntakeCRM
from flows.logs import route_fieldbridge_logs
from tasks.intake import IntakeSummary, apply_page, mark_linked, read_cursor, unlinked
from tasks.runtime import get_runtime

route_fieldbridge_logs()

OVERLAP = timedelta(minutes=2)  # re-read the last moments: a page read twice changes nothing


@flow(name="crm-intake", flow_run_name="crm-intake", log_prints=False)
def crm_intake(first_lookback_days: int = 30, job_prefix: str = "CRM-") -> dict[str, Any]:
    """Cases → jobs since the cursor (the first run looks `first_lookback_days` back)."""
    logger = get_run_logger()
    rt = get_runtime()
    crm = rt.crm
    if not isinstance(crm, IntakeCRM):
        logger.warning("%s cannot list cases for intake: no jobs come from it", crm.system)
        return {"supported": False}
    cursor = read_cursor(rt.engine, crm.system)
    since = (cursor - OVERLAP) if cursor else pendulum.now("UTC") - timedelta(days=first_lookback_days)
    total, pages = IntakeSummary(), 0
    for page in crm.list_intake_cases(since):
        pages += 1
        total.add(apply_page(rt.engine, crm.system, page, job_prefix=job_prefix))
    linked = []
    for case in unlinked(rt.engine, crm.system):
        rt.ledger.run(f"{crm.system}:case-link:{case.case_id}", system=crm.system, kind="link_case",
                      job_id=case.job_id, payload={"job_id": case.job_id}, lookup=lambda: None,
                      write=lambda _existing, c=case: crm.link_case(c.case_id, c.job_id),
                      summarize=lambda r: {"case_id": r.id})
        mark_linked(rt.engine, crm.system, case.case_id)
        linked.append(case.job_id)
    logger.info("intake from %s since %s: %d page(s); %d job(s) created, %d updated, %d cancelled, %d reopened, "
                "%d case(s) skipped, %d unchanged; %d case(s) stamped with their job id", crm.system,
                since.isoformat(), pages, len(total.created), len(total.updated), len(total.cancelled),
                len(total.reopened), len(total.skipped), total.unchanged, len(linked))
    rows = ([{"job": j, "what": "created"} for j in total.created] + [{"job": j, "what": "updated"}
            for j in total.updated] + [{"job": j, "what": "cancelled (closed in the CRM before the visit)"}
            for j in total.cancelled] + [{"job": j, "what": "reopened"} for j in total.reopened]
            + [{"job": f"case {c}", "what": f"skipped: {why}"} for c, why in total.skipped])
    if rows:
        create_table_artifact(key="crm-intake", table=rows, description=f"Cases from {crm.system} → jobs")
    return {"supported": True, "created": total.created, "updated": total.updated, "cancelled": total.cancelled,
            "reopened": total.reopened, "skipped": total.skipped, "unchanged": total.unchanged, "linked": linked}
