"""Load everything about one job in one read, so validation and the effects see the same data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from connectors.contract.errors import DataError
from models.canonical import (
    Customer,
    Expense,
    Job,
    JobStatus,
    JobTechnician,
    Note,
    PartUsage,
    PriceBookItem,
    Site,
    Technician,
    TimeEntry,
)
from models.db import get_engine
from models.integration import ExternalRef


class JobNotFound(DataError):
    def __init__(self, job_id: str) -> None:
        super().__init__("fieldbridge", f"job {job_id!r} does not exist in the field-service database")


class JobNotClosed(DataError):
    def __init__(self, job_id: str, status: str) -> None:
        super().__init__("fieldbridge", f"job {job_id!r} is {status}, not closed: close it in the FSM first")


@dataclass(frozen=True)
class JobSnapshot:
    job: Job
    customer: Customer
    site: Site
    technicians: dict[str, Technician]
    entries: tuple[TimeEntry, ...]
    parts: tuple[PartUsage, ...]
    expenses: tuple[Expense, ...]
    notes: tuple[Note, ...]
    price_book: dict[str, PriceBookItem]
    accounting_customer_ref: str | None
    loaded_at: datetime
    neighbour_entries: tuple[TimeEntry, ...] = ()  # the same technicians' entries on other jobs, ±1 day


class JobChanged(DataError):
    def __init__(self, job_id: str) -> None:
        super().__init__("fieldbridge", f"job {job_id!r} changed in the FSM after it passed its quality checks: "
                         "rerun the flow so the new data is validated before anything is posted")


def fingerprint(snap: JobSnapshot) -> str:
    """What the quality gate saw, so each effect can prove it posts exactly the validated data."""
    from models.ledger import payload_hash

    # Only the job's own data: other jobs' entries (the overlap check's neighbours) keep changing while
    # technicians work, and must not make this job look edited. Sorted so the order of a query never matters.
    rows = [snap.job, snap.customer, *sorted(snap.technicians.values(), key=lambda t: t.id),
            *snap.entries, *snap.parts, *snap.expenses, *snap.notes]
    dumped = [(type(r).__name__, r.model_dump()) for r in rows]
    return payload_hash(sorted(dumped, key=lambda pair: (pair[0], str(pair[1]))))


def load_validated(job_id: str, expected: str | None, engine: Engine | None = None,
                   accounting_system: str | None = None) -> JobSnapshot:
    """Load the job for an effect; with `expected`, refuse if it differs from what the gate validated."""
    snap = load_job(job_id, engine, accounting_system=accounting_system)
    if expected is not None and fingerprint(snap) != expected:
        raise JobChanged(job_id)
    return snap


def load_job(
    job_id: str, engine: Engine | None = None, require_closed: bool = True, accounting_system: str | None = None
) -> JobSnapshot:
    """Read the job and its children; unknown or still-open jobs are data errors (nothing posted)."""
    with Session(engine or get_engine(), expire_on_commit=False) as s:
        job = s.get(Job, job_id)
        if job is None:
            raise JobNotFound(job_id)
        if require_closed and job.status != JobStatus.CLOSED:
            raise JobNotClosed(job_id, job.status)
        customer = s.get(Customer, job.customer_id)
        site = s.get(Site, job.site_id)
        assert customer is not None and site is not None
        entries = tuple(s.exec(select(TimeEntry).where(TimeEntry.job_id == job_id).order_by(TimeEntry.start)))
        tech_ids = {e.technician_id for e in entries} | set(
            s.exec(select(JobTechnician.technician_id).where(JobTechnician.job_id == job_id))
        )
        neighbours: tuple[TimeEntry, ...] = ()
        if entries:
            lo = min(e.start for e in entries) - timedelta(days=1)
            hi = max(e.end for e in entries) + timedelta(days=1)
            neighbours = tuple(s.exec(select(TimeEntry).where(
                TimeEntry.technician_id.in_({e.technician_id for e in entries}),  # type: ignore[attr-defined]
                TimeEntry.job_id != job_id, TimeEntry.end > lo, TimeEntry.start < hi,  # type: ignore[arg-type]
            )))
        technicians = {t.id: t for t in s.exec(select(Technician).where(Technician.id.in_(tech_ids)))}  # type: ignore[attr-defined]
        ref = s.exec(
            select(ExternalRef.vendor_id).where(
                ExternalRef.system == accounting_system, ExternalRef.entity == "customer",
                ExternalRef.canonical_id == customer.id,
            )
        ).first()
        return JobSnapshot(
            job=job,
            customer=customer,
            site=site,
            technicians=technicians,
            entries=entries,
            parts=tuple(s.exec(select(PartUsage).where(PartUsage.job_id == job_id).order_by(PartUsage.id))),
            expenses=tuple(s.exec(select(Expense).where(Expense.job_id == job_id).order_by(Expense.id))),
            notes=tuple(s.exec(select(Note).where(Note.job_id == job_id).order_by(Note.created_at))),
            price_book={p.sku: p for p in s.exec(select(PriceBookItem))},
            accounting_customer_ref=ref,
            loaded_at=datetime.now(UTC),
            neighbour_entries=neighbours,
        )
