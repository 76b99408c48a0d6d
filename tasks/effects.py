"""The three side effects of a closed job, each exactly once through the ledger.

Plain functions do the work (and are what unit tests call); `tasks/effect_tasks.py` wraps them as
Prefect tasks with retries.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from connectors.contract.errors import DataError
from connectors.contract.records import CaseNote, CaseResolution, InvoiceDraft, VendorRecord
from models.integration import ExternalRef, ValidatedJob
from models.ledger import payload_hash
from tasks import job_report
from tasks.hours import HoursInputError, PayrollSettings
from tasks.invoicing import build_invoice
from tasks.runtime import Runtime, get_runtime
from tasks.snapshot import load_validated
from tasks.timesheets import affected_weeks, payroll_settings, week_timesheets

log = logging.getLogger("fieldbridge.effects")

SPECIAL_ITEMS = {"EXPENSE": ("Reimbursable expense", Decimal("0"))}


def from_field_service(rt: Runtime, job_id: str) -> bool:
    """Whether the job's data came from the configured field-service system (Jobber …), not the open API."""
    from models.integration import JobSource

    system = rt.settings.field_service_system
    if not system:
        return False
    with Session(rt.engine) as s:
        source = s.get(JobSource, job_id)
        return source is not None and source.source == system


def resolve_or_open(rt: Runtime, case: CaseResolution, description: str) -> VendorRecord:
    """Resolve the job's case. A job that began in the field-service system (a Jobber job the office booked
    there) may have no CRM case: one is opened for it, then resolved — an open-API job without its case stays
    an error (its sender named a case that is not there)."""
    try:
        return rt.crm.resolve_case(case)
    except DataError as exc:
        if exc.status != 404 or not from_field_service(rt, case.job_id):
            raise
    log.info("job %s has no %s case: opening one (the job began in %s)", case.job_id, rt.crm.system,
             rt.settings.field_service_system)
    rt.crm.open_case(case.job_id, f"{description} — {case.job_id}",
                     f"Job {case.job_id}, from {rt.settings.field_service_system}.")
    return rt.crm.resolve_case(case)


def resolve_case(job_id: str, rt: Runtime | None = None, validated: str | None = None) -> dict[str, Any]:
    """Resolve the CRM case for the job, attach each technician note once and file the job report."""
    rt = rt or get_runtime()
    snap = load_validated(job_id, validated, rt.engine, accounting_system=rt.settings.accounting_system)
    crm = rt.crm
    case = CaseResolution(job_id, snap.job.resolution or snap.job.description, snap.job.closed_at)
    ticket = rt.ledger.run(
        f"{crm.system}:ticket:{job_id}", system=crm.system, kind="resolve_case", job_id=job_id,
        payload={"resolution": case.resolution, "closed_at": case.closed_at.isoformat()},
        lookup=lambda: None,  # a PATCH by unique property is idempotent: repeating it is the lookup
        write=lambda _existing: resolve_or_open(rt, case, snap.job.description),
        summarize=lambda r: {"ticket_id": r.id},
        mutable=True,
    )
    note_ids = []
    for note in snap.notes:
        payload = CaseNote(f"fb-note-{note.id}", note.body, note.created_at)
        outcome = rt.ledger.run(
            f"{crm.system}:note:{note.id}", system=crm.system, kind="add_note", job_id=job_id,
            payload={"body": note.body},
            lookup=lambda p=payload: crm.find_note(p.key, ticket.vendor_id),
            write=lambda existing, p=payload: (crm.update_note(existing.id, p) if existing is not None
                                               else crm.add_note(ticket.vendor_id, p)),
            summarize=lambda r: {"note_id": r.id},
            mutable=True,  # an edited note is updated in the CRM, not duplicated and not left stale
        )
        note_ids.append(outcome.vendor_id)
    out = {"system": crm.system, "ticket_id": ticket.vendor_id, "note_ids": note_ids}
    if job_report.files_reports(rt):
        out["report_id"] = job_report.file_report(rt, snap, str(ticket.vendor_id))
    return out


def upsert_hours(job_id: str, rt: Runtime | None = None, validated: str | None = None) -> dict[str, Any]:
    """Recompute and upsert every workday of every workweek the job's entries touch."""
    rt = rt or get_runtime()
    snap = load_validated(job_id, validated, rt.engine, accounting_system=rt.settings.accounting_system)
    ps = payroll_settings(rt.settings)
    payroll = rt.payroll
    sheets = []
    current = affected_weeks(snap.entries, ps)
    for technician_id, week_start in sorted(current | _paid_weeks(rt, job_id)):
        sheets.extend(upsert_week(rt, technician_id, week_start, ps))
    _remember_paid_weeks(rt, job_id, current)
    return {"system": payroll.system, "timesheets": sheets}


