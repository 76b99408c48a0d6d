"""customer_context: every evening, the pre-visit brief of each of tomorrow's visits (prefect.yaml: 18:00
company time). The CRM's context for all the day's customers is read in a handful of batch calls; each brief
is stored on its visit (`fieldbridge brief TECH --date D`) and each technician's day is one markdown artifact."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from connectors.contract import ContextCRM
from flows.logs import route_fieldbridge_logs
from tasks.briefs import brief_markdown, site_history, store_briefs, visits_on
from tasks.runtime import get_runtime

route_fieldbridge_logs()


@flow(name="customer-context", flow_run_name="customer-context-{day}", log_prints=False)
def customer_context(day: str = "tomorrow", last_cases: int = 5) -> dict[str, Any]:
    """Build the briefs of `day` (YYYY-MM-DD, or "tomorrow" in the company time zone)."""
    logger = get_run_logger()
    rt = get_runtime()
    tz = rt.settings.company_timezone
    wanted = (pendulum.now(tz).date() + timedelta(days=1)) if day == "tomorrow" else pendulum.parse(day).date()
    planned = visits_on(rt.engine, wanted, tz, rt.crm.system)
    contexts: dict[str, Any] = {}
    contact_ids = [p.contact_id for p in planned if p.contact_id]
    if contact_ids and isinstance(rt.crm, ContextCRM):
        contexts = rt.crm.customer_contexts(contact_ids, last_cases)
    elif contact_ids:
        logger.warning("%s cannot tell fieldbridge about customers: briefs hold fieldbridge's own history only",
                       rt.crm.system)
    briefs: dict[str, tuple[str, str]] = {}
    by_tech: dict[str, list[str]] = {}
    for p in planned:
        markdown = brief_markdown(p, contexts.get(p.contact_id or ""), site_history(rt.engine, p.site.id, p.job.id),
                                  tz, rt.crm.system)
        briefs[p.visit.id] = (p.technician.id, markdown)
        by_tech.setdefault(p.technician.id, []).append(markdown)
    store_briefs(rt.engine, wanted, briefs, pendulum.now("UTC"))
    names = {p.technician.id: p.technician.name for p in planned}
    for tech, parts in by_tech.items():
        create_markdown_artifact(key=f"brief-{tech.lower()}-{wanted.isoformat()}",
                                 markdown=f"# {names[tech]} ({tech}) — {wanted.isoformat()}\n\n" + "\n\n".join(parts),
                                 description=f"Pre-visit briefs for {names[tech]} on {wanted.isoformat()}")
    logger.info("briefs for %s: %d visit(s) of %d technician(s); CRM context for %d of %d customer(s)",
                wanted.isoformat(), len(planned), len(by_tech), len(contexts), len(set(contact_ids)))
    return {"day": wanted.isoformat(), "visits": len(planned), "technicians": sorted(by_tech),
            "with_crm_context": len(contexts)}
