"""Role protocols and the vendor-neutral payloads they take. A connector implements one role."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class VendorRecord:
    """What a vendor returned for a write or a lookup: its id plus what we show users."""

    id: str
    number: str | None = None  # invoice DocNumber etc.
    version: str | None = None  # SyncToken / version for optimistic locking
    total: Decimal | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class CaseResolution:
    job_id: str
    resolution: str
    closed_at: datetime


@dataclass(frozen=True)
class CaseNote:
    key: str  # deterministic, e.g. "note-N1042-1": the CRM's unique property value
    body: str
    timestamp: datetime


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


@runtime_checkable
class CRM(Protocol):
    system: str

    def resolve_case(self, case: CaseResolution) -> VendorRecord: ...

    def find_note(self, key: str) -> VendorRecord | None: ...

    def add_note(self, case_id: str, note: CaseNote) -> VendorRecord: ...

    def update_note(self, note_id: str, note: CaseNote) -> VendorRecord: ...


@runtime_checkable
class Payroll(Protocol):
    system: str

    def find_timesheet(self, day: TimesheetDay) -> VendorRecord | None: ...

    def upsert_timesheet(self, day: TimesheetDay, existing: VendorRecord | None) -> VendorRecord: ...


@runtime_checkable
class Accounting(Protocol):
    system: str

    def find_invoice(self, doc_number: str) -> VendorRecord | None: ...

    def create_invoice(self, draft: InvoiceDraft, customer_id: str, item_ids: dict[str, str],
                       idempotency_key: str) -> VendorRecord: ...

    def invoice_matches(self, current: VendorRecord, draft: InvoiceDraft, customer_id: str,
                        item_ids: dict[str, str]) -> bool: ...

    def invoice_lock_reason(self, current: VendorRecord) -> str | None:
        """Why the invoice may no longer be changed in place (sent, paid), or None while it may."""
        ...

    def revise_invoice(self, current: VendorRecord, draft: InvoiceDraft, customer_id: str, item_ids: dict[str, str],
                       idempotency_key: str) -> VendorRecord: ...

    def find_customer(self, customer: BillingCustomer) -> VendorRecord | None: ...

    def create_customer(self, customer: BillingCustomer, idempotency_key: str) -> VendorRecord: ...

    def find_item(self, code: str) -> VendorRecord | None: ...

    def create_item(self, code: str, name: str, unit_price: Decimal, idempotency_key: str) -> VendorRecord: ...
