"""Build the invoice for a job: labour, parts, expenses and tax, in Decimal, half-up to the cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pendulum

from connectors.contract.records import BillingCustomer, InvoiceDraft, InvoiceLine
from models.canonical import EntryKind
from tasks.snapshot import JobSnapshot

CENT = Decimal("0.01")
HOURS = Decimal("0.01")  # billed hours are rounded to 0.01 h before pricing


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def billing_customer(snap: JobSnapshot) -> BillingCustomer:
    c = snap.customer
    return BillingCustomer(c.id, c.name, c.email, c.bill_line1, c.bill_city, c.bill_state, c.bill_postal_code)


def build_invoice(
    snap: JobSnapshot,
    *,
    tax_rate: Decimal,
    currency: str,
    labour_item: str,
    labour_taxable: bool,
    timezone: str,
) -> InvoiceDraft:
    """One labour line per technician (billable work time × their bill rate), then parts, then expenses."""
    lines: list[InvoiceLine] = []
    seconds_by_tech: dict[str, int] = {}
    for entry in snap.entries:
        if entry.kind == EntryKind.WORK and entry.billable:
            seconds = int((entry.end - entry.start).total_seconds())
            seconds_by_tech[entry.technician_id] = seconds_by_tech.get(entry.technician_id, 0) + seconds
    for tech_id in sorted(seconds_by_tech):
        tech = snap.technicians[tech_id]
        hours = (Decimal(seconds_by_tech[tech_id]) / Decimal(3600)).quantize(HOURS, rounding=ROUND_HALF_UP)
        lines.append(InvoiceLine("labour", f"Labour — {tech.name} ({hours} h)", labour_item, hours,
                                 tech.bill_rate, cents(hours * tech.bill_rate), labour_taxable))
    for part in snap.parts:
        item = snap.price_book[part.sku]
        lines.append(InvoiceLine("part", item.name, part.sku, part.quantity, part.unit_price,
                                 cents(part.quantity * part.unit_price), item.taxable))
    for expense in snap.expenses:
        if expense.billable:
            lines.append(InvoiceLine("expense", expense.description, "EXPENSE", Decimal(1), expense.amount,
                                     cents(expense.amount), False))
    taxable = sum((line.amount for line in lines if line.taxable), Decimal(0))
    tax = cents(taxable * tax_rate)
    subtotal = sum((line.amount for line in lines), Decimal(0))
    closed = snap.job.closed_at or snap.loaded_at
    return InvoiceDraft(
        job_id=snap.job.id,
        doc_number=snap.job.id,
        txn_date=pendulum.instance(closed).in_timezone(timezone).date(),
        currency=currency,
        customer=billing_customer(snap),
        lines=tuple(lines),
        tax=tax,
        total=subtotal + tax,
        memo=f"Field-service job {snap.job.id}: {snap.job.description}",
    )
