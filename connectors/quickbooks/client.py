"""QuickBooks Online as the Accounting role: customers, items and invoices, exactly once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.contract import (
    ConnectorError,
    DataError,
    TokenStore,
)
from connectors.contract.errors import error_for
from connectors.contract.records import BillingCustomer, InvoiceDraft, InvoiceRequest, InvoiceSummary, VendorRecord
from connectors.contract.roles import BatchResult
from connectors.http import HttpClient, OAuth2RefreshToken, RetryPolicy, budget_for, quota
from connectors.quickbooks import mapping
from connectors.quickbooks.errors import ERRORS, classify, describe

MINOR_VERSION = "75"


#: requests per minute per realm: the documented default quota
RATE_LIMIT = 500

class QuickBooksAccounting:
    """Accounting role over the QBO v3 REST API for one realm (company)."""

    system = "quickbooks"
    uses_items = True  # invoice lines reference QuickBooks Items

    def __init__(
        self,
        base_url: str,
        realm_id: str,
        *,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        token_store: TokenStore,
        initial_refresh_token: SecretStr | None = None,
        income_account: str = "1",
        policy: RetryPolicy | None = None,
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
        rate_limit: int | None = None,
    ) -> None:
        self.realm_id = realm_id
        self.income_account = income_account
        self.auth = OAuth2RefreshToken(
            token_url, client_id, client_secret, token_store, initial_refresh_token, transport
        )
        self.http = HttpClient(
            self.system,
            base_url,
            auth=self.auth,
            budget=budget_for(f"quickbooks:{realm_id}:{base_url}", **quota(rate_limit or RATE_LIMIT, 60.0),
                              max_concurrent=10),
            policy=policy,
            timeout=timeout,
            describe=describe,
            errors=ERRORS,
            transport=transport,
        )

    @property
    def _base(self) -> str:
        return f"/v3/company/{self.realm_id}"

    def query(self, statement: str) -> list[dict[str, Any]]:
        """Run a QBO query, following STARTPOSITION pages to the end."""
        return [row for page in self.query_pages(statement) for row in page]

    def query_pages(self, statement: str, page_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """A QBO query page by page (MAXRESULTS is at most 1,000)."""
        entity = statement.split()[3]
        start = 1
        while True:
            _, body = self.http.request(
                "GET",
                f"{self._base}/query",
                params={"query": f"{statement} STARTPOSITION {start} MAXRESULTS {page_size}",
                        "minorversion": MINOR_VERSION},
            )
            page = (body.get("QueryResponse") or {}).get(entity, [])
            yield page
            if len(page) < page_size:
                return
            start += len(page)

    def summarize_invoice(self, invoice: VendorRecord) -> InvoiceSummary:
        return mapping.invoice_summary(invoice.raw)

    list_page_size = 1000  # MAXRESULTS when listing (tests shrink it to see paging)

    def list_invoices(self, modified_since: datetime) -> Iterator[list[InvoiceSummary]]:
        """Invoices whose `MetaData.LastUpdatedTime` is since then, oldest change first."""
        since = modified_since.astimezone(UTC).isoformat(timespec="seconds")
        statement = (f"select * from Invoice where MetaData.LastUpdatedTime >= '{since}' "
                     "ORDERBY MetaData.LastUpdatedTime")
        for page in self.query_pages(statement, self.list_page_size):
            if page:
                yield [mapping.invoice_summary(doc) for doc in page]

    def _post(self, entity: str, payload: dict[str, Any], request_id: str) -> dict[str, Any]:
        # requestid makes the POST replay-safe, so the client may retry it after a lost answer
        _, body = self.http.request(
            "POST",
            f"{self._base}/{entity}",
            params={"minorversion": MINOR_VERSION, "requestid": request_id},
            json=payload,
            idempotent=True,
        )
        return body

    def batch(self, operations: list[dict[str, Any]], request_id: str) -> list[dict[str, Any] | ConnectorError]:
        """Run up to 30 operations in one request. QuickBooks answers 200 and puts each failed item's
        Fault inside the body, so every item is classified here: a dict on success, an error otherwise."""
        items = [{"bId": str(n), **op} for n, op in enumerate(operations)]
        body = self._post("batch", {"BatchItemRequest": items}, request_id)
        by_id = {r["bId"]: r for r in body.get("BatchItemResponse", [])}
        out: list[dict[str, Any] | ConnectorError] = []
        for item in items:
            answer = by_id.get(item["bId"], {})
            if "Fault" in answer:
                out.append(error_for(self.system, classify(400, answer), 400, None))
            else:
                out.append({k: v for k, v in answer.items() if k != "bId"})
        return out

    batch_limit = 30  # operations per /batch request: QuickBooks' documented maximum

    def create_invoices(self, invoices: Sequence[InvoiceRequest]) -> list[BatchResult]:
        """Up to 30 invoices in one `/batch` request. Its requestid is derived from the items' own idempotency
        keys, so a retry after a lost answer is replayed by QuickBooks rather than run twice; an item's Fault
        (inside the 200) is that item's error and the others still stand."""
        ops = [{"operation": "create", "Invoice": mapping.invoice_body(i.draft, i.customer_id, i.item_ids)}
               for i in invoices]
        request_id = mapping.request_id("batch:" + "|".join(i.idempotency_key for i in invoices))
        out: list[BatchResult] = []
        for result in self.batch(ops, request_id):
            out.append(result if isinstance(result, ConnectorError) else mapping.invoice_record(result["Invoice"]))
        return out

    def find_invoices(self, doc_numbers: list[str]) -> dict[str, VendorRecord | None]:
        """Look many invoices up in batches of 30 queries (reconciliation uses this)."""
        found: dict[str, VendorRecord | None] = {}
        for start in range(0, len(doc_numbers), 30):
            chunk = doc_numbers[start : start + 30]
            ops = [{"Query": f"select * from Invoice where DocNumber = '{mapping.escape(d)}'"} for d in chunk]
            # a fresh requestid per lookup: a replay may reuse the answer, a new lookup must not
            for doc, result in zip(chunk, self.batch(ops, str(uuid.uuid4())), strict=True):
                if isinstance(result, ConnectorError):
                    raise result
                rows = (result.get("QueryResponse") or {}).get("Invoice", [])
                found[doc] = mapping.invoice_record(rows[0]) if rows else None
        return found

    def find_invoice(self, doc_number: str) -> VendorRecord | None:
        rows = self.query(f"select * from Invoice where DocNumber = '{mapping.escape(doc_number)}'")
        return mapping.invoice_record(rows[0]) if rows else None

    def create_invoice(
        self, draft: InvoiceDraft, customer_id: str, item_ids: dict[str, str], idempotency_key: str
    ) -> VendorRecord:
        body = self._post("invoice", mapping.invoice_body(draft, customer_id, item_ids),
                          mapping.request_id(idempotency_key))
        return mapping.invoice_record(body["Invoice"])

    def invoice_matches(self, current: VendorRecord, draft: InvoiceDraft, customer_id: str,
                        item_ids: dict[str, str]) -> bool:
        return mapping.invoice_matches(current.raw, draft, customer_id, item_ids)

    def invoice_lock_reason(self, current: VendorRecord) -> str | None:
        return mapping.invoice_lock_reason(current.raw)

    def revise_invoice(self, current: VendorRecord, draft: InvoiceDraft, customer_id: str, item_ids: dict[str, str],
                       idempotency_key: str) -> VendorRecord:
        """Replace the lines, tax and customer of an unsent, unpaid invoice in place (sparse update)."""
        body = mapping.invoice_body(draft, customer_id, item_ids)
        changes = {k: body[k] for k in ("Line", "TxnTaxDetail", "CustomerRef", "TxnDate", "PrivateNote")}
        return self.update_invoice(current, changes, idempotency_key)

    def send_invoice(self, invoice: VendorRecord, to: str | None, idempotency_key: str) -> VendorRecord:
        """Email the invoice to the customer (QuickBooks sets EmailStatus=EmailSent)."""
        params = {"minorversion": MINOR_VERSION, "requestid": mapping.request_id(idempotency_key)}
        if to:
            params["sendTo"] = to
        _, body = self.http.request("POST", f"{self._base}/invoice/{invoice.id}/send", params=params,
                                    idempotent=True)
        return mapping.invoice_record(body["Invoice"])

    def invoice_sent(self, invoice: VendorRecord) -> bool:
        return invoice.raw.get("EmailStatus") == "EmailSent"

    def record_url(self, kind: str, vendor_id: str) -> str | None:
        """Where a person finds the record: the QuickBooks app for Intuit hosts, the API for a sandbox."""
        host = str(self.http.base_url.host)
        if host.endswith("api.intuit.com"):
            app = "app.sandbox.qbo.intuit.com" if host.startswith("sandbox") else "app.qbo.intuit.com"
            return f"https://{app}/app/{kind}?txnId={vendor_id}" if kind == "invoice" else None
        entity = {"invoice": "invoice", "customer": "customer", "item": "item"}.get(kind)
        return f"{str(self.http.base_url).rstrip('/')}{self._base}/{entity}/{vendor_id}" if entity else None

    def update_invoice(self, current: VendorRecord, changes: dict[str, Any], idempotency_key: str) -> VendorRecord:
        """Sparse update; a stale SyncToken raises ConflictError (QBO 5010)."""
        payload = {"Id": current.id, "SyncToken": current.version, "sparse": True, **changes}
        body = self._post("invoice", payload, mapping.request_id(idempotency_key))
        return mapping.invoice_record(body["Invoice"])

    def find_customer(self, customer: BillingCustomer) -> VendorRecord | None:
        """Our customer record, recognised by the link marker we write into its Notes — never by name alone:
        adopting a namesake would bill the wrong customer."""
        rows = self.query(f"select * from Customer where DisplayName = '{mapping.escape(customer.display_name)}'")
        ours = [r for r in rows if mapping.is_linked(r, customer)]
        if ours:
            return mapping.entity_record(ours[0])
        if rows:
            raise DataError(self.system, f"a QuickBooks customer named {customer.display_name!r} (Id {rows[0]['Id']}) "
                            f"exists but is not linked to {customer.canonical_id}: link it in the id map or rename one")
        return None

    def create_customer(self, customer: BillingCustomer, idempotency_key: str) -> VendorRecord:
        try:
            body = self._post("customer", mapping.customer_body(customer), mapping.request_id(idempotency_key))
        except DataError as exc:
            if exc.vendor_code == "6240":
                raise DataError(self.system, f"QuickBooks already has a customer named {customer.display_name!r} "
                                f"that is not {customer.canonical_id}: link it in the id map or rename one",
                                status=exc.status, vendor_code="6240") from exc
            raise
        return mapping.entity_record(body["Customer"])

    def find_item(self, code: str) -> VendorRecord | None:
        rows = self.query(f"select * from Item where Name = '{mapping.escape(code)}'")
        return mapping.entity_record(rows[0]) if rows else None

    def create_item(self, code: str, name: str, unit_price: Decimal, idempotency_key: str) -> VendorRecord:
        body = self._post("item", mapping.item_body(code, name, unit_price, self.income_account),
                          mapping.request_id(idempotency_key))
        return mapping.entity_record(body["Item"])

    def close(self) -> None:
        self.http.close()
