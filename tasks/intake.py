"""CRM cases → jobs: the canonical side of intake (flows/crm_intake.py reads the CRM and calls this).

One page of cases is applied in one transaction together with the cursor it advances: a crash between pages
resumes from the last page applied, and a page read twice changes nothing (the case → job map is a key).
Customers and sites come from the case's contact, found again through `ExternalRef`; a case without a
contact or without an address to visit is skipped with the reason (it is read again once the CRM changes it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pendulum
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from connectors.contract import IntakeCase, IntakeContact
from models.canonical import Customer, Job, JobStatus, Site
from models.intake import CrmCase, IntakeCursor
from models.integration import ExternalRef
from models.schedule import Visit, VisitStatus


@dataclass
class IntakeSummary:
    created: list[str] = field(default_factory=list)  # job ids
    updated: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (case id, why)
    unchanged: int = 0

    def add(self, other: IntakeSummary) -> None:
        for name in ("created", "updated", "cancelled", "reopened", "skipped"):
            getattr(self, name).extend(getattr(other, name))
        self.unchanged += other.unchanged


def read_cursor(engine: Engine, system: str) -> datetime | None:
    with Session(engine) as s:
        row = s.get(IntakeCursor, system)
        return row.modified_since if row else None


def _customer(s: Session, system: str, contact: IntakeContact, prefix: str) -> tuple[str, str]:
    """The canonical customer and site of a CRM contact: found through ExternalRef, else created."""
    ref = s.exec(select(ExternalRef).where(ExternalRef.system == system, ExternalRef.entity == "contact",
                                           ExternalRef.vendor_id == contact.vendor_id)).first()
    customer_id = ref.canonical_id if ref else f"{prefix}C{contact.vendor_id}"
    site_id = f"{customer_id}-S1"
    customer = s.get(Customer, customer_id) or Customer(id=customer_id, name=contact.name)
    customer.name, customer.email, customer.phone = contact.name, contact.email, contact.phone
    customer.bill_line1, customer.bill_city = contact.line1, contact.city
    customer.bill_state, customer.bill_postal_code = contact.state, contact.postal_code
    s.add(customer)
    site = s.get(Site, site_id) or Site(id=site_id, customer_id=customer_id, line1="", city="", state="",
                                        postal_code="")
    site.line1, site.city = contact.line1 or "", contact.city or ""
    site.state, site.postal_code = contact.state or "", contact.postal_code or ""
    s.add(site)
    if ref is None:
        s.add(ExternalRef(system=system, entity="contact", canonical_id=customer_id, vendor_id=contact.vendor_id))
    s.flush()  # before the job that refers to them (no ORM relationships to order the inserts)
    return customer_id, site_id


def _why_not(case: IntakeCase) -> str | None:
    c = case.contact
    if c is None:
        return "the case has no contact: no customer to visit yet"
    if not (c.line1 and c.city and c.postal_code):
        return f"contact {c.vendor_id} ({c.name}) has no address to visit"
    return None


def apply_page(engine: Engine, system: str, cases: list[IntakeCase], *, job_prefix: str) -> IntakeSummary:
    """Apply one page of CRM cases and advance the cursor to its newest change, in one transaction."""
    out = IntakeSummary()
    now = pendulum.now("UTC")
    with Session(engine) as s:
        for case in cases:
            known = s.get(CrmCase, (system, case.case_id))
            if known is None and not case.open:
                out.unchanged += 1  # closed before it ever became a job: nothing to do
                continue
            if known is None and case.job_id and s.get(Job, case.job_id) is not None:
                out.unchanged += 1  # the case of a job the field-service system made: not intake's
                continue
            if known is not None and known.modified_at >= case.modified_at:
                out.unchanged += 1  # the page boundary read again
                continue
            job = s.get(Job, known.job_id) if known else None
            if job is not None and job.status is JobStatus.CLOSED:
                known.modified_at = case.modified_at
                s.add(known)
                out.unchanged += 1  # the visit happened: the CRM's later edits are the close path's business
                continue
            why = _why_not(case)
            if why is not None and job is None:
                out.skipped.append((case.case_id, why))
                continue
            description = f"{case.subject} — {case.description}".strip(" —")[:2000]
            if job is None:
                job_id = (known.job_id if known else None) or case.job_id or f"{job_prefix}{case.case_id}"
                customer_id, site_id = _customer(s, system, case.contact, job_prefix)
                s.add(Job(id=job_id, customer_id=customer_id, site_id=site_id, status=JobStatus.SCHEDULED,
                          description=description))
                known = known or CrmCase(system=system, case_id=case.case_id, job_id=job_id, modified_at=now)
                out.created.append(job_id)
            else:
                if why is None:
                    _customer(s, system, case.contact, job_prefix)
                if job.description != description:
                    job.description = description
                    s.add(job)
                    out.updated.append(job.id)
            if not case.open and not known.cancelled:
                known.cancelled = True
                for visit in s.exec(select(Visit).where(Visit.job_id == known.job_id,
                                                        Visit.status == VisitStatus.SCHEDULED)):
                    visit.status = VisitStatus.CANCELLED
                    s.add(visit)
                out.cancelled.append(known.job_id)
            elif case.open and known.cancelled:
                known.cancelled = False
                out.reopened.append(known.job_id)
            known.open, known.modified_at = case.open, case.modified_at
            known.linked = known.linked and case.job_id == known.job_id
            s.add(known)
        if cases:
            newest = max(c.modified_at for c in cases)
            cursor = s.get(IntakeCursor, system) or IntakeCursor(system=system, modified_since=newest, updated_at=now)
            cursor.modified_since, cursor.updated_at = max(newest, cursor.modified_since), now
            s.add(cursor)
        s.commit()
    return out


def unlinked(engine: Engine, system: str) -> list[CrmCase]:
    """Cases whose job id is not stamped on them yet (the close path finds a case by it)."""
    with Session(engine) as s:
        return list(s.exec(select(CrmCase).where(CrmCase.system == system, CrmCase.linked == False)))  # noqa: E712


def mark_linked(engine: Engine, system: str, case_id: str) -> None:
    with Session(engine) as s:
        row = s.get(CrmCase, (system, case_id))
        if row is not None:
            row.linked = True
            s.add(row)
            s.commit()


def is_cancelled(s: Session, job_id: str) -> bool:
    return s.exec(select(CrmCase).where(CrmCase.job_id == job_id, CrmCase.cancelled == True)).first() is not None  # noqa: E712
