"""Xero as the Accounting role: contacts, invoices (PUT creates — so every write carries an
`Idempotency-Key`), revisions while unsent and unpaid, and the invoice email.

Limits per organisation: 60 calls a minute, 5 at once, 5,000 a day; a 429 says which in
`X-Rate-Limit-Problem` — the day's limit stops cleanly (QuotaExhausted), the others wait `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from connectors.contract import BillingCustomer, DataError, InvoiceDraft, InvoiceSummary, VendorRecord
from connectors.http import HttpClient, OAuth2RefreshToken, RetryPolicy, budget_for, quota
from connectors.xero import mapping
from connectors.xero.errors import ERRORS, describe

API = "/api.xro/2.0"


#: requests per minute per tenant: the documented default quota
RATE_LIMIT = 60

class XeroAccounting:
    system = "xero"
    uses_items = False  # lines carry description and account only

    def __init__(
        self,
        base_url: str,
        tenant_id: str,
        auth: OAuth2RefreshToken,
        *,
        sales_account: str = "200",
        taxable_tax_type: str = "OUTPUT",
        exempt_tax_type: str = "NONE",
        due_days: int = 14,
        policy: RetryPolicy | None = None,
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
        rate_limit: int | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.auth = auth
        self.sales_account = sales_account
        self.taxable_tax_type = taxable_tax_type
        self.exempt_tax_type = exempt_tax_type
        self.due_days = due_days
        self.http = HttpClient(
            self.system, base_url, auth=auth,
            budget=budget_for(f"xero:{tenant_id}:{base_url}", **quota(rate_limit or RATE_LIMIT, 60.0),
                              max_concurrent=5),
            policy=policy, timeout=timeout, describe=describe, errors=ERRORS, transport=transport,
            default_headers={"xero-tenant-id": tenant_id},
        )

    def _write(self, method: str, path: str, body: dict[str, Any], key: str) -> Any:
        """Every write carries the vendor's idempotency key, so a retry after a lost answer is safe."""
        _, answer = self.http.request(method, f"{API}{path}", json=body, headers={"Idempotency-Key": key[:128]},
                                      idempotent=True)
        return answer

    # -- customers ------------------------------------------------------------------------------

    def find_customer(self, customer: BillingCustomer) -> VendorRecord | None:
        """Our contact carries our customer id in ContactNumber; a namesake without it is never adopted."""
        _, body = self.http.request("GET", f"{API}/Contacts",
                                    params={"where": mapping.where_equals("ContactNumber", customer.canonical_id)})
        contacts = body.get("Contacts") or []
        return mapping.contact_record(contacts[0]) if contacts else None

    def create_customer(self, customer: BillingCustomer, idempotency_key: str) -> VendorRecord:
        try:
            body = self._write("PUT", "/Contacts", {"Contacts": [mapping.contact_body(customer)]}, idempotency_key)
        except DataError as exc:
            if "already assigned to another contact" in str(exc):
                raise DataError(self.system, f"Xero already has a contact named {customer.display_name!r} that is "
                                f"not {customer.canonical_id}: set its ContactNumber to {customer.canonical_id} "
                                "or rename one", status=exc.status) from exc
            raise
        return mapping.contact_record(body["Contacts"][0])

    def find_item(self, code: str) -> VendorRecord | None:  # pragma: no cover - uses_items is False
        return VendorRecord(id=code)

    def create_item(self, code: str, name: str, unit_price: Decimal,
                    idempotency_key: str) -> VendorRecord:  # pragma: no cover
        return VendorRecord(id=code)

    # -- invoices -------------------------------------------------------------------------------

    def find_invoice(self, doc_number: str) -> VendorRecord | None:
        _, body = self.http.request("GET", f"{API}/Invoices", params={"InvoiceNumbers": doc_number})
        invoices = [i for i in body.get("Invoices") or [] if i.get("InvoiceNumber") == doc_number
                    and i.get("Status") not in ("DELETED", "VOIDED")]
        return mapping.invoice_record(invoices[0]) if invoices else None

    def _body(self, draft: InvoiceDraft, contact_id: str) -> dict[str, Any]:
        return mapping.invoice_body(draft, contact_id, self.sales_account, self.taxable_tax_type,
                                    self.exempt_tax_type, self.due_days)

    def create_invoice(self, draft: InvoiceDraft, customer_id: str, item_ids: dict[str, str],
                       idempotency_key: str) -> VendorRecord:
        body = self._write("PUT", "/Invoices", {"Invoices": [self._body(draft, customer_id)]}, idempotency_key)
        return mapping.invoice_record(body["Invoices"][0])

    def invoice_matches(self, current: VendorRecord, draft: InvoiceDraft, customer_id: str,
                        item_ids: dict[str, str]) -> bool:
        return mapping.invoice_matches(current.raw, draft, customer_id, self.sales_account, self.taxable_tax_type,
                                       self.exempt_tax_type)

    def invoice_lock_reason(self, current: VendorRecord) -> str | None:
        return mapping.lock_reason(current.raw)

    def revise_invoice(self, current: VendorRecord, draft: InvoiceDraft, customer_id: str, item_ids: dict[str, str],
                       idempotency_key: str) -> VendorRecord:
        """An AUTHORISED invoice without payments may be edited: lines, contact and date replaced in place."""
        revision = {k: v for k, v in self._body(draft, customer_id).items() if k not in ("Type", "Status")}
        body = self._write("POST", f"/Invoices/{current.id}", {"Invoices": [{"InvoiceID": current.id, **revision}]},
                           idempotency_key)
        return mapping.invoice_record(body["Invoices"][0])

    def send_invoice(self, invoice: VendorRecord, to: str | None, idempotency_key: str) -> VendorRecord:
        """Xero emails the contact's address (`to` must be the contact's); the answer is 204."""
        self._write("POST", f"/Invoices/{invoice.id}/Email", {}, idempotency_key)
        _, body = self.http.request("GET", f"{API}/Invoices/{invoice.id}")
        return mapping.invoice_record(body["Invoices"][0])

    def invoice_sent(self, invoice: VendorRecord) -> bool:
        return bool(invoice.raw.get("SentToContact"))

    def summarize_invoice(self, invoice: VendorRecord) -> InvoiceSummary:
        return mapping.invoice_summary(invoice.raw)

    list_page_size = 100  # Xero's pageSize (up to 1,000; tests shrink it to see paging)

    def list_invoices(self, modified_since: datetime | None = None,
                      page_size: int | None = None) -> Iterator[list[InvoiceSummary]]:
        """Every sales invoice changed since `modified_since` (If-Modified-Since, UTC), page by page."""
        headers = {"If-Modified-Since": modified_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")} \
            if modified_since else {}
        page, page_size = 1, page_size or self.list_page_size
        while True:
            _, body = self.http.request("GET", f"{API}/Invoices", headers=headers,
                                        params={"page": page, "pageSize": page_size, "where": 'Type=="ACCREC"'})
            invoices = body.get("Invoices") or []
            if invoices:
                yield [mapping.invoice_summary(i) for i in invoices]
            if len(invoices) < page_size:
                return
            page += 1

    def record_url(self, kind: str, vendor_id: str) -> str | None:
        host = str(self.http.base_url.host)
        if host.endswith("xero.com"):
            return f"https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={vendor_id}" if kind == "invoice" \
                else None
        entity = {"invoice": "Invoices", "customer": "Contacts"}.get(kind)
        return f"{str(self.http.base_url).rstrip('/')}{API}/{entity}/{vendor_id}" if entity else None

    def close(self) -> None:
        self.http.close()