def upsert_week(rt: Runtime, technician_id: str, week_start: date, ps: PayrollSettings) -> list[dict[str, Any]]:
    """Compute and write one technician's week under one lock: two jobs of the same technician must not each
    write a total computed before the other's hours were validated (last writer would win with stale hours)."""
    with rt.ledger.locked(week_lock_key(rt, technician_id, week_start)):
        return _upsert_week(rt, technician_id, week_start, ps)


def week_lock_key(rt: Runtime, technician_id: str, week_start: date) -> str:
    return f"{rt.payroll.system}:week:{technician_id}:{week_start.isoformat()}"


@dataclass(frozen=True)
class DayEffect:
    """One technician-day's sheet as a ledger effect: its key, what is fingerprinted, the day to write."""

    key: str
    technician_id: str
    day: Any  # TimesheetDay
    payload: dict[str, Any]

    def summary(self, record: VendorRecord) -> dict[str, Any]:
        d = self.day
        return {"timesheet_id": record.id, "technician_id": self.technician_id, "workday": d.workday.isoformat(),
                "regular": str(d.regular_hours), "overtime": str(d.overtime_hours),
                "double_time": str(d.double_time_hours), "travel": str(d.travel_hours),
                "paid_breaks": str(d.paid_break_hours), "notes": list(d.notes)}


def day_effects(rt: Runtime, technician_id: str, week_start: date, ps: PayrollSettings) -> list[DayEffect]:
    """The week recomputed from its validated entries, as one effect per day that has hours or was sent."""
    try:
        days = week_timesheets(technician_id, week_start, ps, rt.engine)
    except HoursInputError as exc:
        raise DataError("fieldbridge", f"hours of {technician_id} for the week of {week_start} cannot be "
                        f"computed: {exc}") from exc
    out = []
    for day in days:
        key = f"{rt.payroll.system}:timesheet:{day.key}"
        if day.is_empty and rt.ledger.get(key) is None:
            continue  # no hours and never sent: nothing to clear
        out.append(DayEffect(key, technician_id, day, {
            "regular": day.regular_hours, "overtime": day.overtime_hours, "double_time": day.double_time_hours,
            "travel": day.travel_hours, "paid_breaks": day.paid_break_hours,
            "start": day.shift_start.isoformat(), "end": day.shift_end.isoformat()}))
    return out


def write_day(rt: Runtime, effect: DayEffect) -> dict[str, Any]:
    """One day's sheet through the ledger: created, or updated with the version our last write returned."""
    payroll = rt.payroll
    outcome = rt.ledger.run(
        effect.key, system=payroll.system, kind="timesheet", job_id=None, payload=effect.payload,
        lookup=lambda: payroll.find_timesheet(effect.day),
        write=lambda existing: payroll.upsert_timesheet(effect.day, existing),
        summarize=effect.summary,
        mutable=True,
        trust_last_write=True,  # a technician's day is rewritten as each job closes: no read before each
    )
    return {**outcome.summary, "written": outcome.written}


def _upsert_week(rt: Runtime, technician_id: str, week_start: date, ps: PayrollSettings) -> list[dict[str, Any]]:
    """Recompute one technician's workweek from its validated entries and upsert each day."""
    return [write_day(rt, effect) for effect in day_effects(rt, technician_id, week_start, ps)]


def _paid_weeks(rt: Runtime, job_id: str) -> set[tuple[str, date]]:
    with Session(rt.engine) as s:
        row = s.get(ValidatedJob, job_id)
    return {(t, date.fromisoformat(w)) for t, w in json.loads(row.paid_weeks)} if row else set()


def _remember_paid_weeks(rt: Runtime, job_id: str, weeks: set[tuple[str, date]]) -> None:
    with Session(rt.engine) as s:
        row = s.get(ValidatedJob, job_id)
        if row is not None:
            row.paid_weeks = json.dumps(sorted([t, w.isoformat()] for t, w in weeks))
            s.add(row)
            s.commit()


def _vendor_ref(rt: Runtime, entity: str, canonical_id: str) -> str | None:
    with Session(rt.engine) as s:
        return s.exec(select(ExternalRef.vendor_id).where(
            ExternalRef.system == rt.accounting.system, ExternalRef.entity == entity,
            ExternalRef.canonical_id == canonical_id)).first()


def _remember_ref(rt: Runtime, entity: str, canonical_id: str, vendor_id: str) -> None:
    with Session(rt.engine) as s:
        s.add(ExternalRef(system=rt.accounting.system, entity=entity, canonical_id=canonical_id, vendor_id=vendor_id))
        try:
            s.commit()
        except IntegrityError:
            s.rollback()


