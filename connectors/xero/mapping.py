"""Canonical ↔ Xero payloads. Pure functions.

Xero invoice lines carry a description, quantity, unit amount and account — no item records — so
`uses_items` is False. Xero would compute tax from the organisation's rates; fieldbridge sends each
taxable line's TaxAmount, allocated so their sum is exactly the tax fieldbridge computed (half-up on the
taxable subtotal), and the invoice total at Xero equals ours to the cent. Customers are Contacts linked
by `ContactNumber` = fieldbridge's customer id.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.contract import BillingCustomer, InvoiceDraft, InvoiceSummary, VendorRecord
from connectors.contract.times import parse_instant

CENT = Decimal("0.01")


def contact_body(customer: BillingCustomer) -> dict[str, Any]:
    body: dict[str, Any] = {"Name": customer.display_name, "ContactNumber": customer.canonical_id}
    if customer.email:
        body["EmailAddress"] = customer.email
    if customer.line1:
        body["Addresses"] = [{"AddressType": "POBOX", "AddressLine1": customer.line1, "City": customer.city or "",
                              "Region": customer.state or "", "PostalCode": customer.postal_code or ""}]
    return body


def allocate_tax(draft: InvoiceDraft) -> list[Decimal]:
    """Per-line TaxAmount: proportional to each taxable line, remainders by largest fraction, summing to
    exactly `draft.tax` (so Xero's Total equals fieldbridge's)."""
    taxable = [(n, line.amount) for n, line in enumerate(draft.lines) if line.taxable]
    out = [Decimal("0.00")] * len(draft.lines)
    base = sum((amount for _, amount in taxable), Decimal(0))
    if not taxable or base == 0 or draft.tax == 0:
        return out
    shares = [(n, draft.tax * amount / base) for n, amount in taxable]
    floors = {n: share.quantize(CENT, rounding="ROUND_DOWN") for n, share in shares}
    left = int(((draft.tax - sum(floors.values())) / CENT).to_integral_value(ROUND_HALF_UP))
    for n, _ in sorted(shares, key=lambda s: (s[1] - floors[s[0]], -s[0]), reverse=True)[:left]:
        floors[n] += CENT
    for n, value in floors.items():
        out[n] = value
    return out


def line_items(draft: InvoiceDraft, account: str, taxable_type: str, exempt_type: str) -> list[dict[str, Any]]:
    taxes = allocate_tax(draft)
    return [{"Description": line.description[:4000], "Quantity": line.quantity, "UnitAmount": line.unit_price,
             "LineAmount": line.amount, "AccountCode": account,
             "TaxType": taxable_type if line.taxable else exempt_type, "TaxAmount": tax}
            for line, tax in zip(draft.lines, taxes, strict=True)]


def invoice_body(draft: InvoiceDraft, contact_id: str, account: str, taxable_type: str, exempt_type: str,
                 due_days: int) -> dict[str, Any]:
    return {
        "Type": "ACCREC", "Contact": {"ContactID": contact_id}, "InvoiceNumber": draft.doc_number,
        "Reference": draft.job_id, "Date": draft.txn_date.isoformat(),
        "DueDate": (draft.txn_date + timedelta(days=due_days)).isoformat(), "LineAmountTypes": "Exclusive",
        "LineItems": line_items(draft, account, taxable_type, exempt_type), "Status": "AUTHORISED",
        "CurrencyCode": draft.currency,
    }


def _line_key(line: dict[str, Any]) -> tuple[Any, ...]:
    return (line.get("Description") or "", Decimal(str(line.get("Quantity"))), Decimal(str(line.get("UnitAmount"))),
            Decimal(str(line.get("LineAmount"))), Decimal(str(line.get("TaxAmount") or 0)))


def invoice_matches(doc: dict[str, Any], draft: InvoiceDraft, contact_id: str, account: str, taxable_type: str,
                    exempt_type: str) -> bool:
    wanted = line_items(draft, account, taxable_type, exempt_type)
    return ([_line_key(x) for x in doc.get("LineItems", [])] == [_line_key(x) for x in wanted]
            and (doc.get("Contact") or {}).get("ContactID") == contact_id
            and str(doc.get("DateString", doc.get("Date", "")))[:10] == draft.txn_date.isoformat())


def lock_reason(doc: dict[str, Any]) -> str | None:
    if doc.get("SentToContact"):
        return "already sent to the customer"
    paid = Decimal(str(doc.get("AmountPaid") or 0))
    if paid > 0:
        return f"already paid {paid} of {doc.get('Total')}"
    if doc.get("Status") in ("PAID", "VOIDED", "DELETED"):
        return f"{str(doc['Status']).lower()}"
    return None


def invoice_summary(doc: dict[str, Any]) -> InvoiceSummary:
    return InvoiceSummary(
        id=str(doc["InvoiceID"]), doc_number=doc.get("InvoiceNumber"),
        customer_id=str((doc.get("Contact") or {}).get("ContactID") or "") or None,
        total=Decimal(str(doc.get("Total", "0"))), sent=bool(doc.get("SentToContact")),
        status=str(doc.get("Status", "")).lower() or None, modified_at=parse_date(doc.get("UpdatedDateUTC")))


def parse_date(value: Any) -> datetime | None:
    """Xero writes dates as `/Date(1700000000000+0000)/` (milliseconds since the epoch) or ISO 8601."""
    if not value:
        return None
    found = re.match(r"/Date\((-?\d+)([+-]\d{4})?\)/", str(value))
    if found:
        return datetime.fromtimestamp(int(found.group(1)) / 1000, UTC)
    return parse_instant(value) or datetime.fromisoformat(str(value)).replace(tzinfo=UTC)  # naive: Xero means UTC


def invoice_record(doc: dict[str, Any]) -> VendorRecord:
    return VendorRecord(id=str(doc["InvoiceID"]), number=doc.get("InvoiceNumber"),
                        version=str(doc.get("UpdatedDateUTC")), total=Decimal(str(doc.get("Total", "0"))),
                        status="sent" if doc.get("SentToContact") else str(doc.get("Status", "")).lower(), raw=doc)


def contact_record(doc: dict[str, Any]) -> VendorRecord:
    return VendorRecord(id=str(doc["ContactID"]), raw=doc)


def where_equals(field: str, value: str) -> str:
    """A Xero `where` clause; the value is quoted with embedded quotes escaped."""
    return f'{field}=="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
