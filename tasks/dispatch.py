"""Dispatch: put a technician on a job for a time window, refusing one who is on leave or double-booked.

`assign` is what `fieldbridge dispatch assign` calls; `day_schedule` what `fieldbridge schedule` prints;
`show_on_case` writes the assignment to the job's CRM case through the ledger (once per change of the visit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from connectors.contract import CaseVisit, SchedulingCRM
from models.canonical import Job, JobStatus, JobTechnician, Technician
from models.schedule import Unavailability, Visit, VisitStatus
from tasks.availability import blocking
from tasks.intake import is_cancelled


class DispatchRefused(ValueError):
    """The assignment would put a technician where they cannot be; `--force` overrides leave and overlap."""


def assign(engine: Engine, job_id: str, technician_id: str, start: datetime, end: datetime, *,
           workday_hours: Decimal, force: bool = False) -> Visit:
    """Schedule `technician_id` on `job_id` for [start, end) (aware datetimes; stored in UTC)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise DispatchRefused("start and end need a time zone (e.g. 2026-12-02T09:00-08:00)")
    if end <= start:
        raise DispatchRefused(f"the visit ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    if end - start > timedelta(hours=16):
        raise DispatchRefused(f"a visit of {end - start} is longer than a working day; split it")
    start, end = start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))
    with Session(engine, expire_on_commit=False) as s:
        job = s.get(Job, job_id)
        if job is None:
            raise DispatchRefused(f"no job {job_id}")
        if job.status is JobStatus.CLOSED:
            raise DispatchRefused(f"job {job_id} is closed")
        if is_cancelled(s, job_id):
            raise DispatchRefused(f"job {job_id} was cancelled in the CRM")
        if s.get(Technician, technician_id) is None:
            raise DispatchRefused(f"no technician {technician_id}")
        visit_id = f"{job_id}:{technician_id}"
        reasons = blocking(s, technician_id, start, end, workday_hours, ignore_visit=visit_id)
        if reasons and not force:
            raise DispatchRefused(f"{technician_id} cannot take job {job_id}: " + "; ".join(reasons)
                                  + " (--force assigns anyway)")
        visit = s.get(Visit, visit_id) or Visit(id=visit_id, job_id=job_id, technician_id=technician_id,
                                                start=start, end=end, assigned_at=pendulum.now("UTC"))
        visit.start, visit.end, visit.status, visit.forced = start, end, VisitStatus.SCHEDULED, bool(reasons)
        visit.assigned_at = pendulum.now("UTC")
        s.add(visit)
        if s.get(JobTechnician, (job_id, technician_id)) is None:
            s.add(JobTechnician(job_id=job_id, technician_id=technician_id))
        s.commit()
        return visit


def unassign(engine: Engine, job_id: str, technician_id: str) -> bool:
    """Cancel the visit (the job keeps its other technicians); False when there was none."""
    with Session(engine) as s:
        visit = s.get(Visit, f"{job_id}:{technician_id}")
        if visit is None or visit.status is VisitStatus.CANCELLED:
            return False
        visit.status = VisitStatus.CANCELLED
        s.add(visit)
        s.commit()
        return True


def show_on_case(rt: Any, visit: Visit) -> str | None:
    """Write the visit (or its cancellation) to the job's CRM case, exactly once per version of it; the case
    id, or None when the configured CRM cannot show visits. Raises the CRM's error (nothing half-written: the
    ledger retries the same write next time)."""
    crm = rt.crm
    if not isinstance(crm, SchedulingCRM):
        return None
    with Session(rt.engine) as s:
        tech = s.get(Technician, visit.technician_id)
    live = visit.status is VisitStatus.SCHEDULED
    case = CaseVisit(visit.job_id, tech.name if tech else visit.technician_id,
                     visit.start if live else None, visit.end if live else None,
                     owner_id=rt.settings.crm_owner_map().get(visit.technician_id))
    outcome = rt.ledger.run(
        f"{crm.system}:visit:{visit.id}", system=crm.system, kind="schedule_case", job_id=visit.job_id,
        payload={"technician": case.technician, "start": case.start.isoformat() if case.start else None,
                 "end": case.end.isoformat() if case.end else None, "owner": case.owner_id},
        lookup=lambda: None,  # a PATCH by the unique job id is idempotent: repeating it is the lookup
        write=lambda _existing: crm.schedule_case(case),
        summarize=lambda r: {"case_id": r.id}, mutable=True)
    return outcome.vendor_id


def get_visit(engine: Engine, job_id: str, technician_id: str) -> Visit | None:
    with Session(engine, expire_on_commit=False) as s:
        return s.get(Visit, f"{job_id}:{technician_id}")


@dataclass(frozen=True)
class ScheduleLine:
    technician_id: str
    technician: str
    what: str  # "09:00–11:00 J1004 (description)" or "on leave (Sick)"


def day_schedule(engine: Engine, day: date, timezone: str) -> list[ScheduleLine]:
    """Every technician's day in `timezone`: leave first, then visits in time order; '—' for a free day."""
    tz = ZoneInfo(timezone)
    lo = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    hi = lo + timedelta(days=1)
    lines = []
    with Session(engine) as s:
        for tech in s.exec(select(Technician).order_by(Technician.id)):
            own = []
            for row in s.exec(select(Unavailability).where(Unavailability.technician_id == tech.id,
                                                           Unavailability.day == day)):
                span = "all day" if row.hours_away is None else f"{row.hours_away} h"
                own.append(f"on leave ({row.kind}, {span})")
            for v in s.exec(select(Visit).where(Visit.technician_id == tech.id, Visit.status == VisitStatus.SCHEDULED,
                                                Visit.start < hi, Visit.end > lo).order_by(Visit.start)):
                job = s.get(Job, v.job_id)
                own.append(f"{v.start.astimezone(tz):%H:%M}–{v.end.astimezone(tz):%H:%M} {v.job_id}"
                           f" ({job.description if job else '?'}){' [forced]' if v.forced else ''}")
            lines += [ScheduleLine(tech.id, tech.name, w) for w in own] or [ScheduleLine(tech.id, tech.name, "—")]
    return lines