def _ensure(rt: Runtime, entity: str, canonical_id: str, lookup: Any, create: Any,
            known_ids: dict[tuple[str, str], str] | None = None) -> str:
    """An accounting master record (customer, item) created at most once, remembered in the id map (and in
    `known_ids`, a batch's memo, so 500 jobs of one customer read the map once)."""
    if known_ids is not None and (entity, canonical_id) in known_ids:
        return known_ids[(entity, canonical_id)]
    vendor_id = _ensure_once(rt, entity, canonical_id, lookup, create)
    if known_ids is not None:
        known_ids[(entity, canonical_id)] = vendor_id
    return vendor_id


def _ensure_once(rt: Runtime, entity: str, canonical_id: str, lookup: Any, create: Any) -> str:
    known = _vendor_ref(rt, entity, canonical_id)
    if known:
        return known
    acc = rt.accounting
    key = f"{acc.system}:{entity}:{canonical_id}"
    outcome = rt.ledger.run(
        key, system=acc.system, kind=entity, job_id=None, payload={"id": canonical_id}, lookup=lookup,
        write=lambda _e: create(rt.ledger.attempt_key(key)), summarize=lambda r: {"id": r.id},
    )
    assert outcome.vendor_id is not None
    _remember_ref(rt, entity, canonical_id, outcome.vendor_id)
    return outcome.vendor_id


@dataclass(frozen=True)
class PreparedInvoice:
    """A job's invoice ready to write: the draft, the vendor ids it references, its ledger key and payload."""

    job_id: str
    draft: InvoiceDraft
    customer_id: str
    item_ids: dict[str, str]
    key: str
    payload: dict[str, Any]


def prepare_invoice(rt: Runtime, snap: Any, known_ids: dict[tuple[str, str], str] | None = None) -> PreparedInvoice:
    """Build the draft and ensure the customer and items it references (each created at most once)."""
    st = rt.settings
    acc = rt.accounting
    draft = build_invoice(snap, tax_rate=Decimal(st.tax_rate), currency=st.currency,
                          labour_item=st.labour_item_code, labour_taxable=st.labour_taxable,
                          timezone=st.company_timezone)
    customer_id = _ensure(rt, "customer", snap.customer.id, lambda: acc.find_customer(draft.customer),
                          lambda request_key: acc.create_customer(draft.customer, request_key), known_ids)
    item_ids: dict[str, str] = {}
    for code in sorted({line.item_code for line in draft.lines}):
        if not acc.uses_items:  # lines carry description and account only (e.g. Xero): no item records
            item_ids[code] = code
            continue
        book = snap.price_book.get(code)
        name, price = (book.name, book.unit_price) if book else SPECIAL_ITEMS.get(code, ("Field labour", Decimal(0)))
        item_ids[code] = _ensure(rt, "item", code, lambda c=code: acc.find_item(c),
                                 lambda request_key, c=code, n=name, p=price: acc.create_item(c, n, p, request_key),
                                 known_ids)
    payload = {"lines": [(ln.item_code, ln.quantity, ln.unit_price, ln.amount) for ln in draft.lines],
               "tax": draft.tax, "customer": customer_id}
    return PreparedInvoice(snap.job.id, draft, customer_id, item_ids, f"{acc.system}:invoice:{snap.job.id}", payload)


def invoice_summary(record: VendorRecord, draft: InvoiceDraft) -> dict[str, Any]:
    return {"invoice_id": record.id, "number": record.number, "total": str(record.total), "currency": draft.currency}


def create_invoice(job_id: str, rt: Runtime | None = None, validated: str | None = None) -> dict[str, Any]:
    """Create the job's invoice once; the customer and items it references are ensured first."""
    rt = rt or get_runtime()
    snap = load_validated(job_id, validated, rt.engine, accounting_system=rt.settings.accounting_system)
    acc = rt.accounting
    prepared = prepare_invoice(rt, snap)
    draft, customer_id, item_ids, key = prepared.draft, prepared.customer_id, prepared.item_ids, prepared.key
    updated = False
    wrote: list[VendorRecord] = []  # the invoice as this run's write returned it

    def write(existing: VendorRecord | None) -> VendorRecord:
        record = _write(existing)
        if record is not existing:
            wrote.append(record)
        return record

    def _write(existing: VendorRecord | None) -> VendorRecord:
        nonlocal updated
        if existing is None:
            return acc.create_invoice(draft, customer_id, item_ids, rt.ledger.attempt_key(key))
        if acc.invoice_matches(existing, draft, customer_id, item_ids):
            return existing  # an earlier attempt landed (or nothing billable changed): write nothing
        reason = acc.invoice_lock_reason(existing)
        if reason is not None:
            raise InvoiceNeedsReview(acc.system, job_id, existing, draft, reason)
        updated = True
        # its own requestid: QuickBooks would answer a reused one with the create's original response
        revision_key = f"{rt.ledger.attempt_key(key)}:revise:{payload_hash(prepared.payload)}"
        return acc.revise_invoice(existing, draft, customer_id, item_ids, revision_key)

    outcome = rt.ledger.run(
        key, system=acc.system, kind="invoice", job_id=job_id, payload=prepared.payload,
        lookup=lambda: acc.find_invoice(draft.doc_number),
        write=write,
        summarize=lambda r: invoice_summary(r, draft),
        mutable=True,  # an edit after closing updates the invoice while it is unsent and unpaid
    )
    return finish_invoice(rt, prepared, outcome, updated, wrote[-1] if wrote else None)


