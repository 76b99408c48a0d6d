"""Canonical ↔ QuickBooks Online payloads. Pure functions."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from connectors.contract.records import BillingCustomer, InvoiceDraft, InvoiceSummary, VendorRecord
from connectors.contract.times import parse_instant

_NAMESPACE = uuid.UUID("7d4f7a51-7f6e-4a55-9f5e-2f8a6c1b0e11")


def request_id(effect_key: str) -> str:
    """QuickBooks' `requestid` for an effect: deterministic, so a replay returns the first answer."""
    return str(uuid.uuid5(_NAMESPACE, effect_key))


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def invoice_body(draft: InvoiceDraft, customer_id: str, item_ids: dict[str, str]) -> dict[str, Any]:
    lines = [
        {
            "DetailType": "SalesItemLineDetail",
            "Amount": line.amount,
            "Description": line.description,
            "SalesItemLineDetail": {
                "ItemRef": {"value": item_ids[line.item_code]},
                "Qty": line.quantity,
                "UnitPrice": line.unit_price,
                "TaxCodeRef": {"value": "TAX" if line.taxable else "NON"},
            },
        }
        for line in draft.lines
    ]
    return {
        "DocNumber": draft.doc_number,
        "TxnDate": draft.txn_date.isoformat(),
        "CustomerRef": {"value": customer_id},
        "CurrencyRef": {"value": draft.currency},
        "Line": lines,
        "TxnTaxDetail": {"TotalTax": draft.tax},
        "PrivateNote": draft.memo[:4000],
    }


def _line_key(line: dict[str, Any]) -> tuple[Any, ...]:
    detail = line.get("SalesItemLineDetail") or {}
    return (str((detail.get("ItemRef") or {}).get("value")), Decimal(str(detail.get("Qty"))),
            Decimal(str(detail.get("UnitPrice"))), Decimal(str(line.get("Amount"))),
            str((detail.get("TaxCodeRef") or {}).get("value")), line.get("Description") or "")


def invoice_matches(doc: dict[str, Any], draft: InvoiceDraft, customer_id: str, item_ids: dict[str, str]) -> bool:
    """Whether the invoice at QuickBooks already says what the draft says (lines, tax, customer, date)."""
    wanted = invoice_body(draft, customer_id, item_ids)
    theirs = [_line_key(x) for x in doc.get("Line", []) if x.get("DetailType") == "SalesItemLineDetail"]
    return (theirs == [_line_key(x) for x in wanted["Line"]]
            and Decimal(str((doc.get("TxnTaxDetail") or {}).get("TotalTax") or 0)) == draft.tax
            and (doc.get("CustomerRef") or {}).get("value") == customer_id
            and doc.get("TxnDate") == wanted["TxnDate"])


def invoice_lock_reason(doc: dict[str, Any]) -> str | None:
    """Why the invoice must not be changed silently any more: it reached the customer, or money came in."""
    if doc.get("EmailStatus") == "EmailSent":
        when = (doc.get("DeliveryInfo") or {}).get("DeliveryTime", "")
        return f"already sent to the customer{' on ' + when if when else ''}"
    total, balance = Decimal(str(doc.get("TotalAmt", 0))), Decimal(str(doc.get("Balance", 0)))
    if balance < total:
        return f"already paid {total - balance} of {total}"
    return None


LINK_PREFIX = "fieldbridge:"


def link_marker(customer: BillingCustomer) -> str:
    return f"{LINK_PREFIX}{customer.canonical_id}"


def is_linked(doc: dict[str, Any], customer: BillingCustomer) -> bool:
    return link_marker(customer) in (doc.get("Notes") or "").split()


def customer_body(customer: BillingCustomer) -> dict[str, Any]:
    body: dict[str, Any] = {"DisplayName": customer.display_name, "Notes": link_marker(customer)}
    if customer.email:
        body["PrimaryEmailAddr"] = {"Address": customer.email}
    if customer.line1:
        body["BillAddr"] = {
            "Line1": customer.line1,
            "City": customer.city,
            "CountrySubDivisionCode": customer.state,
            "PostalCode": customer.postal_code,
        }
    return body


def item_body(code: str, name: str, unit_price: Decimal, income_account: str) -> dict[str, Any]:
    """A service item; its sales post to the company's income account (an Account Id of type Income)."""
    return {"Name": code, "Description": name, "Sku": code, "Type": "Service", "UnitPrice": unit_price,
            "IncomeAccountRef": {"value": income_account}}


def invoice_summary(inv: dict[str, Any]) -> InvoiceSummary:
    updated = (inv.get("MetaData") or {}).get("LastUpdatedTime")
    balance, total = Decimal(str(inv.get("Balance", inv.get("TotalAmt", "0")))), Decimal(str(inv.get("TotalAmt", "0")))
    status = "paid" if total > 0 and balance == 0 else ("partially paid" if balance < total else "open")
    return InvoiceSummary(id=str(inv["Id"]), doc_number=inv.get("DocNumber"),
                          customer_id=str((inv.get("CustomerRef") or {}).get("value") or "") or None,
                          total=total, sent=inv.get("EmailStatus") == "EmailSent", status=status,
                          modified_at=parse_instant(updated))


def invoice_record(inv: dict[str, Any]) -> VendorRecord:
    return VendorRecord(id=str(inv["Id"]), number=inv.get("DocNumber"), version=str(inv.get("SyncToken")),
                        total=Decimal(str(inv.get("TotalAmt", "0"))), raw=inv)


def entity_record(doc: dict[str, Any]) -> VendorRecord:
    return VendorRecord(id=str(doc["Id"]), version=str(doc.get("SyncToken")), raw=doc)
