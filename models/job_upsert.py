"""Apply a delivered job snapshot to the canonical tables, inside the caller's transaction.

The snapshot is the whole job: its time entries, parts, expenses, notes and technicians replace what
fieldbridge held (rows the field-service system dropped are deleted), while customers, sites and
technicians — shared by many jobs — are upserted field by field.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, SQLModel, delete, select

from models.canonical import (
    Customer,
    EntryKind,
    Expense,
    Job,
    JobStatus,
    JobTechnician,
    Note,
    PartUsage,
    Site,
    Technician,
    TimeEntry,
)
from models.fsm_events import EventType, FieldEvent, JobSnapshot


class SnapshotRejected(ValueError):
    """The snapshot is well-formed but contradicts what fieldbridge holds; nothing of it is applied."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


def apply_event(session: Session, event: FieldEvent, default_timezone: str) -> None:
    """Upsert everything the event's snapshot says about its job (no commit: the caller's transaction)."""
    snap = event.data
    status = JobStatus.IN_PROGRESS if event.type is EventType.JOB_REOPENED else JobStatus.CLOSED
    _upsert_customer_and_site(session, snap)
    _upsert_technicians(session, snap, default_timezone)
    job = session.get(Job, snap.job.id) or Job(id=snap.job.id, customer_id=snap.customer.id, site_id=snap.site.id,
                                                description=snap.job.description)
    job.customer_id, job.site_id = snap.customer.id, snap.site.id
    job.description, job.resolution = snap.job.description, snap.job.resolution
    job.status = status
    job.closed_at = snap.job.closed_at if status is JobStatus.CLOSED else None
    session.add(job)
    session.flush()
    _replace_children(session, snap)


def _upsert_customer_and_site(session: Session, snap: JobSnapshot) -> None:
    c = snap.customer
    customer = session.get(Customer, c.id) or Customer(id=c.id, name=c.name)
    customer.name, customer.email, customer.phone = c.name, c.email, c.phone
    if c.billing_address is not None:
        a = c.billing_address
        customer.bill_line1, customer.bill_city = a.line1, a.city
        customer.bill_state, customer.bill_postal_code = a.state, a.postal_code
    session.add(customer)
    s = snap.site
    site = session.get(Site, s.id)
    if site is not None and site.customer_id != c.id:
        raise SnapshotRejected("data.site.id", f"site {s.id!r} belongs to customer {site.customer_id!r}, "
                               f"not {c.id!r}")
    site = site or Site(id=s.id, customer_id=c.id, line1=s.line1, city=s.city, state=s.state,
                        postal_code=s.postal_code)
    site.line1, site.city, site.state, site.postal_code, site.timezone = (
        s.line1, s.city, s.state, s.postal_code, s.timezone)
    session.add(site)


def _upsert_technicians(session: Session, snap: JobSnapshot, default_timezone: str) -> None:
    for n, t in enumerate(snap.technicians):
        tech = session.get(Technician, t.id)
        if tech is None:
            missing = [name for name in ("hourly_rate", "bill_rate") if getattr(t, name) is None]
            if missing:
                raise SnapshotRejected(f"data.technicians[{n}].{missing[0]}",
                                       f"required the first time technician {t.id!r} is sent")
            tech = Technician(id=t.id, name=t.name, email=t.email, hourly_rate=t.hourly_rate,
                              bill_rate=t.bill_rate, timezone=t.timezone or default_timezone)
        tech.name, tech.email = t.name, t.email
        # fields the sender may not know are only changed when sent: an FSM without pay rates keeps ours
        for name in ("timezone", "payroll_id", "hr_id", "hourly_rate", "bill_rate"):
            value = getattr(t, name)
            if value is not None:
                setattr(tech, name, value)
        session.add(tech)


def _replace_children(session: Session, snap: JobSnapshot) -> None:
    job_id = snap.job.id
    entries = [TimeEntry(id=e.id, job_id=job_id, technician_id=e.technician_id, kind=EntryKind(e.kind.value),
                         start=e.start, end=e.end, billable=e.billable, commute=e.commute,
                         company_vehicle=e.company_vehicle, relieved=e.relieved)
               for e in snap.time_entries]
    parts = [PartUsage(id=p.id, job_id=job_id, sku=p.sku, quantity=p.quantity, unit_price=p.unit_price)
             for p in snap.parts]
    expenses = [Expense(id=x.id, job_id=job_id, description=x.description, amount=x.amount, billable=x.billable)
                for x in snap.expenses]
    notes = [Note(id=x.id, job_id=job_id, technician_id=x.technician_id, body=x.body, created_at=x.created_at)
             for x in snap.notes]
    for field_name, model, rows in (("time_entries", TimeEntry, entries), ("parts", PartUsage, parts),
                                    ("expenses", Expense, expenses), ("notes", Note, notes)):
        _replace(session, model, job_id, rows, field_name)
    session.exec(delete(JobTechnician).where(JobTechnician.job_id == job_id))  # type: ignore[call-overload]
    session.flush()
    for tech_id in sorted({t.id for t in snap.technicians}):
        session.add(JobTechnician(job_id=job_id, technician_id=tech_id))


def _replace(session: Session, model: type[SQLModel], job_id: str, rows: Iterable[SQLModel], field_name: str) -> None:
    """Make the job's rows of `model` exactly `rows`; an id that belongs to another job is refused."""
    rows = list(rows)
    wanted = {r.id for r in rows}  # type: ignore[attr-defined]
    if wanted:
        taken = session.exec(select(model.id, model.job_id).where(  # type: ignore[attr-defined]
            model.id.in_(wanted), model.job_id != job_id)).first()  # type: ignore[attr-defined]
        if taken is not None:
            index = next(n for n, r in enumerate(rows) if r.id == taken[0])  # type: ignore[attr-defined]
            raise SnapshotRejected(f"data.{field_name}[{index}].id",
                                   f"{taken[0]!r} already belongs to job {taken[1]!r}")
    stale = select(model).where(model.job_id == job_id)  # type: ignore[attr-defined]
    for old in session.exec(stale):
        if old.id not in wanted:  # type: ignore[attr-defined]
            session.delete(old)
    session.flush()
    for row in rows:
        session.merge(row)
