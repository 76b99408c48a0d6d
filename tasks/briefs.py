"""Pre-visit briefs: for each visit of a day, what the technician should know before ringing the bell —
the CRM's context for the customer (preferences, contract and service level, open and recent cases) and
what fieldbridge itself remembers of the site (the technicians' notes of earlier jobs there)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from connectors.contract import CustomerContext
from models.canonical import Customer, Job, JobStatus, Note, Site, Technician
from models.integration import ExternalRef
from models.schedule import Visit, VisitBrief, VisitStatus


@dataclass(frozen=True)
class PlannedVisit:
    visit: Visit
    job: Job
    customer: Customer
    site: Site
    technician: Technician
    contact_id: str | None  # the customer's contact in the CRM, if the customer came from there


def visits_on(engine: Engine, day: date, timezone: str, crm_system: str) -> list[PlannedVisit]:
    tz = ZoneInfo(timezone)
    lo = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    out = []
    with Session(engine, expire_on_commit=False) as s:
        for v in s.exec(select(Visit).where(Visit.status == VisitStatus.SCHEDULED, Visit.start >= lo,
                                            Visit.start < lo + timedelta(days=1)).order_by(Visit.start)):
            job = s.get(Job, v.job_id)
            ref = s.exec(select(ExternalRef).where(ExternalRef.system == crm_system, ExternalRef.entity == "contact",
                                                   ExternalRef.canonical_id == job.customer_id)).first()
            out.append(PlannedVisit(v, job, s.get(Customer, job.customer_id), s.get(Site, job.site_id),
                                    s.get(Technician, v.technician_id), ref.vendor_id if ref else None))
    return out


def site_history(engine: Engine, site_id: str, before_job: str, limit: int = 5) -> list[str]:
    """The technicians' notes of earlier closed jobs at the site, newest first."""
    with Session(engine) as s:
        rows = s.exec(select(Note, Job).where(Note.job_id == Job.id, Job.site_id == site_id, Job.id != before_job,
                                              Job.status == JobStatus.CLOSED)
                      .order_by(Note.created_at.desc()).limit(limit))  # type: ignore[union-attr]
        return [f"{n.created_at:%Y-%m-%d} job {j.id}: {n.body}" for n, j in rows]


def brief_markdown(p: PlannedVisit, context: CustomerContext | None, history: list[str], timezone: str,
                   crm_system: str) -> str:
    tz = ZoneInfo(timezone)
    lines = [f"## {p.visit.start.astimezone(tz):%H:%M}–{p.visit.end.astimezone(tz):%H:%M} · job {p.job.id} · "
             f"{p.customer.name}", "",
             f"- **Site:** {p.site.line1}, {p.site.city} {p.site.postal_code}",
             f"- **Job:** {p.job.description}"]
    if p.customer.phone:
        lines.append(f"- **Phone:** {p.customer.phone}")
    if context is None:
        lines.append(f"- **CRM:** no {crm_system} record for this customer" if p.contact_id is None
                     else f"- **CRM:** {crm_system} no longer has contact {p.contact_id}")
    else:
        if context.company or context.service_level or context.contract:
            lines.append(f"- **Contract:** {context.contract or '—'} · service level {context.service_level or '—'}"
                         + (f" ({context.company})" if context.company else ""))
        lines.append(f"- **Preferences:** {context.preferences or '—'}")
        opened = context.open_cases
        lines.append(f"- **Open issues ({len(opened)}):** "
                     + ("; ".join(f"{c.subject} (case {c.case_id})" for c in opened) if opened else "none"))
        if context.recent_cases:
            lines.append("- **Recent cases:** " + "; ".join(
                f"{c.modified_at:%Y-%m-%d} {c.subject}{'' if c.open else ' (closed)'}" if c.modified_at
                else c.subject for c in context.recent_cases))
    lines.append("- **Past problems at this site:** " + ("; ".join(history) if history else "none recorded"))
    return "\n".join(lines)


def store_briefs(engine: Engine, day: date, briefs: dict[str, tuple[str, str]], built_at: datetime) -> None:
    """visit id → (technician id, markdown); the day's earlier briefs are replaced (a visit moved away drops)."""
    with Session(engine) as s:
        for old in s.exec(select(VisitBrief).where(VisitBrief.day == day)):
            s.delete(old)
        s.flush()
        for visit_id, (tech, markdown) in briefs.items():
            s.add(VisitBrief(visit_id=visit_id, technician_id=tech, day=day, markdown=markdown, built_at=built_at))
        s.commit()


def briefs_for(engine: Engine, technician_id: str, day: date) -> list[VisitBrief]:
    with Session(engine) as s:
        return list(s.exec(select(VisitBrief).where(VisitBrief.technician_id == technician_id, VisitBrief.day == day)
                           .order_by(VisitBrief.markdown)))
