"""The vendor-neutral records the roles exchange: what we ask a vendor to write, what it gave back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class VendorRecord:
    """What a vendor returned for a write or a lookup: its id plus what we show users."""

    id: str
    number: str | None = None  # invoice DocNumber etc.
    version: str | None = None  # SyncToken / version for optimistic locking
    total: Decimal | None = None
    status: str | None = None  # the vendor's state in plain words, e.g. "resolved", "open", "sent"
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class CaseResolution:
    job_id: str
    resolution: str
    closed_at: datetime


@dataclass(frozen=True)
class IntakeContact:
    """The customer a CRM case belongs to (the case's primary contact), with the address to visit."""

    vendor_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    line1: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True)
class IntakeCase:
    """A CRM case that asks for a visit (intake): new, changed, or closed/cancelled before the visit."""

    case_id: str
    job_id: str | None  # the job id already stamped on the case, if fieldbridge made a job of it before
    subject: str
    description: str
    open: bool  # False: closed or cancelled in the CRM
    modified_at: datetime
    contact: IntakeContact | None


@dataclass(frozen=True)
class CaseBrief:
    """One of a customer's CRM cases, as a pre-visit brief lists it."""

    case_id: str
    subject: str
    open: bool
    modified_at: datetime | None


@dataclass(frozen=True)
class CustomerContext:
    """What the CRM knows about a customer before a visit: preferences, the contract and its service level,
    the open cases and the most recent ones."""

    contact_id: str
    name: str
    preferences: str | None = None
    company: str | None = None
    service_level: str | None = None
    contract: str | None = None
    open_cases: tuple[CaseBrief, ...] = ()
    recent_cases: tuple[CaseBrief, ...] = ()


@dataclass(frozen=True)
class CaseVisit:
    """A dispatcher's assignment, shown on the job's CRM case: who comes, when (None: the visit was cancelled)."""

    job_id: str
    technician: str  # the technician's name, as the customer's contact sees it
    start: datetime | None
    end: datetime | None
    owner_id: str | None = None  # the technician's CRM user (FIELDBRIDGE_CRM_OWNERS): the case's owner


@dataclass(frozen=True)
class CaseNote:
    key: str  # deterministic, e.g. "note-N1042-1": the CRM's unique property value
    body: str
    timestamp: datetime


@dataclass(frozen=True)
class JobReport:
    """A closed job's report for the customer's profile: the work done, parts, time on site and the technicians'
    notes, as plain text. One per job (`key`); an edited job updates it."""

    key: str  # deterministic, "fb-report-J1042": the CRM's unique marker of the report
    job_id: str
    title: str
    body: str
    timestamp: datetime


@dataclass(frozen=True)
class ReportRequest:
    """One report of a batch: the case (vendor id) it is filed with and the report."""

    case_id: str
    report: JobReport


@dataclass(frozen=True)
class TimesheetDay:
    """One technician's hours for one workday, recomputed from the whole workweek."""

    key: str  # e.g. "T03:2026-11-29"
    employee_id: str
    workday: date
    timezone: str
    shift_start: datetime
    shift_end: datetime
    regular_hours: Decimal
    overtime_hours: Decimal
    double_time_hours: Decimal
    travel_hours: Decimal
    paid_break_hours: Decimal = Decimal("0.00")  # rest periods and short gaps inside the paid hours
    notes: tuple[str, ...] = ()  # why each break, meal, gap, wait or commute was paid or not

    @property
    def is_empty(self) -> bool:
        """No paid hours: a sheet sent earlier for this day must be cleared to zero."""
        return not (self.regular_hours or self.overtime_hours or self.double_time_hours)


@dataclass(frozen=True)
class BillingCustomer:
    canonical_id: str
    display_name: str
    email: str | None
    line1: str | None
    city: str | None
    state: str | None
    postal_code: str | None


@dataclass(frozen=True)
class InvoiceLine:
    kind: str  # labour | part | expense
    description: str
    item_code: str  # accounting item to post against (price-book SKU or the labour item)
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    taxable: bool


@dataclass(frozen=True)
class InvoiceDraft:
    job_id: str
    doc_number: str
    txn_date: date
    currency: str
    customer: BillingCustomer
    lines: tuple[InvoiceLine, ...]
    tax: Decimal
    total: Decimal
    memo: str = ""


