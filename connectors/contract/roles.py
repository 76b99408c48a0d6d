"""The roles a connector plays, as typing Protocols. The core calls only these; a vendor package
implements one or more of them (see docs/connectors.md, "write your own connector")."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from connectors.contract.errors import ConnectorError
from connectors.contract.records import (
    BillingCustomer,
    CaseNote,
    CaseResolution,
    CaseSummary,
    CaseVisit,
    CustomerContext,
    IntakeCase,
    InvoiceDraft,
    InvoiceRequest,
    InvoiceSummary,
    JobReport,
    NoteRequest,
    OutboundEvent,
    PriceBook,
    ReportRequest,
    SourceItem,
    SourceJob,
    TimeOff,
    TimesheetDay,
    TimesheetSummary,
    VendorRecord,
)


class Connector(Protocol):
    system: str  # the plugin name, e.g. "hubspot": part of every effect key

    def record_url(self, kind: str, vendor_id: str) -> str | None:
        """Where a person finds a record (the vendor's app, or its API for a sandbox)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class CRM(Connector, Protocol):
    """Resolves the job's case and keeps the technician's notes on it."""

    def resolve_case(self, case: CaseResolution) -> VendorRecord: ...

    def find_note(self, key: str, case_id: str | None = None) -> VendorRecord | None:
        """The note written under `key` (on case `case_id`, for CRMs that can only search a case's notes)."""
        ...

    def add_note(self, case_id: str, note: CaseNote) -> VendorRecord: ...

    def update_note(self, note_id: str, note: CaseNote) -> VendorRecord: ...

    def open_case(self, job_id: str, subject: str, content: str) -> VendorRecord:
        """Create the case a job comes from (intake and the demo); an existing one is returned."""
        ...

    def find_case(self, job_id: str) -> VendorRecord | None: ...

    def list_cases(self, modified_since: datetime) -> Iterator[list[CaseSummary]]:
        """Every case changed since then, one page at a time (reconciliation: the caller shows progress)."""
        ...


@runtime_checkable
class Payroll(Connector, Protocol):
    """Holds each technician's hours per workday, as state: upserted, never appended."""

    def find_timesheet(self, day: TimesheetDay) -> VendorRecord | None: ...

    def upsert_timesheet(self, day: TimesheetDay, existing: VendorRecord | None) -> VendorRecord: ...

    def list_timesheets(self, start: date, end: date,
                        employee_ids: Sequence[str] = ()) -> Iterator[list[TimesheetSummary]]:
        """Every workday sheet dated start..end (inclusive), one page at a time; `employee_ids` narrows it
        where the vendor can only list named employees."""
        ...


@runtime_checkable
class Accounting(Connector, Protocol):
    """Invoices the job: customer and items ensured, invoice created, revised while open, sent."""

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

    #: whether invoice lines reference vendor items that must exist first (QuickBooks) or carry only
    #: description and account (Xero): when False, find_item/create_item are never called
    uses_items: bool

    def create_item(self, code: str, name: str, unit_price: Decimal, idempotency_key: str) -> VendorRecord: ...

    def send_invoice(self, invoice: VendorRecord, to: str | None, idempotency_key: str) -> VendorRecord:
        """Deliver the invoice to the customer (the vendor's own email)."""
        ...

    def invoice_sent(self, invoice: VendorRecord) -> bool:
        """Whether the vendor says the invoice already went to the customer."""
        ...

    def list_invoices(self, modified_since: datetime) -> Iterator[list[InvoiceSummary]]:
        """Every sales invoice changed since then, one page at a time."""
        ...

    def summarize_invoice(self, invoice: VendorRecord) -> InvoiceSummary:
        """An invoice found by `find_invoice`, in the listing's terms."""
        ...


#: one item's answer inside a batch: the record written, or that item's own rejection (the others still count)
BatchResult = VendorRecord | ConnectorError


@runtime_checkable
class BatchCRM(CRM, Protocol):
    """A CRM with batch writes (HubSpot's batch update/create, 100 inputs): the bulk path sends many cases or
    notes per request. Each answer list is in the order of the inputs; an item the vendor rejected is its error,
    a failure of the whole request raises. A CRM without it is written one record at a time."""

    batch_limit: int

    def resolve_cases(self, cases: Sequence[CaseResolution]) -> list[BatchResult]: ...

    def add_notes(self, notes: Sequence[NoteRequest]) -> list[BatchResult]:
        """Create notes once. Not replay-safe: a lost answer raises UnknownOutcomeError and the ledger
        looks each note up by its key before anything is written again."""
        ...


@runtime_checkable
class ReportingCRM(CRM, Protocol):
    """A CRM that files each closed job's report on the customer's profile: with the case and on the customer's
    own person and organisation records, so whoever opens the customer sees the visit. Exactly once through the
    ledger: the report's key is findable, an edited job updates the report in place."""

    def find_report(self, key: str, case_id: str) -> VendorRecord | None:
        """The report filed under `key` for the case, or None."""
        ...

    def file_report(self, case_id: str, report: JobReport) -> VendorRecord:
        """File the report with the case and the customer's records it is linked to."""
        ...

    def update_report(self, existing: VendorRecord, case_id: str, report: JobReport) -> VendorRecord:
        """Rewrite a filed report (the job was edited); every record it is on shows the new text."""
        ...


@runtime_checkable
class BatchReportingCRM(ReportingCRM, Protocol):
    """Reports filed many per request (the bulk path). Not replay-safe: a lost answer raises UnknownOutcomeError
    and the ledger looks each report up before anything is written again."""

    batch_limit: int

    def file_reports(self, reports: Sequence[ReportRequest]) -> list[BatchResult]: ...


@runtime_checkable
class BatchAccounting(Accounting, Protocol):
    """Accounting with a batch endpoint (QuickBooks `/batch`, 30 operations, per-item Faults inside a 200)."""

    batch_limit: int

    def create_invoices(self, invoices: Sequence[InvoiceRequest]) -> list[BatchResult]: ...


@runtime_checkable
class SchedulingCRM(CRM, Protocol):
    """A CRM that shows the dispatcher's assignment on the case (technician, visit window); a CRM without it
    keeps the schedule in fieldbridge only."""

    def schedule_case(self, visit: CaseVisit) -> VendorRecord:
        """Set (or, with no start, clear) the case's scheduled visit; idempotent, never creates a case."""
        ...


@runtime_checkable
class IntakeCRM(CRM, Protocol):
    """A CRM whose cases become jobs (crm_intake): the cases that ask for a visit, changed since a moment, oldest
    first, a page at a time; and the job id stamped back on a case so the rest of the chain finds it."""

    def list_intake_cases(self, modified_since: datetime) -> Iterator[list[IntakeCase]]: ...

    def link_case(self, case_id: str, job_id: str) -> VendorRecord:
        """Stamp `job_id` on the case (idempotent)."""
        ...


@runtime_checkable
class ContextCRM(CRM, Protocol):
    """A CRM that tells a technician about the customer before the visit (customer_context)."""

    def customer_contexts(self, contact_ids: Sequence[str], last_cases: int) -> dict[str, CustomerContext]:
        """Contact id → its context; a contact the CRM no longer has is missing from the answer."""
        ...


@runtime_checkable
class HR(Connector, Protocol):
    """Who is out: approved leave and sick days, for technician availability."""

    def list_time_off(self, start: date, end: date, status: str = "approved") -> list[TimeOff]: ...

    def whos_out(self, start: date, end: date) -> list[TimeOff]: ...


@runtime_checkable
class EventSink(Connector, Protocol):
    """Custom systems that subscribe to fieldbridge's events (signed webhooks out)."""

    def targets(self) -> list[str]:
        """Where events go (one ledger effect per target and event)."""
        ...

    def deliver(self, target: str, event: OutboundEvent) -> VendorRecord: ...


@runtime_checkable
class FieldService(Connector, Protocol):
    """A field-service system fieldbridge reads closed jobs from (Jobber): a webhook says something changed, the
    connector reads the whole job and maps it onto the open API's snapshot, which then takes the ingress's path."""

    def locate(self, topic: str, item_id: str) -> SourceItem:
        """The job a webhook's item belongs to (a job, a visit, a time sheet entry …)."""
        ...

    def fetch_job(self, vendor_job_id: str, price_book: PriceBook) -> SourceJob | None:
        """The whole job, mapped; None when the vendor no longer has it."""
        ...