def finish_invoice(rt: Runtime, prepared: PreparedInvoice, outcome: Any, updated: bool,
                   just_written: VendorRecord | None, sent: str | None = None) -> dict[str, Any]:
    """After the invoice effect: send it (its own effect; `sent` when the bulk path already did) and say what
    was posted."""
    draft = prepared.draft
    result = {"system": rt.accounting.system, **outcome.summary, "expected_total": str(draft.total),
              "written": outcome.written, "updated": updated}
    if rt.settings.send_invoices:
        result["sent"] = sent or _send_invoice(rt, prepared.job_id, outcome.vendor_id, draft, just_written)
        result["sent_to"] = draft.customer.email if result["sent"].startswith("sent") else None
    if Decimal(result["total"]) != draft.total:
        # e.g. the company has automated sales tax on and QuickBooks recomputed it: finance should know
        log.warning("invoice %s total %s differs from the computed %s", draft.doc_number, result["total"], draft.total)
        result["total_mismatch"] = True
    return result


def _send_invoice(rt: Runtime, job_id: str, invoice_id: str | None, draft: InvoiceDraft,
                  just_written: VendorRecord | None = None) -> str:
    """Email the invoice once — its own ledgered effect after creation. Unless this run has just written the
    invoice (then the vendor's answer is the invoice, unsent: no read needed — one call fewer per job), it is
    read first and not sent again if it already went out: a lost answer, a person who sent it by hand, or
    sending switched on after the invoice was made."""
    acc = rt.accounting
    to = draft.customer.email
    if not to:
        return "not sent: the customer has no email address"
    key = send_key(acc.system, job_id)
    already = {"sent": False}

    def current() -> VendorRecord | None:
        return acc.find_invoice(draft.doc_number)

    def lookup() -> VendorRecord | None:
        found = current()
        return found if found is not None and acc.invoice_sent(found) else None

    def write(existing: VendorRecord | None) -> VendorRecord:
        invoice = existing or just_written or current()
        if invoice is None:
            raise DataError(acc.system, f"invoice {draft.doc_number} ({invoice_id}) is not at the vendor to send")
        if acc.invoice_sent(invoice):
            already["sent"] = True
            return invoice
        return acc.send_invoice(invoice, to, rt.ledger.attempt_key(key))

    outcome = rt.ledger.run(key, system=acc.system, kind="invoice_send", job_id=job_id, payload={"to": to},
                            lookup=lookup, write=write,
                            summarize=lambda r: {"sent_to": to, "already_sent": already["sent"]})
    if outcome.written and not already["sent"]:
        return f"sent to {to}"
    if outcome.written:
        return "already sent from the accounting system: not sent again"
    return f"sent to {outcome.summary.get('sent_to', to)} earlier"


def send_key(system: str, job_id: str) -> str:
    return f"{system}:invoice-send:{job_id}"


class InvoiceNeedsReview(DataError):
    """The job changed after its invoice was sent or paid: finance decides (credit memo, new invoice, nothing)."""

    def __init__(self, system: str, job_id: str, current: VendorRecord, draft: InvoiceDraft, reason: str) -> None:
        self.job_id, self.current, self.draft, self.reason = job_id, current, draft, reason
        super().__init__(system, f"invoice {current.number or current.id} for job {job_id} is {reason}; the job "
                         f"changed since (total now {draft.total} {draft.currency}, invoiced {current.total}): "
                         "review it in the accounting system — fieldbridge will not change it")

    def markdown(self) -> str:
        lines = [f"# Invoice {self.current.number or self.current.id} needs review", "",
                 f"Job **{self.job_id}** changed in the field-service system after its invoice was created, and "
                 f"the invoice is **{self.reason}**, so fieldbridge did not change it. Decide in the accounting "
                 "system: a credit memo, a supplementary invoice, or nothing.", "",
                 f"- invoiced total: **{self.current.total}**", f"- total from the job as it is now: "
                 f"**{self.draft.total} {self.draft.currency}** (tax {self.draft.tax})", "",
                 "| line now | item | qty | unit price | amount |", "|---|---|---|---|---|"]
        lines += [f"| {ln.description} | {ln.item_code} | {ln.quantity} | {ln.unit_price} | {ln.amount} |"
                  for ln in self.draft.lines]
        return "\n".join(lines)