@dataclass(frozen=True)
class InvoiceRequest:
    """One invoice of a batch create: what `Accounting.create_invoice` takes, as one value."""

    draft: InvoiceDraft
    customer_id: str
    item_ids: dict[str, str]
    idempotency_key: str


@dataclass(frozen=True)
class NoteRequest:
    """One note of a batch create: the case (vendor id) it belongs on and the note."""

    case_id: str
    note: CaseNote


@dataclass(frozen=True)
class TimeOff:
    """Approved (or requested, cancelled…) leave of an employee, as the HR system holds it."""

    vendor_id: str
    employee_id: str  # the HR system's employee id (Technician.hr_id / payroll_id)
    start: date
    end: date  # inclusive
    kind: str  # "Vacation", "Sick", …
    status: str  # approved | requested | denied | canceled | superceded
    amount: Decimal | None = None
    unit: str | None = None  # days | hours
    days: tuple[tuple[date, Decimal], ...] = ()  # per day, in `unit` (a half day, 4 hours …); () = every day whole


@dataclass(frozen=True)
class OutboundEvent:
    """A canonical event for custom systems, in the open API's envelope; `id` is stable for the same
    content, so a retry or a rerun carries the same id and receivers can deduplicate."""

    id: str
    type: str  # job.closed | case.resolved | hours.logged | invoice.created
    occurred_at: datetime
    data: dict[str, Any]

    def envelope(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "occurred_at": self.occurred_at.isoformat(), "data": self.data}


# -- what reconciliation reads back: one row per vendor record, in the vendor's own words ------------------


@dataclass(frozen=True)
class CaseSummary:
    """A CRM case as the CRM holds it, for the nightly comparison."""

    id: str
    job_id: str | None  # the job the case belongs to (its external id), None when the case has none
    resolved: bool
    modified_at: datetime | None = None


@dataclass(frozen=True)
class TimesheetSummary:
    """One technician's paid hours for one workday, as the payroll system holds them."""

    id: str
    employee_id: str
    workday: date
    hours: Decimal  # regular + overtime + double time (travel and paid breaks are inside them)
    key: str | None = None  # fieldbridge's key ("T03:2026-11-29") when the record carries it


@dataclass(frozen=True)
class InvoiceSummary:
    """An invoice as the accounting system holds it."""

    id: str
    doc_number: str | None  # fieldbridge numbers invoices by job id
    customer_id: str | None  # the accounting system's customer id
    total: Decimal
    sent: bool
    status: str | None = None  # the vendor's word: draft, open, paid, voided…
    modified_at: datetime | None = None


@dataclass(frozen=True)
class SourceProblem:
    """Something of a field-service job fieldbridge cannot map (an unknown user, a product without a SKU): the
    job is quarantined with it, never guessed. `record` names the vendor's record so a person can find it."""

    record: str
    message: str


@dataclass(frozen=True)
class SourceItem:
    """What a field-service webhook's item comes down to: the vendor's job it belongs to, or — when the item is
    gone (a deleted time sheet entry) — the fieldbridge record (`table`, id) whose job the core looks up, or
    why there is nothing to do."""

    job: str | None = None
    gone: tuple[str, str] | None = None
    ignored: str | None = None


@dataclass(frozen=True)
class PriceBook:
    """The price book as a field-service connector maps line items onto it: SKUs, and item names (lower case)."""

    skus: frozenset[str]
    names: Mapping[str, str]  # lower-cased name → SKU


@dataclass(frozen=True)
class SourceJob:
    """A job read from a field-service system. `snapshot` is the open-API `JobSnapshot` (models/fsm_events.py)
    when every record could be mapped; otherwise `problems` say what could not."""

    job_id: str  # fieldbridge's job id
    vendor_id: str
    closed: bool  # the work is done (the vendor's closed states)
    snapshot: dict[str, Any] | None
    problems: tuple[SourceProblem, ...] = ()
    refs: tuple[tuple[str, str, str], ...] = ()  # (entity, fieldbridge id, vendor id) to remember
    label: str = ""  # how the vendor names the job ("Jobber job #1001")
    url: str | None = None
    read_at: datetime | None = None  # when the read began: a read that began later is at least as new
