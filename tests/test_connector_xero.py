"""Xero accounting connector over the wire against its sandbox: contacts, invoices under Idempotency-Key,
totals to the cent, revisions, email, payments, listing, rotation, and the minute and day limits."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from connectors.contract import (
    Accounting,
    BillingCustomer,
    DataError,
    InvoiceDraft,
    InvoiceLine,
    QuotaExhausted,
    is_retryable,
)
from connectors.emulator import FaultConfig, SandboxServer
from connectors.http import FileTokenStore, RetryPolicy
from connectors.http.auth import OAuth2RefreshToken
from connectors.xero import mapping
from connectors.xero import sandbox as xero_sandbox
from connectors.xero.client import XeroAccounting
from tests.sandbox_handles import SandboxHandle

CLIENT_ID, SECRET, RT, TENANT = "xero-test", "xero-secret", "xero-rt-test", "7f3e-tenant"
POLICY = RetryPolicy(max_attempts=4, base_seconds=0.01, cap_seconds=0.05)
CUSTOMER = BillingCustomer("C001", "Smith and Sons", "ap@smith.example", "1 Main St", "Oakland", "CA", "94607")
_n = itertools.count(1)


def _draft(number: str = "J1001", extra: InvoiceLine | None = None) -> InvoiceDraft:
    lines = [InvoiceLine("labour", "Labour — Ana (1.50 h)", "LABOUR", Decimal("1.50"), Decimal("95.00"),
                         Decimal("142.50"), False),
             InvoiceLine("part", "Drive belt", "P-BELT-02", Decimal("2"), Decimal("24.99"), Decimal("49.98"), True),
             InvoiceLine("part", "Thermal fuse", "P-FUSE-07", Decimal("1"), Decimal("12.49"), Decimal("12.49"), True)]
    if extra:
        lines.append(extra)
    taxable = sum((ln.amount for ln in lines if ln.taxable), Decimal(0))
    tax = (taxable * Decimal("0.0875")).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    return InvoiceDraft(number, number, date(2026, 11, 24), "USD", CUSTOMER, tuple(lines), tax,
                        sum((ln.amount for ln in lines), Decimal(0)) + tax, "memo")


@dataclass
class XeroBox(SandboxHandle):
    tokens: Path
    clients: list[XeroAccounting] = field(default_factory=list)

    def client(self, token_file: str = "xero.json") -> XeroAccounting:
        auth = OAuth2RefreshToken(f"{self.url}/connect/token", CLIENT_ID, SecretStr(SECRET),
                                  FileTokenStore(self.tokens / token_file), SecretStr(RT))
        acc = XeroAccounting(self.url, TENANT, auth, policy=POLICY)
        self.clients.append(acc)
        return acc


@pytest.fixture
def xero(tmp_path: Path) -> Iterator[XeroBox]:
    box = xero_sandbox.create_app(CLIENT_ID, SECRET, RT, TENANT, FaultConfig(seed=next(_n)), minute_limit=1000)
    server = SandboxServer(box.asgi()).start()
    handle = XeroBox(box, server, tmp_path)
    yield handle
    for c in handle.clients:
        c.close()
    server.stop()


def test_implements_the_accounting_role(xero: XeroBox) -> None:
    acc = xero.client()
    assert isinstance(acc, Accounting) and acc.uses_items is False


def test_contacts_are_linked_by_contact_number_never_by_name(xero: XeroBox) -> None:
    acc = xero.client()
    assert acc.find_customer(CUSTOMER) is None
    created = acc.create_customer(CUSTOMER, "cust:C001")
    assert acc.find_customer(CUSTOMER).id == created.id
    namesake = BillingCustomer("C999", "Smith and Sons", None, None, None, None, None)
    assert acc.find_customer(namesake) is None  # same name, not ours
    with pytest.raises(DataError, match="already has a contact named 'Smith and Sons' that is not C999"):
        acc.create_customer(namesake, "cust:C999")


def test_an_invoice_totals_to_the_cent_and_is_found_by_number(xero: XeroBox) -> None:
    acc = xero.client()
    contact = acc.create_customer(CUSTOMER, "cust:C001")
    draft = _draft()
    invoice = acc.create_invoice(draft, contact.id, {}, "inv:J1001")
    assert invoice.total == draft.total and invoice.number == "J1001"
    [stored] = xero.state("Invoices")
    assert Decimal(str(stored["TotalTax"])) == draft.tax and stored["Status"] == "AUTHORISED"
    assert [str(x["TaxAmount"]) for x in stored["LineItems"]] == ["0.00", "4.38", "1.09"]  # 8.75 % of 62.47
    assert acc.find_invoice("J1001") == invoice and acc.invoice_matches(invoice, draft, contact.id, {})


def test_tax_allocation_always_sums_to_the_computed_tax() -> None:
    for cents in range(1, 400, 7):
        extra = InvoiceLine("expense", "x", "E", Decimal(1), Decimal(cents) / 100, Decimal(cents) / 100, True)
        draft = _draft(extra=extra)
        assert sum(mapping.allocate_tax(draft)) == draft.tax


def test_a_lost_answer_to_the_create_is_replayed_by_its_idempotency_key(xero: XeroBox) -> None:
    acc = xero.client()
    contact = acc.create_customer(CUSTOMER, "cust:C001")
    xero.faults(drop_first_write=True)
    invoice = acc.create_invoice(_draft(), contact.id, {}, "inv:J1001")  # PUT dropped, retried with the key
    assert [i["InvoiceID"] for i in xero.state("Invoices")] == [invoice.id]


def test_revise_in_place_then_email_once_then_locked(xero: XeroBox) -> None:
    acc = xero.client()
    contact = acc.create_customer(CUSTOMER, "cust:C001")
    invoice = acc.create_invoice(_draft(), contact.id, {}, "inv:J1001")
    changed = _draft(extra=InvoiceLine("expense", "Parking", "EXPENSE", Decimal(1), Decimal("9.00"),
                                       Decimal("9.00"), False))
    assert acc.invoice_lock_reason(invoice) is None
    revised = acc.revise_invoice(invoice, changed, contact.id, {}, "inv:J1001:rev")
    assert revised.id == invoice.id and revised.total == changed.total
    sent = acc.send_invoice(revised, CUSTOMER.email, "send:J1001")
    acc.send_invoice(revised, CUSTOMER.email, "send:J1001")  # a retry with the same key: replayed, not re-sent
    assert acc.invoice_sent(sent) and len(xero.state("outbox")) == 1
    assert acc.invoice_lock_reason(sent) == "already sent to the customer"


def test_a_payment_locks_the_invoice(xero: XeroBox) -> None:
    acc = xero.client()
    contact = acc.create_customer(CUSTOMER, "cust:C001")
    invoice = acc.create_invoice(_draft(), contact.id, {}, "inv:J1001")
    acc.http.request("PUT", "/api.xro/2.0/Payments", json={"Payments": [
        {"Invoice": {"InvoiceID": invoice.id}, "Account": {"Code": "090"}, "Amount": Decimal("50.00")}]},
        headers={"Idempotency-Key": "pay-1"}, idempotent=True)
    assert acc.invoice_lock_reason(acc.find_invoice("J1001")).startswith("already paid 50.00")


def test_validation_exceptions_are_data_errors_with_xeros_words(xero: XeroBox) -> None:
    acc = xero.client()
    with pytest.raises(DataError, match="A Contact must be specified") as err:
        acc.create_invoice(_draft(), "no-such-contact", {}, "inv:bad")
    assert not is_retryable(err.value) and err.value.vendor_code == "ValidationException"


def test_listing_follows_if_modified_since_and_pages(xero: XeroBox) -> None:
    acc = xero.client()
    contact = acc.create_customer(CUSTOMER, "cust:C001")
    for n in range(5):
        acc.create_invoice(_draft(f"J{n}"), contact.id, {}, f"inv:{n}")
    pages = list(acc.list_invoices(page_size=2))
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(i.doc_number for p in pages for i in p) == [f"J{n}" for n in range(5)]
    assert all(i.customer_id == contact.id and i.total > 0 and not i.sent for p in pages for i in p)
    future = datetime.now(UTC) + timedelta(hours=1)
    assert list(acc.list_invoices(modified_since=future)) == []


def test_refresh_tokens_rotate_and_the_new_one_is_kept(xero: XeroBox) -> None:
    acc = xero.client()
    acc.find_customer(CUSTOMER)
    saved = FileTokenStore(xero.tokens / "xero.json").load()
    assert saved is not None and saved.refresh_token != RT
    stale = xero.client(token_file="stale.json")  # another process still holding the used token
    with pytest.raises(Exception, match="invalid_grant"):
        stale.find_customer(CUSTOMER)


def test_reconnecting_with_a_new_refresh_token_replaces_the_stored_chain(xero: XeroBox) -> None:
    """The stored (rotated) token wins over the configured one — until an operator reconnects the app and
    configures a new refresh token: then the new one is used, without deleting anything by hand."""
    xero.client().find_customer(CUSTOMER)  # rotates; the DB/file now holds the chain
    xero.seed("oauth", [{"id": "refresh", "valid": ["xero-rt-reconnected"]}])  # the app was reconnected
    store = FileTokenStore(xero.tokens / "xero.json")
    reconnected_auth = OAuth2RefreshToken(f"{xero.url}/connect/token", CLIENT_ID, SecretStr(SECRET), store,
                                          SecretStr("xero-rt-reconnected"))
    acc = XeroAccounting(xero.url, TENANT, reconnected_auth, policy=POLICY)
    xero.clients.append(acc)
    assert acc.find_customer(CUSTOMER) is None
    saved = store.load()
    assert saved is not None and saved.refresh_token not in (RT, "xero-rt-reconnected")
    assert "xero-rt" not in saved.extra.get("seed", "")  # a fingerprint, never the token
    again = OAuth2RefreshToken(f"{xero.url}/connect/token", CLIENT_ID, SecretStr(SECRET), store,
                               SecretStr("xero-rt-reconnected"))
    assert again.tokens().refresh_token == saved.refresh_token  # same configuration: the rotated chain is kept


def test_the_minute_limit_waits_and_the_day_limit_stops(xero: XeroBox, tmp_path: Path) -> None:
    box = xero_sandbox.create_app(CLIENT_ID, SECRET, RT, TENANT, FaultConfig(), minute_limit=3, day_limit=1000)
    server = SandboxServer(box.asgi()).start()
    try:
        auth = OAuth2RefreshToken(f"{server.url}/connect/token", CLIENT_ID, SecretStr(SECRET),
                                  FileTokenStore(tmp_path / "m.json"), SecretStr(RT))
        acc = XeroAccounting(server.url, TENANT, auth, policy=RetryPolicy(max_attempts=4, max_retry_after_seconds=0.1))
        headers = {"Authorization": f"Bearer {auth.tokens().access_token}", "xero-tenant-id": TENANT}
        with httpx.Client() as http:
            answers = [http.get(f"{server.url}/api.xro/2.0/Contacts", headers=headers) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[-1].headers["X-Rate-Limit-Problem"] == "minute"
        assert 0 < float(answers[-1].headers["Retry-After"]) <= 60
        with pytest.raises(Exception) as minute:  # retried after Retry-After (capped here), still limited
            acc.find_customer(CUSTOMER)
        assert is_retryable(minute.value)  # a later task retry will get through: wait, do not stop
        box.injector.rate_window._hits.clear()
        httpx.post(f"{server.url}/_sandbox/day-usage", json={"used": 1000}).raise_for_status()
        with pytest.raises(QuotaExhausted, match="5,000 calls for today"):
            acc.find_customer(CUSTOMER)
        acc.close()
    finally:
        server.stop()
