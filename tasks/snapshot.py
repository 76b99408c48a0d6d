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


def _in_chunks(s: Session, model: type, column: object, values: set[str] | list[str], *order: object) -> list:
    """Rows whose `column` is one of `values`, 500 bound values per query (SQLite's and drivers' limits)."""
    values = sorted(values)
    rows: list = []
    for start in range(0, len(values), 500):
        query = select(model).where(column.in_(values[start:start + 500]))  # type: ignore[attr-defined]
        rows.extend(s.exec(query.order_by(*order) if order else query))
    return rows


def load_jobs(job_ids: list[str], engine: Engine | None = None,
              accounting_system: str | None = None) -> dict[str, JobSnapshot | DataError]:
    """`load_job` for many jobs in a dozen queries instead of a dozen per job (the bulk path). Each snapshot
    holds exactly the rows `load_job` would read — same fingerprint — and a job that cannot be loaded
    (unknown, not closed) is its own error."""
    out: dict[str, JobSnapshot | DataError] = {}
    with Session(engine or get_engine(), expire_on_commit=False) as s:
        jobs = {j.id: j for j in _in_chunks(s, Job, Job.id, job_ids)}
        for job_id in job_ids:
            job = jobs.get(job_id)
            if job is None:
                out[job_id] = JobNotFound(job_id)
            elif job.status != JobStatus.CLOSED:
                out[job_id] = JobNotClosed(job_id, job.status)
        ok = [j for j in job_ids if j not in out]
        if not ok:
            return out
        customers = {c.id: c for c in _in_chunks(s, Customer, Customer.id, {jobs[j].customer_id for j in ok})}
        sites = {x.id: x for x in _in_chunks(s, Site, Site.id, {jobs[j].site_id for j in ok})}
        entries: dict[str, list[TimeEntry]] = {j: [] for j in ok}
        for e in _in_chunks(s, TimeEntry, TimeEntry.job_id, ok, TimeEntry.start):
            entries[e.job_id].append(e)
        assigned: dict[str, set[str]] = {j: set() for j in ok}
        for link in _in_chunks(s, JobTechnician, JobTechnician.job_id, ok):
            assigned[link.job_id].add(link.technician_id)
        tech_ids = {e.technician_id for es in entries.values() for e in es} | set().union(*assigned.values())
        technicians = {t.id: t for t in _in_chunks(s, Technician, Technician.id, tech_ids)}
        spans = [e for es in entries.values() for e in es]
        nearby: list[TimeEntry] = []
        if spans:
            lo = min(e.start for e in spans) - timedelta(days=1)
            hi = max(e.end for e in spans) + timedelta(days=1)
            worked = sorted({e.technician_id for e in spans})
            for start in range(0, len(worked), 500):
                nearby.extend(s.exec(select(TimeEntry).where(
                    TimeEntry.technician_id.in_(worked[start:start + 500]),  # type: ignore[attr-defined]
                    TimeEntry.end > lo, TimeEntry.start < hi)))  # type: ignore[arg-type]
        refs = {r.canonical_id: r.vendor_id for r in _in_chunks(
            s, ExternalRef, ExternalRef.canonical_id, {jobs[j].customer_id for j in ok})
            if r.system == accounting_system and r.entity == "customer"}
        parts: dict[str, list[PartUsage]] = {j: [] for j in ok}
        for p in _in_chunks(s, PartUsage, PartUsage.job_id, ok, PartUsage.id):
            parts[p.job_id].append(p)
        expenses: dict[str, list[Expense]] = {j: [] for j in ok}
        for x in _in_chunks(s, Expense, Expense.job_id, ok, Expense.id):
            expenses[x.job_id].append(x)
        notes: dict[str, list[Note]] = {j: [] for j in ok}
        for n in _in_chunks(s, Note, Note.job_id, ok, Note.created_at):
            notes[n.job_id].append(n)
        price_book = {p.sku: p for p in s.exec(select(PriceBookItem))}
        now = datetime.now(UTC)
        for job_id in ok:
            job, own = jobs[job_id], entries[job_id]
            neighbours: tuple[TimeEntry, ...] = ()
            if own:
                lo = min(e.start for e in own) - timedelta(days=1)
                hi = max(e.end for e in own) + timedelta(days=1)
                mine = {e.technician_id for e in own}
                neighbours = tuple(e for e in nearby if e.technician_id in mine and e.job_id != job_id
                                   and e.end > lo and e.start < hi)
            ids = {e.technician_id for e in own} | assigned[job_id]
            out[job_id] = JobSnapshot(
                job=job, customer=customers[job.customer_id], site=sites[job.site_id],
                technicians={t: technicians[t] for t in ids if t in technicians}, entries=tuple(own),
                parts=tuple(parts[job_id]), expenses=tuple(expenses[job_id]), notes=tuple(notes[job_id]),
                price_book=price_book, accounting_customer_ref=refs.get(job.customer_id), loaded_at=now,
                neighbour_entries=neighbours)
    return {j: out[j] for j in job_ids}
